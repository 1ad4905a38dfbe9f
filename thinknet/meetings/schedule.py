"""The weekly schedule: the series, the sessions it keeps scheduled ahead, and moving, relocating,
cancelling or adding a session. Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select

from thinknet.audit import record
from thinknet.errors import Refused
from thinknet.extensions import db
from thinknet.models import (
    Meeting,
    MeetingState,
    Member,
    OutgoingMail,
    Series,
    Settings,
    utcnow,
)
from thinknet.meetings.queries import WEEKS_AHEAD, lock_meeting
from thinknet.meetings.rsvps import apply_standing_answers, fill_seats, confirmed_count
from thinknet.templating import format_when


def series_times(series: Series, day: date) -> tuple[datetime, datetime]:
    """Start and end, in UTC, of the series' session on that local day: 6:30 local stays 6:30 across DST."""
    return local_times(day, series.start_time, series.duration_minutes, series.timezone)


def local_times(day: date, start: time, duration_minutes: int, zone: str) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(day, start, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    return starts_at, starts_at + timedelta(minutes=duration_minutes)


def series_days(series: Series, today: date, weeks: int = WEEKS_AHEAD) -> list[date]:
    """The series' days from today on, for the given number of weeks."""
    first = today + timedelta(days=(series.weekday - today.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range(weeks)]


def active_series() -> Series | None:
    return db.session.scalar(select(Series).where(Series.active.is_(True)).order_by(Series.id))


def schedule_ahead(series: Series, today: date | None = None, weeks: int = WEEKS_AHEAD) -> list[Meeting]:
    """Creates the series' missing sessions among its next ``weeks`` upcoming ones; moved or cancelled weeks stay
    as they are."""
    now = utcnow()
    today = today or now.astimezone(ZoneInfo(series.timezone)).date()
    # Today's session may already have started: then the eighth week ahead is one further out.
    days = [day for day in series_days(series, today, weeks + 1) if series_times(series, day)[0] > now][:weeks]
    existing = set(
        db.session.scalars(
            select(Meeting.series_date).where(Meeting.series_id == series.id, Meeting.series_date.in_(days))
        )
    )
    created = []
    for day in days:
        starts_at, ends_at = series_times(series, day)
        if day in existing:
            continue
        meeting = Meeting(
            series_id=series.id, series_date=day, starts_at=starts_at, ends_at=ends_at,
            venue_name=series.venue_name, venue_address=series.venue_address, seat_limit=series.seat_limit,
        )
        db.session.add(meeting)
        created.append(meeting)
    db.session.flush()
    for meeting in created:
        apply_standing_answers(meeting)
    return created


@dataclass(frozen=True)
class SeriesValues:
    weekday: int
    start_time: time
    duration_minutes: int
    timezone: str
    venue_name: str
    venue_address: str
    seat_limit: int | None


class SeriesSaved(NamedTuple):
    series: Series
    created: list[Meeting]
    updates: list[OutgoingMail]  # calendar updates queued for the sessions the change moved


def save_series(organizer: Member, values: SeriesValues, today: date | None = None) -> SeriesSaved:
    """Sets up or changes the weekly series and schedules the weeks ahead at once.

    Upcoming sessions that still follow the old pattern take the new one, a new weekday included (each moves to
    the new day of its own week, so no week gets a second session); a week moved or relocated on its own keeps
    its own time and place, and so does this week's session when its new day has already passed. Each moved
    session whose invites went out has its calendar update queued in the same step.

    The series is in the group's one time zone: the one given when the series is first set up becomes the
    group's; after that it is changed in the settings (`change_time_zone`).
    """
    # One save at a time (a double tap, two organizers): each sees the series and its weeks as the last one
    # left them, so none schedules a week twice or shifts a week already shifted.
    settings = Settings.get(for_update=True)
    series = db.session.scalar(select(Series).where(Series.active.is_(True)).order_by(Series.id)
                               .execution_options(populate_existing=True))
    now = utcnow()
    if series is None:
        following: list[Meeting] = []
        # Asked once, here: the group's zone from now on (a one-off session added before keeps its local time).
        change_time_zone(organizer, values.timezone)
        series = Series(active=True)
        db.session.add(series)
    else:
        following = [m for m in _upcoming_series_meetings(series, now) if _follows_series(m, series)]
    values = replace(values, timezone=settings.timezone)
    settings.mark_set_up("meetings")  # the set-up's step "when and where the group meets"
    # A session with a seat limit of its own keeps it; the others take the series' new one, which must leave a
    # seat for everyone already confirmed (as for one session: `update_meeting`).
    old_seat_limit = series.seat_limit
    taking_limit = [meeting for meeting in following if meeting.seat_limit == old_seat_limit]
    if values.seat_limit is not None:
        for meeting in taking_limit:
            lock_meeting(meeting.id)  # a yes at this moment waits, then finds the new limit
            confirmed = confirmed_count(meeting)
            if confirmed > values.seat_limit:
                raise MeetingChangeRefused(
                    f"{confirmed} members already have a seat on {format_when(meeting.starts_at)}; set at least "
                    f"{confirmed} seats, or ask some to step back first.")
    old_weekday = series.weekday
    for name, value in vars(values).items():
        setattr(series, name, value.strip() if isinstance(value, str) else value)
    db.session.flush()
    if old_weekday is not None and old_weekday != series.weekday:
        _move_weeks(series, timedelta(days=series.weekday - old_weekday), now)
    for meeting in following:
        starts_at, ends_at = series_times(series, meeting.series_date)
        if starts_at > now:  # this week's new day may have passed: its session then stays as it was
            seat_limit = series.seat_limit if meeting in taking_limit else meeting.seat_limit
            _change_meeting(meeting, starts_at, ends_at, series.venue_name, series.venue_address, seat_limit)
    created = schedule_ahead(series, today)
    updates = _update_calendars(following)
    record(organizer, "series.saved", target=series, weekday=series.weekday, start=str(series.start_time),
           venue=series.venue_name, timezone=series.timezone, calendar_updates=len(updates))
    return SeriesSaved(series, created, updates)


def _update_calendars(meetings: list[Meeting]) -> list[OutgoingMail]:
    """The calendar update for each of these sessions whose invites went out before its change."""
    from thinknet.calendar import itip

    return itip.queue_calendar_updates([meeting for meeting in meetings
                                        if meeting.calendar_sent_at is not None and meeting.calendars_outdated])


def change_time_zone(organizer: Member, zone: str) -> list[OutgoingMail]:
    """The group moves to another time zone (most often: the one first given was wrong). Every upcoming session
    keeps its day, its wall-clock time and its length in the new zone (a 6:30 breakfast stays at 6:30), the
    series follows, and calendars that had the old times get the update. Returns the updates queued."""
    settings = Settings.get(for_update=True)
    old = settings.timezone
    if zone == old:
        return []
    settings.timezone = zone
    for series in db.session.scalars(select(Series)):
        series.timezone = zone
    moved = []
    for meeting in db.session.scalars(select(Meeting).where(Meeting.starts_at > utcnow())):
        local = meeting.starts_at.astimezone(ZoneInfo(old))
        minutes = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
        starts_at, ends_at = local_times(local.date(), local.time(), minutes, zone)
        if starts_at <= utcnow():
            continue
        if meeting.is_cancelled:  # still shown as cancelled at its own time; calendars have its cancellation
            meeting.starts_at, meeting.ends_at = starts_at, ends_at
            continue
        _change_meeting(meeting, starts_at, ends_at, meeting.venue_name, meeting.venue_address, meeting.seat_limit)
        moved.append(meeting)
    db.session.flush()
    updates = _update_calendars(moved)
    record(organizer, "timezone.changed", target=settings, old=old, new=zone, sessions=len(moved),
           calendar_updates=len(updates))
    return updates


def _move_weeks(series: Series, shift: timedelta, now: datetime) -> None:
    """A new weekday: each week from this one on keeps the one session it has (moved, cancelled or already
    held included) and now stands for the new day of that week, so scheduling adds no second one."""
    this_week = now.astimezone(ZoneInfo(series.timezone)).date() - timedelta(days=6)
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.series_id == series.id, Meeting.series_date >= this_week)
        .order_by(Meeting.series_date.desc() if shift > timedelta() else Meeting.series_date)
    ).all()
    taken = {meeting.series_date for meeting in meetings}
    for meeting in meetings:
        day = meeting.series_date + shift
        if day in taken:
            continue  # an irregular week already stands for that day
        taken.discard(meeting.series_date)
        taken.add(day)
        meeting.series_date = day
        db.session.flush()


def _upcoming_series_meetings(series: Series, now: datetime) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).where(Meeting.series_id == series.id, Meeting.starts_at > now,
                              Meeting.state == MeetingState.SCHEDULED)
    ))


def _follows_series(meeting: Meeting, series: Series) -> bool:
    starts_at, ends_at = series_times(series, meeting.series_date)
    return (meeting.starts_at, meeting.ends_at, meeting.venue_name, meeting.venue_address) == (
        starts_at, ends_at, series.venue_name, series.venue_address)


def _change_meeting(meeting: Meeting, starts_at: datetime, ends_at: datetime, venue_name: str, venue_address: str,
                    seat_limit: int | None) -> list[Member]:
    """Applies a change; raises SEQUENCE when calendars must update. Returns members promoted to a seat."""
    matters_to_calendars = (meeting.starts_at, meeting.ends_at, meeting.venue_name, meeting.venue_address) != (
        starts_at, ends_at, venue_name, venue_address)
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.venue_name, meeting.venue_address = venue_name, venue_address
    meeting.seat_limit = seat_limit
    if matters_to_calendars:
        meeting.sequence += 1
    db.session.flush()
    return fill_seats(meeting)


class MeetingChangeRefused(Refused):
    """An organizer's change to a session that a rule refuses; the message says why."""


@dataclass(frozen=True)
class MeetingValues:
    day: date
    start_time: time
    duration_minutes: int
    venue_name: str
    venue_address: str
    seat_limit: int | None


def _times_for(values: MeetingValues) -> tuple[datetime, datetime]:
    starts_at, ends_at = local_times(values.day, values.start_time, values.duration_minutes, Settings.get().timezone)
    if starts_at <= utcnow():
        raise MeetingChangeRefused("Choose a time in the future.")
    return starts_at, ends_at


def update_meeting(meeting: Meeting, organizer: Member, values: MeetingValues) -> list[Member]:
    """Moves, relocates or resizes one session without touching the others; returns members promoted to a seat."""
    meeting = lock_meeting(meeting.id)
    if meeting.is_cancelled:
        raise MeetingChangeRefused("This session is cancelled; add a new session instead.")
    before = (meeting.starts_at, meeting.venue_name, meeting.sequence)
    starts_at, ends_at = _times_for(values)
    confirmed = confirmed_count(meeting)
    if values.seat_limit is not None and values.seat_limit < confirmed:
        raise MeetingChangeRefused(f"{confirmed} members already have a seat; set at least {confirmed} seats, "
                                   "or ask some to step back first.")
    promoted = _change_meeting(meeting, starts_at, ends_at, values.venue_name.strip(), values.venue_address.strip(),
                               values.seat_limit)
    record(organizer, "meeting.changed", target=meeting, starts_at=starts_at.isoformat(), venue=meeting.venue_name,
           sequence=meeting.sequence, moved=before[0] != starts_at, relocated=before[1] != meeting.venue_name)
    return promoted


def cancel_meeting(meeting: Meeting, organizer: Member, reason: str) -> None:
    """Cancels one session; it stays on record as cancelled and calendars get a higher SEQUENCE."""
    meeting = lock_meeting(meeting.id)
    if meeting.is_cancelled:
        raise MeetingChangeRefused("This session is already cancelled.")
    if meeting.starts_at <= utcnow():
        raise MeetingChangeRefused("This session has already started.")
    meeting.state = MeetingState.CANCELLED
    meeting.sequence += 1
    db.session.flush()
    record(organizer, "meeting.cancelled", target=meeting, starts_at=meeting.starts_at.isoformat(), reason=reason)


def add_meeting(organizer: Member, values: MeetingValues) -> Meeting:
    """A one-off session outside the weekly series."""
    starts_at, ends_at = _times_for(values)
    meeting = Meeting(starts_at=starts_at, ends_at=ends_at, venue_name=values.venue_name.strip(),
                      venue_address=values.venue_address.strip(), seat_limit=values.seat_limit)
    db.session.add(meeting)
    db.session.flush()
    apply_standing_answers(meeting)
    record(organizer, "meeting.added", target=meeting, starts_at=starts_at.isoformat(), venue=meeting.venue_name)
    return meeting
