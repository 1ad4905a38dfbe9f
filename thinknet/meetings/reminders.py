"""Reminders sent by the scheduled job: the cut-off headcount to organizers, and lapse nudges to sponsors.
Each is claimed with a conditional update and its messages queued in the same transaction, so running the job
twice never sends a message twice, and a mail outage only delays them (thinknet.outbox)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from thinknet import mail
from thinknet.extensions import db
from thinknet.meetings.rsvps import rsvp_cutoff, turnout
from thinknet.models import Attendance, Meeting, MeetingState, Member, MemberStatus, Role, utcnow

LAPSE_MEETINGS = 4
# A cut-off missed by more than this (the job was not running) is not reported late.
HEADCOUNT_GRACE = timedelta(hours=12)


def organizers() -> list[Member]:
    return list(db.session.scalars(
        select(Member).where(Member.role == Role.ORGANIZER, Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    ))


def send_cutoff_headcounts(now: datetime | None = None) -> int:
    """At each session's RSVP cut-off, emails the organizers the headcount and names; returns sessions reported."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Meeting).where(Meeting.state == MeetingState.SCHEDULED, Meeting.headcount_sent_at.is_(None),
                              Meeting.starts_at > now, Meeting.starts_at <= now + timedelta(days=8))
    ).all()
    reported = 0
    for meeting in candidates:
        cutoff = rsvp_cutoff(meeting)
        if not cutoff <= now <= cutoff + HEADCOUNT_GRACE:
            continue
        claimed = db.session.execute(
            update(Meeting).where(Meeting.id == meeting.id, Meeting.headcount_sent_at.is_(None))
            .values(headcount_sent_at=now), execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            continue
        seen = turnout(meeting)
        for organizer in organizers():
            mail.queue(organizer.email, f"Headcount for breakfast: {len(seen.confirmed)} coming", "cutoff_headcount",
                       organizer=organizer, meeting=meeting, turnout=seen)
        db.session.commit()
        reported += 1
    return reported


def lapsed_members(now: datetime) -> list[tuple[Member, datetime | None]]:
    """Active members who missed the last LAPSE_MEETINGS recorded sessions held since they joined, not yet
    nudged for this lapse, with when they last came."""
    recent = db.session.scalars(
        select(Meeting).where(Meeting.state == MeetingState.SCHEDULED, Meeting.attendance_recorded_at.is_not(None),
                              Meeting.starts_at <= now)
        .order_by(Meeting.starts_at.desc()).limit(LAPSE_MEETINGS)
    ).all()
    if len(recent) < LAPSE_MEETINGS:
        return []
    oldest = recent[-1].starts_at
    came_recently = select(Attendance.member_id).where(Attendance.meeting_id.in_([m.id for m in recent]))
    last_came = (select(func.max(Meeting.starts_at)).join(Attendance, Attendance.meeting_id == Meeting.id)
                 .where(Attendance.member_id == Member.id).scalar_subquery())
    rows = db.session.execute(
        select(Member, last_came).where(
            Member.status == MemberStatus.ACTIVE, Member.joined_at < oldest, Member.id.not_in(came_recently),
            or_(Member.lapse_nudged_at.is_(None), Member.lapse_nudged_at < func.coalesce(last_came, Member.joined_at)),
        )
    ).all()
    return [(member, last) for member, last in rows]


def send_lapse_nudges(now: datetime | None = None) -> int:
    """A short, kind note to the sponsor of each member who has missed four sessions in a row (the organizers
    when the sponsor is gone). Once per lapse. Returns nudges sent."""
    now = now or utcnow()
    sent = 0
    for member, last_came in lapsed_members(now):
        claimed = db.session.execute(
            update(Member).where(Member.id == member.id,
                                 or_(Member.lapse_nudged_at.is_(None), Member.lapse_nudged_at == member.lapse_nudged_at))
            .values(lapse_nudged_at=now), execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            continue
        sponsor = member.sponsor
        recipients = [sponsor] if sponsor is not None and sponsor.status == MemberStatus.ACTIVE else organizers()
        for recipient in recipients:
            mail.queue(recipient.email, f"{member.name} has not been at breakfast for a while", "lapse_nudge",
                       recipient=recipient, member=member, last_came=last_came,
                       is_sponsor=recipient.id == getattr(sponsor, "id", None))
        db.session.commit()
        sent += 1
    return sent
