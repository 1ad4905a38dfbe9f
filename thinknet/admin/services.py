"""Organizer queries: the audit log. Flush, never commit."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from thinknet.extensions import db
from thinknet.models import AuditEvent

AUDIT_PAGE_SIZE = 50


def recent_audit_events(limit: int = AUDIT_PAGE_SIZE) -> list[AuditEvent]:
    """Newest first, with actor and subject loaded in the same query."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .options(joinedload(AuditEvent.actor), joinedload(AuditEvent.subject))
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
