"""Calendar invites by email, received by a real SMTP server: one message per member, the MIME tree calendar
clients need, updates and cancellations, and one failure never stopping the rest."""
from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from sqlalchemy import select

from conftest import csrf_token, sent_mail, sign_in
from ical_checks import check_ics
from thinknet import outbox
from thinknet.extensions import db
from thinknet.models import MailState, Meeting, Member, OutgoingMail, Rsvp, RsvpAnswer


@pytest.fixture
def smtp_app(make_app, smtp_server):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_BACKEND="smtp")


@pytest.fixture
def people(smtp_app, make_member):
    organizer = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    ada = make_member(name="Ada Lovelace", email="ada@example.org")
    opted_out = make_member(name="Otto Optout", email="otto@example.org", wants_calendar_updates=False)
    return organizer, ada, opted_out


@pytest.fixture
def meeting_id(smtp_app, make_meeting):
    return make_meeting(days_from_now=3, venue_name="Blue Door")


def organizer_client(app, organizer):
    client = app.test_client()
    assert sign_in(client, organizer.email).status_code == 303
    return client


def send_invites(client, meeting_id):
    response = client.post(f"/admin/meetings/{meeting_id}/calendar-updates", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    outbox.wait_for_background()
    return response


def calendar_parts(message):
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def test_each_member_gets_their_own_invite_with_the_mime_tree_calendars_need(smtp_app, smtp_server, people,
                                                                           meeting_id):
    organizer, ada, opted_out = people
    with smtp_app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=ada.id, answer=RsvpAnswer.YES))
        db.session.commit()
    send_invites(organizer_client(smtp_app, organizer), meeting_id)
    by_recipient = {tuple(received.rcpt_tos): received.message for received in smtp_server.received}
    assert set(by_recipient) == {(organizer.email,), (ada.email,)}  # one each; not the member who opted out
    message = by_recipient[(ada.email,)]
    assert message["To"] == ada.email
    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.get_payload()] == ["text/plain", "text/html", "text/calendar"]
    [part] = calendar_parts(message)
    assert part.get_param("method") == "REQUEST" and part.get_content_charset() == "utf-8"
    assert attachment.get_filename() == "invite.ics"
    ics = part.get_payload(decode=True)
    assert attachment.get_payload(decode=True) == ics
    [event] = check_ics(ics, "REQUEST").walk("VEVENT")
    assert event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert str(event["ATTENDEE"]) == f"mailto:{ada.email}"
    assert "Blue Door" in event["LOCATION"]
    assert "Breakfast on" in message["Subject"]
    with smtp_app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        assert (meeting.calendar_sent_sequence, meeting.calendars_outdated) == (0, False)


def test_moving_a_session_offers_the_update_which_keeps_the_uid_and_raises_the_sequence(
        smtp_app, smtp_server, people, meeting_id):
    organizer, ada, _ = people
    client = organizer_client(smtp_app, organizer)
    send_invites(client, meeting_id)
    with smtp_app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        day = meeting.starts_at.date().isoformat()
    response = client.post(f"/admin/meetings/{meeting_id}", data={
        "day": day, "start_time": "07:45", "duration_minutes": "60", "venue_name": "The Library",
        "venue_address": "", "seat_limit": "", "csrf_token": csrf_token(client, "/")})
    assert response.headers["Location"].endswith("#invites")
    page = client.get(f"/admin/meetings/{meeting_id}").get_data(as_text=True)
    assert "Send the update" in page
    smtp_server.received.clear()
    send_invites(client, meeting_id)
    first = {r.rcpt_tos[0]: r.message for r in smtp_server.received}[ada.email]
    [event] = check_ics(calendar_parts(first)[0].get_payload(decode=True), "REQUEST").walk("VEVENT")
    assert event["SEQUENCE"] == 1 and "The Library" in event["LOCATION"]
    assert first["Subject"].startswith("Updated:")


def test_cancelling_sends_the_cancellation_to_everyone_invited(smtp_app, smtp_server, people, meeting_id):
    organizer, ada, _ = people
    client = organizer_client(smtp_app, organizer)
    send_invites(client, meeting_id)
    uid = icalendar.Calendar.from_ical(calendar_parts(smtp_server.received[0].message)[0].get_payload(decode=True)
                                       ).walk("VEVENT")[0]["UID"]
    smtp_server.received.clear()
    client.post(f"/admin/meetings/{meeting_id}/cancel", data={"reason": "Snow", "csrf_token": csrf_token(client, "/")})
    outbox.wait_for_background()
    assert {r.rcpt_tos[0] for r in smtp_server.received} == {organizer.email, ada.email}
    message = smtp_server.received[0].message
    [part] = calendar_parts(message)
    assert part.get_param("method") == "CANCEL"
    [event] = check_ics(part.get_payload(decode=True), "CANCEL").walk("VEVENT")
    assert (event["UID"], event["SEQUENCE"], event["STATUS"]) == (uid, 1, "CANCELLED")
    assert message["Subject"].startswith("Cancelled:")


def test_one_refused_address_does_not_stop_the_rest_and_the_organizer_sees_it(smtp_app, smtp_server, people,
                                                                              make_member, meeting_id):
    organizer, ada, _ = people
    bounced = make_member(name="Bo Bounce", email="bo@example.org")
    smtp_server.refuse.add(bounced.email)
    client = organizer_client(smtp_app, organizer)
    send_invites(client, meeting_id)
    assert {r.rcpt_tos[0] for r in smtp_server.received} == {organizer.email, ada.email}
    with smtp_app.app_context():
        states = dict(db.session.execute(select(OutgoingMail.member_id, OutgoingMail.state)).all())
    assert states[bounced.id] == MailState.FAILED and states[ada.id] == MailState.SENT
    page = client.get(f"/admin/meetings/{meeting_id}").get_data(as_text=True)
    assert "2 delivered, 1 failed" in page
    assert "Bo Bounce &lt;bo@example.org&gt;: SMTPRecipientsRefused" in page


def test_the_page_does_not_wait_for_the_mail_server(smtp_app, smtp_server, people, meeting_id):
    organizer = people[0]
    smtp_app.config["MAIL_IN_BACKGROUND"] = True
    client = organizer_client(smtp_app, organizer)
    smtp_server.gate.clear()  # the mail server holds every message
    response = client.post(f"/admin/meetings/{meeting_id}/calendar-updates", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303  # answered while the mail server still holds the first message
    assert smtp_server.received == []
    smtp_server.gate.set()
    outbox.wait_for_background()
    assert len(smtp_server.received) == 2


def test_invites_for_the_next_weeks_go_out_in_one_action(smtp_app, smtp_server, people, make_meeting):
    organizer = people[0]
    for days in (3, 10, 17, 40):
        make_meeting(days_from_now=days)
    client = organizer_client(smtp_app, organizer)
    response = client.post("/admin/calendar-updates", data={"weeks": "3", "csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    outbox.wait_for_background()
    assert len(smtp_server.received) == 3 * 2


def test_without_a_mail_server_invites_land_in_the_outbox(app, make_member, make_meeting):
    organizer = make_member.organizer(email="olga@example.org")
    meeting_id = make_meeting(days_from_now=3)
    client = organizer_client(app, organizer)
    send_invites(client, meeting_id)
    [message] = sent_mail(app)
    [part] = calendar_parts(message)
    check_ics(part.get_payload(decode=True), "REQUEST")


def test_the_download_is_a_plain_calendar_without_method_or_attendees(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=3)
    login(member)
    response = client.get(f"/meetings/{meeting_id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    [event] = check_ics(response.data, None).walk("VEVENT")
    assert "ATTENDEE" not in event and member.email.encode() not in response.data


def test_unsent_invites_are_retried_by_the_scheduled_job(smtp_app, smtp_server, people, meeting_id, runner):
    with smtp_app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        for member in db.session.scalars(select(Member)):
            db.session.add(OutgoingMail(kind="calendar", recipient=member.email, member_id=member.id,
                                        meeting_id=meeting.id, calendar_method="REQUEST", calendar_sequence=0,
                                        created_at=meeting.created_at - timedelta(hours=1)))
        db.session.commit()
    result = smtp_app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "3 message(s) sent, 0 not sent" in result.output
    assert len(smtp_server.received) == 3
    again = smtp_app.test_cli_runner().invoke(args=["send-reminders"])
    assert "0 message(s) sent" in again.output
