"""Calendar invites and cancellations by email (iTIP over iMIP): queueing them per member, and delivering
each one on its own so one failure never stops the rest. Flush, never commit (but for delivery, which commits each message)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from thinknet import mail
from thinknet.calendar import ics as ical
from thinknet.extensions import db
from thinknet.models import (
    DeliveryState,
    InviteDelivery,
    Meeting,
    MeetingState,
    Member,
    MemberStatus,
    Rsvp,
    Settings,
    utcnow,
)
from thinknet.templating import format_when

AGENDA_IN_INVITE = 3
# A delivery claimed this long ago and never finished (its process died) is tried again.
STUCK_AFTER = timedelta(minutes=15)
SENDING = DeliveryState.SENDING


def group_identity(organizer_name: str | None = None) -> ical.GroupIdentity:
    settings = Settings.get()
    return ical.GroupIdentity(
        name=settings.group_name, timezone=settings.timezone, sender_email=mail.sender_address(),
        organizer_name=organizer_name or settings.mail_sender_name or settings.group_name,
    )


def meeting_url(meeting: Meeting) -> str:
    return url_for("meetings.show", meeting_id=meeting.id, _external=True)


def top_topic_titles(meeting: Meeting, viewer: Member, limit: int = AGENDA_IN_INVITE) -> list[str]:
    """The agenda's leading topics, by title only (never an author): the session page's agenda, in its order."""
    from thinknet.topics.services import agenda

    return [view.topic.title for view in agenda(meeting, viewer)][:limit]


def invite_recipients() -> list[Member]:
    return list(db.session.scalars(
        select(Member).where(Member.status == MemberStatus.ACTIVE, Member.wants_calendar_invites.is_(True))
        .order_by(Member.id)
    ))


def queue_invites(meetings: list[Meeting]) -> list[InviteDelivery]:
    """One delivery per member who wants invites, per meeting: a REQUEST, or a CANCEL for a cancelled one."""
    recipients = invite_recipients()
    deliveries = []
    now = utcnow()
    for meeting in meetings:
        method = "CANCEL" if meeting.is_cancelled else "REQUEST"
        for member in recipients:
            deliveries.append(InviteDelivery(meeting_id=meeting.id, member_id=member.id, method=method,
                                             sequence=meeting.sequence))
        meeting.invites_sent_at, meeting.invites_sent_sequence = now, meeting.sequence
    db.session.add_all(deliveries)
    db.session.flush()
    return deliveries


def queue_cancellations(meeting: Meeting) -> list[InviteDelivery]:
    """A cancelled meeting's CANCEL, to everyone who was sent its invite."""
    invited = db.session.scalars(
        select(InviteDelivery.member_id).where(InviteDelivery.meeting_id == meeting.id,
                                               InviteDelivery.method == "REQUEST").distinct()
    ).all()
    deliveries = [InviteDelivery(meeting_id=meeting.id, member_id=member_id, method="CANCEL",
                                 sequence=meeting.sequence) for member_id in invited]
    meeting.invites_sent_at, meeting.invites_sent_sequence = utcnow(), meeting.sequence
    db.session.add_all(deliveries)
    db.session.flush()
    return deliveries


def upcoming_for_invites(weeks: int, now: datetime | None = None) -> list[Meeting]:
    now = now or utcnow()
    return list(db.session.scalars(
        select(Meeting).where(Meeting.starts_at > now, Meeting.starts_at <= now + timedelta(weeks=weeks),
                              Meeting.state == MeetingState.SCHEDULED).order_by(Meeting.starts_at)
    ))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Takes a delivery for sending, once, even with several senders running."""
    return db.session.execute(
        update(InviteDelivery)
        .where(InviteDelivery.id == delivery_id,
               (InviteDelivery.state == DeliveryState.PENDING)
               | ((InviteDelivery.state == SENDING) & (InviteDelivery.sent_at < now - STUCK_AFTER)))
        .values(state=SENDING, sent_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount == 1


def _message(delivery: InviteDelivery) -> object:
    meeting, member = delivery.meeting, delivery.member
    answer = db.session.scalar(select(Rsvp.answer).where(Rsvp.meeting_id == meeting.id, Rsvp.member_id == member.id))
    url = meeting_url(meeting)
    topics = [] if delivery.method == "CANCEL" else top_topic_titles(meeting, member)
    ics = ical.invite(meeting, group_identity(), url, ical.Attendee(member.name, member.email, answer),
                          topics, utcnow())
    when = format_when(meeting.starts_at)
    if delivery.method == "CANCEL":
        subject = f"Cancelled: breakfast on {when}"
    elif delivery.sequence > 0:
        subject = f"Updated: breakfast on {when}"
    else:
        subject = f"Breakfast on {when}"
    return mail.compose_invite(member.email, subject, ics, delivery.method, member=member, meeting=meeting,
                               link=url, topics=topics, updated=delivery.sequence > 0)


def deliver(delivery_ids: list[int]) -> tuple[int, int]:
    """Sends each delivery on its own: one failure is recorded with its error and the rest go on.
    Commits after each message. Returns (sent, failed)."""
    sent = failed = 0
    for delivery_id in delivery_ids:
        now = utcnow()
        if not _claim(delivery_id, now):
            db.session.rollback()
            continue
        db.session.commit()
        delivery = db.session.scalar(select(InviteDelivery).options(
            joinedload(InviteDelivery.meeting), joinedload(InviteDelivery.member))
            .where(InviteDelivery.id == delivery_id))
        try:
            _message(delivery).send()
        except Exception as error:  # any transport or address error: record it and go on
            current_app.logger.warning("invite %s to %s failed: %s", delivery.id, delivery.member.email, error)
            delivery.state, delivery.error = DeliveryState.FAILED, f"{type(error).__name__}: {error}"[:1000]
            failed += 1
        else:
            delivery.state, delivery.error, delivery.sent_at = DeliveryState.SENT, "", utcnow()
            sent += 1
        db.session.commit()
    return sent, failed


def retry_pending() -> tuple[int, int]:
    """Delivers whatever is still waiting (a worker that stopped mid-way), for the scheduled job."""
    cutoff = utcnow() - STUCK_AFTER
    ids = db.session.scalars(
        select(InviteDelivery.id).where(
            (InviteDelivery.state == DeliveryState.PENDING) & (InviteDelivery.created_at < cutoff)
            | ((InviteDelivery.state == SENDING) & (InviteDelivery.sent_at < cutoff))
        ).order_by(InviteDelivery.id)
    ).all()
    return deliver(list(ids))


@dataclass
class DeliveryReport:
    sent: int = 0
    pending: int = 0
    failed: list[InviteDelivery] = field(default_factory=list)


def delivery_report(meeting: Meeting) -> DeliveryReport:
    """How the meeting's latest invites went, for the organizer."""
    rows = db.session.execute(
        select(InviteDelivery.state, func.count()).where(
            InviteDelivery.meeting_id == meeting.id, InviteDelivery.sequence == meeting.invites_sent_sequence)
        .group_by(InviteDelivery.state)
    ).all()
    report = DeliveryReport()
    for state, count in rows:
        if state == DeliveryState.SENT:
            report.sent = count
        elif state != DeliveryState.FAILED:
            report.pending += count
    report.failed = list(db.session.scalars(
        select(InviteDelivery).options(joinedload(InviteDelivery.member)).where(
            InviteDelivery.meeting_id == meeting.id, InviteDelivery.sequence == meeting.invites_sent_sequence,
            InviteDelivery.state == DeliveryState.FAILED)
    ))
    return report
