"""What members' calendars say is the truth after the group changes: a new weekly day or time updates every
calendar that had the old one in the same step, the organizers see which sessions' calendars are behind, and the
group has one time zone that every page, email and calendar uses."""
from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from conftest import csrf_token, sent_mail
from ical_checks import check_ics
from thinknet import outbox
from thinknet.extensions import db
from thinknet.calendar import itip
from thinknet.meetings import schedule
from thinknet.models import AuditEvent, Meeting, Member, OutgoingMail, Rsvp, RsvpAnswer, Series, Settings, utcnow

NEW_YORK = ZoneInfo("America/New_York")


def post(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/")})


def series_form(**changes):
    values = {"weekday": str((utcnow().weekday() + 2) % 7), "start_time": "06:30", "duration_minutes": "60",
              "timezone": "America/New_York", "venue_name": "Blue Door", "venue_address": "1 Main St",
              "seat_limit": ""}
    values.update(changes)
    return values


def calendars(app):
    """Calendar updates sent, as (recipient, local start in New York) pairs."""
    found = []
    for message in sent_mail(app):
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                check_ics(data, "REQUEST")  # icalendar and vobject, and the VTIMEZONE against the zone database
                event = next(iter(icalendar.Calendar.from_ical(data).walk("VEVENT")))
                found.append((message["To"], event.decoded("DTSTART").astimezone(NEW_YORK)))
    return found


@pytest.fixture
def set_up(app, client, login, organizer, make_member):
    """A group that set up its series in New York, with two members and invites out for the coming weeks."""
    make_member(name="Ada Lovelace", email="ada@example.org")
    login(organizer)
    assert post(client, "/admin/series", **series_form()).status_code == 303
    response = post(client, "/admin/calendar-updates", weeks="4")
    assert response.status_code == 303
    outbox.wait_for_background()
    return client


def test_the_time_zone_given_when_the_series_is_set_up_is_the_groups_on_every_page(app, set_up):
    with app.app_context():
        assert Settings.get().timezone == "America/New_York"
        first = db.session.scalar(select(Meeting).order_by(Meeting.starts_at))
        assert first.starts_at.astimezone(NEW_YORK).time() == time(6, 30)
    for path in ("/", f"/meetings/{first.id}", "/meetings/", "/admin/meetings"):
        page = set_up.get(path).get_data(as_text=True)
        assert "6:30 AM" in page or "06:30" in page, path
        assert "11:30 AM" not in page and "12:30 PM" not in page and "11:30" not in page, path
    # the series page no longer asks for a zone of its own; the settings say which one it is
    page = set_up.get("/admin/series").get_data(as_text=True)
    assert 'name="timezone"' not in page and "America/New York" in page


def test_changing_the_weekly_time_updates_every_calendar_that_had_the_old_one_in_one_step(app, set_up):
    invited = calendars(app)
    assert invited and {start.time() for _, start in invited} == {time(6, 30)}
    response = post(set_up, "/admin/series", **series_form(start_time="07:15", timezone=""))
    assert response.status_code == 303
    outbox.wait_for_background()
    updated = calendars(app)[len(invited):]
    # the four weeks whose invites went out, to both people; the later weeks had none
    assert len(updated) == len(invited)
    assert {start.time() for _, start in updated} == {time(7, 15)}
    with app.app_context():
        assert not [m for m in db.session.scalars(select(Meeting)) if m.calendars_outdated]
        saved = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "series.saved")
                                  .order_by(AuditEvent.id.desc()))
        assert saved.details["calendar_updates"] == len(updated)
    page = set_up.get("/admin/meetings").get_data(as_text=True)
    assert "calendars out of date" not in page


def test_the_sessions_page_flags_each_session_whose_calendars_are_out_of_date(app, set_up):
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.calendar_sent_at.is_not(None))
                                    .order_by(Meeting.starts_at))
    local = meeting.starts_at.astimezone(NEW_YORK)
    response = post(set_up, f"/admin/meetings/{meeting.id}", day=local.date().isoformat(), start_time="08:00",
                    duration_minutes="60", venue_name="Blue Door", venue_address="1 Main St", seat_limit="")
    assert response.status_code == 303
    page = set_up.get("/admin/meetings").get_data(as_text=True)
    row = page[page.index(f'id="admin-meeting-{meeting.id}"'):]
    row = row[:row.index("</li>")]
    assert "calendars out of date" in row
    assert page.count("calendars out of date") == 1


def test_changing_the_groups_time_zone_keeps_each_session_at_its_local_time_and_updates_calendars(app, set_up):
    invited = calendars(app)
    with app.app_context():
        settings = Settings.get()
        form = {name: getattr(settings, name) for name in (
            "group_name", "charter", "sponsor_min_attendance", "sponsor_max_pending", "invitation_ttl_days",
            "member_cap", "rsvp_cutoff_days_before")}
    response = post(set_up, "/admin/settings", **{**{k: str(v) for k, v in form.items()}, "timezone": "Europe/Dublin",
                                                  "rsvp_cutoff_time": "20:00", "mail_sender_name": "",
                                                  "mail_sender_email": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    outbox.wait_for_background()
    dublin = ZoneInfo("Europe/Dublin")
    with app.app_context():
        meetings = db.session.scalars(select(Meeting).where(Meeting.starts_at > utcnow())).all()
        assert {m.starts_at.astimezone(dublin).time() for m in meetings} == {time(6, 30)}
        assert {s.timezone for s in db.session.scalars(select(Series))} == {"Europe/Dublin"}
    updated = calendars(app)[len(invited):]
    assert len(updated) == len(invited)
    assert {start.astimezone(dublin).time() for _, start in updated} == {time(6, 30)}


def test_a_hostile_time_zone_is_refused_next_to_the_list(app, set_up):
    response = post(set_up, "/admin/settings", group_name="X", charter="Y", timezone="../../etc/passwd",
                    sponsor_min_attendance="1", sponsor_max_pending="2", invitation_ttl_days="7", member_cap="150",
                    rsvp_cutoff_days_before="1", rsvp_cutoff_time="20:00")
    assert response.status_code == 422
    assert "Choose a time zone from the list." in response.get_data(as_text=True)


def test_an_old_database_with_the_series_in_another_zone_takes_the_series_zone(tmp_path):
    """Before, the series could be in New York while the group stayed in UTC (every page said 11:30 AM)."""
    from flask_migrate import upgrade

    from conftest import app_config
    from thinknet import create_app

    app = create_app(app_config(tmp_path / "instance", f"sqlite:///{tmp_path / 'old.sqlite'}"))
    with app.app_context():
        upgrade(revision="0011")
        with db.engine.begin() as connection:
            connection.info["thinknet.migrating"] = True
            connection.exec_driver_sql(
                "INSERT INTO series (id, weekday, start_time, duration_minutes, timezone, venue_name, venue_address, "
                "active, created_at) VALUES (1, 2, '06:30:00.000000', 60, 'America/New_York', 'Blue Door', '', 1, "
                "'2026-01-01 00:00:00.000000')")
        upgrade()
        assert Settings.get().timezone == "America/New_York"
        db.engine.dispose()


def test_a_newcomer_gets_invites_alone_and_me_explains_the_choice(app, client, login, make_member):
    """A calendar that has both the invites and the feed shows every session twice: one is the default."""
    from thinknet.members.services import create_founder

    with app.app_context():
        founder = create_founder(email="f@example.org", name="Fay Founder", headline="Founder", sector="",
                                 password="correct horse battery")
        db.session.commit()
        assert (founder.wants_calendar_updates, founder.wants_calendar_feed) == (True, False)
        founder_id = founder.id
    login(db_member(app, founder_id))
    page = client.get("/me/").get_data(as_text=True)
    checked = re.findall(r'<input [^>]*checked[^>]*value="(\w+)"', page)
    assert checked[0] == "invites"
    assert "shows each twice" in page and 'id="feed-url"' not in page
    response = post(client, "/me/calendar", calendar="feed")
    assert response.status_code == 303
    with app.app_context():
        member = db.session.get(Member, founder_id)
        assert (member.wants_calendar_updates, member.wants_calendar_feed) == (False, True)
    assert 'id="feed-url"' in client.get("/me/").get_data(as_text=True)
    assert post(client, "/me/calendar", calendar="twice-please").status_code == 303
    with app.app_context():
        member = db.session.get(Member, founder_id)
        assert (member.wants_calendar_updates, member.wants_calendar_feed) == (False, True)  # unchanged


def db_member(app, member_id):
    with app.app_context():
        member = db.session.get(Member, member_id)
        db.session.expunge(member)
        return member


def test_the_feed_and_the_invites_carry_the_same_uid_for_each_session(app, set_up):
    """So a calendar app that merges calendars by UID shows a session once."""
    from thinknet.calendar import feed as feeds

    invited = set()
    for message in sent_mail(app):
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                invited |= {str(e["UID"]) for e in icalendar.Calendar.from_ical(part.get_payload(decode=True))
                            .walk("VEVENT")}
    with app.app_context(), app.test_request_context():
        member = db.session.scalar(select(Member).where(Member.email == "ada@example.org"))
        token = feeds.feed_token(member)
    body = set_up.get(f"/calendar/{token}.ics").data
    in_feed = {str(e["UID"]) for e in check_ics(body, None).walk("VEVENT")}
    assert invited and invited <= in_feed


# From the outside review: each of these failed before.

def test_a_member_who_chose_the_feed_after_an_invite_still_gets_that_sessions_update(app, set_up):
    """Their calendar holds the invite: it would keep the old time."""
    with app.app_context():
        ada = db.session.scalar(select(Member).where(Member.email == "ada@example.org"))
        ada.wants_calendar_updates, ada.wants_calendar_feed = False, True
        db.session.commit()
    before = len(calendars(app))
    assert post(set_up, "/admin/series", **series_form(start_time="07:45", timezone="")).status_code == 303
    outbox.wait_for_background()
    updated = calendars(app)[before:]
    assert {to for to, _ in updated} == {"ada@example.org", "grace@example.org"}
    assert {start.time() for _, start in updated} == {time(7, 45)}


def test_with_invites_off_no_invite_is_sent_and_members_choose_the_feed_or_nothing(make_app, client, login,
                                                                                  organizer, make_member,
                                                                                  make_meeting):
    app = make_app(CALENDAR_INVITES=False)
    client = app.test_client()
    from conftest import sign_in

    assert sign_in(client, organizer.email).status_code == 303
    meeting_id = make_meeting(days_from_now=3)
    assert "are off on this site" in client.get("/admin/meetings").get_data(as_text=True)
    post(client, "/admin/calendar-updates", weeks="4")
    post(client, f"/admin/meetings/{meeting_id}/calendar-updates")
    with app.app_context():
        assert itip.queue_calendar_updates([db.session.get(Meeting, meeting_id)]) == []
        assert db.session.scalar(select(db.func.count()).select_from(OutgoingMail)) == 0
    page = client.get("/me/").get_data(as_text=True)
    assert 'value="invites"' not in page and 'value="both"' not in page and 'value="feed"' in page


def test_a_series_seat_change_keeps_a_sessions_own_limit_and_never_oversells(app, set_up):
    with app.app_context():
        first, second = db.session.scalars(select(Meeting).order_by(Meeting.starts_at).limit(2)).all()
        first.seat_limit = 4  # set on its own
        for n in range(3):
            member = Member(email=f"m{n}@example.org", name=f"M {n}", headline="", password_hash="x")
            db.session.add(member)
            db.session.flush()
            db.session.add(Rsvp(meeting_id=second.id, member_id=member.id, answer=RsvpAnswer.YES))
        db.session.commit()
        first_id, second_id = first.id, second.id
    response = post(set_up, "/admin/series", **series_form(seat_limit="2", timezone=""))
    assert response.status_code == 422
    assert "3 members already have a seat" in response.get_data(as_text=True)
    assert post(set_up, "/admin/series", **series_form(seat_limit="12", timezone="")).status_code == 303
    with app.app_context():
        assert db.session.get(Meeting, first_id).seat_limit == 4
        assert db.session.get(Meeting, second_id).seat_limit == 12


def test_an_invites_subject_says_what_it_is(app, set_up):
    """A first invite is not "Updated", and an invite that only shows a new answer says so."""
    from email.header import decode_header, make_header

    subjects = [str(make_header(decode_header(m["Subject"]))) for m in sent_mail(app)]
    assert subjects and all(s.startswith("Breakfast on ") for s in subjects)
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).where(Meeting.calendar_sent_at.is_not(None))
                                    .order_by(Meeting.starts_at))
        meeting.sequence += 3  # changed three times before its invites went to a newcomer
        newcomer = Member(email="new@example.org", name="New Comer", headline="", password_hash="x")
        db.session.add(newcomer)
        db.session.commit()
        before = len(sent_mail(app))
        itip.queue_calendar_updates([meeting])
        db.session.commit()
        outbox.send_due()
        first = [m for m in sent_mail(app)[before:] if m["To"] == "new@example.org"]
        assert str(make_header(decode_header(first[0]["Subject"]))).startswith("Breakfast on ")
        before = len(sent_mail(app))
        itip.queue_answer_updates(meeting, [db.session.get(Member, newcomer.id)])
        db.session.commit()
        outbox.send_due()
        [answer] = sent_mail(app)[before:]
        assert str(make_header(decode_header(answer["Subject"]))).startswith("Your answer: ")


def test_a_cancelled_session_keeps_its_local_time_when_the_zone_changes(app, set_up):
    with app.app_context():
        meeting = db.session.scalar(select(Meeting).order_by(Meeting.starts_at.desc()))
        meeting.state = "cancelled"
        db.session.commit()
        schedule.change_time_zone(db.session.get(Member, 1), "Europe/Dublin")
        db.session.commit()
        assert db.session.get(Meeting, meeting.id).starts_at.astimezone(ZoneInfo("Europe/Dublin")).time() == \
            time(6, 30)


def test_a_one_off_added_before_the_series_keeps_its_local_time_when_the_series_names_the_zone(app, client, login,
                                                                                            organizer):
    login(organizer)
    day = (utcnow() + timedelta(days=10)).date()
    response = post(client, "/admin/meetings", day=day.isoformat(), start_time="06:30", duration_minutes="60",
                    venue_name="Pop-up", venue_address="", seat_limit="")
    assert response.status_code == 303
    assert post(client, "/admin/series", **series_form()).status_code == 303
    with app.app_context():
        one_off = db.session.scalar(select(Meeting).where(Meeting.venue_name == "Pop-up"))
        assert one_off.starts_at.astimezone(NEW_YORK).time() == time(6, 30)


def test_a_yes_and_a_smaller_series_at_the_same_moment_never_oversell(make_app, organizer, make_member):
    """The organizer lowers the series' seats while a member taps yes: one waits for the other."""
    import threading

    from thinknet.meetings import rsvps

    apps = [make_app(), make_app()]
    members = [make_member(email=f"m{n}@example.org", name=f"M {n}") for n in range(4)]
    with apps[0].app_context():
        saved = schedule.save_series(db.session.get(Member, organizer.id), schedule.SeriesValues(
            weekday=(utcnow().weekday() + 2) % 7, start_time=time(6, 30), duration_minutes=60, timezone="UTC",
            venue_name="Blue Door", venue_address="", seat_limit=5))
        db.session.commit()
        meeting_id = saved.created[0].id
        for member in members[:3]:
            rsvps.set_rsvp(db.session.get(Member, member.id), meeting_id, RsvpAnswer.YES)
        db.session.commit()
    start = threading.Barrier(2)
    errors = []

    def lower_the_seats():
        with apps[0].app_context():
            start.wait()
            try:
                schedule.save_series(db.session.get(Member, organizer.id), schedule.SeriesValues(
                    weekday=(utcnow().weekday() + 2) % 7, start_time=time(6, 30), duration_minutes=60,
                    timezone="UTC", venue_name="Blue Door", venue_address="", seat_limit=3))
                db.session.commit()
            except schedule.MeetingChangeRefused:
                db.session.rollback()
            except Exception as error:  # noqa: BLE001
                errors.append(error)
                db.session.rollback()

    def say_yes():
        with apps[1].app_context():
            start.wait()
            try:
                rsvps.set_rsvp(db.session.get(Member, members[3].id), meeting_id, RsvpAnswer.YES)
                db.session.commit()
            except Exception as error:  # noqa: BLE001
                errors.append(error)
                db.session.rollback()

    threads = [threading.Thread(target=lower_the_seats), threading.Thread(target=say_yes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with apps[0].app_context():
        meeting = db.session.get(Meeting, meeting_id)
        confirmed = rsvps.confirmed_count(meeting)
        assert meeting.seat_limit is None or confirmed <= meeting.seat_limit, (confirmed, meeting.seat_limit)
