"""RSVPs: the cut-off, the waitlist and its order, standing answers."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from meeting_helpers import meeting_in, member
from thinknet.extensions import db
from thinknet.meetings import rsvps
from thinknet.models import Meeting, MeetingState, Rsvp, RsvpAnswer, Settings


def test_rsvps_close_at_eight_the_evening_before_in_the_groups_timezone(app_context):
    Settings.get().timezone = "America/New_York"
    start = datetime(2026, 12, 2, 6, 30, tzinfo=ZoneInfo("America/New_York")).astimezone(timezone.utc)
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café")
    cutoff = rsvps.rsvp_cutoff(meeting).astimezone(ZoneInfo("America/New_York"))
    assert (cutoff.date(), cutoff.time()) == (date(2026, 12, 1), time(20, 0))


def test_a_yes_beyond_the_seats_waits_in_line_and_a_freed_seat_goes_to_the_first(app_context):
    meeting = meeting_in(72, seats=2)
    a, b, c, d = (member(f"{n}@example.org") for n in "abcd")
    for m in (a, b, c, d):
        assert rsvps.set_rsvp(m, meeting.id, RsvpAnswer.YES).promoted == []
    seen = rsvps.turnout(meeting)
    assert [r.member_id for r in seen.confirmed] == [a.id, b.id]
    assert [seen.waitlist_position(m) for m in (c, d)] == [1, 2]
    change = rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)
    assert change.promoted == [c]
    seen = rsvps.turnout(meeting)
    assert [r.member_id for r in seen.confirmed] == [b.id, c.id]
    assert seen.waitlist_position(d) == 1
    assert rsvps.set_rsvp(b, meeting.id, RsvpAnswer.MAYBE).promoted == [d]


def test_answering_yes_again_keeps_the_place_in_line(app_context):
    meeting = meeting_in(72, seats=1)
    a, b, c = (member(f"{n}@example.org") for n in "abc")
    for m in (a, b, c):
        rsvps.set_rsvp(m, meeting.id, RsvpAnswer.YES)
    rsvps.set_rsvp(b, meeting.id, RsvpAnswer.YES)
    assert rsvps.turnout(meeting).waitlist_position(b) == 1


def test_after_the_cutoff_a_member_can_withdraw_but_not_add_a_yes(app_context):
    meeting = meeting_in(2, seats=1)  # 2 hours ahead: past the 20:00-the-evening-before cut-off
    a, b, c = (member(f"{n}@example.org") for n in "abc")
    db.session.add_all([Rsvp(meeting_id=meeting.id, member_id=a.id, answer=RsvpAnswer.YES),
                        Rsvp(meeting_id=meeting.id, member_id=b.id, answer=RsvpAnswer.YES, waitlisted=True)])
    db.session.flush()
    with pytest.raises(rsvps.RsvpClosed, match="you cannot add a yes now"):
        rsvps.set_rsvp(c, meeting.id, RsvpAnswer.YES)
    change = rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)
    assert change.promoted == [b]  # a freed seat still goes to the waitlist
    rsvps.set_rsvp(c, meeting.id, RsvpAnswer.NO)


def test_answers_cannot_change_once_the_session_has_started(app_context):
    meeting = meeting_in(-0.25)
    a = member("a@example.org")
    with pytest.raises(rsvps.RsvpClosed, match="has started"):
        rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)


def test_a_cancelled_session_takes_no_answers(app_context):
    meeting = meeting_in(72)
    meeting.state = MeetingState.CANCELLED
    with pytest.raises(rsvps.RsvpRefused, match="cancelled"):
        rsvps.set_rsvp(member("a@example.org"), meeting.id, RsvpAnswer.YES)


def test_a_standing_answer_answers_open_upcoming_sessions_not_closed_or_answered_ones(app_context):
    open_one, closed_one, answered = meeting_in(72), meeting_in(2), meeting_in(96)
    a = member("a@example.org")
    rsvps.set_rsvp(a, answered.id, RsvpAnswer.NO)
    assert rsvps.set_standing_answer(a, RsvpAnswer.YES) == 1
    answers = dict(db.session.execute(select(Rsvp.meeting_id, Rsvp.answer).where(Rsvp.member_id == a.id)).all())
    assert answers == {open_one.id: RsvpAnswer.YES, answered.id: RsvpAnswer.NO}
    assert rsvps.set_standing_answer(a, None) == 0
    assert a.standing_rsvp is None
