"""The product in a real browser: a newcomer, a member and an organizer go through what they come to do, at
desktop and phone sizes; every htmx action swaps only its region and also works with JavaScript off."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browser_support import (  # noqa: F401 (fixtures)
    Live,
    axe_violations,
    browser,
    check_page,
    full_group,
    live,
    new_group,
    open_page,
    shoot,
    sign_in,
)

MARKER = "window.__stillHere = 'yes'"


def visit(page: Page, path: str, viewport: str) -> None:
    page.goto(path)
    check_page(page, viewport)


def same_page(page: Page) -> bool:
    """The page was not reloaded: the marker set on its window is still there."""
    return page.evaluate("window.__stillHere") == "yes"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_newcomer_follows_the_emailed_link_joins_and_says_yes(live: Live, open_page, tmp_path, viewport):
    sponsor = open_page()
    sign_in(sponsor, "ada@example.org")
    sponsor.goto("/invitations/")
    sponsor.fill("#email", "nia@example.org")
    sponsor.fill("#vouch_note", "We ran a studio together for six years; she asks the questions nobody else does.")
    sponsor.click("form.card button.primary")
    expect(sponsor.locator(".flashes")).to_contain_text("Invitation sent to nia@example.org.")

    link = re.search(r"http://127\.0\.0\.1:\d+(/join/[\w-]+)", live.outbox_text()).group(1)
    page = open_page(viewport)
    visit(page, link, viewport)
    expect(page.locator("#sponsor")).to_contain_text("Ada Lovelace")
    expect(page.locator("#charter")).to_contain_text("What is said here stays here.")
    shoot(page, f"join-{viewport}", tmp_path)
    page.fill("#name", "Nia Newcomer")
    page.fill("#headline", "Baker")
    page.select_option("#sector", "Agriculture and food")
    page.fill("#password", "flour and water every morning")
    page.check("#accept_charter")
    page.click("form button.primary")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".flashes")).to_contain_text("Welcome to Dawn Thinkers, Nia Newcomer!")
    check_page(page, viewport)
    page.evaluate(MARKER)
    page.click("#next-meeting button.rsvp-yes")
    expect(page.locator("#next-meeting .rsvp-status")).to_have_text("You're coming")
    expect(page.locator("#next-meeting button.rsvp-yes")).to_have_attribute("aria-pressed", "true")
    assert same_page(page)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_member_brings_topics_answers_downloads_and_sponsors(live: Live, open_page, tmp_path, viewport):
    page = open_page(viewport)
    sign_in(page, "ada@example.org")
    check_page(page, viewport)

    for title, anonymous in (("Which productivity tools stuck?", False), ("My co-founder has checked out", True)):
        visit(page, "/topics/new", viewport)
        page.fill("#title", title)
        if anonymous:
            page.check("#anonymous")
        page.click("form button.primary")
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator("main")).to_contain_text("you (anonymously)" if anonymous else "Posted by you")
        check_page(page, viewport)

    visit(page, "/topics/", viewport)
    page.evaluate(MARKER)
    vote = page.locator(f"#vote-{live.ids['ben_topic']}")
    vote.locator("button").click()
    expect(page.locator(f"#vote-{live.ids['ben_topic']} button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#vote-{live.ids['ben_topic']} .vote-count")).to_have_text("1")
    assert same_page(page)

    visit(page, "/", viewport)
    page.evaluate(MARKER)
    coming = page.locator(f"#coming-{live.ids['next']}")
    for answer, status, count in (("yes", "You're coming", "1 coming"), ("no", "You're not coming", "0 coming"),
                                  ("yes", "You're coming", "1 coming")):
        page.click(f"#next-meeting button.rsvp-{answer}")
        expect(page.locator("#next-meeting .rsvp-status")).to_have_text(status)
        expect(coming.locator(".count")).to_have_text(count)
        expect(page.locator(f"#next-meeting button.rsvp-{answer}")).to_have_attribute("aria-pressed", "true")
    assert same_page(page)
    shoot(page, f"dashboard-{viewport}", tmp_path)
    page.emulate_media(color_scheme="dark")
    check_page(page, viewport)  # contrast holds in the dark theme too
    shoot(page, f"dashboard-{viewport}-dark", tmp_path)
    page.emulate_media(color_scheme="light")

    visit(page, f"/meetings/{live.ids['next']}", viewport)
    shoot(page, f"meeting-{viewport}", tmp_path)
    with page.expect_download() as download:
        page.click("details.add-to-calendar summary")
        page.click("text=Apple Calendar and others (.ics)")
    assert download.value.path().read_text().startswith("BEGIN:VCALENDAR")

    visit(page, "/me/", viewport)
    expect(page.locator("#feed-url")).to_have_count(0)  # a newcomer has invites, not the feed as well
    page.check("input[name=calendar][value=feed]")
    page.click("#calendar button[type=submit]")
    page.wait_for_url("**/me/#calendar")
    feed = page.input_value("#feed-url")
    assert re.search(r"/calendar/\d+-[\w-]+\.ics$", feed)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.click("button[data-copy=feed-url]")
    expect(page.locator("button[data-copy=feed-url]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == feed

    for email in ("ravi@example.org", "sara@example.org"):
        visit(page, "/invitations/", viewport)
        page.fill("#email", email)
        page.fill("#vouch_note", "Known for years; thoughtful, generous and never selling anything.")
        page.click("form.card button.primary")
        expect(page.locator(".flashes")).to_contain_text(f"Invitation sent to {email}.")
    # Blocked by a rule: the reason once, in place of a form that cannot be used, and Revoke right there.
    visit(page, "/invitations/", viewport)
    rule = page.locator("#sponsor-rule")
    expect(rule).to_contain_text("You have 2 pending invitations")
    expect(page.get_by_text("You have 2 pending invitations")).to_have_count(1)
    expect(page.locator("#vouch_note")).to_have_count(0)
    rule.locator("#pending-list li").first.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flashes")).to_contain_text("is revoked")
    expect(page.locator("#sponsor-rule")).to_have_count(0)
    page.fill("#email", "tom@example.org")
    check_page(page, viewport)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_an_organizer_schedules_moves_cancels_invites_records_and_suspends(live: Live, open_page, tmp_path,
                                                                            viewport):
    page = open_page(viewport)
    sign_in(page, "olga@example.org")

    visit(page, "/admin/series", viewport)
    page.select_option("#weekday", "2")
    page.fill("#start_time", "06:30")
    page.fill("#venue_name", "Café Rosa")
    page.fill("#venue_address", "12 Market Street")
    page.fill("#seat_limit", "12")
    page.click("form.card button.primary")
    expect(page.locator(".flashes")).to_contain_text("8 new sessions scheduled")
    series_rows = page.locator("#admin-meetings li", has_text="6:30 AM", has_not_text="one-off")
    expect(series_rows).to_have_count(8)
    check_page(page, viewport)

    series_rows.nth(1).locator("a").click()
    page.fill("#start_time", "07:15")
    page.fill("#venue_name", "The Library")
    page.click("#change-meeting button.primary")
    expect(page.locator("h1")).to_contain_text("7:15 AM")

    visit(page, "/admin/meetings", viewport)
    page.locator("#admin-meetings li", has_text="6:30 AM", has_not_text="one-off").nth(2).locator("a").click()
    page.fill("#cancel-reason", "The café is closed for a wedding")
    page.click("#cancel-meeting button")
    expect(page.locator(".flashes")).to_contain_text("The session is cancelled")
    expect(page.locator("#admin-meetings .badge", has_text="cancelled")).to_have_count(1)

    page.fill("#weeks", "4")
    page.click("#send-invites button.primary")
    expect(page.locator(".flashes")).to_contain_text("Sending invites for")

    visit(page, f"/meetings/{live.ids['past']}", viewport)
    page.evaluate(MARKER)
    row = page.locator(f"#attendance-{live.ids['past']}-{live.people['ben']} button")
    expect(row).to_have_attribute("aria-checked", "true")  # pre-filled from the yeses
    row.click()
    expect(page.locator(f"#attendance-{live.ids['past']}-{live.people['ben']} button")).to_have_attribute(
        "aria-checked", "false")
    assert same_page(page)
    check_page(page, viewport)

    visit(page, f"/admin/members/{live.people['ben']}", viewport)
    page.fill("#reason-suspend", "Pitched his bakery franchise at the table")
    page.click("#action-suspend button")
    expect(page.locator(".flashes")).to_contain_text("Ben Baker is suspended.")
    visit(page, "/members/tree", viewport)
    expect(page.locator(f"#tree-member-{live.people['ben']} .badge")).to_have_text("suspended")
    shoot(page, f"tree-{viewport}", tmp_path)
    page.locator(f"#tree-member-{live.people['olga']} > details > summary").click()
    expect(page.locator(f"#tree-member-{live.people['ada']}")).to_be_hidden()


def test_without_javascript_rsvp_and_me_too_work_as_plain_forms(live: Live, open_page):
    page = open_page(javascript=False)
    sign_in(page, "ada@example.org")
    page.click("#next-meeting button.rsvp-yes")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#next-meeting .rsvp-status")).to_have_text("You're coming")
    page.goto("/topics/")
    page.locator(f"#vote-{live.ids['ben_topic']} button").click()
    page.wait_for_url(re.compile(r"/topics/$"))
    expect(page.locator(f"#vote-{live.ids['ben_topic']} .vote-count")).to_have_text("1")


def test_a_refused_submit_puts_focus_on_the_first_error(live: Live, open_page):
    page = open_page()
    sign_in(page, "ada@example.org")
    page.goto("/topics/new")
    page.fill("#details", "Typed at dawn, before the title")
    page.click("form button.primary")
    expect(page.locator("#title-error")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "title"
    assert page.get_attribute("#title", "aria-describedby") == "title-error"
    expect(page.locator("#details")).to_have_value("Typed at dawn, before the title")
    assert axe_violations(page) == []


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_signed_out_pages_are_accessible(live: Live, open_page, tmp_path, viewport, scheme):
    from thinknet.invitations.services import issue_invitation
    from thinknet.extensions import db
    from thinknet.models import Member

    with live.app.app_context(), live.app.test_request_context():
        token = issue_invitation(db.session.get(Member, live.people["ada"]), "nia@example.org",
                                 "We ran a studio together for six years.").token
        db.session.commit()
    page = open_page(viewport, scheme=scheme)
    for path in ("/login", "/password/forgot", f"/join/{token}", "/own-data/"):
        visit(page, path, viewport)
    if scheme == "light":
        page.goto("/login")
        shoot(page, f"login-{viewport}", tmp_path)


# On a phone: a compact header, the five everyday places in a tab bar at the bottom that says where you are,
# every target at least 44 px, nothing wider than the screen; and the site's files cached for good.

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


# Every page, as the group at its cap meets it: phone and desktop, light and dark, each checked with axe, for
# 44 px targets and for sideways scrolling, the organizer pages included.

NOT_PAGES = {"static", "main.healthz", "meetings.download", "me.export", "own_data.export", "calendar.subscription",
             "auth.reset_password", "join.landing", "own_data.open_link", "own_data.manage"}


def every_page(server: Live) -> list[str]:
    from flask import url_for

    values = {"meeting_id": server.ids["next"], "topic_id": server.ids["olga_topic"], "member_id": server.people["ada"],
              "step": "meetings"}
    paths = []
    with server.app.test_request_context():
        for rule in server.app.url_map.iter_rules():
            if "GET" in rule.methods and rule.endpoint not in NOT_PAGES:
                paths.append(url_for(rule.endpoint, **{name: values[name] for name in rule.arguments}))
    paths.append(f"/meetings/{server.ids['past']}")
    return sorted(set(paths))


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_of_a_full_group_fits_the_screen_and_reads_well_light_and_dark(full_group: Live, open_page,
                                                                                  tmp_path, viewport, scheme):
    page = open_page(viewport, scheme=scheme, server=full_group)
    sign_in(page, "olga@example.org")
    paths = every_page(full_group)
    assert len(paths) >= 25 and "/admin/members" in paths and "/admin/setup" in paths
    for path in paths:
        response = page.goto(path)
        assert response.ok, (path, response.status)
        check_page(page, viewport)
    if scheme == "dark" or viewport == "phone":
        for name, path in (("dashboard", "/"), ("meeting", f"/meetings/{full_group.ids['next']}"),
                           ("tree", "/members/tree"), ("members", "/admin/members")):
            page.goto(path)  # a list of 150 is shown as the screen shows it, not whole
            shoot(page, f"{name}-{viewport}{'-dark' if scheme == 'dark' else ''}", tmp_path,
                  full_page=viewport == "desktop" and name != "members")  # a phone: what its screen shows


def test_a_full_group_on_a_phone_sees_numbers_faces_and_the_agenda_not_76_names(full_group: Live, open_page):
    page = open_page("phone", server=full_group)
    sign_in(page, "ada@example.org")
    coming = page.locator(f"#coming-{full_group.ids['next']}")
    expect(coming.locator(".count")).to_have_text("76 coming · 11 maybe · 4 seats left")
    expect(coming.locator(".face")).to_have_count(8)
    assert coming.bounding_box()["height"] <= 220
    seats = page.locator("#next-meeting .seats-left")
    expect(seats).to_have_text("4 seats left")
    no = page.locator("#next-meeting button.rsvp-no").bounding_box()
    assert seats.bounding_box()["x"] > no["x"] + no["width"] and seats.bounding_box()["y"] < no["y"] + no["height"]
    agenda = page.get_by_role("heading", name="On the agenda").bounding_box()
    assert agenda["y"] < 844 * 1.25, agenda  # the agenda is a short scroll away, not several screens
    coming.get_by_role("link", name="See who's coming").click()
    expect(page.locator(f"#coming-{full_group.ids['next']} ul.names li")).to_have_count(76 + 11)


def test_a_full_group_s_tree_and_directory_are_short_and_a_member_is_found_by_name(full_group: Live, open_page):
    page = open_page("phone", server=full_group)
    sign_in(page, "m149@example.org")  # five generations down
    page.goto("/members/tree")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 844 * 4, height  # was 18,829 px: branches below the founders' own start folded
    deep = page.locator("#tree-member-" + str(page.evaluate(
        "document.querySelector('li[data-name$=\"Member149\"]').id.split('-').pop()")))
    expect(deep).to_be_hidden()
    page.get_by_role("link", name="Jump to me").click()
    expect(deep).to_be_visible()
    expect(deep).to_have_class(re.compile("found"))
    assert page.evaluate("document.activeElement.textContent").endswith("Member149")
    check_page(page, "phone")  # the deepest line open: still no sideways scrolling
    page.goto("/members/tree")
    target = page.locator("li[data-name$='Member120']")
    expect(target).to_be_hidden()
    find = page.locator("#find-sponsor-tree")
    find.press_sequentially(target.get_attribute("data-name")[:-1])  # "…Member12": typing jumps nowhere
    expect(target).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "find-sponsor-tree"
    find.press_sequentially("0")
    page.get_by_role("button", name="Show").click()
    expect(target).to_be_visible()
    assert target.evaluate("li => { const r = li.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    check_page(page, "phone")

    page.goto("/members/")
    directory_height = page.evaluate("document.documentElement.scrollHeight")
    assert directory_height < 844 * 23, directory_height  # was 24,331 px (29 screens) on the same phone
    page.fill("#find-member-directory", "Member12")
    expect(page.locator("#member-directory li:visible")).to_have_count(11)  # 12 and 120 to 129
    expect(page.locator("#find-member-directory-status")).to_have_text("11 members of 150")


def test_a_tap_shows_its_progress_in_the_tapped_button_and_is_announced(live: Live, open_page):
    page = open_page("phone")
    sign_in(page, "ada@example.org")
    block = page.locator(f"#rsvp-{live.ids['next']}")
    height = block.bounding_box()["height"]
    release = []
    page.route(f"**/meetings/{live.ids['next']}/rsvp", lambda route: release.append(route))
    page.click("#next-meeting button.rsvp-yes")
    page.wait_for_function("document.querySelector('#next-meeting form.htmx-request') !== null")
    yes = page.locator("#next-meeting button.rsvp-yes")
    expect(yes.locator(".spinner")).to_be_visible()
    expect(page.locator("#next-meeting button.rsvp-no .spinner")).to_be_hidden()
    expect(yes).to_have_text("Yes")  # no "Yes…" or "Saving…" line of its own
    assert block.bounding_box()["height"] == height
    page.wait_for_timeout(50)
    release[0].continue_()
    expect(page.locator("#announce")).to_have_text("You're coming")
    expect(page.locator("#next-meeting .offer-calendar")).to_contain_text("Put it in your calendar")
    expect(page.locator("#next-meeting .offer-calendar details")).to_have_attribute("open", "")
    check_page(page, "phone")

    page.goto("/topics/")
    vote = page.locator(f"#vote-{live.ids['ben_topic']} button")
    page.route(f"**/topics/{live.ids['ben_topic']}/vote", lambda route: release.append(route))
    vote.click()
    page.wait_for_function("document.querySelector('form.vote.htmx-request') !== null")
    expect(vote).to_have_text("Me too 0")  # the count, then a spinner: never "0…"
    expect(vote.locator(".spinner")).to_be_visible()
    release[1].continue_()
    expect(page.locator("#announce")).to_have_text("Me too: 1, including you")


def test_a_new_group_s_first_organizer_is_led_through_the_set_up_on_a_phone(new_group: Live, open_page, tmp_path):
    with new_group.app.app_context():
        result = new_group.app.test_cli_runner().invoke(args=[
            "create-organizer", "--email", "olga@example.org", "--name", "Olga Organizer",
            "--password", "correct horse battery"])
    assert result.exit_code == 0, result.output
    page = open_page("phone", timezone="America/Chicago", server=new_group)
    page.goto("/login")
    page.fill("#email", "olga@example.org")
    page.fill("#password", "correct horse battery")
    page.click("form button.primary")
    page.wait_for_url(re.compile(r"/admin/setup/name$"))
    check_page(page, "phone")
    expect(page.locator("#timezone")).to_have_value("America/Chicago")  # guessed from the device, to confirm
    expect(page.locator("#zone-guess")).to_contain_text("Guessed from this device: America/Chicago")
    page.fill("#group_name", "Lakeside Mornings")
    page.click("text=Save and continue")
    page.wait_for_url(re.compile(r"/admin/setup/meetings$"))
    check_page(page, "phone")
    page.select_option("#weekday", "3")
    page.fill("#venue_name", "Lakeview Diner")
    page.fill("#venue_address", "200 Shore Drive, Chicago")
    page.fill("#seat_limit", "14")
    page.click("text=Save and continue")
    page.wait_for_url(re.compile(r"/admin/setup/charter$"))
    expect(page.locator("#charter")).to_contain_text("No selling")
    check_page(page, "phone")
    page.click("text=Skip for now")
    page.wait_for_url(re.compile(r"/admin/setup/sponsors$"))
    check_page(page, "phone")
    page.click("text=Save and continue")
    page.wait_for_url(re.compile(r"/admin/setup$"))
    expect(page.locator(".setup-steps li.left")).to_have_text(re.compile("The charter"))
    check_page(page, "phone")
    shoot(page, "setup-phone", tmp_path)
    page.goto("/")
    expect(page.locator("#setup-left")).to_contain_text("Finish setting up the group: the charter")
    expect(page.locator("#next-meeting .when")).to_contain_text("6:30 AM")
    expect(page.locator("a.brand")).to_have_text("Lakeside Mornings")
    check_page(page, "phone")


def test_a_tap_that_does_not_go_through_is_said_on_the_page_and_aloud(live: Live, open_page):
    open_page.expected += ["INTERNET_DISCONNECTED", "htmx:sendError", "htmx:afterRequest", "status of 400",
                           "Response Status Error Code 400"]
    page = open_page("phone")
    sign_in(page, "ada@example.org")
    page.route(f"**/meetings/{live.ids['next']}/rsvp", lambda route: route.abort("internetdisconnected"))
    page.click("#next-meeting button.rsvp-yes")
    expect(page.locator("#announce")).to_have_text(re.compile("That was not saved: there is no connection"))
    expect(page.locator("#messages .flash-error")).to_be_visible()
    expect(page.locator("#next-meeting .rsvp-status")).to_have_text("Are you coming?")
    page.unroute(f"**/meetings/{live.ids['next']}/rsvp")
    page.route(f"**/meetings/{live.ids['next']}/rsvp",
               lambda route: route.fulfill(status=400, body="The CSRF token has expired."))
    page.click("#next-meeting button.rsvp-maybe")
    expect(page.locator("#announce")).to_have_text(re.compile("this page had expired. Reload the page"))
    page.unroute(f"**/meetings/{live.ids['next']}/rsvp")
    page.focus("#next-meeting button.rsvp-maybe")
    page.keyboard.press("Enter")  # tried again, from the keyboard, and through this time
    expect(page.locator("#announce")).to_have_text("You might come")
    expect(page.locator("#messages .flash-error")).to_have_count(0)  # the failure no longer stands
    # The swapped block's Maybe keeps the focus: a keyboard or screen reader stays where it was.
    assert page.evaluate("document.activeElement.className") == "rsvp-maybe"


def test_a_long_pasted_address_or_venue_never_widens_the_page(live: Live, open_page):
    from thinknet.extensions import db
    from thinknet.models import Meeting, Member

    with live.app.app_context():
        meeting = db.session.get(Meeting, live.ids["next"])
        meeting.venue_address = "https://maps.app.goo.gl/AbCdEfGhIjKlMnOpQr7AbCdEfGhIjKlMnOpQr7"
        meeting.venue_name = "Thecafewithaverylongnamethatneverbreaksanywhereatall"
        db.session.commit()
    page = open_page("phone")
    sign_in(page, "olga@example.org")
    for path in ("/", f"/meetings/{live.ids['next']}", "/meetings/", "/admin/meetings"):
        page.goto(path)
        check_page(page, "phone")
    # Yet ordinary words never break mid-word: a button's label, a table's headings beside a long reason.
    page.goto("/members/tree")
    show = page.get_by_role("button", name="Show").bounding_box()
    assert show["height"] <= 48, show
    with live.app.app_context():
        from thinknet.audit import record

        record(db.session.get(Member, live.people["olga"]), "member.suspended",
               reason="An ordinary reason written at some length, as organizers do. " * 10)
        db.session.commit()
    desk = open_page("desktop")
    sign_in(desk, "olga@example.org")
    desk.goto("/admin/audit")
    heights = desk.eval_on_selector_all("#audit-table th", "ths => ths.map(th => th.getBoundingClientRect().height)")
    assert max(heights) < 40, heights  # "When" on one line, not "Wh / en"
