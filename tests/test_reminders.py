"""send-reminders: the cut-off headcount to organizers and lapse nudges to sponsors, each sent exactly once."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from conftest import body_text, sent_mail
from thinknet.extensions import db
from thinknet.meetings.reminders import send_lapse_nudges
from thinknet.models import Attendance, Meeting, Member, MemberStatus, Rsvp, RsvpAnswer, utcnow

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
MESSAGE_KINDS = ["invitation", "welcome", "password_reset", "calendar_update", "seat_opened", "cutoff_headcount",
                 "sponsor_notice", "lapse_nudge"]


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_of_message_has_a_plain_text_and_an_html_body(kind):
    assert (TEMPLATES / f"{kind}.txt").is_file() and (TEMPLATES / f"{kind}.html").is_file()


def has_both_bodies(message) -> bool:
    return {"text/plain", "text/html"} <= {part.get_content_type() for part in message.walk()}


def remind(app) -> str:
    result = app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    return result.output


def test_at_the_cutoff_organizers_get_the_headcount_once(app, make_member, make_meeting, close_rsvps_an_hour_ago):
    organizers = [make_member.organizer(name=f"Org {n}") for n in (1, 2)]
    coming, maybe = make_member(name="Cara Coming"), make_member(name="Milo Maybe")
    closed = make_meeting(days_from_now=2 / 24, venue_name="Blue Door")
    close_rsvps_an_hour_ago(closed)
    open_still = make_meeting(days_from_now=3)
    with app.app_context():
        db.session.add_all([Rsvp(meeting_id=closed, member_id=coming.id, answer=RsvpAnswer.YES),
                            Rsvp(meeting_id=closed, member_id=maybe.id, answer=RsvpAnswer.MAYBE)])
        db.session.commit()
    assert "Headcounts for 1 session(s)" in remind(app)
    messages = sent_mail(app)
    assert sorted(m["To"] for m in messages) == sorted(o.email for o in organizers)
    text = body_text(messages[0])
    assert "1 coming, 1 maybe" in text and "Cara Coming" in text and "Milo Maybe" in text and "Blue Door" in text
    assert all(has_both_bodies(m) for m in messages)
    assert "Headcounts for 0 session(s)" in remind(app)
    assert len(sent_mail(app)) == 2
    with app.app_context():
        assert db.session.get(Meeting, open_still).headcount_sent_at is None


def test_a_headcount_due_while_the_mail_server_is_down_is_sent_once_it_is_back(make_app, make_member, make_meeting,
                                                                             close_rsvps_an_hour_ago):
    from servers import SmtpServer, free_port

    mail_server = SmtpServer()  # down until started
    settings = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_TIMEOUT": 2}
    try:
        app = make_app(**settings, MAIL_PORT=free_port())  # nothing listens: the outage
        organizer = make_member.organizer(name="Olga Organizer")
        closed = make_meeting(days_from_now=2 / 24)
        close_rsvps_an_hour_ago(closed)
        during = remind(app)
        assert "Headcounts for 1 session(s)" in during and "0 message(s) sent, 1 not sent" in during
        mail_server.start()
        back = make_app(**settings, MAIL_PORT=mail_server.port)  # the same database, mail back
        with back.app_context():
            from thinknet import outbox
            sent, _ = outbox.send_due(utcnow() + timedelta(minutes=2))  # its retry is due
        assert sent == 1
        assert [received.rcpt_tos for received in mail_server.received] == [[organizer.email]]
        assert "Headcounts for 0 session(s)" in remind(back)  # claimed once: never a second headcount
        assert len(mail_server.received) == 1
    finally:
        mail_server.stop()


def record_sessions(app, attendees_per_session, ending_weeks_ago=0):
    """Past sessions a week apart, oldest first, the last one ``ending_weeks_ago`` weeks before this week's,
    each with attendance recorded for the given members."""
    with app.app_context():
        count = len(attendees_per_session)
        for n, attendees in enumerate(attendees_per_session):
            start = utcnow() - timedelta(weeks=count - n + ending_weeks_ago, hours=-1)
            meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café",
                              attendance_recorded_at=start + timedelta(hours=2))
            db.session.add(meeting)
            db.session.flush()
            db.session.add_all([Attendance(meeting_id=meeting.id, member_id=m.id) for m in attendees])
        db.session.commit()


@pytest.fixture
def pair(make_member):
    long_ago = utcnow() - timedelta(weeks=30)
    sponsor = make_member(name="Sam Sponsor", joined_at=long_ago)
    member = make_member(name="Lee Lapsed", sponsor_id=sponsor.id, joined_at=long_ago)
    return sponsor, member


def test_after_four_missed_sessions_the_sponsor_gets_one_kind_nudge(app, pair, make_member):
    sponsor, member = pair
    make_member.organizer(name="Olga Organizer")
    record_sessions(app, [[member, sponsor], [sponsor], [sponsor], [sponsor], [sponsor]])
    assert "1 lapse nudge(s)" in remind(app)
    [message] = sent_mail(app)
    assert message["To"] == sponsor.email
    assert "Lee Lapsed" in message["Subject"] and "drop them a line" in body_text(message)
    assert has_both_bodies(message)
    assert "0 lapse nudge(s)" in remind(app)


def test_three_missed_sessions_are_not_yet_a_lapse(app, pair):
    sponsor, member = pair
    record_sessions(app, [[member], [sponsor], [sponsor], [sponsor]])
    assert "0 lapse nudge(s)" in remind(app)


def test_a_member_who_comes_back_and_drifts_again_is_nudged_again(app, pair):
    sponsor, member = pair
    record_sessions(app, [[sponsor]] * 4, ending_weeks_ago=5)
    with app.app_context():  # the job ran back then, days after the fourth missed session
        assert send_lapse_nudges(now=utcnow() - timedelta(weeks=5, days=3)) == 1
    record_sessions(app, [[member]], ending_weeks_ago=4)  # then they came back to the table
    assert "0 lapse nudge(s)" in remind(app)
    record_sessions(app, [[sponsor]] * 4)
    assert "1 lapse nudge(s)" in remind(app)


def test_with_no_active_sponsor_the_organizers_are_nudged(app, pair, make_member):
    sponsor, member = pair
    organizer = make_member.organizer(name="Olga Organizer")
    with app.app_context():
        db.session.get(Member, sponsor.id).status = MemberStatus.DEPARTED
        db.session.commit()
    record_sessions(app, [[organizer]] * 4)
    remind(app)
    [message] = sent_mail(app)
    assert message["To"] == organizer.email and "Their sponsor is no longer in the group" in body_text(message)


def test_newcomers_are_not_nudged_for_sessions_before_they_joined(app, make_member):
    regular = make_member(name="Reg Ular", joined_at=utcnow() - timedelta(weeks=30))
    record_sessions(app, [[regular]] * 4)
    make_member(name="New Comer")  # joined just now
    assert "0 lapse nudge(s)" in remind(app)
