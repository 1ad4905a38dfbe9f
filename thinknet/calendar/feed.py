"""A member's private calendar feed: the link's token, the meetings it covers, and its cache validator."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select

from thinknet.extensions import db
from thinknet.routing import MAX_ID
from thinknet.models import SETTINGS_ID, Meeting, Member, MemberStatus, Settings, utcnow

WEEKS_BACK = 4
WEEKS_AHEAD = 8
MAC_BYTES = 20  # 160 bits


def _key() -> bytes:
    # A key of its own, derived from the app's secret: the database alone never yields a working link.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"thinknet calendar feed", hashlib.sha256).digest()


def _mac(member_id: int, version: int) -> str:
    digest = hmac.new(_key(), f"{member_id}:{version}".encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def feed_token(member: Member) -> str:
    return f"{member.id}-{_mac(member.id, member.calendar_feed_version)}"


def member_for_token(token: str) -> Member | None:
    """The member a feed link belongs to, if the link is current and the member active with the feed on."""
    member_id, _, mac = token.partition("-")
    if not member_id.isdigit() or not mac or not 0 < int(member_id) <= MAX_ID:
        return None
    member = db.session.get(Member, int(member_id))
    if member is None or member.status != MemberStatus.ACTIVE or not member.wants_calendar_feed:
        return None
    if not hmac.compare_digest(mac, _mac(member.id, member.calendar_feed_version)):
        return None
    return member


def reset_feed(member: Member) -> None:
    """A new link; the old one answers 404 from now on."""
    member.calendar_feed_version += 1
    db.session.flush()


def _window_ends(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(weeks=WEEKS_BACK), now + timedelta(weeks=WEEKS_AHEAD)


def _window(now: datetime) -> tuple:
    start, end = _window_ends(now)
    return Meeting.starts_at >= start, Meeting.starts_at <= end


def feed_meetings(now: datetime | None = None) -> list[Meeting]:
    """Four weeks back to eight ahead, cancelled ones included."""
    return list(db.session.scalars(select(Meeting).where(*_window(now or utcnow())).order_by(Meeting.starts_at)))


@dataclass(frozen=True)
class FeedVersion:
    etag: str
    last_modified: datetime


# Built once, as every feed request asks it: the meetings in the window, when the settings last changed, and the
# last meeting to have left the window (its leaving changed the feed too).
_VERSION = select(
    func.count(), func.max(Meeting.updated_at), func.sum(Meeting.id), func.max(Meeting.starts_at),
    select(Settings.updated_at).where(Settings.id == SETTINGS_ID).scalar_subquery(),
    select(func.max(Meeting.starts_at)).where(Meeting.starts_at < bindparam("start")).scalar_subquery(),
).where(Meeting.starts_at >= bindparam("start"), Meeting.starts_at <= bindparam("end"))


def feed_version(member: Member, base_url: str, now: datetime | None = None) -> FeedVersion:
    """What the feed's bytes depend on, from one aggregate query: a conditional request is answered without
    building the calendar. Last-Modified is the last moment the feed's content changed: a session in it changed,
    the settings changed, or the window moved over a session (the latest to come into it, eight weeks before it
    starts, or to leave it, four weeks after), so If-Modified-Since and the ETag always agree."""
    start, end = _window_ends(now or utcnow())
    count, last_change, id_sum, last_start, settings_changed, last_gone = db.session.execute(
        _VERSION, {"start": start, "end": end}).one()
    moments = [last_change, settings_changed]
    if last_start is not None:
        moments.append(last_start - timedelta(weeks=WEEKS_AHEAD))  # when the latest session came into view
    if last_gone is not None:
        moments.append(last_gone + timedelta(weeks=WEEKS_BACK))  # when the last one went out of it
    last_modified = max(filter(None, moments))
    fingerprint = f"{member.id}:{member.calendar_feed_version}:{count}:{id_sum}:{last_modified.isoformat()}:{base_url}"
    return FeedVersion(hashlib.sha256(fingerprint.encode()).hexdigest()[:32], last_modified.replace(microsecond=0))
