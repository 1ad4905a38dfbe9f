"""Checks every .ics the app makes: parses in icalendar and vobject (validating), and holds the properties
RFC 5546 requires for its METHOD (RFC 5545's for a plain calendar)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import icalendar
import vobject

REQUIRED = {
    # RFC 5546 3.2.2 (REQUEST) and 3.2.5 (CANCEL); RFC 5545 3.6.1 for a calendar with no METHOD.
    "REQUEST": {"calendar": {"METHOD", "PRODID", "VERSION"},
                "event": {"ATTENDEE", "DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID"}},
    "CANCEL": {"calendar": {"METHOD", "PRODID", "VERSION"},
               "event": {"ATTENDEE", "DTSTAMP", "ORGANIZER", "SEQUENCE", "UID"}},
    None: {"calendar": {"PRODID", "VERSION"}, "event": {"DTSTAMP", "UID", "DTSTART"}},
}
AT_MOST_ONCE = {"DTSTAMP", "UID", "DTSTART", "DTEND", "SEQUENCE", "SUMMARY", "ORGANIZER", "STATUS", "LOCATION",
                "DESCRIPTION", "URL"}


def check_ics(data: bytes, method: str | None) -> icalendar.Calendar:
    text = data.decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), "lines end in CRLF"
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n")), "lines are folded at 75 octets"
    parsed = icalendar.Calendar.from_ical(data)
    independent = vobject.readOne(text, validate=True)
    assert independent.name == "VCALENDAR"
    assert parsed.get("METHOD") == method
    required = REQUIRED[method]
    assert required["calendar"] <= set(parsed.keys()), required["calendar"] - set(parsed.keys())
    events = parsed.walk("VEVENT")
    assert events, "at least one event"
    for event in events:
        assert required["event"] <= set(event.keys()), required["event"] - set(event.keys())
        for name in AT_MOST_ONCE:
            assert not isinstance(event.get(name), list), f"{name} appears once"
        assert event.decoded("DTSTAMP").tzinfo is not None and event["DTSTAMP"].to_ical().endswith(b"Z")
        assert "RRULE" not in event, "every week stands alone"
        if method == "CANCEL":
            assert event["STATUS"] == "CANCELLED"
        if method is None:
            assert "ATTENDEE" not in event
    for component in parsed.walk("VTIMEZONE"):
        # Summer time is DAYLIGHT: every DAYLIGHT offset is above every STANDARD one.
        offsets = {kind: [sub["TZOFFSETTO"].td for sub in component.subcomponents if sub.name == kind]
                   for kind in ("STANDARD", "DAYLIGHT")}
        assert offsets["STANDARD"] and (not offsets["DAYLIGHT"] or max(offsets["STANDARD"]) < min(offsets["DAYLIGHT"]))
        # Each time given in this zone means, by the VTIMEZONE alone, what it means in the zone database.
        ours, zone = component.to_tz(lookup_tzid=False), ZoneInfo(str(component["TZID"]))
        for event in events:
            for name in ("DTSTART", "DTEND"):
                if name in event and event[name].params.get("TZID") == component["TZID"]:
                    wall = event[name].dt.replace(tzinfo=None)
                    assert wall.replace(tzinfo=ours).utcoffset() == wall.replace(tzinfo=zone).utcoffset(), wall
    return parsed
