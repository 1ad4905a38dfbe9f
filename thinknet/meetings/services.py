"""Meeting rules: turning the weekly series into dated sessions. Flush, never commit."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from thinknet.extensions import db
from thinknet.models import Meeting, Series

WEEKS_AHEAD = 8


def series_times(series: Series, day: date) -> tuple[datetime, datetime]:
    """Start and end, in UTC, of the series' session on that local day: 6:30 local stays 6:30 across DST."""
    local_start = datetime.combine(day, series.start_time, tzinfo=ZoneInfo(series.timezone))
    starts_at = local_start.astimezone(timezone.utc)
    return starts_at, starts_at + timedelta(minutes=series.duration_minutes)


def series_days(series: Series, today: date, weeks: int = WEEKS_AHEAD) -> list[date]:
    """The series' days from today on, for the given number of weeks."""
    first = today + timedelta(days=(series.weekday - today.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range(weeks)]


def schedule_ahead(series: Series, today: date, weeks: int = WEEKS_AHEAD) -> list[Meeting]:
    """Creates the series' missing sessions for the coming weeks; moved or cancelled weeks stay as they are."""
    days = series_days(series, today, weeks)
    existing = set(
        db.session.scalars(
            select(Meeting.series_date).where(Meeting.series_id == series.id, Meeting.series_date.in_(days))
        )
    )
    created = []
    for day in days:
        if day in existing:
            continue
        starts_at, ends_at = series_times(series, day)
        meeting = Meeting(
            series_id=series.id, series_date=day, starts_at=starts_at, ends_at=ends_at,
            venue_name=series.venue_name, venue_address=series.venue_address, seat_limit=series.seat_limit,
        )
        db.session.add(meeting)
        created.append(meeting)
    db.session.flush()
    return created
