"""iCalendar building with the icalendar package: one function per shape (event, invite, download, feed)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vText,
)
from icalendar.parser import Contentline

from thinknet.models import Meeting, RsvpAnswer

PRODID = "-//thinknet//breakfast sessions//EN"
FEED_REFRESH = timedelta(hours=1)

PARTSTAT = {RsvpAnswer.YES: "ACCEPTED", RsvpAnswer.MAYBE: "TENTATIVE", RsvpAnswer.NO: "DECLINED", None: "NEEDS-ACTION"}


@dataclass(frozen=True)
class GroupIdentity:
    """Who the calendar entries come from."""

    name: str
    timezone: str
    sender_email: str
    organizer_name: str


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    answer: RsvpAnswer | None
    waitlist_position: int | None = None  # a yes waiting for a seat
    reply_to: str | None = None  # where their calendar's answer goes, when the group reads replies


# Time zones


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants between ``start`` and ``end`` at which the zone's offset changes, as the zone database
    says (looked for day by day, then found to the second)."""
    found = []
    moment, step = start, timedelta(days=1)
    while moment < end:
        following = min(moment + step, end)
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = moment, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment = following
    return found


@lru_cache(maxsize=32)
def vtimezone(zone_name: str, first_year: int, last_year: int) -> Timezone:
    """The zone's real offsets from 1 January of ``first_year`` to the end of ``last_year``: one observance per
    kind of change, each change an RDATE, read from the zone database's own transitions rather than one year's
    rule carried across, so zones whose rules move (Jerusalem, Santiago, Cairo, Gaza, Casablanca) are right on
    every day. The observance with the higher offset is DAYLIGHT, as calendars show summer time, whatever sign
    the database gives its saving (Dublin's is negative). Built once per zone and years in each process."""
    zone = ZoneInfo(zone_name)
    start = datetime(first_year, 1, 1, tzinfo=timezone.utc)
    changes = transitions(zone, start, datetime(last_year + 1, 1, 1, tzinfo=timezone.utc))
    # (offset before, offset after, name after) -> the local wall-clock times, before the change, it happens at
    kinds: dict[tuple[timedelta, timedelta, str], list[datetime]] = {}
    first = start.astimezone(zone)
    kinds[(first.utcoffset(), first.utcoffset(), first.tzname())] = [first.replace(tzinfo=None)]
    for change in changes:
        before, after = (change - timedelta(seconds=1)).astimezone(zone), change.astimezone(zone)
        wall = change.replace(tzinfo=None) + before.utcoffset()
        kinds.setdefault((before.utcoffset(), after.utcoffset(), after.tzname()), []).append(wall)
    highest = max(offset_to for _, offset_to, _ in kinds)
    lowest = min(offset_to for _, offset_to, _ in kinds)
    component = Timezone()
    component.add("tzid", zone_name)
    for (offset_from, offset_to, name), walls in kinds.items():
        observance = TimezoneDaylight() if highest != lowest and offset_to == highest else TimezoneStandard()
        observance.add("dtstart", walls[0])
        for wall in walls[1:]:  # one RDATE each: some parsers read only the first date of a list
            observance.add("rdate", wall)
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        observance.add("tzname", name)
        component.add_component(observance)
    return component


# Events


def plain_name(name: str) -> str:
    """A person's name as a CN parameter: in double quotes, where every character but the double quote may
    stand as it is; a double quote becomes an apostrophe, so no RFC 6868 escape (which Outlook shows as
    written) is needed."""
    return name.replace('"', "'")


# RFC 6868 needs "^" escaped only before n, ' or ^: icalendar escapes every one, which Outlook shows as "^^".
_NEEDLESS_CARET = re.compile(r"\^\^(?![\^n'])")


def _to_ical(cal: Calendar) -> bytes:
    lines = re.sub(r"\r\n[ \t]", "", cal.to_ical().decode()).split("\r\n")
    for number, line in enumerate(lines):
        if line.startswith(("ORGANIZER", "ATTENDEE")) and "^^" in line:
            parameters, colon, address = line.partition(":mailto:")
            lines[number] = _NEEDLESS_CARET.sub("^", parameters) + colon + address
    return b"\r\n".join(Contentline(line).to_ical() for line in lines)


def event(meeting: Meeting, group: GroupIdentity, url: str, *, stamp: datetime,
          topics: Sequence[str] = (), attendee: Attendee | None = None) -> Event:
    """One meeting as its own VEVENT (never a series): stable UID, stored SEQUENCE, times in the group's zone.
    With an attendee, their answer as it stands: a yes waiting for a seat is TENTATIVE, with their place in
    line, and the organizer is the address their own replies go to."""
    zone = ZoneInfo(group.timezone)
    entry = Event()
    entry.add("uid", meeting.calendar_uid)
    entry.add("sequence", meeting.sequence)
    entry.add("dtstamp", stamp.astimezone(timezone.utc))
    entry.add("dtstart", meeting.starts_at.astimezone(zone))
    entry.add("dtend", meeting.ends_at.astimezone(zone))
    entry.add("summary", f"{group.name} breakfast" if group.name else "Breakfast")
    entry.add("location", ", ".join(part for part in (meeting.venue_name, meeting.venue_address) if part))
    lines = []
    if attendee is not None and attendee.waitlist_position is not None:
        lines += [f"You're number {attendee.waitlist_position} on the waitlist: this becomes a yes when a seat "
                  "opens, and you will hear from us.", ""]
    if topics:
        lines += ["On the agenda:", *(f"- {title}" for title in topics), ""]
    lines.append(f"Details and RSVP: {url}")
    entry.add("description", "\n".join(lines))
    entry.add("url", url)
    entry.add("status", "CANCELLED" if meeting.is_cancelled else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{attendee.reply_to if attendee and attendee.reply_to else group.sender_email}")
    organizer.params["CN"] = vText(plain_name(group.organizer_name))
    entry.add("organizer", organizer)
    if attendee is not None:
        person = vCalAddress(f"mailto:{attendee.email}")
        person.params["CN"] = vText(plain_name(attendee.name))
        person.params["ROLE"] = vText("REQ-PARTICIPANT")
        waiting = attendee.waitlist_position is not None
        person.params["PARTSTAT"] = vText("TENTATIVE" if waiting else PARTSTAT[attendee.answer])
        person.params["RSVP"] = vText("TRUE" if attendee.reply_to else "FALSE")
        entry.add("attendee", person)
    return entry


def _calendar(group: GroupIdentity, meetings: Sequence[Meeting], method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    zone = ZoneInfo(group.timezone)
    years = [moment.astimezone(zone).year for meeting in meetings for moment in (meeting.starts_at, meeting.ends_at)]
    if not years:
        years = [datetime.now(timezone.utc).year]
    cal.add_component(vtimezone(group.timezone, min(years), max(years)))
    return cal


def invite(meeting: Meeting, group: GroupIdentity, url: str, attendee: Attendee, topics: Sequence[str],
           now: datetime) -> bytes:
    """An iTIP REQUEST for a scheduled meeting, or a CANCEL (same UID, raised SEQUENCE) for a cancelled one."""
    method = "CANCEL" if meeting.is_cancelled else "REQUEST"
    cal = _calendar(group, [meeting], method)
    cal.add_component(event(meeting, group, url, stamp=now, topics=topics, attendee=attendee))
    return _to_ical(cal)


def download(meeting: Meeting, group: GroupIdentity, url: str, topics: Sequence[str]) -> bytes:
    """One meeting to save into a calendar: no METHOD, no attendees."""
    cal = _calendar(group, [meeting])
    cal.add_component(event(meeting, group, url, stamp=meeting.updated_at, topics=topics))
    return _to_ical(cal)


def feed(meetings: Sequence[Meeting], group: GroupIdentity, urls: dict[int, str]) -> bytes:
    """A member's subscription: the same bytes for as long as nothing changed (DTSTAMP is each meeting's last
    change), no attendees, no agenda, nothing private. Its events carry the invites' UIDs."""
    cal = _calendar(group, meetings)
    cal.add("name", vText(group.name))
    cal.add("x-wr-calname", vText(group.name))
    cal.add("x-wr-timezone", group.timezone)
    cal.add("refresh-interval", vDuration(FEED_REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    for meeting in meetings:
        cal.add_component(event(meeting, group, urls[meeting.id], stamp=meeting.updated_at))
    return _to_ical(cal)
