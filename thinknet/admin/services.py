"""Organizer queries and the settings change. Flush, never commit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from thinknet.audit import record
from thinknet.extensions import db
from thinknet.models import AuditEvent, Invitation, Member, Settings, utcnow

AUDIT_PAGE_SIZE = 100

SETTINGS_FIELDS = (
    "group_name", "charter", "timezone", "sponsor_min_attendance", "sponsor_max_pending", "invitation_ttl_days",
    "member_cap", "invitations_need_approval", "founding_until", "rsvp_cutoff_days_before", "rsvp_cutoff_time",
    "mail_sender_name", "mail_sender_email",
)

# The set-up's steps kept in the settings, by the fields each one asks (the meetings step is the weekly series:
# thinknet.meetings.schedule.save_series). Saving a step's fields, in the set-up or in Settings, does it.
SETUP_STEP_FIELDS = {
    "name": ("group_name", "timezone"),
    "charter": ("charter",),
    "sponsors": ("founding_until", "sponsor_min_attendance", "sponsor_max_pending", "invitations_need_approval"),
}


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
    """Saves the settings given (all of them, or one set-up step's) and records what changed; returns the names
    of the changed fields. Each set-up step whose fields were all saved is done."""
    settings = Settings.get(for_update=True)
    changed = {}
    if "timezone" in values and values["timezone"] != settings.timezone:  # sessions keep their local time
        from thinknet.meetings.schedule import change_time_zone

        changed["timezone"] = {"from": settings.timezone, "to": values["timezone"]}
        change_time_zone(organizer, values["timezone"])
    for step, fields in SETUP_STEP_FIELDS.items():
        if all(name in values for name in fields):
            settings.mark_set_up(step)
    for name in SETTINGS_FIELDS:
        if name not in values:
            continue
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


SETUP_TITLES = {"name": "name and time zone", "meetings": "when and where you meet", "charter": "the charter",
                "sponsors": "who may sponsor"}


def setup_left() -> list[str]:
    """What the group's set-up still lacks, in words, in the set-up's order."""
    return [SETUP_TITLES[step] for step in Settings.get().setup_left]


def open_setup(organizer: Member) -> str | None:
    """The set-up step an organizer's sign-in leads to: the first one left, the first time only."""
    settings = Settings.get()
    if not organizer.is_organizer or settings.setup_opened_at is not None or not settings.setup_left:
        return None
    settings.setup_opened_at = utcnow()
    return settings.setup_left[0]
