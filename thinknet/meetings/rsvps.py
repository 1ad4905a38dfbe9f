"""RSVPs: the cut-off, answers with the seat limit and the waitlist, who is coming, standing answers.
Seats and the waitlist belong here; the schedule calls in when a session's seats change. Flush, never commit.
"""
from __future__ import annotations

from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from thinknet import mail
from thinknet.errors import Refused
from thinknet.extensions import db
from thinknet.models import (
    SETTINGS_ID,
    Meeting,
    Member,
    MemberStatus,
    Rsvp,
    RsvpAnswer,
    Settings,
    utcnow,
)
from thinknet.meetings.queries import lock_meeting, upcoming_meetings


def apply_standing_answers(meeting: Meeting) -> None:
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


def rsvp_cutoff(meeting: Meeting, settings: Settings | None = None) -> datetime:
    """When RSVPs close: the set local time, the set number of days before the session's local day."""
    settings = settings or Settings.get()
    zone = ZoneInfo(settings.timezone)
    local_day = meeting.starts_at.astimezone(zone).date() - timedelta(days=settings.rsvp_cutoff_days_before)
    cutoff = datetime.combine(local_day, settings.rsvp_cutoff_time, tzinfo=zone).astimezone(timezone.utc)
    return min(cutoff, meeting.starts_at)


class RsvpRefused(Refused):
    """An answer the rules do not take; the message says why."""


class RsvpClosed(RsvpRefused):
    pass


@dataclass(frozen=True)
class RsvpWindow:
    """The RSVP window, the one rule for when answers may change: until the session starts (never for a
    cancelled one); after the cut-off only away from yes. The refusal, the page and standing answers ask it."""

    cutoff: datetime
    open: bool  # any answer may still change
    past_cutoff: bool  # a new yes is no longer taken

    def takes(self, current: RsvpAnswer | None, answer: RsvpAnswer) -> bool:
        return self.open and not (self.past_cutoff and answer == RsvpAnswer.YES and current != RsvpAnswer.YES)


def rsvp_window(meeting: Meeting, now: datetime, settings: Settings | None = None) -> RsvpWindow:
    cutoff = rsvp_cutoff(meeting, settings)
    return RsvpWindow(cutoff=cutoff, open=not meeting.is_cancelled and now < meeting.starts_at,
                      past_cutoff=now >= cutoff)


def check_answer(meeting: Meeting, current: RsvpAnswer | None, answer: RsvpAnswer, now: datetime,
                 settings: Settings | None = None) -> None:
    """Refuses an answer the RSVP window does not take, saying why."""
    if rsvp_window(meeting, now, settings).takes(current, answer):
        return
    if meeting.is_cancelled:
        raise RsvpRefused("This session is cancelled.")
    if now >= meeting.starts_at:
        raise RsvpClosed("This session has started, so answers can no longer change.")
    raise RsvpClosed("RSVPs for this session have closed, so you cannot add a yes now; "
                     "you can still tell us if you cannot come.")


@dataclass
class RsvpChange:
    meeting: Meeting
    rsvp: Rsvp
    promoted: list[Member] = field(default_factory=list)
    first_yes: bool = False  # a yes where there was none: the member may want it in their calendar


def set_rsvp(member: Member, meeting_id: int, answer: RsvpAnswer) -> RsvpChange:
    """Records a member's answer. A yes beyond the seats waits in line; a freed seat goes to the first in line."""
    meeting, rsvp, settings = _lock_meeting_with_answer(meeting_id, member)
    now = utcnow()  # taken inside the lock, so waitlist order is the order answers were decided
    check_answer(meeting, rsvp.answer if rsvp else None, answer, now, settings)
    # Only a confirmed yes that changes frees a seat, and only a session with a seat limit has a waitlist
    # (a change to the limit fills seats itself: `_change_meeting`).
    frees_a_seat = meeting.seat_limit is not None and rsvp is not None and rsvp.has_seat
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
    # A yes here is a new one: the same answer again returned above.
    return RsvpChange(meeting, rsvp, fill_seats(meeting) if frees_a_seat else [], first_yes=answer == RsvpAnswer.YES)


# Built once (the statement every RSVP runs first): the meeting, read and locked as `lock_meeting` does, the
# member's answer to it, and the settings (the cut-off), passed on to the check.
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
            promoted = fill_seats(meeting)
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
        Rsvp.meeting_id == meeting.id, Rsvp.has_seat)
    if excluding is not None:
        statement = statement.where(Rsvp.member_id != excluding.id)
    return db.session.scalar(statement) or 0


def fill_seats(meeting: Meeting) -> list[Member]:
    """Gives free seats to the waitlist, first come first served; each member promoted is emailed (queued with the
    change). Returns whom it promoted."""
    waiting = db.session.scalars(
        select(Rsvp).options(joinedload(Rsvp.member))
        .where(Rsvp.meeting_id == meeting.id, Rsvp.is_waiting)
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
    mail.tell_seat_opened(meeting, promoted)
    from thinknet.calendar.itip import queue_answer_updates

    queue_answer_updates(meeting, promoted)  # their invite said TENTATIVE: now ACCEPTED
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
        member_id = member.id  # once, not per answer (a view may pass current_user: each attribute is a lookup)
        for answer in (*self.confirmed, *self.waitlist, *self.maybe, *self.no):
            if answer.member_id == member_id:
                return answer
        return None

    def waitlist_position(self, member: Member) -> int | None:
        member_id = member.id
        for position, answer in enumerate(self.waitlist, start=1):
            if answer.member_id == member_id:
                return position
        return None


def late_changes(seen: Turnout, cutoff: datetime, viewer: Member) -> list[Answer]:
    """Who stepped back after the cut-off (the café was given a headcount): for organizers only."""
    if not viewer.is_organizer:
        return []
    return [answer for answer in (*seen.no, *seen.maybe) if answer.answered_at > cutoff]


_TURNOUT = (  # built once: every session page and dashboard reads it
    select(Rsvp.member_id, Member.name, Rsvp.answer, Rsvp.waitlisted, Rsvp.answered_at, Rsvp.from_standing)
    .join(Member, Rsvp.member_id == Member.id).where(Rsvp.meeting_id == bindparam("meeting_id"))
    .order_by(Rsvp.answered_at, Rsvp.id)
)


def turnout(meeting: Meeting) -> Turnout:
    """Every answer for the meeting, with its member's name, in one query."""
    rows = db.session.execute(_TURNOUT, {"meeting_id": meeting.id})
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
    window: RsvpWindow

    @property
    def cutoff(self) -> datetime:
        return self.window.cutoff

    @property
    def can_change(self) -> bool:
        return self.window.open

    @property
    def past_cutoff(self) -> bool:
        return self.window.past_cutoff

    @property
    def can_say_yes(self) -> bool:
        return self.window.takes(self.answer, RsvpAnswer.YES)

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
    return RsvpState(meeting=meeting, answer=answer, waitlist_position=seen.waitlist_position(member),
                     window=rsvp_window(meeting, now))


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
        if meeting.id in answered or not rsvp_window(meeting, now).takes(None, answer):
            continue
        change = set_rsvp(member, meeting.id, answer)
        change.rsvp.from_standing = True
        count += 1
    db.session.flush()
    return count


def rsvp_block(meeting: Meeting, viewer: Member, error: str | None = None) -> dict[str, Any]:
    """What the RSVP block and the who's-coming block show one viewer; the dashboard and the session page
    share it."""
    seen = turnout(meeting)
    state = rsvp_state(meeting, viewer, seen)
    seats_left = meeting.seat_limit - len(seen.confirmed) if meeting.seat_limit is not None else None
    return {"meeting": meeting, "turnout": seen, "rsvp": state, "rsvp_error": error, "seats_left": seats_left,
            "late_changes": late_changes(seen, state.cutoff, viewer)}
