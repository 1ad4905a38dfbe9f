"""Browser fixtures and helpers: the app served by gunicorn over a fresh SQLite file, Debian's Chromium through
Playwright, axe-core from the npm registry, and a watch on console errors and failed requests."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import PASSWORD, app_config, migrate_to_head
from servers import GunicornServer
from thinknet import create_app
from thinknet.auth.services import hash_password
from thinknet.extensions import db
from thinknet.members.sectors import SECTORS
from thinknet.models import (
    SETUP_STEPS,
    Attendance,
    Meeting,
    Member,
    Role,
    Rsvp,
    RsvpAnswer,
    Settings,
    Topic,
    TopicState,
)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@dataclass
class Live:
    url: str
    instance: Path
    app: Any
    people: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def outbox_text(self) -> str:
        folder = self.instance / "sent-mail"
        return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("*"))) if folder.exists() else ""


def seed(app) -> tuple[dict[str, int], dict[str, int]]:
    """A small group: organizer Olga (founder), Ada (came twice, may sponsor), Ben (Ada's), a topic of Ben's,
    the next breakfast in three days, and one two days ago that both said yes to."""
    with app.app_context():
        settings = Settings.get()
        settings.group_name, settings.timezone = "Dawn Thinkers", "Europe/London"
        for step in SETUP_STEPS:  # a group that has been meeting for a while
            settings.mark_set_up(step)
        settings.setup_opened_at = datetime.now(ZoneInfo("UTC")) - timedelta(days=60)
        password = hash_password(PASSWORD)
        olga = Member(email="olga@example.org", name="Olga Organizer", headline="Managing director",
                      sector="Transport and logistics", password_hash=password, role=Role.ORGANIZER)
        db.session.add(olga)
        db.session.flush()
        ada = Member(email="ada@example.org", name="Ada Lovelace", headline="Analyst", sector="Science and research",
                     password_hash=password, sponsor_id=olga.id)
        db.session.add(ada)
        db.session.flush()
        ben = Member(email="ben@example.org", name="Ben Baker", headline="Owner", sector="Agriculture and food",
                     password_hash=password, sponsor_id=ada.id)
        db.session.add(ben)
        db.session.flush()
        today = datetime.now(ZoneInfo("Europe/London")).date()
        meetings = {}
        for name, days in (("older", -16), ("old", -9), ("past", -2), ("next", 3)):
            # Breakfast at 6:30 London time, as the group would have it.
            start = datetime.combine(today + timedelta(days=days), time(6, 30), tzinfo=ZoneInfo("Europe/London"))
            meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café Rosa",
                              venue_address="12 Market Street")
            db.session.add(meeting)
            db.session.flush()
            meetings[name] = meeting.id
        for name in ("older", "old"):
            db.session.add(Attendance(meeting_id=meetings[name], member_id=ada.id))
        for member in (ada, ben):
            db.session.add(Rsvp(meeting_id=meetings["past"], member_id=member.id, answer=RsvpAnswer.YES))
        topic = Topic(title="How do I price a service business?", author_id=ben.id, state=TopicState.ON_AGENDA,
                      meeting_id=meetings["next"])
        db.session.add(topic)
        db.session.commit()
        return {"olga": olga.id, "ada": ada.id, "ben": ben.id}, {**meetings, "ben_topic": topic.id}


def grow_to_a_full_group(app, people: dict[str, int], ids: dict[str, int], size: int = 150) -> None:
    """The group at its cap: members sponsored down five generations, each sector of the list, 76 of them
    coming to the next breakfast (80 seats) and 11 maybe."""
    with app.app_context():
        password = db.session.get(Member, people["olga"]).password_hash
        level, count, joined = [people["olga"]], len(people), datetime.now(ZoneInfo("UTC")) - timedelta(days=900)
        names = ("Amara", "Bruno", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jakub", "Kofi", "Lena")
        while count < size:
            following = []
            for sponsor_id in level:
                for _ in range(3):
                    if count >= size:
                        break
                    member = Member(email=f"m{count}@example.org", password_hash=password, sponsor_id=sponsor_id,
                                    name=f"{names[count % len(names)]} Member{count}", headline="Director",
                                    sector=SECTORS[(count * 7) % len(SECTORS) if count % 3 else count % 4],
                                    joined_at=joined + timedelta(days=count * 5))
                    db.session.add(member)
                    db.session.flush()
                    following.append(member.id)
                    count += 1
            level = following
        meeting = db.session.get(Meeting, ids["next"])
        meeting.seat_limit = 80
        topic = Topic(title="What would you do with a free Friday?", author_id=people["olga"],
                      state=TopicState.ON_AGENDA, meeting_id=meeting.id)
        db.session.add(topic)
        db.session.flush()
        ids["olga_topic"] = topic.id
        others = db.session.scalars(db.select(Member.id).where(Member.email.like("m%@example.org"))
                                    .order_by(Member.id)).all()
        for n, member_id in enumerate(others[:87]):
            db.session.add(Rsvp(meeting_id=meeting.id, member_id=member_id,
                                answer=RsvpAnswer.YES if n < 76 else RsvpAnswer.MAYBE))
        db.session.commit()


def serve(tmp_path, grow: bool = False, fresh: bool = False) -> Iterator[Live]:
    tmp_path = tmp_path / ("full" if grow else "new" if fresh else "small")
    tmp_path.mkdir()
    database = f"sqlite:///{tmp_path / 'browser.sqlite'}"
    migrate_to_head(database, tmp_path / "migrate")
    app = create_app(app_config(tmp_path / "seed", database))
    people, ids = ({}, {}) if fresh else seed(app)
    if grow:
        grow_to_a_full_group(app, people, ids)
    server = GunicornServer(database, tmp_path / "live", workers=2)
    server.start()
    try:
        yield Live(server.url, server.instance, app, people, ids)
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    yield from serve(tmp_path)


@pytest.fixture
def full_group(tmp_path) -> Iterator[Live]:
    """The small group grown to 150 members."""
    yield from serve(tmp_path, grow=True)


@pytest.fixture
def new_group(tmp_path) -> Iterator[Live]:
    """A database just migrated: no name, no members, nothing set up."""
    yield from serve(tmp_path, fresh=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (package chromium).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield chromium
        chromium.close()


class Watch:
    """Collects what must never happen on a page: console errors, failed requests, server errors."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    def _console(self, message) -> None:
        # A refused form answers 422 on purpose (htmx swaps it in; HTTP tools see a refusal), and Chromium
        # reports every 4xx page as a console error: that one message is expected. Nothing else is.
        if message.type != "error" or "the server responded with a status of 422" in message.text:
            return
        self.problems.append(f"console: {message.text}")

    def _failed(self, request) -> None:
        # Aborted means the browser itself dropped the request (the next navigation began, a download took
        # over): a cancellation, not a failure. Anything else (refused, reset, timed out) counts.
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.url} {request.failure}")


@pytest.fixture
def open_page(browser, request):
    """Opens pages in fresh browser contexts; each is watched, and checked clean at the end. They open on the
    test's server: the small group (live) unless another is named."""
    watches: list[Watch] = []
    contexts = []

    def opener(viewport: str = "desktop", javascript: bool = True, scheme: str = "light",
               timezone: str | None = None, server: Live | None = None) -> Page:
        context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=(server or request.getfixturevalue("live")).url,
                                      java_script_enabled=javascript, accept_downloads=True, color_scheme=scheme,
                                      timezone_id=timezone)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watches.append(Watch(page))
        return page

    # A test that makes a request fail on purpose says which failures it expects (regular expressions).
    opener.expected = []  # type: ignore[attr-defined]
    yield opener
    for context in contexts:
        context.close()
    problems = [p for w in watches for p in w.problems
                if not any(re.search(pattern, p) for pattern in opener.expected)]  # type: ignore[attr-defined]
    assert problems == [], problems


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button.primary")
    page.wait_for_url(re.compile(r"/$"))


def axe_violations(page: Page) -> list[dict]:
    """Serious and critical problems axe-core finds on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
            id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


TARGETS = """() => {
  const small = [], outside = [];
  const width = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll(
      'button, input:not([type=hidden]), select, textarea, summary, nav a, a.brand, a.button, main a')) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || (box.width === 0 && box.height === 0)) continue;
    if (el.closest('[hidden]') || !el.checkVisibility({visibilityProperty: true})) continue;  // a folded branch too
    const target = (el.type === 'checkbox' || el.type === 'radio') && el.closest('label') ? el.closest('label') : el;
    const measured = target.getBoundingClientRect();
    // Controls are 44 px both ways; a link in running text is 44 px tall.
    const square = el.matches('nav a, summary, button, a.button');
    if (measured.height < 44 || (square && measured.width < 44))
      small.push(el.outerHTML.slice(0, 90) + ' ' + Math.round(measured.width) + 'x' + Math.round(measured.height));
    if (measured.right > width + 1) outside.push(el.outerHTML.slice(0, 90));
  }
  return {small, outside, scroll: document.documentElement.scrollWidth - width};
}"""


def check_page(page: Page, viewport: str) -> None:
    """Every page a journey visits: no serious accessibility problem; on a phone, big targets and no sideways
    scrolling."""
    violations = axe_violations(page)
    assert violations == [], (page.url, violations)
    if viewport == "phone":
        found = page.evaluate(TARGETS)
        assert found["small"] == [] and found["outside"] == [] and found["scroll"] <= 0, (page.url, found)


def shoot(page: Page, name: str, tmp_path: Path, full_page: bool = True) -> None:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
