"""Sponsor rules and invitations: who may sponsor, issuing, approving, revoking, redeeming. Flush, never commit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from thinknet import outbox
from thinknet.audit import record
from thinknet.auth.services import find_member_by_email, hash_password, start_sign_in
from thinknet.extensions import db
from thinknet.members.services import active_member_count, normalize_email
from thinknet.models import (
    LIVE_INVITATION_STATES,
    Attendance,
    Invitation,
    InvitationState,
    Member,
    MemberStatus,
    OutgoingMail,
    Settings,
    utcnow,
)
from thinknet.tokens import hash_token, new_token, token_matches
from thinknet.errors import Refused


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class InvitationRefused(Refused):
    """A rule refused the invitation; the message names the rule and what would change it."""

    # The form field the message belongs next to; None for the form as a whole.
    field: str | None = None


class SponsorNotActive(InvitationRefused):
    def __init__(self) -> None:
        super().__init__("Only active members can sponsor newcomers.")


class SponsorNotEligible(InvitationRefused):
    def __init__(self, attended: int, required: int) -> None:
        self.attended, self.required = attended, required
        super().__init__(
            f"You can sponsor after attending {_plural(required, 'session')}; "
            f"you have attended {attended}. Each breakfast you come to counts once an organizer records it."
        )


class GroupUnnamed(InvitationRefused):
    def __init__(self) -> None:
        super().__init__("The group has no name yet, and an invitation says what it invites to: an organizer "
                         "names the group first (Organizers → Set-up).")


class TooManyPending(InvitationRefused):
    def __init__(self, pending: int, limit: int) -> None:
        self.pending, self.limit = pending, limit
        super().__init__(
            f"You have {_plural(pending, 'pending invitation')}, and a sponsor can have at most {limit} at once. "
            "You can sponsor again when one is accepted, expires or is revoked."
        )


class GroupFull(InvitationRefused):
    def __init__(self, active: int, pending: int, cap: int) -> None:
        self.active, self.pending, self.cap = active, pending, cap
        super().__init__(
            f"The group is at its cap of {cap} members ({_plural(active, 'active member')} and "
            f"{_plural(pending, 'pending invitation')}). You can sponsor again when a place frees up."
        )


class AlreadyMember(InvitationRefused):
    field = "email"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} already belongs to a member of the group.")


class AlreadyInvited(InvitationRefused):
    field = "email"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} already has a pending invitation.")


class InvitationNotRevocable(Refused):
    def __init__(self, state: InvitationState) -> None:
        super().__init__(f"Only a pending invitation can be revoked; this one is {state.value.replace('_', ' ')}.")


class InvitationUnusable(Refused):
    """An invitation link that cannot be used to join; ``kind`` says why, the message says what to do."""

    def __init__(self, kind: str, message: str, invitation: Invitation | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.invitation = invitation


def attended_count(member: Member) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.member_id == member.id)
    ) or 0


def _live(now: datetime):
    return Invitation.state.in_(LIVE_INVITATION_STATES), Invitation.expires_at > now


def live_invitation_count(now: datetime, sponsor: Member | None = None) -> int:
    statement = select(func.count()).select_from(Invitation).where(*_live(now))
    if sponsor is not None:
        statement = statement.where(Invitation.sponsor_id == sponsor.id)
    return db.session.scalar(statement) or 0


def in_founding_period(settings: Settings, now: datetime) -> bool:
    """Whether any member may sponsor today: the group's founding period lasts to its last day, inclusive."""
    return (settings.founding_until is not None
            and now.astimezone(ZoneInfo(settings.timezone)).date() <= settings.founding_until)


def sponsor_refusal(sponsor: Member, now: datetime | None = None) -> InvitationRefused | None:
    """The first sponsor rule that stops this member sponsoring anyone right now, or None if they may."""
    now = now or utcnow()
    settings = Settings.get()
    if sponsor.status != MemberStatus.ACTIVE:
        return SponsorNotActive()
    if not settings.group_name:
        return GroupUnnamed()
    if not (sponsor.is_organizer or sponsor.is_founder or in_founding_period(settings, now)):
        attended = attended_count(sponsor)
        if attended < settings.sponsor_min_attendance:
            return SponsorNotEligible(attended, settings.sponsor_min_attendance)
    pending = live_invitation_count(now, sponsor)
    if pending >= settings.sponsor_max_pending:
        return TooManyPending(pending, settings.sponsor_max_pending)
    active, all_pending = active_member_count(), live_invitation_count(now)
    if active + all_pending >= settings.member_cap:
        return GroupFull(active, all_pending, settings.member_cap)
    return None


def _expire_stale(now: datetime, email: str | None = None) -> None:
    """Marks live invitations past their expiry as expired, so they no longer hold their email."""
    statement = update(Invitation).where(Invitation.state.in_(LIVE_INVITATION_STATES), Invitation.expires_at <= now)
    if email is not None:
        statement = statement.where(Invitation.email == email)
    db.session.execute(statement.values(state=InvitationState.EXPIRED), execution_options={"synchronize_session": False})


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    # The link's secret, to email now; None while the invitation waits for an organizer's approval.
    token: str | None


def issue_invitation(sponsor: Member, email: str, vouch_note: str, now: datetime | None = None) -> IssuedInvitation:
    """Applies every sponsor rule, then records the invitation; raises InvitationRefused naming the rule."""
    now = now or utcnow()
    email = normalize_email(email)
    # One writer at a time for group-wide counts (the member cap), on PostgreSQL as on SQLite.
    settings = Settings.get(for_update=True)
    refusal = sponsor_refusal(sponsor, now)
    if refusal is not None:
        raise refusal
    if find_member_by_email(email) is not None:
        raise AlreadyMember(email)
    _expire_stale(now, email)
    if db.session.scalar(select(Invitation.id).where(Invitation.email == email, *_live(now))) is not None:
        raise AlreadyInvited(email)

    needs_approval = settings.invitations_need_approval and not sponsor.is_organizer
    token, token_hash = new_token()
    invitation = Invitation(
        sponsor_id=sponsor.id, email=email, vouch_note=vouch_note.strip(), token_hash=token_hash,
        state=InvitationState.AWAITING_APPROVAL if needs_approval else InvitationState.PENDING,
        created_at=now, expires_at=now + timedelta(days=settings.invitation_ttl_days),
        sent_at=None if needs_approval else now,
    )
    db.session.add(invitation)
    db.session.flush()
    record(sponsor, "invitation.created", target=invitation, email=email, needs_approval=needs_approval)
    return IssuedInvitation(invitation, None if needs_approval else token)


def approve_invitation(invitation: Invitation, organizer: Member, now: datetime | None = None) -> str:
    """An organizer's approval: the invitation gets a fresh link and its full time to run; returns the link's secret."""
    now = now or utcnow()
    if invitation.current_state(now) != InvitationState.AWAITING_APPROVAL:
        raise InvitationNotRevocable(invitation.current_state(now))
    settings = Settings.get()
    token, token_hash = new_token()
    invitation.token_hash = token_hash
    invitation.state = InvitationState.PENDING
    invitation.approved_by_id = organizer.id
    invitation.approved_at = invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.invitation_ttl_days)
    db.session.flush()
    record(organizer, "invitation.approved", subject=invitation.sponsor, target=invitation, email=invitation.email)
    return token


def revoke_invitation(invitation: Invitation, by: Member, reason: str = "", now: datetime | None = None) -> None:
    now = now or utcnow()
    state = invitation.current_state(now)
    if state.value not in LIVE_INVITATION_STATES:
        raise InvitationNotRevocable(state)
    invitation.state = InvitationState.REVOKED
    invitation.revoked_at = now
    db.session.flush()
    record(by, "invitation.revoked", subject=invitation.sponsor, target=invitation, email=invitation.email,
           reason=reason)


@outbox.wanted_while("invitation")
def invitation_mail_unwanted(mail: OutgoingMail) -> str | None:
    """An invitation is emailed only while its link can still be used."""
    invitation = db.session.get(Invitation, mail.invitation_id) if mail.invitation_id else None
    if invitation is None:
        return "Not sent: the invitation is gone."
    state = invitation.current_state()
    if state != InvitationState.PENDING:
        return f"Not sent: the invitation is {state.value.replace('_', ' ')}."
    return None


def joined_with(token: str, member: Member) -> Invitation | None:
    """The invitation behind a join link, if this member joined with it."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or not token_matches(token, invitation.token_hash) or invitation.member_id != member.id:
        return None
    return invitation


def find_invitation(token: str, now: datetime | None = None) -> Invitation:
    """The invitation behind a join link, if it can be used; InvitationUnusable says why not and what to do."""
    now = now or utcnow()
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or not token_matches(token, invitation.token_hash):
        raise InvitationUnusable(
            "unknown",
            "This invitation link is not valid. Check that you copied the whole link from the email, "
            "or ask the member who invited you to send a new invitation.",
        )
    sponsor = invitation.sponsor.name
    state = invitation.current_state(now)
    if state == InvitationState.ACCEPTED:
        raise InvitationUnusable(
            "used", "This invitation has already been used to join. If that was you, sign in.", invitation
        )
    if state == InvitationState.REVOKED:
        raise InvitationUnusable(
            "revoked", f"This invitation was withdrawn. If you think that is a mistake, ask {sponsor} about it.",
            invitation,
        )
    if state == InvitationState.EXPIRED:
        raise InvitationUnusable(
            "expired", f"This invitation has expired. Ask {sponsor} to send you a new one.", invitation
        )
    if state == InvitationState.AWAITING_APPROVAL:
        raise InvitationUnusable(
            "awaiting_approval", f"This invitation is waiting for an organizer's approval. {sponsor} will let you know.",
            invitation,
        )
    return invitation


def redeem_invitation(
    token: str, *, name: str, headline: str, sector: str, password: str, user_agent: str = "",
    now: datetime | None = None,
) -> Member:
    """Turns an invitation into a member, once: the claim is a conditional update the database arbitrates."""
    now = now or utcnow()
    settings = Settings.get(for_update=True)
    invitation = find_invitation(token, now)
    if active_member_count() >= settings.member_cap:
        raise InvitationUnusable(
            "group_full",
            f"The group is full right now ({settings.member_cap} members). "
            f"Ask {invitation.sponsor.name} to invite you again when a place frees up.",
            invitation,
        )
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state == InvitationState.PENDING,
               Invitation.expires_at > now)
        .values(state=InvitationState.ACCEPTED, accepted_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        raise InvitationUnusable(
            "used", "This invitation has already been used to join. If that was you, sign in.", invitation
        )
    member = Member(
        email=invitation.email, name=name.strip(), headline=headline.strip(), sector=sector.strip(),
        password_hash=hash_password(password), sponsor_id=invitation.sponsor_id, status=MemberStatus.ACTIVE,
        joined_at=now,
    )
    db.session.add(member)
    db.session.flush()
    invitation.member_id = member.id
    invitation.state = InvitationState.ACCEPTED
    invitation.accepted_at = now
    db.session.flush()
    record(member, "member.joined", subject=member, target=invitation, sponsor_id=invitation.sponsor_id)
    start_sign_in(member, user_agent)
    return member


_INVITATIONS_OF = (  # built once: the dashboard reads it
    select(Invitation).options(joinedload(Invitation.member))
    .where(Invitation.sponsor_id == bindparam("sponsor_id")).order_by(Invitation.created_at.desc(), Invitation.id.desc())
)


_LATEST_INVITATIONS_OF = _INVITATIONS_OF.limit(bindparam("limit"))


def invitations_for(sponsor: Member, limit: int | None = None) -> list[Invitation]:
    """A sponsor's invitations, newest first; ``limit``: only the latest (the dashboard)."""
    if limit is None:
        return list(db.session.scalars(_INVITATIONS_OF, {"sponsor_id": sponsor.id}))
    return list(db.session.scalars(_LATEST_INVITATIONS_OF, {"sponsor_id": sponsor.id, "limit": limit}))


def emails_of(invitations: list[Invitation]) -> dict[int, OutgoingMail]:
    """The latest email of each invitation's link, by invitation id: the sponsor sees whether it went out."""
    rows = db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.invitation_id.in_([invitation.id for invitation in invitations]),
                                   OutgoingMail.kind == "invitation").order_by(OutgoingMail.id))
    return {mail.invitation_id: mail for mail in rows}


def get_invitation_or_404(invitation_id: int, own_by: Member | None = None) -> Invitation:
    """The invitation; with ``own_by``, only if that member sponsors it (to anyone else it is not there)."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or (own_by is not None and invitation.sponsor_id != own_by.id):
        raise NotFound()
    return invitation


def awaiting_approval_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Invitation).where(Invitation.state == InvitationState.AWAITING_APPROVAL)
    ) or 0
