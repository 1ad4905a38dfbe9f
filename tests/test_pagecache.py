"""The page cache: a page is served again only while nothing it could show has changed, on any server."""
from __future__ import annotations

from sqlalchemy import select, update

from conftest import CSRF_META, csrf_token, sign_in
from thinknet.extensions import db
from thinknet.models import Member, Revision, Settings, Topic
from thinknet.pagecache import PageCache


def revision(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Revision.number))


def test_a_second_view_is_served_from_the_cache_with_a_fresh_working_csrf_token(app, client, login, member,
                                                                                 make_meeting, count_queries):
    meeting = make_meeting(days_from_now=7)
    login(member)
    first = client.get(f"/meetings/{meeting}")
    with count_queries() as counter:
        second = client.get(f"/meetings/{meeting}")
    # The sign-in and the revision: the page itself is not rebuilt.
    assert counter.count == 2, counter.statements
    token = CSRF_META.search(second.get_data(as_text=True)).group(1)
    assert second.get_data(as_text=True) == first.get_data(as_text=True).replace(
        CSRF_META.search(first.get_data(as_text=True)).group(1), token)
    assert "\x00" not in second.get_data(as_text=True)
    # The token a cached page carries is this session's and works.
    answered = client.post(f"/meetings/{meeting}/rsvp", data={"answer": "yes", "csrf_token": token})
    assert answered.status_code == 303
    assert "You're coming" in client.get(f"/meetings/{meeting}").get_data(as_text=True)


def test_a_change_made_through_another_server_shows_at_once(make_app, make_member, make_meeting):
    # Two servers over one database, each with its own cache: only the revision number is shared.
    one, two = make_app(), make_app()
    with one.app_context():
        ada = make_member(email="ada@example.org", name="Ada Lovelace")
        alan = make_member(email="alan@example.org", name="Alan Turing")
    meeting = make_meeting(days_from_now=7)
    ada_client, alan_client = one.test_client(), two.test_client()
    sign_in(ada_client, ada.email)
    sign_in(alan_client, alan.email)
    assert "Alan Turing" not in ada_client.get(f"/meetings/{meeting}").get_data(as_text=True)
    before = revision(one)
    token = CSRF_META.search(alan_client.get(f"/meetings/{meeting}").get_data(as_text=True)).group(1)
    alan_client.post(f"/meetings/{meeting}/rsvp", data={"answer": "yes", "csrf_token": token})
    assert revision(one) == before + 1
    assert "Alan Turing" in ada_client.get(f"/meetings/{meeting}").get_data(as_text=True)


def test_each_member_gets_their_own_page(app, client, make_member, make_meeting):
    ada = make_member(email="ada@example.org", name="Ada Lovelace")
    alan = make_member(email="alan@example.org", name="Alan Turing")
    meeting = make_meeting(days_from_now=7)
    sign_in(client, ada.email)
    token = CSRF_META.search(client.get(f"/meetings/{meeting}").get_data(as_text=True)).group(1)
    client.post(f"/meetings/{meeting}/rsvp", data={"answer": "yes", "csrf_token": token})
    assert "You're coming" in client.get(f"/meetings/{meeting}").get_data(as_text=True)
    other = app.test_client()
    sign_in(other, alan.email)
    page = other.get(f"/meetings/{meeting}").get_data(as_text=True)
    assert "You're coming" not in page and "Are you coming?" in page and "Ada Lovelace" in page


def test_a_flashed_message_is_shown_once_and_never_cached(client, login, member):
    login(member)
    client.get("/members/")
    client.get("/members/")  # now cached
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "A message for this one view.")]
    assert "A message for this one view." in client.get("/members/").get_data(as_text=True)
    assert "A message for this one view." not in client.get("/members/").get_data(as_text=True)


def test_only_changes_a_page_could_show_move_the_revision_on(app, client, member):
    before = revision(app)
    sign_in(client, member.email)  # a sign-in row: no page shows it
    assert revision(app) == before
    with app.app_context():
        db.session.execute(update(Member).where(Member.id == member.id).values(headline="Poet"))
        db.session.rollback()  # nothing committed, nothing moves
        assert db.session.scalar(select(Revision.number)) == before
        db.session.get(Settings, 1).group_name = "The Early Birds"
        db.session.commit()
        assert db.session.scalar(select(Revision.number)) == before + 1
        db.session.execute(update(Member).where(Member.id == member.id).values(headline="Poet"))
        db.session.commit()
        assert db.session.scalar(select(Revision.number)) == before + 2


def test_a_me_too_that_changes_nothing_leaves_the_revision_where_it_is(app, client, login, member, make_member):
    with app.app_context():
        author = make_member(name="Ann Author")
        topic = Topic(title="Sleep", author_id=author.id)
        db.session.add(topic)
        db.session.commit()
        topic_id = topic.id
    login(member)
    headers = {"X-CSRFToken": csrf_token(client, "/topics/")}

    def me_too(vote: str) -> int:
        assert client.post(f"/topics/{topic_id}/vote", data={"vote": vote}, headers=headers).status_code == 303
        return revision(app)

    before = revision(app)
    assert me_too("on") == before + 1
    assert me_too("on") == before + 1  # already given: every cached page still stands
    assert me_too("off") == before + 2
    assert me_too("off") == before + 2  # nothing to take back
    assert me_too("on") == before + 3


def test_a_change_written_with_returning_moves_the_revision_on(app, member):
    # SQLite counts the rows of an UPDATE ... RETURNING only once they have been read.
    members = Member.__table__
    before = revision(app)
    with app.app_context():
        changed = db.session.scalars(update(members).where(members.c.id == member.id).values(headline="Poet")
                                     .returning(members.c.id)).all()
        db.session.commit()
    assert changed == [member.id]
    assert revision(app) == before + 1


def test_the_cache_keeps_within_its_size_dropping_the_least_recently_used():
    cache = PageCache(limit=100)
    cache.put(("a",), b"x" * 20, 200, [])
    cache.put(("b",), b"x" * 20, 200, [])
    cache.put(("too big",), b"x" * 26, 200, [])  # over a quarter of the limit: never kept
    assert cache.get(("too big",)) is None
    for name in "cdef":
        cache.get(("a",))  # "a" stays in use
        cache.put((name,), b"x" * 20, 200, [])
    assert cache.size <= 100
    assert cache.get(("a",)) is not None and cache.get(("b",)) is None


def test_the_members_pages_are_one_copy_for_all_members_and_another_for_organizers(app, make_member, organizer,
                                                                                    count_queries):
    ada = make_member(email="ada@example.org", name="Ada Lovelace")
    alan = make_member(email="alan@example.org", name="Alan Turing")
    ada_client, alan_client, grace_client = app.test_client(), app.test_client(), app.test_client()
    for client, who in ((ada_client, ada), (alan_client, alan), (grace_client, organizer)):
        sign_in(client, who.email)
    for path in ("/members/", "/members/tree"):
        ada_page = ada_client.get(path).get_data(as_text=True)
        with count_queries() as counter:
            alan_page = alan_client.get(path).get_data(as_text=True)
        assert counter.count == 2, counter.statements  # Ada's copy, with Alan's own token
        assert CSRF_META.search(alan_page).group(1) != CSRF_META.search(ada_page).group(1)
        assert ">Organizers</a>" not in alan_page
        # An organizer's copy has the organizers' link, and members never get it.
        assert ">Organizers</a>" in grace_client.get(path).get_data(as_text=True)
        assert ">Organizers</a>" not in ada_client.get(path).get_data(as_text=True)


def test_a_page_the_clock_cannot_change_is_kept_past_the_minute_and_one_it_can_is_not(
        app, client, login, member, make_meeting, count_queries, monkeypatch):
    import thinknet.pagecache

    meeting = make_meeting(days_from_now=7)
    login(member)
    client.get("/members/")
    client.get(f"/meetings/{meeting}")
    later = thinknet.pagecache.time.time() + 3600
    monkeypatch.setattr(thinknet.pagecache.time, "time", lambda: later)
    with count_queries() as counter:
        client.get("/members/")
    assert counter.count == 2, counter.statements
    with count_queries() as counter:
        client.get(f"/meetings/{meeting}")
    assert counter.count > 2  # built again: "today", the cut-off and the start move with the clock
