"""Erasing a person from the group's records: every text a deleted member's email or name appears in, in
any table, loses it (free text by others included), so nothing of them is left for anyone to read."""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, String, Text, Table, cast, func, or_, select, update

from thinknet.extensions import db

REMOVED_EMAIL = "[removed]"
# A name shorter than this, and of one word, is too likely to be part of other words ("Ann" in "Annual").
MIN_NAME_LENGTH = 6


def _patterns(email: str, name: str, placeholder_name: str) -> list[tuple[re.Pattern[str], str]]:
    patterns = [(re.compile(re.escape(email), re.IGNORECASE), REMOVED_EMAIL)]
    name = name.strip()
    if name and (" " in name or len(name) >= MIN_NAME_LENGTH):
        patterns.append((re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), placeholder_name))
    return patterns


def _scrub(value: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(value, str):
        for pattern, replacement in patterns:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, patterns) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, patterns) for item in value]
    return value


def _needles(email: str, name: str) -> list[str]:
    """What a LIKE looks for, lower-cased: as typed, and as JSON writes it (non-ASCII escaped)."""
    needles = {email.lower(), name.strip().lower()}
    needles |= {json.dumps(text)[1:-1].lower() for text in list(needles)}
    return [needle for needle in needles if needle]


def erase_mentions(email: str, name: str, placeholder_name: str) -> int:
    """Rewrites every text column (JSON included) of every table where the email or the name appears;
    returns how many rows changed."""
    from thinknet.models import AuditErasure

    patterns = _patterns(email, name, placeholder_name)
    needles = _needles(email, name)
    marker = AuditErasure()
    db.session.add(marker)  # lets this transaction, and no other, rewrite audit events' details
    db.session.flush()
    changed = 0
    for table in db.metadata.sorted_tables:
        if table.name != AuditErasure.__tablename__:
            changed += _erase_in_table(table, patterns, needles)
    db.session.delete(marker)
    db.session.flush()
    return changed


def _erase_in_table(table: Table, patterns: list[tuple[re.Pattern[str], str]], needles: list[str]) -> int:
    columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
    keys = list(table.primary_key.columns)
    if not columns or not keys:
        return 0
    matches = [func.lower(cast(column, Text)).contains(needle, autoescape=True)
               for column in columns for needle in needles]
    rows = db.session.execute(select(*keys, *columns).where(or_(*matches))).all()
    changed = 0
    for row in rows:
        key_values, values = row[:len(keys)], row[len(keys):]
        new = {column.name: _scrub(value, patterns) for column, value in zip(columns, values)}
        new = {name: value for (name, value), old in zip(new.items(), values) if value != old}
        if new:
            db.session.execute(
                update(table).where(*(key == value for key, value in zip(keys, key_values))).values(**new))
            changed += 1
    return changed
