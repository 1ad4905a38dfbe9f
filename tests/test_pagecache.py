"""The page cache: a page is served again only while nothing it could show has changed, on any server."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from conftest import CSRF_META, csrf_token, sign_in
from thinknet.extensions import db
from thinknet.models import Member, Revision, Settings, Topic, utcnow
from thinknet.pagecache import PageCache, page_cache


def revision(app) -> int:
    """How many times any table's number has moved on."""
    with app.app_context():
        return db.session.scalar(select(func.coalesce(func.sum(Revision.number), 0)))


def test_a_second_view_is_served_from_the_cache_with_a_fresh_working_csrf_token(app, client, login, member,
                                                                                 make_meeting, count_queries):
    app.config["PAGE_CACHE_VERIFY"] = False  # counts the queries of a hit, which verifying would double
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
    with app.app_context():
        settings_before = db.session.scalar(select(Revision.number).where(Revision.table_name == "settings")) or 0
    sign_in(client, member.email)  # a sign-in row: no page shows it
    assert revision(app) == before
    with app.app_context():
        db.session.execute(update(Member).where(Member.id == member.id).values(headline="Poet"))
        db.session.rollback()  # nothing committed, nothing moves
        assert revision(app) == before
        db.session.get(Settings, 1).group_name = "The Early Birds"
        db.session.commit()
        assert revision(app) == before + 1
        db.session.execute(update(Member).where(Member.id == member.id).values(headline="Poet"))
        db.session.commit()
        assert revision(app) == before + 2
        numbers = dict(db.session.execute(select(Revision.table_name, Revision.number)).all())
    assert numbers["settings"] == settings_before + 1  # each change moved its own table's number only


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
    app.config["PAGE_CACHE_VERIFY"] = False  # counts the queries of a hit, which verifying would double
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
    app.config["PAGE_CACHE_VERIFY"] = False  # counts the queries of a hit, which verifying would double
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


WAYS_OF_WRITING = {
    "orm object": lambda member_id: setattr(db.session.get(Member, member_id), "headline", "Poet"),
    "orm update statement": lambda member_id: db.session.execute(
        update(Member).where(Member.id == member_id).values(headline="Poet")),
    "core table": lambda member_id: db.session.execute(
        Member.__table__.update().where(Member.__table__.c.id == member_id).values(headline="Poet")),
    "text": lambda member_id: db.session.execute(
        text("UPDATE member SET headline = 'Poet' WHERE id = :id"), {"id": member_id}),
    "core on the session's connection": lambda member_id: db.session.connection().execute(
        Member.__table__.update().where(Member.__table__.c.id == member_id).values(headline="Poet")),
    "text on the session's connection": lambda member_id: db.session.connection().execute(
        text("UPDATE member SET headline = 'Poet' WHERE id = :id"), {"id": member_id}),
    "driver sql": lambda member_id: db.session.connection().exec_driver_sql(
        f"UPDATE member SET headline = 'Poet' WHERE id = {int(member_id)}"),
    "insert through text": lambda member_id: db.session.execute(
        text("INSERT INTO topic (title, details, author_id, anonymous, state, pinned, created_at, updated_at) "
             "VALUES ('Sleep', '', :id, false, 'open', false, :now, :now)"),
        {"id": member_id, "now": utcnow().replace(tzinfo=None)}),
    "unshown delete, then update through text": lambda member_id: db.session.execute(
        text("DELETE FROM sign_in WHERE member_id = :id"), {"id": member_id}) and db.session.execute(
        text("UPDATE member SET status = 'departed' WHERE id = :id"), {"id": member_id}),
}


@pytest.mark.parametrize("way", sorted(WAYS_OF_WRITING))
def test_every_way_of_writing_moves_the_revision_once(app, member, way):
    before = revision(app)
    with app.app_context():
        WAYS_OF_WRITING[way](member.id)
        db.session.commit()
    assert revision(app) == before + 1


def test_writing_a_table_its_model_declares_unshown_leaves_the_revision(app, member):
    from thinknet.pagecache import unshown_tables

    assert {"sign_in", "attempt", "audit_event", "password_reset", "outgoing_mail"} <= unshown_tables()
    before = revision(app)
    with app.app_context():
        db.session.execute(text("INSERT INTO attempt (kind, account, ip, at) VALUES ('sign_in', 'x', '', :at)"),
                           {"at": utcnow().replace(tzinfo=None)})
        db.session.execute(text("UPDATE member SET headline = 'Poet' WHERE id = -1"))  # no row
        db.session.commit()
    assert revision(app) == before


def test_a_get_that_writes_without_saying_so_fails_on_both_databases(app, client, login, member):
    from thinknet.database import WriteWhileReading

    @app.route("/test-writes-in-a-get")
    def writes_in_a_get():
        db.session.execute(text("UPDATE member SET headline = 'Poet' WHERE id = :id"), {"id": member.id})
        db.session.commit()
        return "wrote"

    login(member)
    before = revision(app)
    with pytest.raises((WriteWhileReading, OperationalError)):  # SQLite: its read-only connection refuses
        client.get("/test-writes-in-a-get")
    with app.app_context():
        assert db.session.get(Member, member.id).headline != "Poet"
    assert revision(app) == before


def test_a_page_kept_once_per_role_is_the_same_for_two_members_of_that_role(app, make_member, organizer):
    """Each endpoint cached per role is rendered for one member, then served to another of the same role;
    under PAGE_CACHE_VERIFY the copy must equal the page built for the second member, byte for byte."""
    ada, ben = make_member(name="Ada Lovelace"), make_member(name="Ben Baker")
    second_organizer = make_member.organizer(name="Oona Second")
    per_role = [rule.rule for rule in app.url_map.iter_rules()
                if getattr(app.view_functions[rule.endpoint], "__wrapped__", None) is not None
                and rule.endpoint in ("members.index", "members.tree")]
    assert per_role
    for first, second in ((ada, ben), (organizer, second_organizer)):
        clients = [app.test_client(), app.test_client()]
        for client, person in zip(clients, (first, second)):
            assert sign_in(client, person.email).status_code == 303
            client.get("/")  # the sign-in's flash is shown and gone
        for path in per_role:
            assert clients[0].get(path).status_code == 200
            assert clients[1].get(path).status_code == 200  # served from the first one's copy, verified


def test_a_cached_page_that_went_stale_fails_under_verification(app, client, login, member):
    from thinknet.pagecache import StalePage, page_cache

    login(member)
    assert client.get("/members/").status_code == 200
    with app.app_context():
        pages = page_cache().pages
        key = next(iter(pages))
        body, status, headers, built_from = pages[key]
        pages[key] = (body.replace(b"Ada Lovelace", b"Someone Else"), status, headers, built_from)
    with pytest.raises(StalePage, match="differs"):
        client.get("/members/")


def test_a_cached_view_that_writes_is_refused(app, client, login, member):
    from thinknet.database import begin_writing
    from thinknet.pagecache import CachedViewWrote, cached_page

    @app.route("/test-cached-writer")
    @cached_page
    def cached_writer():
        begin_writing()
        return "wrote"

    login(member)
    with pytest.raises(CachedViewWrote):
        client.get("/test-cached-writer")


def test_an_rsvp_leaves_standing_the_pages_that_read_nothing_it_changed(app, client, login, member, make_member,
                                                                       make_meeting, count_queries):
    app.config["PAGE_CACHE_VERIFY"] = False  # counts the queries of a hit, which verifying would double
    meeting = make_meeting(days_from_now=7)
    alan = make_member(email="alan@example.org", name="Alan Turing")
    login(member)
    client.get("/members/")
    client.get(f"/meetings/{meeting}")
    other = app.test_client()
    sign_in(other, alan.email)
    token = CSRF_META.search(other.get(f"/meetings/{meeting}").get_data(as_text=True)).group(1)
    assert other.post(f"/meetings/{meeting}/rsvp", data={"answer": "yes", "csrf_token": token}).status_code == 303
    with count_queries() as counter:
        client.get("/members/")
    assert counter.count == 2, counter.statements  # the sign-in and the revisions: served from the copy
    with count_queries() as counter:
        page = client.get(f"/meetings/{meeting}").get_data(as_text=True)
    assert counter.count > 2 and "Alan Turing" in page  # the session page read the answers: built again


def test_a_page_records_every_table_it_read_and_a_change_to_any_of_them_rebuilds_it(app, client, login, member,
                                                                                     make_member):
    login(member)
    assert "Poet" not in client.get("/members/").get_data(as_text=True)
    with app.app_context():
        _, (_, _, _, built_from) = next(iter(page_cache().pages.items()))
    assert {"member", "settings"} <= {table for table, _ in built_from}
    assert not {"sign_in", "revision"} & {table for table, _ in built_from}  # unshown tables never count
    with app.app_context():
        db.session.execute(text("UPDATE member SET headline = 'Poet' WHERE id = :id"), {"id": member.id})
        db.session.commit()
    assert "Poet" in client.get("/members/").get_data(as_text=True)


def test_a_page_built_under_one_mount_point_is_never_served_under_another(app, make_member):
    app.config["PAGE_CACHE_VERIFY"] = False  # the point is what a hit would have served
    ada = make_member(email="ada@example.org", name="Ada Lovelace")
    alan = make_member(email="alan@example.org", name="Alan Turing")
    prefixed, plain = app.test_client(), app.test_client()
    sign_in(prefixed, ada.email)
    sign_in(plain, alan.email)
    under_prefix = prefixed.get("/members/", base_url="http://localhost/breakfast/").get_data(as_text=True)
    assert 'href="/breakfast/members/' in under_prefix
    page = plain.get("/members/").get_data(as_text=True)
    assert "/breakfast/" not in page and 'href="/members/' in page
