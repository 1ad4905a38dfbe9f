"""Takeaways: what attendees write after a session. Flush, never commit.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from thinknet.errors import Refused
from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    Meeting,
    Member,
    Rsvp,
    Takeaway,
    utcnow,
)


class TakeawayRefused(Refused):
    pass


def came_to(meeting: Meeting, member: Member) -> bool:
    """An attendee: recorded as having come, or, before attendance is recorded, a confirmed yes."""
    if meeting.attendance_recorded_at is not None:
        return db.session.scalar(select(Attendance.id).where(
            Attendance.meeting_id == meeting.id, Attendance.member_id == member.id)) is not None
    return db.session.scalar(select(Rsvp.id).where(
        Rsvp.meeting_id == meeting.id, Rsvp.member_id == member.id, Rsvp.has_seat)) is not None


def can_add_takeaway(meeting: Meeting, member: Member, now: datetime | None = None) -> bool:
    return not meeting.is_cancelled and meeting.starts_at <= (now or utcnow()) and came_to(meeting, member)


def add_takeaway(meeting: Meeting, member: Member, body: str) -> Takeaway:
    if not can_add_takeaway(meeting, member):
        raise TakeawayRefused("Takeaways are added by the people who came, once the session has started.")
    takeaway = Takeaway(meeting_id=meeting.id, author_id=member.id, body=body.strip())
    db.session.add(takeaway)
    db.session.flush()
    return takeaway


def takeaways(meeting: Meeting) -> list[Takeaway]:
    return list(db.session.scalars(
        select(Takeaway).options(joinedload(Takeaway.author)).where(Takeaway.meeting_id == meeting.id)
        .order_by(Takeaway.created_at, Takeaway.id)
    ))
