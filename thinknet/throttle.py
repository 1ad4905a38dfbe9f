"""Brute-force limits on signing in, asking for reset links and redeeming invitations, per account and per
address. The counters live in the database, so they hold across workers and servers, SQLite included.

A sign-in is counted before its password is checked (`reserve`), under a lock on the account, so however many
guesses arrive at once no more than the limit are checked. A browser that has signed in as the member before
carries a device cookie (OWASP's device-cookie pattern) and is counted on its own: guesses from elsewhere that
lock the account out of unknown browsers do not lock the member out of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from thinknet.database import lock_name
from thinknet.extensions import db
from thinknet.models import Attempt, utcnow
from thinknet.templating import format_when
from thinknet.errors import Refused


@dataclass(frozen=True)
class Limit:
    per_account: int
    per_ip: int
    window: timedelta


LIMITS = {
    "sign_in": Limit(per_account=10, per_ip=50, window=timedelta(minutes=15)),
    "reset": Limit(per_account=5, per_ip=20, window=timedelta(hours=1)),
    "join": Limit(per_account=10, per_ip=30, window=timedelta(minutes=15)),
}
WHAT = {"sign_in": "failed sign-ins", "reset": "reset requests", "join": "attempts to use invitations"}


class TooManyAttempts(Refused):
    """Refused for now; the message says until when."""

    def __init__(self, kind: str, until: datetime, scope: str) -> None:
        minutes = max(1, round((until - utcnow()).total_seconds() / 60))
        super().__init__(
            f"Too many {WHAT[kind]} {scope} in a short time. Please try again after "
            f"{format_when(until).split(', ')[1]} (in about {minutes} minute{'s' if minutes != 1 else ''})."
        )
        self.until = until


def _blocked_until(kind: str, column, value: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
    """When the oldest of the last `limit` attempts leaves the window, if there are that many in it."""
    if not value:
        return None
    recent = db.session.scalars(
        select(Attempt.at).where(Attempt.kind == kind, column == value, Attempt.at > now - window)
        .order_by(Attempt.at.desc()).limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    return recent[-1] + window


def check(kind: str, account: str, ip: str, now: datetime | None = None) -> None:
    """Raises TooManyAttempts when the account or the address has used up its attempts."""
    now = now or utcnow()
    limit = LIMITS[kind]
    until = _blocked_until(kind, Attempt.account, account, limit.per_account, limit.window, now)
    if until is not None:
        raise TooManyAttempts(kind, until, "for this account")
    until = _blocked_until(kind, Attempt.ip, ip, limit.per_ip, limit.window, now)
    if until is not None:
        raise TooManyAttempts(kind, until, "from your network")


def record(kind: str, account: str, ip: str) -> None:
    """Counts an attempt in the caller's transaction."""
    db.session.add(Attempt(kind=kind, account=account, ip=ip))
    db.session.flush()


def reserve(kind: str, account: str, ip: str) -> int:
    """Counts an attempt before it is made, as one step with the check: raises TooManyAttempts when the
    account or the address has used up its attempts, else records the attempt and returns its id (to
    `release` when it turns out not to be a guess)."""
    lock_name(f"throttle:{kind}:{account}")
    check(kind, account, ip)
    attempt = Attempt(kind=kind, account=account, ip=ip)
    db.session.add(attempt)
    db.session.flush()
    return attempt.id


def release(attempt_id: int) -> None:
    """Takes back a reserved attempt that was not a wrong guess."""
    db.session.execute(delete(Attempt).where(Attempt.id == attempt_id))


def forget(kind: str, account: str) -> None:
    """A success clears the account's failures (the address keeps its own count)."""
    db.session.execute(delete(Attempt).where(Attempt.kind == kind, Attempt.account == account))


def prune(now: datetime | None = None) -> int:
    """Drops attempts older than any window (for the scheduled job)."""
    longest = max(limit.window for limit in LIMITS.values())
    return db.session.execute(delete(Attempt).where(Attempt.at < (now or utcnow()) - longest)).rowcount

