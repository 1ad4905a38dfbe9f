"""On a phone: a compact header, the five everyday places in a tab bar at the bottom that says where you are,
every target at least 44 px, nothing wider than the screen; and the site's files cached for good."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import (  # noqa: F401 (fixtures)
    Live,
    browser,
    check_page,
    live,
    open_page,
    sign_in,
)

TABS = {"/": "Home", "/meetings/": "Sessions", "/topics/": "Topics", "/members/": "Members", "/me/": "You"}


def test_on_a_phone_the_header_is_one_line_and_the_tab_bar_says_where_you_are(live: Live, open_page):
    page = open_page("phone")
    sign_in(page, "olga@example.org")  # an organizer: the most links a header carries
    for path, current in TABS.items():
        page.goto(path)
        check_page(page, "phone")  # 44 px targets, no sideways scrolling, axe
        header = page.locator("header.site-header").bounding_box()
        assert header["height"] <= 60, header  # was 153 px of 844 on two lines
        tabs = page.locator("nav.tabs")
        box = tabs.bounding_box()
        assert abs(box["y"] + box["height"] - 844) <= 1 and box["width"] == 390  # pinned to the bottom
        expect(tabs.locator("a")).to_have_count(5)
        expect(tabs.locator("a[aria-current=page]")).to_have_text(current)
        for link in tabs.locator("a").all():
            assert link.bounding_box()["height"] >= 44
        brand = page.locator("a.brand").bounding_box()
        assert brand["height"] >= 44  # was 26 px


def test_on_a_desktop_the_navigation_stays_in_the_header(live: Live, open_page):
    page = open_page("desktop")
    sign_in(page, "ada@example.org")
    page.goto("/topics/")
    check_page(page, "desktop")
    tabs = page.locator("nav.tabs").bounding_box()
    header = page.locator("header.site-header").bounding_box()
    assert tabs["y"] < header["y"] + header["height"]
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Topics")


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_repeat_visit_asks_the_server_for_the_page_alone(live: Live, open_page, viewport):
    """Counted at the server (its access log): the browser's own cache answers for every file."""
    import time

    page = open_page(viewport)
    sign_in(page, "ada@example.org")
    page.goto("/topics/")
    log = live.instance / "access.log"
    time.sleep(0.5)
    before = log.read_text().count("\n")
    page.goto("/members/")
    page.goto("/topics/")
    time.sleep(0.5)
    asked = log.read_text().splitlines()[before:]
    assert len([line for line in asked if "GET /members/" in line or "GET /topics/" in line]) == 2, asked
    assert not [line for line in asked if "/static/" in line], asked
