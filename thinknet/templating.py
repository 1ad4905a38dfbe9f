"""What every template can use: the group's name and timezone, and dates in words people use."""
from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g
from markupsafe import Markup, escape

from thinknet.models import Settings


def group_settings() -> Settings:
    """The settings row, read once per request."""
    try:
        return g.group_settings
    except AttributeError:
        g.group_settings = Settings.get()
        return g.group_settings


def local_time(moment: datetime) -> datetime:
    """The moment in the group's timezone."""
    return moment.astimezone(ZoneInfo(group_settings().timezone))  # ZoneInfo keeps each zone it made


# English names, whatever the server's locale (strftime's %a and %b follow it, and cost more than the rest).
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clock(value: time) -> str:
    """'6:30 AM': a time of day as every page writes it."""
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'AM' if value.hour < 12 else 'PM'}"


def format_when(moment: datetime) -> str:
    """'Wed 3 Dec, 6:30 AM' in the group's timezone."""
    local = local_time(moment)
    return f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month]}, {clock(local)}"


def format_date(moment: datetime) -> str:
    """'3 Dec 2025' in the group's timezone."""
    local = local_time(moment)
    return f"{local.day} {MONTHS[local.month]} {local.year}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 22nd."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def relative_day(moment: datetime) -> str:
    """'today', 'tomorrow' or 'yesterday' in the group's timezone; '' further off."""
    days = (local_time(moment).date() - local_time(datetime.now(timezone.utc)).date()).days
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, "")


def when_with_day(moment: datetime) -> Markup:
    """'Wed 3 Dec (tomorrow), 6:30 AM': the word for the day stands with the date it names."""
    local = local_time(moment)
    day = relative_day(moment)
    near = Markup(f' <span class="relative">({day})</span>') if day else ""
    return Markup(f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month]}{near}, {clock(local)}")


def paragraphs(text: str) -> Markup:
    """Plain text as escaped paragraphs, one per blank-line-separated block, lines kept."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return Markup("".join(f"<p>{Markup('<br>').join(escape(line) for line in block.splitlines())}</p>" for block in blocks))


LIST_ITEM = ("- ", "* ", "• ")


def formatted_text(text: str) -> Markup:
    """Plain text as an organizer writes a charter: blank lines part paragraphs, and lines that start with
    "- " (or "* ", "• ") are the points of a list. Everything is escaped."""
    html: list[str] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        prose: list[str] = []
        items: list[str] = []

        def close_prose() -> None:
            if prose:
                html.append(f"<p>{Markup('<br>').join(escape(line) for line in prose)}</p>")
                prose.clear()

        def close_items() -> None:
            if items:
                html.append("<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>")
                items.clear()

        for line in lines:
            if line.startswith(LIST_ITEM):
                close_prose()
                items.append(line[2:].strip())
            else:
                close_items()
                prose.append(line)
        close_prose()
        close_items()
    return Markup("".join(html))


def initials(name: str) -> str:
    """'AL' for Ada Lovelace, 'P' for Priya: a face for a name where there is no picture."""
    words = [word for word in name.split() if word[:1].isalpha()]
    if not words:
        return (name.strip()[:1] or "?").upper()
    return (words[0][0] + (words[-1][0] if len(words) > 1 else "")).upper()


def init_app(app: Flask) -> None:
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["ordinal"] = ordinal
    app.jinja_env.filters["relative_day"] = relative_day
    app.jinja_env.filters["clock"] = clock
    app.jinja_env.filters["when_with_day"] = when_with_day
    app.jinja_env.filters["initials"] = initials
    app.jinja_env.filters["formatted"] = formatted_text
    from thinknet.calendar.web_links import map_link

    app.jinja_env.globals["map_link"] = map_link

    @app.context_processor
    def group() -> dict[str, Any]:
        return {"group_settings": group_settings}
