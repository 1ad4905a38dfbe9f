"""Writing the audit log: who did what to whom, when and why."""
from __future__ import annotations

from typing import Any

from thinknet.extensions import db
from thinknet.models import AuditEvent, Member


def record(actor: Member | None, action: str, *, subject: Member | None = None, target: Any = None,
           **details: Any) -> AuditEvent:
    """Adds an audit event to the caller's transaction; ``target`` is any row (its table and id are kept),
    ``details`` plain values."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        action=action,
        subject_member_id=subject.id if subject else None,
        target_type=target.__tablename__ if target is not None else None,
        target_id=target.id if target is not None else None,
        details={key: value for key, value in details.items() if value not in (None, "")},
    )
    db.session.add(event)
    return event
