"""Links that put a session into a calendar on the web (Google Calendar, Outlook), and its address on a map, for
the session page's "Add to calendar" menu. Apple Calendar and the rest take the .ics download."""
from __future__ import annotations

import re

from datetime import timezone
from urllib.parse import urlencode

from thinknet.models import Meeting


def _place(meeting: Meeting) -> str:
    return ", ".join(part for part in (meeting.venue_name, meeting.venue_address) if part)


def add_to_calendar(meeting: Meeting, group_name: str, url: str) -> dict[str, str]:
    """Google's "render?action=TEMPLATE" and Outlook's "deeplink/compose", as each documents them: the session's
    times in UTC, its place, and the link back to its page."""
    start, end = (moment.astimezone(timezone.utc) for moment in (meeting.starts_at, meeting.ends_at))
    title, details = f"{group_name} breakfast" if group_name else "Breakfast", f"Details and RSVP: {url}"
    google = urlencode({"action": "TEMPLATE", "text": title,
                        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}", "details": details,
                        "location": _place(meeting)})
    outlook = urlencode({"path": "/calendar/action/compose", "rru": "addevent", "subject": title,
                         "startdt": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "enddt": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "body": details, "location": _place(meeting)})
    return {"google": f"https://calendar.google.com/calendar/render?{google}",
            "outlook": f"https://outlook.live.com/calendar/0/deeplink/compose?{outlook}"}


MAP_URL = re.compile(r"https://[^\s\"'<>]+")


def map_link(meeting: Meeting) -> str:
    """The venue on a map: the organizers' own map link when the address is one (https only), else OpenStreetMap
    (no account, no tracking script) searched by the venue's name and address."""
    if MAP_URL.fullmatch(meeting.venue_address.strip()):
        return meeting.venue_address.strip()
    return "https://www.openstreetmap.org/search?" + urlencode({"query": _place(meeting)})
