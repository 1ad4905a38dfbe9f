"""Every table of thinknet, typed; only single-row invariants and derived properties live here."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    and_,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from thinknet.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time: stored as UTC, always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; thinknet stores aware UTC moments only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _enum(enum_class: type[StrEnum]) -> Enum:
    # Stored as plain strings so that adding a value later needs no migration of a native type.
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda cls: [member.value for member in cls],
    )


class Role(StrEnum):
    MEMBER = "member"
    ORGANIZER = "organizer"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEPARTED = "departed"


class RsvpAnswer(StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


class InvitationState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class TopicState(StrEnum):
    OPEN = "open"
    ON_AGENDA = "on_agenda"
    DISCUSSED = "discussed"
    WITHDRAWN = "withdrawn"


class MemberFacts:
    """What is true of a member from their own columns (status, role, sponsor_id, headline, sector), written
    once: a Member and the lighter rows a long list reads (the directory, the tree) ask the same questions, each
    of only the columns it has. No annotations here: the ORM would read them as columns of Member."""

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def is_organizer(self) -> bool:
        return self.role == Role.ORGANIZER

    @property
    def is_founder(self) -> bool:
        return self.sponsor_id is None

    @property
    def headline_text(self) -> str:
        """'Head of engineering, fintech'."""
        return ", ".join(part for part in (self.headline, self.sector) if part)


class Member(MemberFacts, UserMixin, db.Model):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    # The headline is the role ("Head of engineering"); the sector ("Fintech") gives the group's mix.
    headline: Mapped[str] = mapped_column(String(160), default="")
    sector: Mapped[str] = mapped_column(String(80), default="", server_default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.MEMBER)
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus), default=MemberStatus.ACTIVE)
    sponsor_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    # None means "ask me each week".
    standing_rsvp: Mapped[RsvpAnswer | None] = mapped_column(_enum(RsvpAnswer))
    wants_calendar_updates: Mapped[bool] = mapped_column(Boolean, default=True)
    # A new member gets invites and not the feed: a calendar with both shows every session twice (/me explains).
    wants_calendar_feed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())
    # Part of the feed link's HMAC: raising it retires every link handed out before.
    calendar_feed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lapse_nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sponsor: Mapped[Member | None] = relationship(remote_side=[id], back_populates="sponsored")
    sponsored: Mapped[list[Member]] = relationship(back_populates="sponsor")

    # Set by the sign-in loader: the token of the sign-in this object was loaded for.
    sign_in_token = None

    def get_id(self) -> str | None:
        return self.sign_in_token

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.email}>"


# Email is unique whatever its case; the database enforces it, not only the code.
Index("uq_member_email_lower", func.lower(Member.email), unique=True)


class SignIn(db.Model):
    """One signed-in browser: the cookie carries a random token, the database its hash, so it can be revoked."""

    __tablename__ = "sign_in"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


class ResetPurpose(StrEnum):
    PASSWORD = "password"
    # A departed or suspended member's way to their own data, since they cannot sign in.
    OWN_DATA = "own_data"


class PasswordReset(db.Model):
    """A single-use link sent by email: to choose a new password, or (for a member who cannot sign in) to
    download or delete their own data."""

    __tablename__ = "password_reset"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[ResetPurpose] = mapped_column(
        Enum(ResetPurpose, native_enum=False, create_constraint=False, length=16,
             values_callable=lambda cls: [member.value for member in cls]),
        default=ResetPurpose.PASSWORD, server_default=ResetPurpose.PASSWORD.value)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


LIVE_INVITATION_STATES = ("awaiting_approval", "pending")


class Invitation(db.Model):
    __tablename__ = "invitation"
    __table_args__ = (
        # At most one live invitation per email, guaranteed by the database (emails are stored lower-case).
        Index(
            "uq_invitation_live_email", "email", unique=True,
            sqlite_where=text("state IN ('awaiting_approval', 'pending')"),
            postgresql_where=text("state IN ('awaiting_approval', 'pending')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    vouch_note: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[InvitationState] = mapped_column(
        _enum(InvitationState), default=InvitationState.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The member this invitation became; unique, so one invitation can never make two members.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), unique=True
    )

    sponsor: Mapped[Member] = relationship(foreign_keys=[sponsor_id])
    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    approved_by: Mapped[Member | None] = relationship(foreign_keys=[approved_by_id])

    def current_state(self, now: datetime | None = None) -> InvitationState:
        """The state as of now: a live invitation past its expiry is expired, whether or not marked so yet."""
        if self.state in (InvitationState.AWAITING_APPROVAL, InvitationState.PENDING):
            if self.expires_at <= (now or utcnow()):
                return InvitationState.EXPIRED
        return self.state


class Series(db.Model):
    """The weekly rhythm from which the next weeks' meetings are scheduled."""

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("seat_limit IS NULL OR seat_limit > 0", name="seat_limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Monday is 0, as in Python's date.weekday().
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    timezone: Mapped[str] = mapped_column(String(64))
    venue_name: Mapped[str] = mapped_column(String(120))
    venue_address: Mapped[str] = mapped_column(String(250), default="")
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def new_calendar_uid() -> str:
    return f"{uuid.uuid4()}@thinknet"


class Meeting(db.Model):
    """One breakfast session (a "meeting" in code so it never collides with Flask's session)."""

    __tablename__ = "meeting"
    __table_args__ = (
        # The week a series meeting stands for, kept even when it is moved, so it is never scheduled twice.
        UniqueConstraint("series_id", "series_date"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("seat_limit IS NULL OR seat_limit > 0", name="seat_limit_positive"),
        CheckConstraint("sequence >= 0", name="sequence_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"))
    series_date: Mapped[date | None] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    venue_name: Mapped[str] = mapped_column(String(120))
    venue_address: Mapped[str] = mapped_column(String(250), default="")
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[MeetingState] = mapped_column(_enum(MeetingState), default=MeetingState.SCHEDULED)
    calendar_uid: Mapped[str] = mapped_column(String(100), unique=True, default=new_calendar_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    calendar_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SEQUENCE the last calendar updates carried; below `sequence`, calendars hold an outdated copy.
    calendar_sent_sequence: Mapped[int | None] = mapped_column(Integer)
    headcount_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Any change to the row: calendars' DTSTAMP and the feed's Last-Modified.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    series: Mapped[Series | None] = relationship()

    @property
    def calendars_outdated(self) -> bool:
        return self.calendar_sent_sequence is not None and self.calendar_sent_sequence < self.sequence

    @property
    def is_cancelled(self) -> bool:
        return self.state == MeetingState.CANCELLED


class MailState(StrEnum):
    PENDING = "pending"  # waiting for its first try, or for the next after a failure
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # every try failed, or the mail server refused it for good: organizers see it
    WITHDRAWN = "withdrawn"  # no longer wanted when its turn came: the invitation was revoked, the link used


class OutgoingMail(db.Model):
    """One message to one person, queued in the transaction of the change that causes it and sent after the
    commit by the outbox (thinknet.outbox), retried with back-off. Most are written when queued; a calendar
    update (kind "calendar") is written when sent, from its session and the member's answer at that moment."""

    __tablename__ = "outgoing_mail"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = (
        Index("ix_outgoing_mail_state_next_attempt_at", "state", "next_attempt_at"),
        {"info": {"unshown": True}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # the template's name, or "calendar"
    recipient: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str] = mapped_column(String(400), default="")  # as it was when queued; a calendar update's when sent
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    # What the message is about, for the pages that report on it.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), index=True)
    password_reset_id: Mapped[int | None] = mapped_column(ForeignKey("password_reset.id", ondelete="CASCADE"),
                                                          index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    calendar_method: Mapped[str | None] = mapped_column(String(10))  # REQUEST or CANCEL
    calendar_sequence: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[MailState] = mapped_column(_enum(MailState), default=MailState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting | None] = relationship()
    member: Mapped[Member | None] = relationship()


class Rsvp(db.Model):
    __tablename__ = "rsvp"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    answer: Mapped[RsvpAnswer] = mapped_column(_enum(RsvpAnswer))
    # A yes beyond the seats waits here, in the order of answered_at.
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    from_standing: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship()

    @hybrid_property
    def has_seat(self) -> bool:
        """A yes within the seats: the one definition, in Python and in SQL."""
        return self.answer == RsvpAnswer.YES and not self.waitlisted

    @has_seat.inplace.expression
    @classmethod
    def _has_seat(cls) -> Any:
        return and_(cls.answer == RsvpAnswer.YES, cls.waitlisted.is_(False))

    @hybrid_property
    def is_waiting(self) -> bool:
        """A yes beyond the seats, in line for one."""
        return self.answer == RsvpAnswer.YES and self.waitlisted

    @is_waiting.inplace.expression
    @classmethod
    def _is_waiting(cls) -> Any:
        return and_(cls.answer == RsvpAnswer.YES, cls.waitlisted.is_(True))


class Attendance(db.Model):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship(foreign_keys=[member_id])


class Topic(db.Model):
    __tablename__ = "topic"
    __table_args__ = (
        # The open agenda and recent topics read the live ones, newest first, not the years of discussed ones.
        Index("ix_topic_state_created_at", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[TopicState] = mapped_column(_enum(TopicState), default=TopicState.OPEN)
    # None: the backlog.
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting.id", ondelete="SET NULL"), index=True
    )
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    discussed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[Member] = relationship()
    meeting: Mapped[Meeting | None] = relationship()

    @property
    def meeting_starts_at(self) -> datetime | None:
        """When its session starts (None in the backlog): what the topic rules ask of the session."""
        return self.meeting.starts_at if self.meeting is not None else None


class Vote(db.Model):
    """One member's "me too" on a topic."""

    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("topic_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Takeaway(db.Model):
    __tablename__ = "takeaway"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[Member] = relationship()


class AuditEvent(db.Model):
    """Who did what to whom and when: every organizer action and every status or role change."""

    __tablename__ = "audit_event"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}

    id: Mapped[int] = mapped_column(primary_key=True)
    # None when the app itself acted (a scheduled job).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    subject_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), index=True
    )
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[Member | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[Member | None] = relationship(foreign_keys=[subject_member_id])


class AuditErasure(db.Model):
    """Empty but while a member's account is being deleted: the one transaction that holds a row here may
    rewrite audit events' details (never their action, people, target or time); see migration 0006."""

    __tablename__ = "audit_erasure"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}
    id: Mapped[int] = mapped_column(primary_key=True)


class Attempt(db.Model):
    """One sign-in failure, reset request or failed join, by account and address: the brute-force counters,
    kept in the database so that every worker (and the embedded SQLite) sees the same counts."""

    __tablename__ = "attempt"
    __table_args__ = (
        Index("ix_attempt_kind_account_at", "kind", "account", "at"),
        Index("ix_attempt_kind_ip_at", "kind", "ip", "at"),
        {"info": {"unshown": True}},  # no cached page shows these rows (thinknet.pagecache)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(254), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


SETTINGS_ID = 1

DEFAULT_CHARTER = """\
We meet to think together, not to sell.
- No selling, no pitching, no job-hunting at the table.
- What is said here stays here.
- Bring a real question; listen more than you speak.
- Come when you can; tell us when you can't."""


# The first organizer's set-up, in order: the group's name and time zone, when and where it meets, the charter,
# the sponsor rules.
SETUP_STEPS = ("name", "meetings", "charter", "sponsors")


class Settings(db.Model):
    """The group's one row of settings, editable by organizers."""

    __tablename__ = "settings"
    __table_args__ = (CheckConstraint(f"id = {SETTINGS_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty until the first organizer names the group: nothing goes out under a default name.
    group_name: Mapped[str] = mapped_column(String(120), default="")
    charter: Mapped[str] = mapped_column(Text, default=DEFAULT_CHARTER)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    sponsor_min_attendance: Mapped[int] = mapped_column(Integer, default=2)
    sponsor_max_pending: Mapped[int] = mapped_column(Integer, default=2)
    invitation_ttl_days: Mapped[int] = mapped_column(Integer, default=14)
    member_cap: Mapped[int] = mapped_column(Integer, default=150)
    invitations_need_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # RSVPs close this many days before the meeting, at this local time.
    rsvp_cutoff_days_before: Mapped[int] = mapped_column(Integer, default=1)
    rsvp_cutoff_time: Mapped[time] = mapped_column(Time, default=time(20, 0))
    mail_sender_name: Mapped[str] = mapped_column(String(120), default="")
    mail_sender_email: Mapped[str] = mapped_column(String(254), default="")
    # The first organizer's set-up (thinknet.admin.setup): the steps done, comma-separated in SETUP_STEPS' order,
    # and when it was first opened (until then, an organizer's sign-in leads there).
    setup_done: Mapped[str] = mapped_column(String(200), default="", server_default="")
    setup_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Until this day (in the group's zone), any active member may sponsor: a new group has no attendance yet.
    founding_until: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def shown_name(self) -> str:
        """The group's name on its pages; the product's own before the group has one."""
        return self.group_name or "thinknet"

    @property
    def setup_left(self) -> list[str]:
        done = set(self.setup_done.split(","))
        return [step for step in SETUP_STEPS if step not in done]

    def mark_set_up(self, step: str) -> None:
        done = set(self.setup_done.split(",")) | {step}
        self.setup_done = ",".join(s for s in SETUP_STEPS if s in done)

    @classmethod
    def get(cls, for_update: bool = False) -> Settings:
        """The settings row, created with the defaults if missing (safe when requests race).

        ``for_update`` locks the row until commit: the one lock behind group-wide invariants (the member
        cap, never without an organizer). On SQLite it takes the write lock, which serializes all writers.
        """
        if not for_update:  # read once per session (or with a row it joined); after a commit, read when used
            held = db.session.identity_map.get(db.session.identity_key(cls, SETTINGS_ID))
            if held is not None:
                return held
        statement = _SETTINGS_LOCKED if for_update else _SETTINGS
        settings = db.session.scalar(statement)
        if settings is None:
            db.session.execute(insert_ignoring_conflict(cls.__table__, {"id": SETTINGS_ID}))
            settings = db.session.scalar(statement)
        assert settings is not None
        db.session.info["settings"] = settings  # held, so the identity map keeps it for the session
        return settings


# Built once: most requests read the settings, and a statement costs as much to build as to run. The locked
# read takes the row's values afresh, since a copy read earlier may be older than the lock.
_SETTINGS = select(Settings).where(Settings.id == SETTINGS_ID)
_SETTINGS_LOCKED = _SETTINGS.with_for_update().execution_options(populate_existing=True)


class CalendarReply(db.Model):
    """One calendar reply read from the group's mailbox (thinknet.calendar.replies): what it answered and what
    became of it. Its key (the Message-ID, or the message's hash) is unique, so a message read twice, from the
    mailbox and a pipe or after a restart, is applied once."""

    __tablename__ = "calendar_reply"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Whose answer and to what, once the reply is authenticated; None for one kept aside.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    partstat: Mapped[str] = mapped_column(String(20), default="")
    # applied, unchanged (the answer was already so, or newer), refused (the RSVP rules), or kept (set aside)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")
    # How the reply proved it came from the invitee: "address" (their own reply address) or "dkim".
    authenticated_by: Mapped[str] = mapped_column(String(20), default="")
    # When the member pressed it (the reply's DTSTAMP): replies read in another order never undo a later one.
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CalendarReplyNotice(db.Model):
    """That a member was told what became of their calendar's answer to a session (waitlisted, refused, asked
    again), and when: a calendar that answers every update by itself starts no loop of mail."""

    __tablename__ = "calendar_reply_notice"
    __table_args__ = (UniqueConstraint("member_id", "meeting_id", "what"), {"info": {"unshown": True}})

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(40))
    # The member's answer (its time) and the session (its SEQUENCE) as they were when told: told again only
    # once either has changed.
    answer_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # When last told, and how often for the same state (bounded: thinknet.calendar.replies.MAX_TELLS).
    told_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    told_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Revision(db.Model):
    """One number per table, moved on by every committed change to that table's rows (thinknet.pagecache). A
    table no change has reached yet has no row: its number is 0."""

    __tablename__ = "revision"
    # No cached page shows these rows: writing them leaves every cached page standing (thinknet.pagecache).
    __table_args__ = {"info": {"unshown": True}}
    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger)


def insert_ignoring_conflict(table: Any, values: dict[str, Any], dialect: str | None = None) -> Any:
    """INSERT that does nothing when a unique constraint already holds the row (races settle quietly)."""
    dialect = dialect or db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).values(values).on_conflict_do_nothing()
    return insert(table).values(values)

