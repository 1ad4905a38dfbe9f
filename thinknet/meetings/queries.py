"""Reading meetings: one by id (or locked for a change), the next, the upcoming and the past ones.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from werkzeug.exceptions import NotFound

from thinknet.extensions import db
from thinknet.models import (
    Meeting,
    MeetingState,
    utcnow,
)


WEEKS_AHEAD = 8


PAST_PAGE_SIZE = 12


def get_meeting(meeting_id: int) -> Meeting | None:
    return db.session.get(Meeting, meeting_id)


def lock_meeting(meeting_id: int) -> Meeting:
    """The meeting, read afresh and locked until commit: RSVPs for one meeting are decided one at a time.
    On SQLite this statement takes the write lock instead. A meeting that is not there is a 404."""
    meeting = db.session.get(Meeting, meeting_id, with_for_update=True, populate_existing=True)
    if meeting is None:
        raise NotFound()
    return meeting


_NEXT_MEETING = (  # built once: the dashboard reads it
    select(Meeting).where(Meeting.state == MeetingState.SCHEDULED, Meeting.ends_at > bindparam("now"))
    .order_by(Meeting.starts_at).limit(1)
)


def next_meeting(now: datetime | None = None) -> Meeting | None:
    return db.session.scalar(_NEXT_MEETING, {"now": now or utcnow()})


def upcoming_meetings(now: datetime | None = None, limit: int = WEEKS_AHEAD + 4) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).where(Meeting.ends_at > (now or utcnow())).order_by(Meeting.starts_at).limit(limit)
    ))


def past_meetings(page: int = 1, now: datetime | None = None) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting)
        .where(Meeting.ends_at <= (now or utcnow()), Meeting.state == MeetingState.SCHEDULED)
        .order_by(Meeting.starts_at.desc())
        .limit(PAST_PAGE_SIZE + 1)
        .offset((page - 1) * PAST_PAGE_SIZE)
    ))
