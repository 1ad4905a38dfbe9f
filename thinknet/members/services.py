"""Member rules: founders, the directory and sponsor tree, leaving, and organizers' status and role changes.

Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import aliased

from thinknet import mail
from thinknet.audit import record
from thinknet.auth.services import DELETED_PASSWORD, end_all_sign_ins, find_member_by_email, hash_password
from thinknet.extensions import db
from thinknet.meetings.rsvps import withdraw_upcoming_rsvps
from thinknet.members.sectors import MIX_BARS
from thinknet.models import (
    LIVE_INVITATION_STATES,
    Attendance,
    Invitation,
    InvitationState,
    Meeting,
    Member,
    MemberStatus,
    Role,
    Settings,
    MemberFacts,
    utcnow,
)
from thinknet.errors import Refused

# A sponsor chain is never this long; the bound only stops a corrupted cycle from looping.
MAX_CHAIN_DEPTH = 500


class EmailTaken(Refused):
    def __init__(self, email: str) -> None:
        super().__init__(f"{email} already belongs to a member.")


class MemberActionRefused(Refused):
    """An organizer action or a member's own that a rule refuses; the message says why."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_founder(
    *, email: str, name: str, password: str, headline: str = "", sector: str = "", role: Role = Role.MEMBER,
    actor: Member | None = None,
) -> Member:
    """A member with no sponsor: one of the people the group started with."""
    if find_member_by_email(email) is not None:
        raise EmailTaken(email)
    member = Member(
        email=normalize_email(email), name=name.strip(), headline=headline.strip(), sector=sector.strip(),
        password_hash=hash_password(password), role=role, status=MemberStatus.ACTIVE,
    )
    db.session.add(member)
    db.session.flush()
    record(actor, "member.founder_created", subject=member, role=role.value)
    return member


def member_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Member)) or 0


def active_member_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Member).where(Member.status == MemberStatus.ACTIVE)
    ) or 0


@dataclass(frozen=True)
class DirectoryEntry(MemberFacts):
    """One line of the directory: only what it shows (loading 150 whole members cost a quarter of the page)."""

    id: int
    name: str
    headline: str
    sector: str
    role: Role
    joined_at: datetime
    sponsor_name: str | None


_sponsor = aliased(Member)
_DIRECTORY = (  # built once
    select(Member.id, Member.name, Member.headline, Member.sector, Member.role, Member.joined_at, _sponsor.name)
    .outerjoin(_sponsor, Member.sponsor_id == _sponsor.id)
    .where(Member.status == MemberStatus.ACTIVE)
    .order_by(func.lower(Member.name))
)


def directory() -> list[DirectoryEntry]:
    """Active members by name, each with their sponsor's name, in one query."""
    return [DirectoryEntry(*row) for row in db.session.execute(_DIRECTORY)]


NOT_GIVEN = "Not given"


def sector_mix() -> list[tuple[str, int]]:
    """How many active members come from each sector, largest first; members who gave none last."""
    sector = func.coalesce(func.nullif(func.trim(Member.sector), ""), NOT_GIVEN)
    rows = db.session.execute(
        select(sector, func.count())
        .where(Member.status == MemberStatus.ACTIVE)
        .group_by(sector)
        .order_by(func.count().desc(), sector)
    ).all()
    return sorted(((name, count) for name, count in rows), key=lambda row: row[0] == NOT_GIVEN)


def named_sectors(mix: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [row for row in mix if row[0] != NOT_GIVEN]


def mix_chart(mix: list[tuple[str, int]], bars: int = MIX_BARS) -> list[tuple[str, int, bool]]:
    """The mix as the chart draws it, each bar with whether it stands for more than one sector or for none:
    the largest sectors by name, the long tail as one bar, the members who gave none last."""
    named = [(name, count, False) for name, count in named_sectors(mix)]
    if len(named) > bars:
        tail = named[bars - 1:]
        named = [*named[:bars - 1], (f"{len(tail)} more sectors", sum(count for _, count, _ in tail), True)]
    return named + [(name, count, True) for name, count in mix if name == NOT_GIVEN]


def sponsor_chain(member: Member) -> list[Member]:
    """The member's sponsor, their sponsor, and so on back to a founder, in one recursive query."""
    if member.sponsor_id is None:
        return []
    chain = (
        select(Member.id, Member.sponsor_id, literal(1).label("depth"))
        .where(Member.id == member.sponsor_id)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Member.id, Member.sponsor_id, chain.c.depth + 1)
        .join(chain, Member.id == chain.c.sponsor_id)
        .where(chain.c.depth < MAX_CHAIN_DEPTH)
    )
    return list(db.session.scalars(select(Member).join(chain, Member.id == chain.c.id).order_by(chain.c.depth)))


def sponsored_by(member: Member) -> list[Member]:
    return list(db.session.scalars(select(Member).where(Member.sponsor_id == member.id).order_by(Member.joined_at)))


def last_attended(member: Member) -> datetime | None:
    return db.session.scalar(
        select(func.max(Meeting.starts_at))
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(Attendance.member_id == member.id)
    )


@dataclass(frozen=True)
class TreeMember(MemberFacts):
    """What the tree shows of a member (whole members cost more to load than the tree to draw)."""

    id: int
    name: str
    status: MemberStatus
    sponsor_id: int | None
    joined_at: datetime


@dataclass
class TreeNode:
    member: TreeMember
    children: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True)
class TreeRow:
    """One member of the tree in the order it is drawn: how deep, how many they sponsored (whose rows follow
    inside this one), and how many open branches end after this row when it has none."""

    member: TreeMember
    depth: int
    sponsored: int
    branches_ending: int
    sponsor_name: str | None = None


def tree_rows(roots: list[TreeNode]) -> list[TreeRow]:
    """The tree as rows in drawing order, so the page draws it in one flat loop (a recursive template loop
    cost three quarters of the page at 190 members)."""
    rows: list[TreeRow] = []

    def walk(nodes: list[TreeNode], depth: int, after_last: int, sponsor: str | None) -> None:
        # after_last: the branches that end once the last of these nodes is drawn
        for position, node in enumerate(nodes):
            ending = after_last if position == len(nodes) - 1 else 0
            if node.children:
                rows.append(TreeRow(node.member, depth, len(node.children), 0, sponsor))
                # this node's own branch ends with its children
                walk(node.children, depth + 1, 1 + ending, node.member.name)
            else:
                rows.append(TreeRow(node.member, depth, 0, ending, sponsor))

    walk(roots, 1, 0, None)
    return rows


_TREE = select(Member.id, Member.name, Member.status, Member.sponsor_id, Member.joined_at).order_by(
    Member.joined_at, Member.id)


def sponsor_tree() -> list[TreeNode]:
    """Every member under their sponsor, founders at the roots, from a single query."""
    members = [TreeMember(*row) for row in db.session.execute(_TREE)]
    nodes = {member.id: TreeNode(member) for member in members}
    roots = []
    for member in members:
        parent = nodes.get(member.sponsor_id) if member.sponsor_id is not None else None
        (parent.children if parent else roots).append(nodes[member.id])
    return roots


def active_organizer_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Member)
        .where(Member.role == Role.ORGANIZER, Member.status == MemberStatus.ACTIVE)
    ) or 0


def _keep_an_organizer(member: Member, what: str) -> None:
    """Refuses a change that would leave the group with no active organizer."""
    Settings.get(for_update=True)  # serializes these checks across simultaneous requests
    if member.is_organizer and member.status == MemberStatus.ACTIVE and active_organizer_count() <= 1:
        raise MemberActionRefused(
            f"{member.name} is the group's only organizer, so they cannot {what}. Make someone else an organizer first."
        )


@dataclass
class Departure:
    """What a member's leaving the active group set off: their sponsor told (on a suspension), and the members
    who took the seats they freed (each emailed by `fill_seats`)."""

    sponsor_to_tell: Member | None = None
    promoted: list[tuple[Meeting, list[Member]]] = field(default_factory=list)


def _set_status(member: Member, status: MemberStatus, by: Member, action: str, reason: str) -> Departure:
    """Changes a member's status. Leaving the active group ends their sign-ins and their feed link (a later
    reinstatement does not bring it back), and withdraws their answers to upcoming sessions, so the seats
    they held go to the waitlist."""
    previous = member.status
    member.status = status
    member.status_changed_at = utcnow()
    end_all_sign_ins(member)
    departure = Departure()
    if status != MemberStatus.ACTIVE and previous == MemberStatus.ACTIVE:
        member.calendar_feed_version += 1
        departure.promoted = withdraw_upcoming_rsvps(member)
    db.session.flush()
    record(by, action, subject=member, reason=reason, previous=previous.value, status=status.value)
    return departure


def _revoke_live_invitations(sponsor: Member, by: Member, reason: str) -> int:
    revoked = db.session.execute(
        update(Invitation)
        .where(Invitation.sponsor_id == sponsor.id, Invitation.state.in_(LIVE_INVITATION_STATES))
        .values(state=InvitationState.REVOKED, revoked_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    if revoked:
        record(by, "invitation.revoked_with_sponsor", subject=sponsor, count=revoked, reason=reason)
    return revoked


def suspend_member(member: Member, by: Member, reason: str) -> Departure:
    """Suspends a member (they can no longer sign in); their sponsor, if active, is emailed."""
    if member.status == MemberStatus.SUSPENDED:
        raise MemberActionRefused(f"{member.name} is already suspended.")
    if member.id == by.id:
        raise MemberActionRefused("You cannot suspend yourself.")
    _keep_an_organizer(member, "be suspended")
    departure = _set_status(member, MemberStatus.SUSPENDED, by, "member.suspended", reason)
    _revoke_live_invitations(member, by, reason)
    sponsor = member.sponsor
    if sponsor is not None and sponsor.status == MemberStatus.ACTIVE:
        departure.sponsor_to_tell = sponsor
        mail.queue(sponsor.email, f"{member.name}'s membership is suspended", "sponsor_notice", sponsor=sponsor,
                   member=member)
    return departure


MEMBER_ACTION_LABELS = {"suspend": "Suspend", "reinstate": "Reinstate", "depart": "Mark as departed",
                        "make-organizer": "Make organizer", "unmake-organizer": "Stop being organizer"}


def allowed_actions(member: Member, by: Member) -> list[str]:
    """What an organizer may do to a member's status and role now, as the admin page offers it (the actions
    themselves still check, under their locks)."""
    actions = []
    if member.status == MemberStatus.ACTIVE and member.id != by.id:
        actions.append("suspend")
    if member.status != MemberStatus.ACTIVE:
        actions.append("reinstate")
    if member.status != MemberStatus.DEPARTED:
        actions.append("depart")
    if member.status == MemberStatus.ACTIVE and not member.is_organizer:
        actions.append("make-organizer")
    if member.is_organizer:
        actions.append("unmake-organizer")
    return actions


def reinstate_member(member: Member, by: Member, reason: str) -> None:
    if member.status == MemberStatus.ACTIVE:
        raise MemberActionRefused(f"{member.name} is already active.")
    settings = Settings.get(for_update=True)
    if active_member_count() >= settings.member_cap:
        raise MemberActionRefused(f"The group is at its cap of {settings.member_cap} active members.")
    _set_status(member, MemberStatus.ACTIVE, by, "member.reinstated", reason)


def mark_departed(member: Member, by: Member, reason: str) -> Departure:
    if member.status == MemberStatus.DEPARTED:
        raise MemberActionRefused(f"{member.name} has already left.")
    _keep_an_organizer(member, "leave")
    departure = _set_status(member, MemberStatus.DEPARTED, by, "member.departed", reason)
    _revoke_live_invitations(member, by, reason)
    return departure


def leave_group(member: Member, reason: str = "") -> Departure:
    """A member leaves of their own accord; whom they sponsored stay, their chains intact."""
    _keep_an_organizer(member, "leave")
    departure = _set_status(member, MemberStatus.DEPARTED, member, "member.left", reason)
    _revoke_live_invitations(member, member, "the sponsor left the group")
    return departure


def set_organizer(member: Member, by: Member, make_organizer: bool, reason: str) -> None:
    if make_organizer == member.is_organizer:
        raise MemberActionRefused(
            f"{member.name} is {'already' if make_organizer else 'not'} an organizer."
        )
    if make_organizer:
        if member.status != MemberStatus.ACTIVE:
            raise MemberActionRefused(f"{member.name} is not active; reinstate them first.")
    else:
        _keep_an_organizer(member, "stop being an organizer")
    member.role = Role.ORGANIZER if make_organizer else Role.MEMBER
    db.session.flush()
    record(by, "member.made_organizer" if make_organizer else "member.unmade_organizer", subject=member,
           reason=reason)


def update_profile(member: Member, *, name: str, headline: str, sector: str, bio: str) -> None:
    member.name, member.headline, member.sector, member.bio = name.strip(), headline.strip(), sector.strip(), bio.strip()
    db.session.flush()


DELETED_NAME = "Former member"


def delete_account(member: Member) -> Departure:
    """Scrubs a member's personal data for good. The row stays as a placeholder, so the sponsor chain through
    them holds and the group's history (attendance, takeaways, topics) stays attributed to "Former member";
    anonymous topics stay anonymous. Sign-ins, invitations, reset links, votes, answers to upcoming sessions
    and the feed link end; the invitation they came in by loses its address and vouch note, and their email
    and name are erased from every other record (audit log, mail to others, what others wrote)."""
    from thinknet.members.erasure import erase_mentions
    from thinknet.models import Attempt, OutgoingMail, PasswordReset, SignIn, Vote

    _keep_an_organizer(member, "delete their account")
    departure = Departure()
    if member.status == MemberStatus.ACTIVE:
        departure.promoted = withdraw_upcoming_rsvps(member)
    old_email, old_name = member.email, member.name
    placeholder_email = f"deleted-{member.id}@deleted.invalid"
    _revoke_live_invitations(member, member, "the sponsor deleted their account")
    end_all_sign_ins(member)
    db.session.execute(delete(SignIn).where(SignIn.member_id == member.id))
    db.session.execute(delete(PasswordReset).where(PasswordReset.member_id == member.id))
    db.session.execute(delete(Vote).where(Vote.member_id == member.id))
    db.session.execute(delete(Attempt).where(func.lower(Attempt.account) == old_email.lower()))
    theirs = (Invitation.member_id == member.id) | (func.lower(Invitation.email) == old_email.lower())
    db.session.execute(update(Invitation).where(theirs, Invitation.state.in_(LIVE_INVITATION_STATES))
                       .values(state=InvitationState.REVOKED, revoked_at=utcnow()),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(Invitation).where(theirs).values(email=placeholder_email, vouch_note=""),
                       execution_options={"synchronize_session": False})
    # Mail to them, sent or waiting, goes: no message reaches an account that no longer exists.
    db.session.execute(delete(OutgoingMail).where(
        (OutgoingMail.member_id == member.id) | (func.lower(OutgoingMail.recipient) == old_email.lower())))
    member.name, member.email = DELETED_NAME, placeholder_email
    member.headline = member.sector = member.bio = ""
    member.password_hash = DELETED_PASSWORD
    member.role, member.status, member.status_changed_at = Role.MEMBER, MemberStatus.DEPARTED, utcnow()
    member.standing_rsvp = None
    member.wants_calendar_updates = member.wants_calendar_feed = False
    member.calendar_feed_version += 1
    db.session.flush()
    erase_mentions(old_email, old_name, DELETED_NAME)
    db.session.expire_all()
    record(member, "member.deleted_account", subject=member)
    return departure


def export_own_data(member: Member) -> dict:
    """Everything the group holds about the member, for them alone (their anonymous topics marked theirs)."""
    from thinknet.models import Rsvp, Takeaway, Topic, Vote

    sponsor = member.sponsor
    meeting_starts = dict(db.session.execute(select(Meeting.id, Meeting.starts_at)).all())

    def when(meeting_id):
        return meeting_starts[meeting_id].isoformat() if meeting_id in meeting_starts else None

    return {
        "profile": {
            "name": member.name, "email": member.email, "role": member.headline, "sector": member.sector,
            "bio": member.bio, "group_role": member.role.value, "status": member.status.value,
            "joined_at": member.joined_at.isoformat(), "sponsor": sponsor.name if sponsor else None,
            "usual_answer": member.standing_rsvp.value if member.standing_rsvp else "ask me each week",
            "email_invites": member.wants_calendar_updates, "calendar_feed": member.wants_calendar_feed,
        },
        "invitations_sent": [
            {"email": i.email, "vouch_note": i.vouch_note, "state": i.current_state().value,
             "created_at": i.created_at.isoformat()}
            for i in db.session.scalars(select(Invitation).where(Invitation.sponsor_id == member.id)
                                        .order_by(Invitation.created_at))
        ],
        "rsvps": [
            {"session": when(r.meeting_id), "answer": r.answer.value, "waitlisted": r.waitlisted}
            for r in db.session.scalars(select(Rsvp).where(Rsvp.member_id == member.id).order_by(Rsvp.id))
        ],
        "attended": [when(mid) for mid in db.session.scalars(
            select(Attendance.meeting_id).where(Attendance.member_id == member.id).order_by(Attendance.id))],
        "topics": [
            {"title": t.title, "details": t.details, "anonymous": t.anonymous, "yours": True, "state": t.state.value,
             "session": when(t.meeting_id), "created_at": t.created_at.isoformat()}
            for t in db.session.scalars(select(Topic).where(Topic.author_id == member.id).order_by(Topic.id))
        ],
        "me_too": list(db.session.scalars(
            select(Topic.title).join(Vote, Vote.topic_id == Topic.id).where(Vote.member_id == member.id)
            .order_by(Vote.id))),
        "takeaways": [
            {"session": when(t.meeting_id), "text": t.body}
            for t in db.session.scalars(select(Takeaway).where(Takeaway.author_id == member.id).order_by(Takeaway.id))
        ],
    }
