"""Organizer queries and the settings change. Flush, never commit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from thinknet.audit import record
from thinknet.extensions import db
from thinknet.models import AuditEvent, Invitation, Member, Settings

AUDIT_PAGE_SIZE = 100

SETTINGS_FIELDS = (
    "group_name", "charter", "timezone", "sponsor_min_attendance", "sponsor_max_pending", "invitation_ttl_days",
    "member_cap", "invitations_need_approval", "rsvp_cutoff_days_before", "rsvp_cutoff_time",
    "mail_sender_name", "mail_sender_email",
)


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


def all_invitations() -> list[Invitation]:
    """Every invitation, newest first, with sponsor and resulting member in the same query."""
    return list(
        db.session.scalars(
            select(Invitation)
            .options(joinedload(Invitation.sponsor), joinedload(Invitation.member))
            .order_by(Invitation.created_at.desc())
        )
    )


def all_members() -> list[Member]:
    return list(db.session.scalars(select(Member).options(joinedload(Member.sponsor)).order_by(Member.name)))


def update_settings(organizer: Member, values: dict[str, Any]) -> list[str]:
    """Saves the settings and records what changed; returns the names of the changed fields."""
    settings = Settings.get(for_update=True)
    changed = {}
    if values["timezone"] != settings.timezone:  # the sessions follow, keeping their local time
        from thinknet.meetings.schedule import change_time_zone

        changed["timezone"] = {"from": settings.timezone, "to": values["timezone"]}
        change_time_zone(organizer, values["timezone"])
    for name in SETTINGS_FIELDS:
        old, new = getattr(settings, name), values[name]
        if isinstance(new, str):
            new = new.strip()
        if old != new:
            changed[name] = {"from": str(old), "to": str(new)} if name != "charter" else {"edited": True}
            setattr(settings, name, new)
    if changed:
        db.session.flush()
        record(organizer, "settings.changed", target=settings, changes=changed)
    return list(changed)
