"""Member rules: creating founders and organizers. Flush, never commit."""
from __future__ import annotations

from sqlalchemy import func, select

from thinknet.auth.services import find_member_by_email, hash_password
from thinknet.extensions import db
from thinknet.models import AuditEvent, Member, MemberStatus, Role


class EmailTaken(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"{email} already belongs to a member.")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_founder(
    *, email: str, name: str, password: str, headline: str = "", role: Role = Role.MEMBER,
    actor: Member | None = None,
) -> Member:
    """A member with no sponsor: one of the people the group started with."""
    if find_member_by_email(email) is not None:
        raise EmailTaken(email)
    member = Member(
        email=normalize_email(email), name=name.strip(), headline=headline.strip(),
        password_hash=hash_password(password), role=role, status=MemberStatus.ACTIVE,
    )
    db.session.add(member)
    db.session.flush()
    db.session.add(
        AuditEvent(
            actor_id=actor.id if actor else None, action="member.founder_created",
            subject_member_id=member.id, details={"role": role.value},
        )
    )
    return member


def member_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Member)) or 0
