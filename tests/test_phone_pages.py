"""What a full group meets on a phone, read from the pages as served: the dashboard's who's-coming at 150
members, seats beside the buttons, a tap's outcome said in a region that stays, the calendar offered after a
first yes, the tree folded with a way to find a member and oneself, and organizer tables that become cards.
(The browser journeys check the same pages in Chromium: their size, taps and what a screen reader hears.)"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import insert

from conftest import PASSWORD, csrf_token, sign_in
from thinknet.extensions import db
from thinknet.models import Member, MemberStatus, Rsvp, RsvpAnswer, Role, utcnow


def crowd(app, meeting_id: int, coming: int, maybe: int, prefix: str = "c") -> None:
    """Members answering a session straight in the database (a test of pages, not of RSVPs)."""
    with app.app_context():
        now = utcnow()
        rows = [{"email": f"{prefix}{n}@example.org", "name": f"Person{n} {prefix.upper()}{n}", "headline": "",
                 "sector": "", "bio": "", "password_hash": "x", "role": Role.MEMBER, "status": MemberStatus.ACTIVE,
                 "wants_calendar_updates": False, "wants_calendar_feed": False, "calendar_feed_version": 0,
                 "joined_at": now} for n in range(coming + maybe)]
        db.session.execute(insert(Member), rows)
        ids = db.session.scalars(db.select(Member.id).where(Member.email.like(f"{prefix}%@example.org"))
                                 .order_by(Member.id)).all()
        db.session.execute(insert(Rsvp), [
            {"meeting_id": meeting_id, "member_id": member_id, "waitlisted": False, "from_standing": False,
             "answer": RsvpAnswer.YES if n < coming else RsvpAnswer.MAYBE, "answered_at": now}
            for n, member_id in enumerate(ids)])
        db.session.commit()


def rsvp(client, meeting_id, answer, next_url="/"):
    return client.post(f"/meetings/{meeting_id}/rsvp",
                       data={"answer": answer, "next": next_url, "csrf_token": csrf_token(client, "/")},
                       headers={"HX-Request": "true", "HX-Target": f"rsvp-{meeting_id}"})


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</section>", start)]


def test_the_dashboard_says_how_many_are_coming_with_a_few_faces_not_every_name(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2, seat_limit=80)
    crowd(app, meeting_id, coming=76, maybe=11)
    sign_in(client, member.email)
    coming = section(client.get("/").get_data(as_text=True), f"coming-{meeting_id}")
    assert "76 coming · 11 maybe · 4 seats left" in coming
    assert coming.count('class="face"') == 8 and "and 68 more" in coming
    assert f'href="/meetings/{meeting_id}#coming-{meeting_id}">See who\'s coming' in coming
    assert "Person40" not in coming  # not 76 names pushing the agenda off the screen
    full = section(client.get(f"/meetings/{meeting_id}").get_data(as_text=True), f"coming-{meeting_id}")
    assert full.count("<li>") == 87  # the session's page has every name


def test_the_seats_left_sit_beside_the_buttons(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2, seat_limit=5)
    crowd(app, meeting_id, coming=4, maybe=0)
    sign_in(client, member.email)
    buttons = client.get("/").get_data(as_text=True)
    buttons = buttons[buttons.index('class="rsvp-buttons"'):]
    buttons = buttons[:buttons.index("</div>")]
    assert '<span class="seats-left">1 seat left</span>' in buttons
    body = rsvp(client, meeting_id, "yes").get_data(as_text=True)
    assert "Full: a yes joins the waitlist" in body and "5 coming · full" in body


def test_a_tap_is_announced_in_a_region_outside_what_it_swaps(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2)
    sign_in(client, member.email)
    page = client.get("/").get_data(as_text=True)
    assert page.count('aria-live') == 1
    assert '<div id="announce" class="visually-hidden" role="status" aria-live="polite"></div>' in page
    assert page.index('id="announce"') > page.index("</main>")  # never inside a swapped part
    body = rsvp(client, meeting_id, "maybe").get_data(as_text=True)
    assert '<div id="announce" hx-swap-oob="innerHTML">You might come</div>' in body
    assert "aria-live" not in body  # the swapped block is no live region that replaces itself


def test_a_first_yes_is_offered_the_calendar_and_a_second_is_not(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2)
    sign_in(client, member.email)
    first = rsvp(client, meeting_id, "yes").get_data(as_text=True)
    offer = first[first.index('class="offer-calendar"'):]
    assert '<details class="add-to-calendar" open>' in offer
    assert "calendar.google.com" in offer and "outlook.live.com" in offer
    assert f'href="/meetings/{meeting_id}.ics" download>Apple Calendar and others (.ics)' in offer
    assert "offer-calendar" not in rsvp(client, meeting_id, "yes").get_data(as_text=True)
    assert "offer-calendar" not in rsvp(client, meeting_id, "maybe").get_data(as_text=True)


def test_a_yes_that_waits_for_a_seat_is_not_offered_the_calendar(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2, seat_limit=1)
    crowd(app, meeting_id, coming=1, maybe=0)
    sign_in(client, member.email)
    body = rsvp(client, meeting_id, "yes").get_data(as_text=True)
    assert "You're 1st on the waitlist" in body and "offer-calendar" not in body


def test_the_dashboard_s_tap_updates_the_dashboard_s_short_list_and_the_session_page_s_the_long_one(
        app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2)
    sign_in(client, member.email)
    on_dashboard = rsvp(client, meeting_id, "yes", next_url="/").get_data(as_text=True)
    assert 'class="face"' in on_dashboard and "names-heading" not in on_dashboard
    on_page = rsvp(client, meeting_id, "no", next_url=f"/meetings/{meeting_id}").get_data(as_text=True)
    assert 'class="face"' not in on_page


def test_a_me_too_in_flight_shows_no_text_after_its_count(app, client, member, make_member):
    from thinknet.topics.services import post_topic

    author = make_member(email="author@example.org")
    with app.app_context():
        post_topic(db.session.get(Member, author.id), title="Pricing", details="", anonymous=False, meeting=None)
        db.session.commit()
    sign_in(client, member.email)
    page = client.get("/topics/").get_data(as_text=True)
    vote = page[page.index('class="vote"'):]
    vote = vote[:vote.index("</form>")]
    assert "…" not in vote and '<span class="spinner" aria-hidden="true"></span>' in vote


# The sponsor tree and the directory at 150 members


class Tree(HTMLParser):
    """Which members' branches start open."""

    def __init__(self) -> None:
        super().__init__()
        self.depth_of_open: list[int] = []
        self.depth_of_folded: list[int] = []
        self.current_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "data-depth" in attrs:
            self.current_depth = int(attrs["data-depth"])
        if tag == "details":
            (self.depth_of_open if "open" in attrs else self.depth_of_folded).append(self.current_depth)


@pytest.fixture
def network(app, make_member):
    """A founder, 5 members they sponsored, each with 4, each of those with a further 6: 146 members."""
    founder = make_member.organizer(name="Fia Founder", email="fia@example.org")
    with app.app_context():
        level = [founder.id]
        for per_member, depth in ((5, 2), (4, 3), (6, 4)):
            following = []
            for sponsor_id in level:
                for n in range(per_member):
                    member = Member(email=f"d{depth}-{sponsor_id}-{n}@example.org", name=f"Dee{depth} {sponsor_id}x{n}",
                                    password_hash=db.session.get(Member, founder.id).password_hash,
                                    sponsor_id=sponsor_id)
                    db.session.add(member)
                    db.session.flush()
                    following.append(member.id)
            level = following
        db.session.commit()
        deepest = db.session.get(Member, level[-1])
        db.session.expunge(deepest)
    return founder, deepest


def test_the_tree_opens_the_founders_branches_and_folds_the_rest(client, network):
    founder, deepest = network
    sign_in(client, deepest.email)
    page = client.get("/members/tree").get_data(as_text=True)
    tree = Tree()
    tree.feed(page)
    assert tree.depth_of_open == [1]
    assert sorted(set(tree.depth_of_folded)) == [2, 3] and len(tree.depth_of_folded) == 5 + 20
    # The arrow that folds the branch comes right after the name it belongs to (and is drawn before it).
    node = page[page.index(f'id="tree-member-{founder.id}"'):]
    assert re.match(rf'id="tree-member-{founder.id}"[^>]*>\s*<span class="tree-node"><a href="/members/{founder.id}">'
                    r'Fia Founder</a>\s*<span class="meta">founder, sponsored 5</span></span>\s*<details open>\s*'
                    r'<summary><span class="visually-hidden">The 5 Fia Founder sponsored</span></summary>', node)


def test_jump_to_me_opens_the_tree_at_the_member(client, network):
    _, deepest = network
    sign_in(client, deepest.email)
    page = client.get("/members/tree").get_data(as_text=True)
    assert 'href="/members/tree/me">Jump to me</a>' in page
    response = client.get("/members/tree/me")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/members/tree#tree-member-{deepest.id}"
    assert f'id="tree-member-{deepest.id}"' in page


def test_a_member_can_be_found_by_name_in_the_tree_and_the_directory(client, network):
    _, deepest = network
    sign_in(client, deepest.email)
    for path, list_id in (("/members/tree", "sponsor-tree"), ("/members/", "member-directory")):
        page = client.get(path).get_data(as_text=True)
        assert f'<label for="find-{list_id}">Find a member</label>' in page
        names = re.findall(rf'<datalist id="names-{list_id}">(.*?)</datalist>', page, re.S)[0]
        assert names.count("<option") == 146 and f'value="{deepest.name}"' in names


def test_the_directory_gives_each_member_two_short_lines(client, network):
    _, deepest = network
    sign_in(client, deepest.email)
    page = client.get("/members/").get_data(as_text=True)
    entry = page[page.index(f'id="member-{deepest.id}"'):]
    entry = entry[:entry.index("</li>")]
    assert entry.count("<div") == 0 and entry.count('class="meta"') == 1


# Organizer pages on a phone


@pytest.mark.parametrize("path, table", [("/admin/members", "admin-members"), ("/admin/audit", "audit-table"),
                                         ("/admin/", "audit-table")])
def test_organizer_tables_label_each_value_to_become_cards_on_a_phone(app, client, organizer, make_member, path,
                                                                      table):
    from thinknet.audit import record

    with app.app_context():
        record(db.session.get(Member, organizer.id), "settings.changed", reason="A reason")
        db.session.commit()
    sign_in(client, organizer.email, PASSWORD)
    page = client.get(path).get_data(as_text=True)
    html = page[page.index(f'id="{table}"') - 30:]
    html = html[:html.index("</table>")]
    assert 'class="audit cards"' in html
    rows = re.findall(r"<tr id=.*?</tr>", html, re.S)
    assert rows
    for row in rows:  # the first value is the card's title; every other one is named
        labels = re.findall(r"<td(?: data-label=\"([^\"]+)\")?>", row)
        assert labels[0] == "" and all(labels[1:]), labels


# Found from outside


def test_the_organizer_sub_menu_marks_the_page_you_are_on(client, organizer):
    sign_in(client, organizer.email)
    for path, current in (("/admin/members", "Members"), ("/admin/audit", "Audit log"), ("/admin/mail", "Mail"),
                          ("/admin/series", "Sessions")):
        nav = client.get(path).get_data(as_text=True)
        nav = nav[nav.index('class="subnav"'):]
        nav = nav[:nav.index("</nav>")]
        assert re.findall(r'aria-current="page">([^<]+)<', nav) == [current], path


def test_organizers_find_a_member_among_many_cards(client, organizer, make_member):
    sign_in(client, organizer.email)
    page = client.get("/admin/members").get_data(as_text=True)
    assert '<label for="find-admin-members">Find a member</label>' in page
    assert f'<tr id="admin-member-{organizer.id}" data-name="Grace Hopper grace@example.org">' in page


def test_a_group_at_its_cap_tells_an_organizer_where_to_raise_it(app, client, organizer):
    with app.app_context():
        db.session.execute(db.update(db.metadata.tables["settings"]).values(member_cap=2))
        db.session.commit()
    crowd(app, make_meeting_id(app), coming=1, maybe=0)  # a second active member: the group is full
    sign_in(client, organizer.email)
    page = client.get("/invitations/").get_data(as_text=True)
    assert "The group is at its cap of 2 members" in page
    assert 'href="/admin/settings#sponsor-rules">Raise the group\'s member cap in Settings</a>' in page


def make_meeting_id(app) -> int:
    from datetime import timedelta

    from thinknet.models import Meeting

    with app.app_context():
        start = utcnow() + timedelta(days=2)
        meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café")
        db.session.add(meeting)
        db.session.commit()
        return meeting.id


def test_members_who_gave_no_sector_come_last_and_are_no_sector(client, member, make_member):
    make_member(email="x@example.org", sector="")
    make_member(email="y@example.org", sector="")
    make_member(email="z@example.org", sector="Law")
    sign_in(client, member.email)
    page = client.get("/members/").get_data(as_text=True)
    mix = page[page.index('id="sector-mix"'):page.index("</section>", page.index('id="sector-mix"'))]
    assert "4 members from 1 sector; the largest, Law, has 1." in mix  # Ada and two others gave none
    assert mix.index("<li>Not given: 3</li>") > mix.index("<li>Law: 1</li>")


def test_a_static_file_does_not_vary_with_the_cookie(client, member):
    from thinknet.assets import asset_url

    sign_in(client, member.email)
    with client.application.test_request_context():
        url = asset_url("thinknet.css")
    response = client.get(url)
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    assert response.headers["Vary"] == "Accept-Encoding"  # a new browser session reuses its copy
    assert "Set-Cookie" not in response.headers


def test_below_the_fourth_generation_each_line_says_whose_it_is(app, client, network, make_member):
    _, deepest = network  # the fourth generation
    sign_in(client, deepest.email)
    assert "(by " not in client.get("/members/tree").get_data(as_text=True)  # four generations step right
    fifth = make_member(email="fifth@example.org", name="Fay Fifth", sponsor_id=deepest.id)
    page = client.get("/members/tree").get_data(as_text=True)
    line = page[page.index(f'id="tree-member-{fifth.id}"'):]
    line = line[:line.index("</li>")]
    assert f'<span class="meta">(by {deepest.name})</span>' in line and page.count("(by ") == 1


# Found in the second outside round


@pytest.mark.parametrize("blank", ["\u200b", "\u3164", "\u2800", "\u115f\u1160", "\uffa0", "\u0300"])
def test_a_name_or_title_that_draws_nothing_is_refused_everywhere(client, member, blank):
    sign_in(client, member.email)
    token = csrf_token(client, "/me/")
    response = client.post("/me/", data={"name": blank, "headline": "Analyst", "sector": "Law", "csrf_token": token})
    assert response.status_code == 422 and "Enter your name." in response.get_data(as_text=True)
    response = client.post("/topics/new", data={"title": blank, "when": "backlog", "csrf_token": token})
    assert response.status_code == 422


def test_a_blank_sender_name_is_refused(client, organizer):
    sign_in(client, organizer.email)
    fields = {"group_name": "Thinking Network", "charter": "Be kind.", "timezone": "UTC",
              "sponsor_min_attendance": "2", "sponsor_max_pending": "2", "invitation_ttl_days": "14",
              "member_cap": "150", "rsvp_cutoff_days_before": "1", "rsvp_cutoff_time": "20:00",
              "mail_sender_name": "\u200b", "csrf_token": csrf_token(client, "/admin/settings")}
    response = client.post("/admin/settings", data=fields)
    assert response.status_code == 422 and "Write a name that shows, or leave it empty." in response.get_data(
        as_text=True)


def test_the_topic_page_has_one_live_region_and_announces_only_to_htmx(app, client, member, make_member):
    from thinknet.topics.services import post_topic

    author = make_member(email="author@example.org")
    with app.app_context():
        topic = post_topic(db.session.get(Member, author.id), title="Pricing", details="", anonymous=False,
                           meeting=None)
        db.session.commit()
        topic_id = topic.id
    sign_in(client, member.email)
    page = client.get(f"/topics/{topic_id}").get_data(as_text=True)
    assert page.count('id="announce"') == 1 and "hx-swap-oob" not in page
    body = client.post(f"/topics/{topic_id}/vote", data={"vote": "on", "csrf_token": csrf_token(client, "/")},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<div id="announce" hx-swap-oob="innerHTML">Me too: 1, including you</div>' in body


def test_every_field_on_your_page_has_its_own_label(client, member):
    sign_in(client, member.email)
    page = client.get("/me/").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert '<label for="new-password">' in page and 'id="new-password"' in page


def test_a_map_link_given_as_the_address_is_the_venue_s_link(app, client, member, make_meeting):
    meeting_id = make_meeting(days_from_now=2, venue_address="https://maps.app.goo.gl/AbCd123")
    other = make_meeting(days_from_now=9, venue_address="javascript:alert(1)")
    sign_in(client, member.email)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert 'href="https://maps.app.goo.gl/AbCd123"' in page
    page = client.get(f"/meetings/{other}").get_data(as_text=True)
    assert 'href="javascript:' not in page and "openstreetmap.org/search?query=" in page


def test_the_chart_cuts_names_between_words(client, member, make_member):
    for n in range(3):
        make_member(email=f"a{n}@example.org", sector="Agriculture and food")
    sign_in(client, member.email)
    page = client.get("/members/").get_data(as_text=True)
    assert 'class="mix-label">Agriculture and…<' in page
