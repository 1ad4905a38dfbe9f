"""Attendance: the sheet pre-filled from the yeses, the sponsor rule it feeds, sessions waiting for it."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from meeting_helpers import meeting_in, member, organizer  # noqa: F401 (organizer is a fixture)
from thinknet.extensions import db
from thinknet.invitations.services import attended_count
from thinknet.meetings import attendance
from thinknet.members.services import last_attended
from thinknet.models import Meeting, Rsvp, RsvpAnswer


def test_attendance_waits_for_the_session_to_start(organizer):
    with pytest.raises(attendance.AttendanceRefused):
        attendance.toggle_attendance(meeting_in(24), organizer.id, organizer)


def test_meetings_needing_attendance_lists_ended_unrecorded_sessions(organizer):
    ended, recorded, coming = meeting_in(-30), meeting_in(-60), meeting_in(24)
    attendance.confirm_attendance(recorded, organizer)
    assert attendance.meetings_needing_attendance() == [ended]
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 3


def test_attendance_is_prefilled_from_the_confirmed_yeses_and_feeds_the_sponsor_rule(organizer):
    meeting = meeting_in(-2, seats=1)
    came, waitlisted, stayed_home = member("c@example.org"), member("w@example.org"), member("s@example.org")
    db.session.add_all([Rsvp(meeting_id=meeting.id, member_id=came.id, answer=RsvpAnswer.YES),
                        Rsvp(meeting_id=meeting.id, member_id=waitlisted.id, answer=RsvpAnswer.YES, waitlisted=True),
                        Rsvp(meeting_id=meeting.id, member_id=stayed_home.id, answer=RsvpAnswer.NO)])
    db.session.flush()
    sheet = {row.member.id: row.came for row in attendance.attendance_sheet(meeting)}
    assert sheet[came.id] and not sheet[waitlisted.id] and not sheet[stayed_home.id]
    assert attendance.toggle_attendance(meeting, waitlisted.id, organizer) is True  # walked in anyway
    assert {m.id for m in attendance.attendees(meeting)} == {came.id, waitlisted.id}
    assert attendance.toggle_attendance(meeting, came.id, organizer) is False
    assert {m.id for m in attendance.attendees(meeting)} == {waitlisted.id}
    assert attended_count(waitlisted) == 1 and attended_count(came) == 0
    assert last_attended(waitlisted) == meeting.starts_at
