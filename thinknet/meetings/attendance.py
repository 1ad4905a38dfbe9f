"""Attendance: who could have come, who did, and the sessions still waiting for it. Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from thinknet.audit import record
from thinknet.errors import Refused
from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    Meeting,
    MeetingState,
    Member,
    MemberStatus,
    Rsvp,
    utcnow,
)
from thinknet.meetings.queries import lock_meeting


class AttendanceRefused(Refused):
    pass


@dataclass(frozen=True)
class AttendanceRow:
    member: Member
    came: bool
    said_yes: bool


def attendance_sheet(meeting: Meeting) -> list[AttendanceRow]:
    """Everyone who could have come (active members who had joined before it started, and whoever answered it or
    was recorded at it), ticked as recorded, or (before anything is recorded) from the confirmed yeses."""
    attended = set(db.session.scalars(select(Attendance.member_id).where(Attendance.meeting_id == meeting.id)))
    answers = db.session.execute(
        select(Rsvp.member_id, Rsvp.has_seat)
        .where(Rsvp.meeting_id == meeting.id)
    ).all()
    answered = {member_id for member_id, _ in answers}
    said_yes = {member_id for member_id, confirmed in answers if confirmed}
    members = db.session.scalars(
        select(Member).where(((Member.status == MemberStatus.ACTIVE) & (Member.joined_at < meeting.starts_at))
                             | Member.id.in_(attended | answered))
        .order_by(func.lower(Member.name))
    ).all()
    recorded = meeting.attendance_recorded_at is not None
    rows = [AttendanceRow(m, (m.id in attended) if recorded else (m.id in said_yes), m.id in said_yes)
            for m in members]
    return sorted(rows, key=lambda row: not row.said_yes)


def _start_recording(meeting: Meeting, organizer: Member) -> None:
    """The first change to attendance takes the pre-filled sheet (the confirmed yeses) as the starting point."""
    if meeting.attendance_recorded_at is not None:
        return
    for row in attendance_sheet(meeting):
        if row.came:
            db.session.add(Attendance(meeting_id=meeting.id, member_id=row.member.id, recorded_by_id=organizer.id))
    meeting.attendance_recorded_at = utcnow()
    db.session.flush()


def _check_attendance_open(meeting: Meeting) -> None:
    if meeting.is_cancelled:
        raise AttendanceRefused("This session was cancelled.")
    if meeting.starts_at > utcnow():
        raise AttendanceRefused("Attendance can be recorded once the session has started.")


def confirm_attendance(meeting: Meeting, organizer: Member) -> None:
    """Records the sheet as shown (the pre-filled yeses, if nothing was changed)."""
    meeting = lock_meeting(meeting.id)
    _check_attendance_open(meeting)
    _start_recording(meeting, organizer)
    record(organizer, "attendance.recorded", target=meeting)


def toggle_attendance(meeting: Meeting, member_id: int, organizer: Member) -> bool:
    """Flips whether a member came; returns whether they now count as having come."""
    meeting = lock_meeting(meeting.id)
    _check_attendance_open(meeting)
    if not any(row.member.id == member_id for row in attendance_sheet(meeting)):
        raise NotFound()  # nobody on this session's sheet: a member who does not exist, or joined after it
    _start_recording(meeting, organizer)
    row = db.session.scalar(
        select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.member_id == member_id)
    )
    if row is not None:
        db.session.delete(row)
    else:
        db.session.add(Attendance(meeting_id=meeting.id, member_id=member_id, recorded_by_id=organizer.id))
    db.session.flush()
    record(organizer, "attendance.changed", target=meeting, member_id=member_id, came=row is None)
    return row is None


def attendees(meeting: Meeting) -> list[Member]:
    return list(db.session.scalars(
        select(Member).join(Attendance, Attendance.member_id == Member.id)
        .where(Attendance.meeting_id == meeting.id).order_by(func.lower(Member.name))
    ))


def meetings_needing_attendance(now: datetime | None = None, limit: int = 5) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).where(Meeting.state == MeetingState.SCHEDULED, Meeting.ends_at <= (now or utcnow()),
                              Meeting.attendance_recorded_at.is_(None))
        .order_by(Meeting.starts_at.desc()).limit(limit)
    ))
