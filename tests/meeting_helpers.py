"""Rows for the meeting rules' tests, made straight in the session (flushed, not committed)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from thinknet.extensions import db
from thinknet.models import Meeting, Member, utcnow


def member(email: str, **fields) -> Member:
    fields.setdefault("joined_at", utcnow() - timedelta(days=365))  # on the sheets of sessions in the past weeks
    m = Member(email=email, name=fields.pop("name", email.split("@")[0].title()), password_hash="x", **fields)
    db.session.add(m)
    db.session.flush()
    return m


@pytest.fixture
def organizer(app_context):
    return member("olga@example.org", role="organizer")


def upcoming(series_id=None):
    statement = select(Meeting).where(Meeting.starts_at > utcnow()).order_by(Meeting.starts_at)
    return db.session.scalars(statement).all()


def meeting_in(hours: float, seats: int | None = None) -> Meeting:
    start = utcnow() + timedelta(hours=hours)
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café", seat_limit=seats)
    db.session.add(meeting)
    db.session.flush()
    return meeting
