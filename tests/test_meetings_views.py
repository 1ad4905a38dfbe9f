"""Sessions over HTTP: RSVP with and without htmx, the waitlist under load, attendance, takeaways, scheduling."""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, csrf_token, sent_mail, sign_in
from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    AuditEvent,
    Meeting,
    MeetingState,
    Member,
    Rsvp,
    RsvpAnswer,
    Takeaway,
    Topic,
    TopicState,
    utcnow,
)


def rsvp(client, meeting_id, answer, htmx=False, next_url=None):
    token = csrf_token(client, "/")
    data = {"answer": answer, "csrf_token": token}
    if next_url:
        data["next"] = next_url
    headers = {"HX-Request": "true", "HX-Target": f"rsvp-{meeting_id}"} if htmx else {}
    return client.post(f"/meetings/{meeting_id}/rsvp", data=data, headers=headers)


def answers(app, meeting_id):
    with app.app_context():
        return {(r.member_id, r.answer.value, r.waitlisted)
                for r in db.session.scalars(select(Rsvp).where(Rsvp.meeting_id == meeting_id))}


def test_one_tap_rsvp_with_htmx_swaps_only_the_rsvp_and_the_count(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=3)
    login(member)
    response = rsvp(client, meeting_id, "yes", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith(f'<section class="rsvp" id="rsvp-{meeting_id}"')
    assert f'<section class="coming" id="coming-{meeting_id}" hx-swap-oob="true">' in body
    assert "<html" not in body and "<header" not in body
    assert "You're coming" in body and "1 coming" in body
    assert 'value="yes" class="rsvp-yes"\n              aria-pressed="true"' in body
    assert "HX-Trigger" not in response.headers  # nothing listens for an event: the blocks are swapped
    assert "HX-Request" in response.headers["Vary"]
    assert answers(app, meeting_id) == {(member.id, "yes", False)}


def test_without_javascript_the_rsvp_buttons_post_and_redirect_back(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=3)
    login(member)
    response = rsvp(client, meeting_id, "maybe", next_url="/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert answers(app, meeting_id) == {(member.id, "maybe", False)}
    page = client.get("/").get_data(as_text=True)
    assert "You might come" in page and "1 maybe" in page
    response = rsvp(client, meeting_id, "no", next_url="https://evil.example/")
    assert response.headers["Location"] == f"/meetings/{meeting_id}"


def test_answers_are_refused_once_the_session_started_with_a_message(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=-0.01)
    login(member)
    response = rsvp(client, meeting_id, "yes", htmx=True)
    assert response.status_code == 422
    assert "This session has started" in response.get_data(as_text=True)
    response = rsvp(client, meeting_id, "yes")
    assert response.status_code == 303
    assert "This session has started" in client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert answers(app, meeting_id) == set()


def test_a_nonsense_answer_is_refused(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=3)
    login(member)
    assert rsvp(client, meeting_id, "perhaps", htmx=True).status_code == 422
    assert answers(app, meeting_id) == set()


def test_the_member_sees_their_place_on_the_waitlist_and_is_emailed_when_a_seat_frees(
        app, client, login, make_member, make_meeting):
    meeting_id = make_meeting(days_from_now=3, seat_limit=1)
    first, second = make_member(name="Fay First"), make_member(name="Sid Second")
    login(first)
    rsvp(client, meeting_id, "yes")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(second)
    body = rsvp(client, meeting_id, "yes", htmx=True).get_data(as_text=True)
    assert "You're 1st on the waitlist" in body
    assert "1 coming · full · 1 on the waitlist" in body
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(first)
    rsvp(client, meeting_id, "no")
    [message] = sent_mail(app)
    assert message["To"] == second.email and "seat opened up" in message["Subject"].lower()
    assert answers(app, meeting_id) == {(first.id, "no", False), (second.id, "yes", False)}


def test_forty_simultaneous_yes_answers_fill_ten_seats_and_queue_thirty_in_order(app, make_member, make_meeting):
    meeting_id = make_meeting(days_from_now=3, seat_limit=10)
    members = [make_member() for _ in range(40)]
    clients = []
    for m in members:
        c = app.test_client()
        assert sign_in(c, m.email).status_code == 303
        clients.append((c, csrf_token(c, "/")))
    barrier = threading.Barrier(len(clients))
    statuses = []

    def answer(c, token):
        barrier.wait()
        statuses.append(c.post(f"/meetings/{meeting_id}/rsvp", data={"answer": "yes", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=answer, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 40
    with app.app_context():
        rows = db.session.scalars(select(Rsvp).where(Rsvp.meeting_id == meeting_id)
                                  .order_by(Rsvp.answered_at, Rsvp.id)).all()
    assert len(rows) == 40
    assert sum(not r.waitlisted for r in rows) == 10
    # In order: the ten seats went to the ten first answers, the thirty after them wait in that order.
    assert [r.waitlisted for r in rows] == [False] * 10 + [True] * 30
    assert len({r.answered_at for r in rows}) == 40


def test_after_the_cutoff_a_member_can_withdraw_and_organizers_see_it(app, client, login, member, organizer,
                                                                      make_meeting):
    meeting_id = make_meeting(days_from_now=2 / 24)  # two hours ahead: RSVPs closed at 20:00 yesterday
    with app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=member.id, answer=RsvpAnswer.YES,
                            answered_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    login(member)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "RSVPs have closed. You can still tell us if you cannot come." in page
    assert rsvp(client, meeting_id, "no", htmx=True).status_code == 200
    refused = rsvp(client, meeting_id, "yes", htmx=True)
    assert refused.status_code == 422 and "you cannot add a yes now" in refused.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(organizer)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "Changed after the cut-off:</span> Ada Lovelace (no)" in page


def test_the_dashboard_shows_the_next_session_rsvp_counts_and_top_topics(app, client, login, member, make_member,
                                                                        make_meeting):
    meeting_id = make_meeting(days_from_now=2, seat_limit=1, venue_name="Blue Door")
    other = make_member(name="Otto Other")
    with app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=other.id, answer=RsvpAnswer.YES))
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=member.id, answer=RsvpAnswer.YES, waitlisted=True))
        for n, title in enumerate(["First topic", "Second topic", "Third topic", "Fourth topic"]):
            db.session.add(Topic(title=title, author_id=other.id, meeting_id=meeting_id, state=TopicState.ON_AGENDA,
                                 created_at=utcnow() - timedelta(hours=10 - n)))
        db.session.commit()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert "Blue Door" in page
    assert "1 coming · full · 1 on the waitlist" in page
    assert "You're 1st on the waitlist" in page
    agenda = page[page.index("On the agenda"):page.index("The session's page")]
    assert [t for t in ("First topic", "Second topic", "Third topic", "Fourth topic") if t in agenda] == [
        "First topic", "Second topic", "Third topic"]


def test_organizers_see_what_needs_doing_on_the_dashboard(app, client, login, organizer, make_meeting):
    make_meeting(days_from_now=-1)
    login(organizer)
    page = client.get("/").get_data(as_text=True)
    assert "Needs doing" in page and "Record who came on" in page


def test_attendance_rows_toggle_in_place_and_members_cannot(app, client, login, member, organizer, make_meeting):
    meeting_id = make_meeting(days_from_now=-1)
    with app.app_context():  # both were members before the session
        for someone in (member, organizer):
            db.session.get(Member, someone.id).joined_at = utcnow() - timedelta(days=30)
        db.session.commit()
    with app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=member.id, answer=RsvpAnswer.YES))
        db.session.commit()
    login(member)
    token = csrf_token(client, "/")
    assert client.post(f"/meetings/{meeting_id}/attendance/{member.id}", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(organizer)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "Pre-filled from the confirmed yeses" in page
    assert re.search(r'aria-checked="true" class="attendance-toggle">\s*<span class="tick" aria-hidden="true">✓</span> '
                     r'Ada Lovelace', page)
    response = client.post(f"/meetings/{meeting_id}/attendance/{organizer.id}",
                           headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/")})
    fragment = response.get_data(as_text=True)
    assert fragment.startswith(f'<li class="attendance-row" id="attendance-{meeting_id}-{organizer.id}">')
    assert 'aria-checked="true"' in fragment
    with app.app_context():
        came = set(db.session.scalars(select(Attendance.member_id).where(Attendance.meeting_id == meeting_id)))
    assert came == {member.id, organizer.id}  # the pre-filled yes was kept when the first change was made
    response = client.post(f"/meetings/{meeting_id}/attendance/{member.id}", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    with app.app_context():
        came = set(db.session.scalars(select(Attendance.member_id).where(Attendance.meeting_id == meeting_id)))
    assert came == {organizer.id}
    page = client.get(f"/members/{organizer.id}").get_data(as_text=True)
    assert "last came to breakfast on" in page


def test_attendees_add_takeaways_with_and_without_htmx(app, client, login, member, make_member, make_meeting):
    meeting_id = make_meeting(days_from_now=-1)
    with app.app_context():
        db.session.add(Attendance(meeting_id=meeting_id, member_id=member.id))
        db.session.get(Meeting, meeting_id).attendance_recorded_at = utcnow()
        db.session.commit()
    login(member)
    token = csrf_token(client, f"/meetings/{meeting_id}")
    response = client.post(f"/meetings/{meeting_id}/takeaways", data={"body": "Ask for the outcome.",
                           "csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith('\n<section class="card" id="takeaways">')
    empty = client.post(f"/meetings/{meeting_id}/takeaways", data={"body": "", "csrf_token": token},
                        headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "Write a sentence or two." in empty.get_data(as_text=True)
    plain = client.post(f"/meetings/{meeting_id}/takeaways", data={"body": "Sleep more.", "csrf_token": token})
    assert plain.status_code == 303
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "Ask for the outcome." in page and "Sleep more." in page and "Who came" in page
    client.post("/logout", data={"csrf_token": token})
    absent = make_member(name="Abe Absent")
    login(absent)
    client.post(f"/meetings/{meeting_id}/takeaways", data={"body": "I was not there",
                                                            "csrf_token": csrf_token(client, "/")})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Takeaway)) == 2


def test_members_set_a_standing_answer_on_me(app, client, login, member, make_meeting):
    open_id, closed_id = make_meeting(days_from_now=4), make_meeting(days_from_now=1 / 24)
    login(member)
    response = client.post("/me/standing", data={"standing": "yes", "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    assert "answered yes for you to 1 upcoming session" in client.get("/me/").get_data(as_text=True)
    assert answers(app, open_id) == {(member.id, "yes", False)}
    assert answers(app, closed_id) == set()
    with app.app_context():
        assert db.session.get(Member, member.id).standing_rsvp == RsvpAnswer.YES


def series_form(**changes):
    form = {"weekday": "2", "start_time": "06:30", "duration_minutes": "60", "timezone": "America/New_York",
            "venue_name": "Blue Door Café", "venue_address": "5 Elm St", "seat_limit": "12"}
    form.update(changes)
    return form


def test_organizer_sets_up_the_series_and_eight_weeks_are_scheduled(app, client, login, organizer):
    login(organizer)
    response = client.post("/admin/series", data={**series_form(), "csrf_token": csrf_token(client, "/admin/series")})
    assert response.status_code == 303
    with app.app_context():
        meetings = db.session.scalars(select(Meeting).order_by(Meeting.starts_at)).all()
    assert len(meetings) == 8
    for meeting in meetings:
        local = meeting.starts_at.astimezone(ZoneInfo("America/New_York"))
        assert (local.weekday(), local.hour, local.minute) == (2, 6, 30)
    page = client.get("/meetings/").get_data(as_text=True)
    assert page.count('<li id="meeting-') == 8


def test_bad_series_input_is_refused_next_to_the_field_and_kept(app, client, login, organizer):
    login(organizer)
    response = client.post("/admin/series", data={**series_form(timezone="Nowhere/Land", seat_limit="-3"),
                                                  "csrf_token": csrf_token(client, "/admin/series")})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="timezone-error">Choose a time zone from the list.' in page  # a list: nothing typed to keep
    assert 'id="seat_limit-error">Enter a number of seats from 1 to 500' in page


def test_schedule_ahead_command_keeps_eight_weeks(app, client, login, organizer, runner):
    login(organizer)
    client.post("/admin/series", data={**series_form(), "csrf_token": csrf_token(client, "/admin/series")})
    result = runner.invoke(args=["schedule-ahead"])
    assert result.exit_code == 0, result.output
    assert "Scheduled 0 new session(s)" in result.output
    with app.app_context():
        first = db.session.scalar(select(Meeting).order_by(Meeting.starts_at))
        db.session.delete(first)
        db.session.commit()
    assert "Scheduled 1 new session(s)" in runner.invoke(args=["schedule-ahead"]).output


def test_organizer_moves_one_week_and_cancels_another(app, client, login, organizer):
    login(organizer)
    client.post("/admin/series", data={**series_form(), "csrf_token": csrf_token(client, "/admin/series")})
    with app.app_context():
        first, second, *rest = db.session.scalars(select(Meeting).order_by(Meeting.starts_at)).all()
        first_id, second_id, first_day = first.id, second.id, first.series_date
    form = {"day": (first_day + timedelta(days=1)).isoformat(), "start_time": "07:15", "duration_minutes": "60",
            "venue_name": "The Library", "venue_address": "1 Book Row", "seat_limit": "12",
            "csrf_token": csrf_token(client, f"/admin/meetings/{first_id}")}
    assert client.post(f"/admin/meetings/{first_id}", data=form).status_code == 303
    response = client.post(f"/admin/meetings/{second_id}/cancel",
                           data={"reason": "Café closed", "csrf_token": csrf_token(client, "/admin/meetings")})
    assert response.status_code == 303
    with app.app_context():
        moved, cancelled = db.session.get(Meeting, first_id), db.session.get(Meeting, second_id)
        assert moved.venue_name == "The Library" and moved.sequence == 1
        assert moved.starts_at.astimezone(ZoneInfo("UTC")).strftime("%H:%M") != "11:30"
        assert (cancelled.state, cancelled.sequence) == (MeetingState.CANCELLED, 1)
        untouched = db.session.scalars(select(Meeting).where(Meeting.id.notin_([first_id, second_id]))).all()
        assert all(m.sequence == 0 and m.venue_name == "Blue Door Café" for m in untouched)
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "meeting.cancelled")) == 1
    assert "cancelled" in client.get("/meetings/").get_data(as_text=True)


def test_organizer_adds_a_one_off_session(app, client, login, organizer):
    login(organizer)
    day = (date.today() + timedelta(days=5)).isoformat()
    response = client.post("/admin/meetings", data={"day": day, "start_time": "18:00", "duration_minutes": "120",
                                                    "venue_name": "Rooftop", "venue_address": "", "seat_limit": "",
                                                    "csrf_token": csrf_token(client, "/admin/meetings")})
    assert response.status_code == 303
    with app.app_context():
        meeting = db.session.scalar(select(Meeting))
        assert meeting.series_id is None and meeting.seat_limit is None


def test_members_cannot_schedule(app, client, login, member):
    login(member)
    for path in ("/admin/series", "/admin/meetings"):
        assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/meetings/", "/"])
def test_meeting_pages_query_count_does_not_grow_with_history(app, client, login, member, make_member, make_meeting,
                                                             count_queries, path):
    login(member)

    def grow(n):
        for k in range(n):
            meeting_id = make_meeting(days_from_now=-7 * (k + 1) - 0.5)
            with app.app_context():
                db.session.add(Attendance(meeting_id=meeting_id, member_id=member.id))
                db.session.commit()

    make_meeting(days_from_now=2)
    grow(2)
    with count_queries() as small:
        client.get(path)
    grow(20)
    with count_queries() as big:
        client.get(path)
    assert small.count == big.count
    assert PASSWORD


def test_an_upcoming_session_offers_google_outlook_and_the_ics_and_its_address_a_map(app, client, login, member,
                                                                                    make_meeting):
    """A menu, not a bare .ics link; a past or cancelled session offers none."""
    from urllib.parse import parse_qs, urlsplit

    from thinknet.models import MeetingState

    login(member)
    upcoming = make_meeting(days_from_now=3, venue_name="Café Rosa", venue_address="12 Market Street, Leeds")
    page = client.get(f"/meetings/{upcoming}").get_data(as_text=True)
    assert 'class="add-to-calendar"' in page and f'/meetings/{upcoming}.ics" download>Apple Calendar' in page
    google = re.search(r'href="(https://calendar\.google\.com/calendar/render\?[^"]+)"', page).group(1)
    values = parse_qs(urlsplit(google.replace("&amp;", "&")).query)
    assert values["action"] == ["TEMPLATE"] and values["location"] == ["Café Rosa, 12 Market Street, Leeds"]
    start, end = values["dates"][0].split("/")
    assert start.endswith("Z") and end > start
    assert f"http://localhost/meetings/{upcoming}" in values["details"][0]
    outlook = re.search(r'href="(https://outlook\.live\.com/calendar/0/deeplink/compose\?[^"]+)"', page).group(1)
    assert parse_qs(urlsplit(outlook.replace("&amp;", "&")).query)["subject"] == ["Thinking Network breakfast"]
    assert "https://www.openstreetmap.org/search?query=Caf%C3%A9+Rosa%2C+12+Market+Street%2C+Leeds" in page
    for other in (make_meeting(days_from_now=-3), make_meeting(days_from_now=5, state=MeetingState.CANCELLED)):
        assert 'class="add-to-calendar"' not in client.get(f"/meetings/{other}").get_data(as_text=True)
