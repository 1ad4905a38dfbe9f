"""Calendar updates and cancellations by email (iTIP over iMIP): one per member, queued in the outbox and
written when sent. Flush, never commit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from thinknet import mail, outbox
from thinknet.calendar import ics as ical
from thinknet.calendar import replies
from thinknet.database import lock_name
from thinknet.extensions import db
from thinknet.models import (
    MailState,
    Meeting,
    MeetingState,
    Member,
    MemberStatus,
    OutgoingMail,
    Settings,
    utcnow,
)
from thinknet.meetings.rsvps import turnout
from thinknet.templating import format_when

AGENDA_IN_CALENDAR = 3
CALENDAR = "calendar"  # the outbox's kind for a calendar update


def group_identity(organizer_name: str | None = None) -> ical.GroupIdentity:
    settings = Settings.get()
    return ical.GroupIdentity(
        name=settings.group_name, timezone=settings.timezone,
        sender_email=current_app.config.get("REPLY_ADDRESS") or mail.sender_address(),
        organizer_name=organizer_name or settings.mail_sender_name or settings.group_name or "The organizers",
    )


def meeting_url(meeting: Meeting) -> str:
    return url_for("meetings.show", meeting_id=meeting.id, _external=True)


def top_topic_titles(meeting: Meeting, viewer: Member, limit: int = AGENDA_IN_CALENDAR) -> list[str]:
    """The agenda's leading topics, by title only (never an author): the session page's agenda, in its order."""
    from thinknet.topics.services import agenda

    return [view.topic.title for view in agenda(meeting, viewer, limit=limit)]


def calendar_recipients() -> list[Member]:
    return list(db.session.scalars(
        select(Member).where(Member.status == MemberStatus.ACTIVE, Member.wants_calendar_updates.is_(True))
        .order_by(Member.id)
    ))


def _queue(meeting: Meeting, member_ids_and_emails: list[tuple[int, str]], method: str) -> list[OutgoingMail]:
    """One calendar update per member, written when it is sent (the session and their answer as they are then),
    to each member who has not been sent this version already or has it on its way: pressing the button twice,
    or from two tabs, sends nothing twice. Two presses at once queue in turn (one lock per session)."""
    lock_name(f"calendar-updates:{meeting.id}")
    has_it = set(db.session.scalars(select(OutgoingMail.member_id).where(
        OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting.id,
        OutgoingMail.calendar_sequence == meeting.sequence, OutgoingMail.calendar_method == method,
        OutgoingMail.state.in_([MailState.PENDING, MailState.SENDING, MailState.SENT]))))
    queued = [outbox.put(OutgoingMail(kind=CALENDAR, recipient=email, member_id=member_id, meeting_id=meeting.id,
                                      calendar_method=method, calendar_sequence=meeting.sequence))
              for member_id, email in member_ids_and_emails if member_id not in has_it]
    meeting.calendar_sent_at, meeting.calendar_sent_sequence = utcnow(), meeting.sequence
    return queued


def invites_enabled() -> bool:
    """Calendar invites by email are on for this site (THINKNET_CALENDAR_INVITES)."""
    return bool(current_app.config["CALENDAR_INVITES"])


def _invites_sent(meeting_id: Any, member_id: Any) -> tuple[Any, ...]:
    """The session's invites (and updates) sent to the member: the one definition of "their calendar holds it"."""
    return (OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting_id, OutgoingMail.member_id == member_id,
            OutgoingMail.calendar_method == "REQUEST", OutgoingMail.state == MailState.SENT)


def _holds(meeting_id: Any, member_id: Any) -> Any:
    """That the member's calendar holds the session: its invite was sent to them."""
    return select(OutgoingMail.id).where(*_invites_sent(meeting_id, member_id)).exists()


def first_invited_at(meeting_id: int, member_id: int) -> datetime | None:
    """When the session's invite first reached the member."""
    return db.session.scalar(select(func.min(OutgoingMail.sent_at)).where(*_invites_sent(meeting_id, member_id)))


def queue_calendar_updates(meetings: list[Meeting]) -> list[OutgoingMail]:
    """One update per session to each member who wants them, and to each active member whose calendar holds the
    session already (they were sent it, then chose the feed or nothing: their calendar would keep the old
    time): a REQUEST, or a CANCEL for a cancelled one. With invites off, only to calendars that hold it."""
    wanting = [(member.id, member.email) for member in calendar_recipients()] if invites_enabled() else []
    queued = []
    for meeting in meetings:
        holding = db.session.execute(
            select(Member.id, Member.email).where(Member.status == MemberStatus.ACTIVE, _holds(meeting.id, Member.id))
        ).all()
        recipients = sorted({*wanting, *((member_id, email) for member_id, email in holding)})
        queued += _queue(meeting, recipients, "CANCEL" if meeting.is_cancelled else "REQUEST")
    return queued


def queue_cancellations(meeting: Meeting) -> list[OutgoingMail]:
    """A cancelled session's CANCEL, to everyone who was sent it."""
    sent_to = db.session.execute(
        select(Member.id, Member.email).where(Member.id.in_(
            select(OutgoingMail.member_id).where(OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting.id,
                                                 OutgoingMail.calendar_method == "REQUEST")))
        .order_by(Member.id)
    ).all()
    return _queue(meeting, [(member_id, email) for member_id, email in sent_to], "CANCEL")


def queue_answer_updates(meeting: Meeting, members: list[Member]) -> list[OutgoingMail]:
    """The session's invite again, to each of these members who was sent it, showing their answer as it now
    stands (a seat given from the waitlist, a yes the rules did not take): the same SEQUENCE, a newer DTSTAMP.
    One already on its way is written when sent, so it shows the answer then: none is added."""
    ids = [member.id for member in members]
    if not ids or meeting.is_cancelled:
        return []
    invited = set(db.session.scalars(select(OutgoingMail.member_id).where(
        OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting.id, OutgoingMail.calendar_method == "REQUEST",
        OutgoingMail.member_id.in_(ids))))
    on_the_way = set(db.session.scalars(select(OutgoingMail.member_id).where(
        OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting.id, OutgoingMail.member_id.in_(ids),
        OutgoingMail.state.in_([MailState.PENDING, MailState.SENDING]))))
    return [outbox.put(OutgoingMail(kind=CALENDAR, recipient=member.email, member_id=member.id, meeting_id=meeting.id,
                                    calendar_method="REQUEST", calendar_sequence=meeting.sequence))
            for member in members if member.id in invited and member.id not in on_the_way
            and member.status == MemberStatus.ACTIVE]


def upcoming_sessions(weeks: int, now: datetime | None = None) -> list[Meeting]:
    now = now or utcnow()
    return list(db.session.scalars(
        select(Meeting).where(Meeting.starts_at > now, Meeting.starts_at <= now + timedelta(weeks=weeks),
                              Meeting.state == MeetingState.SCHEDULED).order_by(Meeting.starts_at)
    ))


@outbox.wanted_while(CALENDAR)
def calendar_mail_unwanted(queued: OutgoingMail) -> str | None:
    """A calendar message waiting its turn is sent only while it still says something true to its calendar: a
    first invite once invites are off, or to a session cancelled meanwhile, would not."""
    meeting = queued.meeting
    if db.session.scalar(select(_holds(queued.meeting_id, queued.member_id))):
        return None  # their calendar holds the session: an update or a cancellation is always worth sending
    if meeting.is_cancelled:
        return "Not sent: the session was cancelled before its invite went out."
    if not invites_enabled():
        return "Not sent: calendar invites are off on this site."
    return None


@outbox.composed_when_sent(CALENDAR)
def calendar_message(queued: OutgoingMail) -> object:
    meeting, member = queued.meeting, queued.member
    # A session cancelled since this was queued is cancelled in the calendar, whatever was queued.
    queued.calendar_method = "CANCEL" if meeting.is_cancelled else queued.calendar_method
    seen = turnout(meeting)
    standing = seen.answer_of(member)
    url = meeting_url(meeting)
    topics = [] if queued.calendar_method == "CANCEL" else top_topic_titles(meeting, member)
    attendee = ical.Attendee(member.name, member.email, standing.answer if standing else None,
                             waitlist_position=seen.waitlist_position(member),
                             reply_to=replies.reply_address(member.id, meeting.id))
    ics = ical.invite(meeting, group_identity(), url, attendee, topics, utcnow())
    when = format_when(meeting.starts_at)
    # What this member's calendar holds already: nothing (an invite), an older version (an update), or this
    # one (only their answer changed: a seat from the waitlist, a yes the rules did not take).
    held = db.session.scalar(select(func.max(OutgoingMail.calendar_sequence)).where(
        OutgoingMail.kind == CALENDAR, OutgoingMail.meeting_id == meeting.id, OutgoingMail.member_id == member.id,
        OutgoingMail.calendar_method == "REQUEST", OutgoingMail.state == MailState.SENT,
        OutgoingMail.id != queued.id))
    kind = ("cancelled" if queued.calendar_method == "CANCEL" else "invite" if held is None
            else "answer" if held >= meeting.sequence else "updated")
    subject = {"cancelled": f"Cancelled: breakfast on {when}", "invite": f"Breakfast on {when}",
               "updated": f"Updated: breakfast on {when}", "answer": f"Your answer: breakfast on {when}"}[kind]
    return mail.compose_calendar_message(member.email, subject, ics, queued.calendar_method, member=member,
                                         meeting=meeting, link=url, topics=topics, updated=kind == "updated",
                                         answer_update=kind == "answer",
                                         standing=standing.answer if standing else None,
                                         position=attendee.waitlist_position,
                                         answers_in_calendar=attendee.reply_to is not None)


@dataclass
class DeliveryReport:
    sent: int = 0
    pending: int = 0
    failed: list[OutgoingMail] = field(default_factory=list)


def _latest(meeting: Meeting):
    return ((OutgoingMail.kind == CALENDAR) & (OutgoingMail.meeting_id == meeting.id)
            & (OutgoingMail.calendar_sequence == meeting.calendar_sent_sequence))


def delivery_report(meeting: Meeting) -> DeliveryReport:
    """How the session's latest calendar updates went, for the organizer."""
    rows = db.session.execute(
        select(OutgoingMail.state, func.count()).where(_latest(meeting)).group_by(OutgoingMail.state)
    ).all()
    report = DeliveryReport()
    for state, count in rows:
        if state == MailState.SENT:
            report.sent = count
        elif state != MailState.FAILED:
            report.pending += count
    report.failed = list(db.session.scalars(
        select(OutgoingMail).options(joinedload(OutgoingMail.member)).where(
            _latest(meeting), OutgoingMail.state == MailState.FAILED)
    ))
    return report
