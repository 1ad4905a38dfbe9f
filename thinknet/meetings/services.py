"""Meeting rules: the weekly schedule, moving and cancelling, RSVPs with cut-off and waitlist, attendance,
takeaways. Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from thinknet.audit import record
from thinknet.extensions import db
from thinknet.models import (
    SETTINGS_ID,
    Attendance,
    Meeting,
    MeetingState,
    Member,
    MemberStatus,
    Rsvp,
    RsvpAnswer,
    Series,
    Settings,
    Takeaway,
    utcnow,
)
from thinknet.errors import Refused

WEEKS_AHEAD = 8
PAST_PAGE_SIZE = 12


# Scheduling


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
        _apply_standing_answers(meeting)
    return created


def _apply_standing_answers(meeting: Meeting) -> None:
    """A new meeting starts with every "I usually come" member answered yes, in the order they joined."""
    regulars = db.session.scalars(
        select(Member)
        .where(Member.status == MemberStatus.ACTIVE, Member.standing_rsvp == RsvpAnswer.YES)
        .order_by(Member.joined_at, Member.id)
    ).all()
    confirmed = 0
    for member in regulars:
        waitlisted = meeting.seat_limit is not None and confirmed >= meeting.seat_limit
        confirmed += not waitlisted
        db.session.add(Rsvp(meeting_id=meeting.id, member_id=member.id, answer=RsvpAnswer.YES,
                            waitlisted=waitlisted, from_standing=True, answered_at=meeting.created_at))
    db.session.flush()


@dataclass(frozen=True)
class SeriesValues:
    weekday: int
    start_time: time
    duration_minutes: int
    timezone: str
    venue_name: str
    venue_address: str
    seat_limit: int | None


def save_series(organizer: Member, values: SeriesValues, today: date | None = None) -> tuple[Series, list[Meeting]]:
    """Sets up or changes the weekly series and schedules the weeks ahead at once.

    Upcoming sessions that still follow the old pattern take the new one, a new weekday included (each moves to
    the new day of its own week, so no week gets a second session); a week moved or relocated on its own keeps
    its own time and place, and so does this week's session when its new day has already passed.
    """
    # One save at a time (a double tap, two organizers): each sees the series and its weeks as the last one
    # left them, so none schedules a week twice or shifts a week already shifted.
    Settings.get(for_update=True)
    series = db.session.scalar(select(Series).where(Series.active.is_(True)).order_by(Series.id)
                               .execution_options(populate_existing=True))
    now = utcnow()
    if series is None:
        series = Series(active=True)
        db.session.add(series)
        following: list[Meeting] = []
    else:
        following = [m for m in _upcoming_series_meetings(series, now) if _follows_series(m, series)]
    old_weekday = series.weekday
    for name, value in vars(values).items():
        setattr(series, name, value.strip() if isinstance(value, str) else value)
    db.session.flush()
    if old_weekday is not None and old_weekday != series.weekday:
        _move_weeks(series, timedelta(days=series.weekday - old_weekday), now)
    for meeting in following:
        starts_at, ends_at = series_times(series, meeting.series_date)
        if starts_at > now:  # this week's new day may have passed: its session then stays as it was
            _change_meeting(meeting, starts_at, ends_at, series.venue_name, series.venue_address, series.seat_limit)
    created = schedule_ahead(series, today)
    record(organizer, "series.saved", target=series, weekday=series.weekday, start=str(series.start_time),
           venue=series.venue_name, timezone=series.timezone)
    return series, created


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
    return _fill_seats(meeting)


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
    _apply_standing_answers(meeting)
    record(organizer, "meeting.added", target=meeting, starts_at=starts_at.isoformat(), venue=meeting.venue_name)
    return meeting


# Reading meetings


def get_meeting(meeting_id: int) -> Meeting | None:
    return db.session.get(Meeting, meeting_id)


def lock_meeting(meeting_id: int) -> Meeting:
    """The meeting, read afresh and locked until commit: RSVPs for one meeting are decided one at a time.
    On SQLite this statement takes the write lock instead. A meeting that is not there is a 404."""
    meeting = db.session.get(Meeting, meeting_id, with_for_update=True, populate_existing=True)
    if meeting is None:
        raise NotFound()
    return meeting


def next_meeting(now: datetime | None = None) -> Meeting | None:
    return db.session.scalar(
        select(Meeting)
        .where(Meeting.state == MeetingState.SCHEDULED, Meeting.ends_at > (now or utcnow()))
        .order_by(Meeting.starts_at)
        .limit(1)
    )


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


# RSVPs


def rsvp_cutoff(meeting: Meeting) -> datetime:
    """When RSVPs close: the set local time, the set number of days before the session's local day."""
    settings = Settings.get()
    zone = ZoneInfo(settings.timezone)
    local_day = meeting.starts_at.astimezone(zone).date() - timedelta(days=settings.rsvp_cutoff_days_before)
    cutoff = datetime.combine(local_day, settings.rsvp_cutoff_time, tzinfo=zone).astimezone(timezone.utc)
    return min(cutoff, meeting.starts_at)


class RsvpRefused(Refused):
    """An answer the rules do not take; the message says why."""


class RsvpClosed(RsvpRefused):
    pass


def check_answer(meeting: Meeting, current: RsvpAnswer | None, answer: RsvpAnswer, now: datetime) -> None:
    """The RSVP rule: answers change until the session starts; after the cut-off only away from yes."""
    if meeting.is_cancelled:
        raise RsvpRefused("This session is cancelled.")
    if now >= meeting.starts_at:
        raise RsvpClosed("This session has started, so answers can no longer change.")
    if answer == RsvpAnswer.YES and current != RsvpAnswer.YES and now >= rsvp_cutoff(meeting):
        raise RsvpClosed("RSVPs for this session have closed, so you cannot add a yes now; "
                         "you can still tell us if you cannot come.")


@dataclass
class RsvpChange:
    meeting: Meeting
    rsvp: Rsvp
    promoted: list[Member] = field(default_factory=list)


def set_rsvp(member: Member, meeting_id: int, answer: RsvpAnswer) -> RsvpChange:
    """Records a member's answer. A yes beyond the seats waits in line; a freed seat goes to the first in line."""
    # The settings are kept in hand while the answer is checked: the cut-off's Settings.get finds them.
    meeting, rsvp, _settings = _lock_meeting_with_answer(meeting_id, member)
    now = utcnow()  # taken inside the lock, so waitlist order is the order answers were decided
    check_answer(meeting, rsvp.answer if rsvp else None, answer, now)
    # Only a confirmed yes that changes frees a seat, and only a session with a seat limit has a waitlist
    # (a change to the limit fills seats itself: `_change_meeting`).
    frees_a_seat = (meeting.seat_limit is not None and rsvp is not None and rsvp.answer == RsvpAnswer.YES
                    and not rsvp.waitlisted)
    if rsvp is None:
        rsvp = Rsvp(meeting_id=meeting.id, member_id=member.id, answer=answer, answered_at=now)
        db.session.add(rsvp)
    elif rsvp.answer == answer:
        return RsvpChange(meeting, rsvp)
    else:
        rsvp.answer, rsvp.answered_at, rsvp.from_standing = answer, now, False
    if answer == RsvpAnswer.YES:
        rsvp.waitlisted = (meeting.seat_limit is not None
                           and confirmed_count(meeting, excluding=member) >= meeting.seat_limit)
    else:
        rsvp.waitlisted = False
    db.session.flush()
    return RsvpChange(meeting, rsvp, _fill_seats(meeting) if frees_a_seat else [])


# Built once (the statement every RSVP runs first): the meeting, read and locked as `lock_meeting` does, the
# member's answer to it, and the settings (the cut-off), which `Settings.get` then finds in the session.
_MEETING_WITH_ANSWER = (
    select(Meeting, Rsvp, Settings)
    .outerjoin(Rsvp, (Rsvp.meeting_id == Meeting.id) & (Rsvp.member_id == bindparam("member_id")))
    .outerjoin(Settings, Settings.id == SETTINGS_ID)
    .where(Meeting.id == bindparam("meeting_id"))
    .with_for_update(of=Meeting)
    .execution_options(populate_existing=True)
)


def withdraw_upcoming_rsvps(member: Member, now: datetime | None = None) -> list[tuple[Meeting, list[Member]]]:
    """Takes back a member's answers to every session not yet started (they are suspended or have left), and
    gives each seat they held to the first in line; returns, per session, whom that promoted."""
    now = now or utcnow()
    answers = db.session.execute(
        select(Rsvp.id, Rsvp.meeting_id, Rsvp.answer, Rsvp.waitlisted).join(Meeting, Rsvp.meeting_id == Meeting.id)
        .where(Rsvp.member_id == member.id, Meeting.starts_at > now).order_by(Meeting.starts_at)
    ).all()
    promotions = []
    for rsvp_id, meeting_id, answer, waitlisted in answers:
        meeting = lock_meeting(meeting_id)
        db.session.execute(delete(Rsvp).where(Rsvp.id == rsvp_id), execution_options={"synchronize_session": False})
        if answer == RsvpAnswer.YES and not waitlisted and meeting.seat_limit is not None:
            promoted = _fill_seats(meeting)
            if promoted:
                promotions.append((meeting, promoted))
    db.session.expire_all()  # answers held in the session may be among those taken back
    return promotions


def _lock_meeting_with_answer(meeting_id: int, member: Member) -> tuple[Meeting, Rsvp | None, Settings | None]:
    row = db.session.execute(_MEETING_WITH_ANSWER, {"meeting_id": meeting_id, "member_id": member.id}).first()
    if row is None:
        raise NotFound()
    return row.Meeting, row.Rsvp, row.Settings


def confirmed_count(meeting: Meeting, excluding: Member | None = None) -> int:
    statement = select(func.count()).select_from(Rsvp).where(
        Rsvp.meeting_id == meeting.id, Rsvp.answer == RsvpAnswer.YES, Rsvp.waitlisted.is_(False))
    if excluding is not None:
        statement = statement.where(Rsvp.member_id != excluding.id)
    return db.session.scalar(statement) or 0


def _fill_seats(meeting: Meeting) -> list[Member]:
    """Gives free seats to the waitlist, first come first served; returns whom it promoted."""
    waiting = db.session.scalars(
        select(Rsvp).options(joinedload(Rsvp.member))
        .where(Rsvp.meeting_id == meeting.id, Rsvp.answer == RsvpAnswer.YES, Rsvp.waitlisted.is_(True))
        .order_by(Rsvp.answered_at, Rsvp.id)
    ).all()
    if not waiting:
        return []
    free = len(waiting) if meeting.seat_limit is None else meeting.seat_limit - confirmed_count(meeting)
    promoted = []
    for rsvp in waiting[:max(free, 0)]:
        rsvp.waitlisted = False
        promoted.append(rsvp.member)
    db.session.flush()
    return promoted


@dataclass(frozen=True)
class Answer:
    """One member's answer as the turnout shows it: plain values, not rows, so a full house stays cheap."""

    member_id: int
    name: str
    answer: RsvpAnswer
    waitlisted: bool
    answered_at: datetime
    from_standing: bool


@dataclass
class Turnout:
    """Who answered what for one meeting, the waitlist in its order."""

    confirmed: list[Answer] = field(default_factory=list)
    waitlist: list[Answer] = field(default_factory=list)
    maybe: list[Answer] = field(default_factory=list)
    no: list[Answer] = field(default_factory=list)

    def answer_of(self, member: Member) -> Answer | None:
        for answer in (*self.confirmed, *self.waitlist, *self.maybe, *self.no):
            if answer.member_id == member.id:
                return answer
        return None

    def waitlist_position(self, member: Member) -> int | None:
        for position, answer in enumerate(self.waitlist, start=1):
            if answer.member_id == member.id:
                return position
        return None


def late_changes(seen: Turnout, cutoff: datetime, viewer: Member) -> list[Answer]:
    """Who stepped back after the cut-off (the café was given a headcount): for organizers only."""
    if not viewer.is_organizer:
        return []
    return [answer for answer in (*seen.no, *seen.maybe) if answer.answered_at > cutoff]


def turnout(meeting: Meeting) -> Turnout:
    """Every answer for the meeting, with its member's name, in one query."""
    rows = db.session.execute(
        select(Rsvp.member_id, Member.name, Rsvp.answer, Rsvp.waitlisted, Rsvp.answered_at, Rsvp.from_standing)
        .join(Member, Rsvp.member_id == Member.id).where(Rsvp.meeting_id == meeting.id)
        .order_by(Rsvp.answered_at, Rsvp.id)
    )
    result = Turnout()
    for row in rows:
        answer = Answer(*row)
        if answer.answer == RsvpAnswer.YES:
            (result.waitlist if answer.waitlisted else result.confirmed).append(answer)
        else:
            (result.maybe if answer.answer == RsvpAnswer.MAYBE else result.no).append(answer)
    return result


@dataclass(frozen=True)
class RsvpState:
    """What a member's RSVP block shows: their answer, place in line, and what they may still do."""

    meeting: Meeting
    answer: RsvpAnswer | None
    waitlist_position: int | None
    cutoff: datetime
    can_change: bool
    past_cutoff: bool

    @property
    def can_say_yes(self) -> bool:
        return self.can_change and (not self.past_cutoff or self.answer == RsvpAnswer.YES)

    @property
    def closed_message(self) -> str | None:
        if self.meeting.is_cancelled:
            return "This session is cancelled."
        if not self.can_change:
            return "This session has started; answers are closed."
        if self.past_cutoff:
            return "RSVPs have closed. You can still tell us if you cannot come."
        return None


def rsvp_state(meeting: Meeting, member: Member, seen: Turnout, now: datetime | None = None) -> RsvpState:
    now = now or utcnow()
    rsvp = seen.answer_of(member)
    answer = rsvp.answer if rsvp else None
    cutoff = rsvp_cutoff(meeting)
    return RsvpState(
        meeting=meeting, answer=answer, waitlist_position=seen.waitlist_position(member), cutoff=cutoff,
        can_change=not meeting.is_cancelled and now < meeting.starts_at, past_cutoff=now >= cutoff,
    )


def set_standing_answer(member: Member, answer: RsvpAnswer | None) -> int:
    """Sets "I usually come" (yes) or "ask me each week" (None); upcoming sessions the member has not answered
    and that are still open take it. Returns how many sessions it answered."""
    member.standing_rsvp = answer
    db.session.flush()
    if answer is None:
        return 0
    now = utcnow()
    answered = set(db.session.scalars(select(Rsvp.meeting_id).where(Rsvp.member_id == member.id)))
    count = 0
    for meeting in upcoming_meetings(now):
        if meeting.id in answered or meeting.is_cancelled or now >= rsvp_cutoff(meeting):
            continue
        change = set_rsvp(member, meeting.id, answer)
        change.rsvp.from_standing = True
        count += 1
    db.session.flush()
    return count


# Attendance


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
        select(Rsvp.member_id, (Rsvp.answer == RsvpAnswer.YES) & Rsvp.waitlisted.is_(False))
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


# Takeaways


class TakeawayRefused(Refused):
    pass


def came_to(meeting: Meeting, member: Member) -> bool:
    """An attendee: recorded as having come, or, before attendance is recorded, a confirmed yes."""
    if meeting.attendance_recorded_at is not None:
        return db.session.scalar(select(Attendance.id).where(
            Attendance.meeting_id == meeting.id, Attendance.member_id == member.id)) is not None
    return db.session.scalar(select(Rsvp.id).where(
        Rsvp.meeting_id == meeting.id, Rsvp.member_id == member.id, Rsvp.answer == RsvpAnswer.YES,
        Rsvp.waitlisted.is_(False))) is not None


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
