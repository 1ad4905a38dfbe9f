"""The directory and its mix, profiles with their sponsor chain, the sponsor tree, and leaving the group."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import func, select

from conftest import csrf_token
from thinknet.extensions import db
from thinknet.models import AuditEvent, Invitation, Member, MemberStatus, Role


def chain_of_four(make_member):
    """founder C ← B ← A ← newcomer: a chain three sponsors deep."""
    c = make_member(email="c@example.org", name="Cora Founder", headline="Owner", sector="Retail")
    b = make_member(email="b@example.org", name="Ben Middle", headline="Nurse", sector="Health", sponsor_id=c.id)
    a = make_member(email="a@example.org", name="Ava Near", headline="Engineer", sector="Software", sponsor_id=b.id)
    n = make_member(email="n@example.org", name="Noor New", headline="Teacher", sector="Education", sponsor_id=a.id)
    return c, b, a, n


def test_the_directory_lists_active_members_with_role_sector_and_sponsor(client, login, make_member):
    c, b, a, n = chain_of_four(make_member)
    gone = make_member(email="g@example.org", name="Gus Gone", status=MemberStatus.DEPARTED, sponsor_id=c.id)
    login(n)
    page = client.get("/members/").get_data(as_text=True)
    assert '<span class="headline">Engineer</span>' in page
    assert '<span class="meta">Software · sponsored by Ben Middle</span>' in page
    assert '<span class="meta">Retail · founder</span>' in page  # joined when: on the profile
    assert gone.name not in page
    assert "4 active members" in page


def test_the_directory_shows_the_groups_mix_by_sector(client, login, make_member):
    chain_of_four(make_member)
    extra = make_member(email="x@example.org", name="Xena", sector="Software")
    login(extra)
    page = client.get("/members/").get_data(as_text=True)
    mix = page[page.index('id="sector-mix"'):page.index('id="member-directory"')]
    assert "<li>Software: 2</li>" in mix and "<li>Health: 1</li>" in mix  # read by a screen reader, once
    assert mix.index("Software") < mix.index("Health")
    assert "5 members from 4 sectors; the largest, Software, has 2." in mix
    assert '<svg viewBox="0 0 320 104" aria-hidden="true"' in mix


def test_the_mix_names_the_largest_sectors_and_groups_the_long_tail(app, client, login, make_member):
    from thinknet.members.sectors import MIX_BARS, SECTORS

    viewer = make_member(email="v@example.org", sector=SECTORS[0])
    for n, sector in enumerate(SECTORS[:12]):
        for k in range(12 - n):  # 12 in the first sector, 11 in the next, and so on
            make_member(email=f"{n}-{k}@example.org", sector=sector)
    login(viewer)
    page = client.get("/members/").get_data(as_text=True)
    chart = page[page.index("<svg"):page.index("</svg>")]
    labels = re.findall(r'class="mix-label">([^<]*)<', chart)
    assert len(labels) == MIX_BARS and labels[-1] == "3 more sectors"
    values = [int(v) for v in re.findall(r'class="mix-value">(\d+)<', chart)]
    assert values[:MIX_BARS - 1] == sorted(values[:MIX_BARS - 1], reverse=True)
    assert values[-1] == 3 + 2 + 1  # the long tail as one bar
    assert page.count("<li>Law: 2</li>") == 1  # the whole list, for screen readers
    assert "the largest, Agriculture and food, has 13." in page  # with the viewer
    assert 'class="mix-bar mix-rest"' in chart  # the long tail drawn apart from the named sectors


def test_sector_is_picked_from_the_list_and_one_typed_before_stays_the_member_s(app, client, login, make_member):
    member = make_member(email="m@example.org", name="Mo Old", sector="Fintech")
    login(member)
    page = client.get("/me/").get_data(as_text=True)
    assert '<option selected value="Fintech">Fintech</option>' in page
    assert '<option value="Other">Other</option>' in page
    base = {"name": "Mo Old", "headline": "Analyst", "csrf_token": csrf_token(client, "/me/")}
    assert client.post("/me/", data={**base, "sector": "Fintech"}).status_code == 303
    refused = client.post("/me/", data={**base, "sector": "Crypto"})
    assert refused.status_code == 422
    assert "Choose your sector from the list, or Other." in refused.get_data(as_text=True)
    assert client.post("/me/", data={**base, "sector": "Finance and insurance"}).status_code == 303
    assert "Fintech" not in client.get("/me/").get_data(as_text=True)  # once changed, the list alone


def test_a_profile_shows_the_chain_back_to_the_founder(client, login, make_member):
    c, b, a, n = chain_of_four(make_member)
    login(c)
    page = client.get(f"/members/{n.id}").get_data(as_text=True)
    chain = page[page.index('id="sponsor-chain"'):page.index('id="sponsored"')]
    text = " ".join(part.split(">")[-1] for part in chain.split("<"))
    assert "Sponsored by Ava Near , who was sponsored by Ben Middle , who was sponsored by founder Cora Founder ." \
        in " ".join(text.split())


def test_a_profile_shows_whom_they_sponsored_and_when_they_last_came(app, client, login, make_member, make_meeting):
    c, b, a, n = chain_of_four(make_member)
    from thinknet.models import Attendance

    meeting_id = make_meeting(days_from_now=-3)
    with app.app_context():
        db.session.add(Attendance(meeting_id=meeting_id, member_id=b.id))
        db.session.commit()
    login(n)
    page = client.get(f"/members/{b.id}").get_data(as_text=True)
    assert "Ava Near" in page[page.index('id="sponsored"'):]
    assert "last came to breakfast on" in page
    assert "has not come to a breakfast yet" in client.get(f"/members/{a.id}").get_data(as_text=True)
    assert "is a founder of the group" in client.get(f"/members/{c.id}").get_data(as_text=True)


def test_the_tree_puts_founders_at_the_roots_and_marks_suspended_and_departed(client, login, make_member):
    c, b, a, n = chain_of_four(make_member)
    other_founder = make_member(email="o@example.org", name="Omar Other")
    suspended = make_member(email="s@example.org", name="Sid Suspended", sponsor_id=b.id,
                            status=MemberStatus.SUSPENDED)
    departed = make_member(email="d@example.org", name="Dee Departed", sponsor_id=other_founder.id,
                           status=MemberStatus.DEPARTED)
    login(n)
    page = client.get("/members/tree").get_data(as_text=True)
    tree = page[page.index('id="sponsor-tree"'):]
    roots = re.findall(r'id="tree-member-(\d+)" class="[^"]*" data-depth="1"', tree)
    assert set(roots) == {str(c.id), str(other_founder.id)}
    assert f'id="tree-member-{n.id}" class="status-active" data-depth="4"' in tree
    assert f'id="tree-member-{suspended.id}" class="status-suspended"' in tree
    assert f'id="tree-member-{departed.id}" class="status-departed"' in tree
    assert '<span class="badge status-suspended">suspended</span>' in tree
    b_branch = tree[tree.index(f'id="tree-member-{b.id}"'):tree.index(f'id="tree-member-{other_founder.id}"')]
    assert "Ava Near" in b_branch and "Noor New" in b_branch and "Sid Suspended" in b_branch


def grow_tree(app, size: int, prefix: str) -> int:
    """Adds a founder and members under them in chains up to eight deep; returns the founder's id."""
    with app.app_context():
        founder = Member(email=f"{prefix}root@example.org", name="Root", password_hash="x")
        db.session.add(founder)
        db.session.flush()
        parents = [founder]
        for n in range(size - 1):
            member = Member(email=f"{prefix}m{n}@example.org", name=f"Member {n}", password_hash="x", sector=f"S{n % 7}",
                            sponsor_id=parents[n % len(parents)].id if n % 8 else founder.id,
                            status=MemberStatus.DEPARTED if n % 11 == 0 else MemberStatus.ACTIVE)
            db.session.add(member)
            db.session.flush()
            parents.append(member)
        db.session.commit()
        return founder.id


class _TreeNesting(HTMLParser):
    """Who each drawn member sits under, read from the page's nested lists; fails on a list left open or
    closed out of turn."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.drawn_under: dict[int, int | None] = {}

    def handle_starttag(self, tag, attrs):
        if tag not in ("li", "ul", "details"):
            return
        element_id = dict(attrs).get("id") or ""
        if tag == "li" and element_id.startswith("tree-member-"):
            owners = [owner for kind, owner in self.open if kind == "li" and owner]
            self.drawn_under[int(element_id.removeprefix("tree-member-"))] = int(owners[-1]) if owners else None
            self.open.append((tag, element_id.removeprefix("tree-member-")))
        else:
            self.open.append((tag, None))

    def handle_endtag(self, tag):
        if tag in ("li", "ul", "details"):
            assert self.open.pop()[0] == tag


def test_the_tree_draws_every_member_under_their_own_sponsor_at_any_size(app, client, login, make_member):
    viewer = make_member(email="viewer@example.org")
    grow_tree(app, 150, prefix="t")
    login(viewer)
    page = client.get("/members/tree").get_data(as_text=True)
    nesting = _TreeNesting()
    nesting.feed(page)
    assert not nesting.open
    with app.app_context():
        sponsors = dict(db.session.execute(select(Member.id, Member.sponsor_id)).all())
    assert nesting.drawn_under == sponsors
    assert len(sponsors) == 151


def test_the_tree_and_directory_take_a_fixed_number_of_queries_whatever_the_size(app, client, login, make_member,
                                                                              count_queries):
    viewer = make_member(email="viewer@example.org")
    login(viewer)
    counts = {}
    for size, grow_by in ((10, 9), (150, 140)):
        grow_tree(app, grow_by, prefix=f"s{size}")
        for page in ("/members/tree", "/members/", f"/members/{viewer.id}"):
            with count_queries() as counter:
                response = client.get(page)
            assert response.status_code == 200
            counts[(page, size)] = counter.count
    for page in ("/members/tree", "/members/", f"/members/{viewer.id}"):
        assert counts[(page, 10)] == counts[(page, 150)], counts
    # The sign-in, the revision the page cache checks, the settings, the members: four.
    assert counts[("/members/tree", 150)] == 4


def test_a_member_leaves_and_whom_they_sponsored_stay_with_their_chain(app, client, login, make_member, attend):
    c, b, a, n = chain_of_four(make_member)
    attend(a, times=2)
    login(a)
    client.post("/invitations/", data={"email": "x@example.org", "vouch_note": "A long enough vouch note here.",
                                       "csrf_token": csrf_token(client, "/invitations/")})
    response = client.post("/me/leave", data={"confirm": "y", "reason": "Moving abroad",
                                              "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    assert "You have left the group" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 303
    with app.app_context():
        assert db.session.get(Member, a.id).status == MemberStatus.DEPARTED
        assert db.session.get(Member, n.id).sponsor_id == a.id
        assert db.session.scalar(select(Invitation.state)) == "revoked"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.left"))
        assert event.details["reason"] == "Moving abroad" and event.subject_member_id == a.id
    login(n)
    page = client.get(f"/members/{n.id}").get_data(as_text=True)
    assert "sponsored by" in page and "Ava Near" in page


def test_leaving_needs_the_box_ticked(app, client, login, member):
    login(member)
    response = client.post("/me/leave", data={"csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 422
    assert "Tick the box to confirm that you want to leave." in response.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_the_only_organizer_cannot_leave(app, client, login, organizer):
    login(organizer)
    response = client.post("/me/leave", data={"confirm": "y", "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 422
    assert "is the group&#39;s only organizer" in response.get_data(as_text=True)


def test_a_member_edits_their_profile(app, client, login, member):
    login(member)
    response = client.post("/me/", data={"name": "Ada King", "headline": "Mathematician", "sector": "Science and research",
                                         "bio": "Poetical science.", "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    with app.app_context():
        saved = db.session.get(Member, member.id)
        assert (saved.name, saved.headline, saved.sector, saved.bio) == (
            "Ada King", "Mathematician", "Science and research", "Poetical science.")


def test_changing_the_password_signs_out_other_devices(app, client, login, member):
    login(member)
    other = app.test_client()
    from conftest import sign_in

    sign_in(other, member.email)
    assert other.get("/").status_code == 200
    response = client.post("/me/password", data={"current_password": "correct horse battery",
                                                  "password": "a brand new password",
                                                  "confirm": "a brand new password",
                                                  "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 303


def test_a_wrong_current_password_is_said_next_to_the_field(client, login, member):
    login(member)
    response = client.post("/me/password", data={"current_password": "nope", "password": "a brand new password",
                                                  "confirm": "a brand new password",
                                                  "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 422
    assert '<p class="error" id="current_password-error">That is not your current password.</p>' in \
        response.get_data(as_text=True)


def test_organizer_role_is_shown_in_the_directory(client, login, organizer, member):
    login(member)
    assert "organizer" in client.get("/members/").get_data(as_text=True)
    assert Role.ORGANIZER.value == "organizer"


def test_member_count_stays_right_after_departures(app, make_member):
    chain_of_four(make_member)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 4
