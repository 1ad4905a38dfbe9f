"""Answers given in a calendar: an iTIP REPLY (RFC 5546) that Gmail, Outlook or Apple Calendar sends to the
invite's ORGANIZER when a member presses Yes, Maybe or No becomes their RSVP, through the same rules as a tap
on the site (the cut-off, the seats, the waitlist).

The ORGANIZER of each member's invite is the group's reply mailbox with a sub-address of their own
(``breakfast+12-345-<mac>@example.org``): only that member was sent it, for that session, so a reply that
carries it comes from them. Where the mailbox cannot take sub-addresses, a reply signed with DKIM by the
attendee's own domain is taken instead (REPLY_DKIM). Anything else (a forgery, a reply for a session that is
unknown or over, a message that is not a reply) is kept aside and logged, never applied.

Every message is recorded under its Message-ID (or its hash), so one read twice is applied once. Flush, never
commit: the caller commits each message's change on its own.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.utils import getaddresses

from flask import current_app
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, SQLAlchemyError

from thinknet import mail
from thinknet.database import lock_name
from thinknet.extensions import db
from thinknet.models import (
    CalendarReply,
    CalendarReplyNotice,
    Meeting,
    Member,
    MemberStatus,
    Rsvp,
    RsvpAnswer,
    utcnow,
)
from thinknet.routing import MAX_ID

log = logging.getLogger(__name__)

ANSWERS = {"ACCEPTED": RsvpAnswer.YES, "TENTATIVE": RsvpAnswer.MAYBE, "DECLINED": RsvpAnswer.NO}
PARTSTATS = {answer: partstat for partstat, answer in ANSWERS.items()}
MAC_HEX = 20  # 80 bits, in lower-case hex: mail servers may fold an address's case
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_HEADER_CHARACTERS = 2000
CLOCK_SLACK = timedelta(minutes=2)
# The same correction again: not before this long (an auto-accepting calendar answers within seconds), and not
# more than this many times for one member and session.
RETELL_AFTER = timedelta(minutes=5)
MAX_TELLS = 5  # a DTSTAMP further ahead of ours than this comes from a clock that is wrong
# Where a message says whom it was delivered to: the envelope's recipient first, then the headers people see.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def replies_configured() -> bool:
    """Whether the group reads replies: invites then ask for them (RSVP=TRUE) and tell members so."""
    return bool(current_app.config.get("REPLY_ADDRESS"))


def _key() -> bytes:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"thinknet calendar replies", hashlib.sha256).digest()


def _mac(member_id: int, meeting_id: int) -> str:
    return hmac.new(_key(), f"{member_id}:{meeting_id}".encode(), hashlib.sha256).hexdigest()[:MAC_HEX]


def reply_address(member_id: int, meeting_id: int) -> str | None:
    """The ORGANIZER address of one member's invite to one session: theirs alone when sub-addresses are on."""
    address = current_app.config.get("REPLY_ADDRESS")
    if not address:
        return None
    if not current_app.config["REPLY_SUBADDRESS"]:
        return address
    local, _, domain = address.rpartition("@")
    return f"{local}+{member_id}-{meeting_id}-{_mac(member_id, meeting_id)}@{domain}"


def _token_in(address: str) -> tuple[int, int] | None:
    """The member and session a reply address names, if it is one the app wrote (compared in constant time)."""
    own_local, _, own_domain = current_app.config["REPLY_ADDRESS"].lower().rpartition("@")
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or base != own_local or domain != own_domain:
        return None
    match = re.fullmatch(r"(\d{1,10})-(\d{1,10})-([0-9a-f]{%d})" % MAC_HEX, tag)
    if not match:
        return None
    member_id, meeting_id = int(match[1]), int(match[2])
    if not (0 < member_id <= MAX_ID and 0 < meeting_id <= MAX_ID):
        return None
    return (member_id, meeting_id) if hmac.compare_digest(match[3], _mac(member_id, meeting_id)) else None


@dataclass
class Outcome:
    """What became of one message: applied, unchanged, refused (by the RSVP rules) or kept (set aside)."""

    outcome: str
    detail: str = ""
    member_id: int | None = None
    meeting_id: int | None = None
    partstat: str = ""
    authenticated_by: str = ""
    written_at: datetime | None = None  # the reply's DTSTAMP: when the member pressed it

    @property
    def kept(self) -> bool:
        return self.outcome == "kept"


def _kept(detail: str, **known: object) -> Outcome:
    return Outcome("kept", detail, **known)  # type: ignore[arg-type]


def message_key(raw: bytes, message: Message | None) -> str:
    message_id = str(message.get("Message-ID", "") if message is not None else "").strip()
    if message_id and len(message_id) <= 240 and message_id.isprintable():
        return f"id:{message_id}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _calendar_parts(message: Message) -> list[Calendar]:
    """Every text/calendar or .ics part that parses; Outlook sends the reply as the body, Gmail and Apple as a
    part among others."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        name = (part.get_filename() or "").lower()
        if kind not in ("text/calendar", "application/ics") and not name.endswith(".ics"):
            continue
        payload = part.get_payload(decode=True)
        if not payload:
            continue
        try:
            calendar = Calendar.from_ical(payload)
        except Exception:  # noqa: BLE001 - a part that does not parse is not a reply
            continue
        if calendar.name == "VCALENDAR":
            found.append(calendar)
    return found


@dataclass(frozen=True)
class Reply:
    uid: str
    attendee: str
    partstat: str
    sequence: int | None
    stamp: datetime | None
    organizer: str


def _reply_in(calendars: list[Calendar]) -> Reply | str:
    """The one answer a REPLY carries, or why there is none."""
    replies = [cal for cal in calendars if str(cal.get("METHOD", "")).upper() == "REPLY"]
    if not replies:
        return "not a calendar reply (no METHOD:REPLY)"
    events = [event for cal in replies for event in cal.walk("VEVENT")]
    if len({str(event.get("UID", "")) for event in events}) != 1:
        return "a reply must answer exactly one session"
    event = events[0]
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees is not None else []
    if len(attendees) != 1:
        return "a reply must carry exactly one attendee"
    attendee = attendees[0]
    # Only letters and hyphens: the value is logged, shown to organizers and printed by the pipe.
    partstat = re.sub(r"[^A-Z-]", "", str(attendee.params.get("PARTSTAT", "")).upper())[:20]
    sequence = event.get("SEQUENCE")
    stamp = event.get("DTSTAMP")
    stamp_value = stamp.dt if stamp is not None and isinstance(getattr(stamp, "dt", None), datetime) else None
    if stamp_value is not None and stamp_value.tzinfo is None:
        stamp_value = stamp_value.replace(tzinfo=timezone.utc)
    uid, address, organizer = str(event.get("UID", "")), _mailto(str(attendee)), _mailto(str(event.get("ORGANIZER", "")))
    if not all(text.isprintable() for text in (uid, address, organizer)):  # a NUL or a line break: not ours
        return "the UID or an address holds characters none of ours has"
    if stamp_value is not None and stamp_value > utcnow() + CLOCK_SLACK:
        stamp_value = None  # the device's clock is ahead: its DTSTAMP says nothing about the order of answers
    return Reply(uid=uid, attendee=address, partstat=partstat,
                 sequence=int(sequence) if sequence is not None else None, stamp=stamp_value, organizer=organizer)


def _mailto(value: str) -> str:
    return value[7:].strip() if value.lower().startswith("mailto:") else value.strip()


def addresses_in(message: Message, *headers: str) -> list[str]:
    """The addresses in these headers; a header that is too long or cannot be read (a hostile one) gives none."""
    found = []
    for header in headers:
        for value in message.get_all(header, []):
            value = str(value)
            if len(value) > MAX_HEADER_CHARACTERS:
                continue
            try:
                found += [address.strip() for _, address in getaddresses([value]) if "@" in address]
            except Exception:  # noqa: BLE001 - the email package's parser on hostile input (deep nesting, ...)
                continue
    return found


def _recipients(message: Message, reply: Reply) -> list[str]:
    return [*addresses_in(message, *RECIPIENT_HEADERS), reply.organizer]


def plain_address(text: str) -> str:
    """An address as it may appear in an email to a member: a plain one, or words saying it was not."""
    if re.fullmatch(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}", text):
        return text
    return "an address that is not a plain email address"


def _is_ours(address: str) -> bool:
    """The group's reply address, or a sub-address of it."""
    own_local, _, own_domain = current_app.config["REPLY_ADDRESS"].lower().rpartition("@")
    local, _, domain = address.strip().lower().rpartition("@")
    return domain == own_domain and local.partition("+")[0] == own_local


def _dkim_domains(raw: bytes) -> list[str]:
    """The domains whose DKIM signature over the From and To headers verifies."""
    import dkim

    dnsfunc = current_app.config.get("DKIM_DNSFUNC") or dkim.dnsplug.get_txt
    try:
        checker = dkim.DKIM(raw, minkey=1024, timeout=5)
    except Exception:  # noqa: BLE001 - a message dkimpy cannot read verifies nothing
        return []
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    domains = []
    for index in range(min(count, 5)):
        try:
            if checker.verify(idx=index, dnsfunc=dnsfunc) and {b"from", b"to"} <= set(checker.include_headers):
                domains.append(checker.domain.decode("ascii").lower())
        except Exception:  # noqa: BLE001 - a signature that cannot be checked does not count
            continue
    return domains


def _aligned(domain: str, signer: str) -> bool:
    return domain == signer or domain.endswith("." + signer)


def _authenticate(raw: bytes, message: Message, reply: Reply, meeting: Meeting) -> tuple[Member, str] | str:
    """The member the reply comes from and how that is known, or why it is not."""
    for address in _recipients(message, reply):
        token = _token_in(address) if address else None
        if token is None:
            continue
        member_id, meeting_id = token
        if meeting_id != meeting.id:
            continue
        member = db.session.get(Member, member_id)
        if member is None:
            return "the reply address names no member"
        if member.status != MemberStatus.ACTIVE:
            return f"the member is {member.status.value}"
        if member.email.lower() != reply.attendee.lower():
            _tell(member, meeting, "another_address", reply.partstat, address=plain_address(reply.attendee))
            return f"the attendee is not the member this invite was sent to ({member.id})"
        return member, "address"
    if current_app.config["REPLY_DKIM"]:
        senders = addresses_in(message, "From")
        attendee = reply.attendee.lower()
        # Signed by the attendee's domain, from the attendee, and sent to this group (an answer to another
        # organizer's invite that reuses a UID is not an answer to ours).
        # A signature covers the last of several headers of a name: a message with one To and one From only.
        single = len(message.get_all("To", [])) == 1 and len(message.get_all("From", [])) == 1
        to_us = single and any(_is_ours(address) for address in addresses_in(message, "To")) and (
            not reply.organizer or _is_ours(reply.organizer))
        if len(senders) == 1 and senders[0].lower() == attendee and to_us:
            domain = attendee.rpartition("@")[2]
            if any(_aligned(domain, signer) for signer in _dkim_domains(raw)):
                member = db.session.scalar(select(Member).where(func.lower(Member.email) == attendee))
                if member is None:
                    return "no member has the attendee's address"
                return member, "dkim"
        return "not authenticated: no reply address of this invitee, and no DKIM signature by the attendee's domain"
    return "not authenticated: it does not carry this invitee's own reply address"


def receive(raw: bytes) -> Outcome:
    """Reads one message and applies the answer it carries, or records why not. Raises only on a database
    error (the caller leaves the message to be read again); anything else about the message sets it aside."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return _record(message_key(raw, None), _kept("too large to be a calendar reply"))
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)  # headers as written: parsed here
        key = message_key(raw, message)
    except Exception:  # noqa: BLE001 - a message that cannot be read at all is kept aside
        return _record(message_key(raw, None), _kept("the message cannot be read"))
    seen = db.session.scalar(select(CalendarReply).where(CalendarReply.message_key == key))
    if seen is not None and seen.outcome != "kept":
        return Outcome("unchanged", "this message was read before", seen.member_id, seen.meeting_id, seen.partstat,
                       seen.authenticated_by, seen.written_at)
    if seen is not None:  # set aside before (moved back to the inbox after a fix, say): read afresh
        db.session.delete(seen)
        db.session.flush()
    try:
        return _record(key, _read(raw, message))
    except DataError as error:  # text the database will not store (PostgreSQL and a NUL byte): not ours
        log.warning("calendar reply refused by the database: %s", type(error.orig).__name__)
        db.session.rollback()
        return _record(key, _kept("the database refused the message's content"))
    except SQLAlchemyError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever else a hostile message does, it is set aside
        log.warning("calendar reply could not be read: %s", type(error).__name__)
        db.session.rollback()  # nothing it did stands; the record below is a transaction of its own
        return _record(key, _kept(f"the message cannot be read ({type(error).__name__})"))


def _read(raw: bytes, message: Message) -> Outcome:
    try:
        reply = _reply_in(_calendar_parts(message))
    except Exception as error:  # noqa: BLE001 - a malformed calendar is kept aside, never fatal
        reply = f"the calendar cannot be read ({type(error).__name__})"
    if isinstance(reply, str):
        return _kept(reply)
    meeting = db.session.scalar(select(Meeting).where(Meeting.calendar_uid == reply.uid[:100]))
    if meeting is None:
        return _kept("no session has this UID", partstat=reply.partstat, written_at=reply.stamp)
    known = {"meeting_id": meeting.id, "partstat": reply.partstat, "written_at": reply.stamp}
    if meeting.starts_at <= utcnow():
        return _kept("the session has already started", **known)
    if meeting.is_cancelled:
        return _kept("the session is cancelled", **known)
    who = _authenticate(raw, message, reply, meeting)
    if isinstance(who, str):
        return _kept(who, **known)
    member, method = who
    known |= {"member_id": member.id, "authenticated_by": method}
    answer = ANSWERS.get(reply.partstat)
    if answer is None:
        return _kept(f"{reply.partstat or 'no PARTSTAT'} is not an answer", **known)
    if member.status != MemberStatus.ACTIVE:
        return _kept(f"the member is {member.status.value}", **known)
    return _apply(member, meeting, reply, answer, known)


def _apply(member: Member, meeting: Meeting, reply: Reply, answer: RsvpAnswer, known: dict) -> Outcome:
    from thinknet.calendar.itip import first_invited_at
    from thinknet.meetings.queries import lock_meeting
    from thinknet.meetings.rsvps import RsvpRefused, set_rsvp

    # One reply for a member and session at a time, read in order: the rest waits for this lock.
    lock_meeting(meeting.id)
    if reply.sequence is not None and reply.sequence < meeting.sequence and answer != RsvpAnswer.NO:
        # A yes to the old time is not a yes to the new one: they are asked again, with the session as it is.
        _tell(member, meeting, f"outdated-{meeting.sequence}", reply.partstat, old_version=True)
        return Outcome("unchanged", f"answers version {reply.sequence} of the session; it is now at "
                       f"{meeting.sequence}", **known)
    stamp = reply.stamp
    if stamp is not None and stamp < (first_invited_at(meeting.id, member.id) or stamp):
        stamp = None  # written before the invite reached them: the device's clock is behind
    newer = _newest_answer_time(member, meeting)
    if newer is not None and stamp is not None and stamp < newer:
        standing = db.session.execute(select(Rsvp.answer, Rsvp.waitlisted).where(
            Rsvp.meeting_id == meeting.id, Rsvp.member_id == member.id)).first()
        truth = None if standing is None else "TENTATIVE" if standing.waitlisted else PARTSTATS[standing.answer]
        if truth != reply.partstat:  # their calendar shows what they pressed: show it what stands
            _tell(member, meeting, "answered_since", reply.partstat)
        return Outcome("unchanged", "the member has answered since this reply was written", **known)
    try:
        change = set_rsvp(member, meeting.id, answer)
    except RsvpRefused as refused:
        _tell(member, meeting, "refused", reply.partstat, refusal=str(refused))
        return Outcome("refused", str(refused)[:300], **known)
    if change.rsvp.waitlisted:
        _tell(member, meeting, "waitlisted", reply.partstat)
        return Outcome("applied", "waitlisted", **known)
    return Outcome("applied", "", **known)


def _newest_answer_time(member: Member, meeting: Meeting) -> datetime | None:
    """When the member's answer as it stands was written: by their calendar (the DTSTAMP of the reply applied
    last), or on the site (the answer's own time, if later than that reply was read)."""
    latest = db.session.execute(
        select(CalendarReply.written_at, CalendarReply.received_at)
        .where(CalendarReply.member_id == member.id, CalendarReply.meeting_id == meeting.id,
               CalendarReply.outcome == "applied")
        .order_by(CalendarReply.received_at.desc(), CalendarReply.id.desc()).limit(1)).first()
    # A standing "I usually come" yes is no one's answer to this session: any reply overrides it.
    answered_at = db.session.scalar(select(Rsvp.answered_at).where(Rsvp.meeting_id == meeting.id,
                                                                   Rsvp.member_id == member.id,
                                                                   Rsvp.from_standing.is_(False)))
    if latest is None:
        return answered_at
    written_at, read_at = latest
    if answered_at is not None and answered_at > read_at:
        return answered_at  # answered on the site since the last reply was read
    return written_at  # None when that reply's clock could not be trusted: the order they came in decides


def _tell(member: Member, meeting: Meeting, what: str, partstat: str, **about: object) -> None:
    """When what they pressed is not what stands (the seats were taken, RSVPs had closed, the session moved, they
    answered since, it came from another address): an email saying so, and their invite again showing the
    truth. Told again at once when their answer or the session has changed since; otherwise (they pressed the
    same again) after RETELL_AFTER, at most MAX_TELLS times: a calendar that answers every update by itself
    within seconds starts no loop of mail, and a person who presses again later is answered again."""
    if member.status != MemberStatus.ACTIVE:
        return  # a suspended or departed member's calendar is not put back in the picture
    from thinknet.calendar import itip
    from thinknet.meetings.rsvps import turnout

    lock_name(f"calendar-reply-told:{member.id}:{meeting.id}")
    answer_time = db.session.scalar(select(Rsvp.answered_at).where(Rsvp.meeting_id == meeting.id,
                                                                   Rsvp.member_id == member.id))
    notice = db.session.scalar(select(CalendarReplyNotice).where(
        CalendarReplyNotice.member_id == member.id, CalendarReplyNotice.meeting_id == meeting.id,
        CalendarReplyNotice.what == what[:40]))
    now = utcnow()
    if notice is None:
        notice = CalendarReplyNotice(member_id=member.id, meeting_id=meeting.id, what=what[:40], told_count=0)
        db.session.add(notice)
    elif (notice.answer_time, notice.sequence) == (answer_time, meeting.sequence) and (
            now - notice.told_at < RETELL_AFTER or notice.told_count >= MAX_TELLS):
        return
    notice.answer_time, notice.sequence, notice.told_at = answer_time, meeting.sequence, now
    notice.told_count += 1
    seen = turnout(meeting)
    standing = seen.answer_of(member)
    updates = itip.queue_answer_updates(meeting, [member])
    mail.queue(member.email, f"Your answer for breakfast on {_when(meeting)}", "calendar_reply_outcome",
               member=member, meeting=meeting, pressed=ANSWERS.get(partstat), what=what,
               answer=standing.answer if standing else None, position=seen.waitlist_position(member),
               link=itip.meeting_url(meeting), invite_follows=bool(updates), **about)


def _when(meeting: Meeting) -> str:
    from thinknet.templating import format_when

    return format_when(meeting.starts_at)


KEPT_DAYS = 90


def prune(now: datetime | None = None) -> int:
    """Drops the record of replies read more than KEPT_DAYS ago, and notices about sessions long over (a replay
    of a reply that old answers a session that has started: it is set aside anyway)."""
    from sqlalchemy import delete

    horizon = (now or utcnow()) - timedelta(days=KEPT_DAYS)
    gone = db.session.execute(delete(CalendarReply).where(CalendarReply.received_at < horizon),
                              execution_options={"synchronize_session": False}).rowcount
    db.session.execute(delete(CalendarReplyNotice).where(CalendarReplyNotice.meeting_id.in_(
        select(Meeting.id).where(Meeting.ends_at < horizon))), execution_options={"synchronize_session": False})
    return gone


@dataclass(frozen=True)
class ReplyLine:
    received_at: datetime
    member_name: str | None
    meeting_starts_at: datetime | None
    partstat: str
    outcome: str
    detail: str


def recent_replies(limit: int = 20) -> list[ReplyLine]:
    """The latest calendar replies read, newest first, for the organizers' mail page: who answered what, and
    what became of it (a forgery or a stranger's message shows as kept aside, with why)."""
    rows = db.session.execute(
        select(CalendarReply.received_at, Member.name, Meeting.starts_at, CalendarReply.partstat,
               CalendarReply.outcome, CalendarReply.detail)
        .outerjoin(Member, Member.id == CalendarReply.member_id)
        .outerjoin(Meeting, Meeting.id == CalendarReply.meeting_id)
        .order_by(CalendarReply.received_at.desc(), CalendarReply.id.desc()).limit(limit))
    return [ReplyLine(*row) for row in rows]


def _record(key: str, outcome: Outcome) -> Outcome:
    db.session.add(CalendarReply(message_key=key, member_id=outcome.member_id, meeting_id=outcome.meeting_id,
                                 partstat=outcome.partstat[:20], outcome=outcome.outcome,
                                 detail=outcome.detail[:300], authenticated_by=outcome.authenticated_by,
                                 written_at=outcome.written_at))
    db.session.flush()
    (log.warning if outcome.kept else log.info)(
        "calendar reply %s: %s%s (member %s, session %s)", outcome.outcome, outcome.partstat or "-",
        f": {outcome.detail}" if outcome.detail else "", outcome.member_id or "-", outcome.meeting_id or "-")
    return outcome

