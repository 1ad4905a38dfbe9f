"""iCalendar building with the icalendar package: one function per shape (event, invite, download, feed)."""
from __future__ import annotations

import calendar as month_calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vText

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


# Time zones


def _transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The UTC instants in the year at which the zone's offset changes (found hourly, then to the minute)."""
    found = []
    moment = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    step = timedelta(hours=1)
    while moment < end:
        following = moment + step
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = moment, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        moment = following
    return found


WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
RULES_SINCE = 1970


def _nth_weekday(local: datetime) -> int:
    """Which occurrence of its weekday in the month this date is: 1 to 4, or -1 for the last."""
    days_in_month = month_calendar.monthrange(local.year, local.month)[1]
    return -1 if local.day + 7 > days_in_month else (local.day - 1) // 7 + 1


def _same_rule_in(year: int, local: datetime) -> datetime:
    """The date the yearly rule of ``local`` falls on in another year, at the same wall-clock time."""
    nth, weekday = _nth_weekday(local), local.weekday()
    days = [day for week in month_calendar.monthcalendar(year, local.month) for day in
            [week[weekday]] if day]
    return local.replace(year=year, day=days[nth - 1] if nth > 0 else days[-1])


@lru_cache(maxsize=16)
def vtimezone(zone_name: str, year: int) -> Timezone:
    """A VTIMEZONE Outlook accepts: one STANDARD and one DAYLIGHT observance with yearly rules (or one
    STANDARD for a zone without daylight saving). Built once per zone and year in each process."""
    zone = ZoneInfo(zone_name)
    component = Timezone()
    component.add("tzid", zone_name)
    changes = _transitions(zone, year)
    if len(changes) != 2:
        offset = datetime(year, 1, 1, tzinfo=zone).utcoffset()
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(RULES_SINCE, 1, 1))
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        standard.add("tzname", datetime(year, 1, 1, tzinfo=zone).tzname())
        component.add_component(standard)
        return component
    for change in changes:
        before = (change - timedelta(minutes=1)).astimezone(zone)
        after = change.astimezone(zone)
        daylight = after.dst() != timedelta(0)
        observance = TimezoneDaylight() if daylight else TimezoneStandard()
        # DTSTART is the local wall-clock time of the change, as the clock read just before it, in the first
        # year the rule covers, so every meeting (past ones included) falls under an observance.
        wall = change.replace(tzinfo=None) + before.utcoffset()
        observance.add("dtstart", _same_rule_in(RULES_SINCE, wall))
        observance.add("rrule", {"FREQ": "YEARLY", "BYMONTH": wall.month,
                                 "BYDAY": f"{_nth_weekday(wall)}{WEEKDAYS[wall.weekday()]}"})
        observance.add("tzoffsetfrom", before.utcoffset())
        observance.add("tzoffsetto", after.utcoffset())
        observance.add("tzname", after.tzname())
        component.add_component(observance)
    return component


# Events


def event(meeting: Meeting, group: GroupIdentity, url: str, *, stamp: datetime,
          topics: Sequence[str] = (), attendee: Attendee | None = None) -> Event:
    """One meeting as its own VEVENT (never a series): stable UID, stored SEQUENCE, times in the group's zone."""
    zone = ZoneInfo(group.timezone)
    entry = Event()
    entry.add("uid", meeting.calendar_uid)
    entry.add("sequence", meeting.sequence)
    entry.add("dtstamp", stamp.astimezone(timezone.utc))
    entry.add("dtstart", meeting.starts_at.astimezone(zone))
    entry.add("dtend", meeting.ends_at.astimezone(zone))
    entry.add("summary", f"{group.name} breakfast")
    entry.add("location", ", ".join(part for part in (meeting.venue_name, meeting.venue_address) if part))
    lines = []
    if topics:
        lines += ["On the agenda:", *(f"- {title}" for title in topics), ""]
    lines.append(f"Details and RSVP: {url}")
    entry.add("description", "\n".join(lines))
    entry.add("url", url)
    entry.add("status", "CANCELLED" if meeting.is_cancelled else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{group.sender_email}")
    organizer.params["CN"] = vText(group.organizer_name)
    entry.add("organizer", organizer)
    if attendee is not None:
        person = vCalAddress(f"mailto:{attendee.email}")
        person.params["CN"] = vText(attendee.name)
        person.params["ROLE"] = vText("REQ-PARTICIPANT")
        person.params["PARTSTAT"] = vText(PARTSTAT[attendee.answer])
        person.params["RSVP"] = vText("TRUE")
        entry.add("attendee", person)
    return entry


def _calendar(group: GroupIdentity, method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    # The zone's rules as they stand this year, carried back to 1970 and forward by yearly RRULEs.
    cal.add_component(vtimezone(group.timezone, datetime.now(timezone.utc).year))
    return cal


def invite(meeting: Meeting, group: GroupIdentity, url: str, attendee: Attendee, topics: Sequence[str],
           now: datetime) -> bytes:
    """An iTIP REQUEST for a scheduled meeting, or a CANCEL (same UID, raised SEQUENCE) for a cancelled one."""
    method = "CANCEL" if meeting.is_cancelled else "REQUEST"
    cal = _calendar(group, method)
    cal.add_component(event(meeting, group, url, stamp=now, topics=topics, attendee=attendee))
    return cal.to_ical()


def download(meeting: Meeting, group: GroupIdentity, url: str, topics: Sequence[str]) -> bytes:
    """One meeting to save into a calendar: no METHOD, no attendees."""
    cal = _calendar(group)
    cal.add_component(event(meeting, group, url, stamp=meeting.updated_at, topics=topics))
    return cal.to_ical()


def feed(meetings: Sequence[Meeting], group: GroupIdentity, urls: dict[int, str]) -> bytes:
    """A member's subscription: the same bytes for as long as nothing changed (DTSTAMP is each meeting's last
    change), no attendees, no agenda, nothing private."""
    cal = _calendar(group)
    cal.add("name", group.name)
    cal.add("x-wr-calname", group.name)
    cal.add("x-wr-timezone", group.timezone)
    cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", FEED_REFRESH)
    for meeting in meetings:
        cal.add_component(event(meeting, group, urls[meeting.id], stamp=meeting.updated_at))
    return cal.to_ical()
