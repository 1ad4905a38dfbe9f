"""The private calendar feed: its link, what it covers, conditional requests, rotation and privacy."""
from __future__ import annotations

import re

import pytest

from conftest import csrf_token
from ical_checks import check_ics
from thinknet.calendar import ics as ical
from thinknet.extensions import db
from thinknet.calendar import feed
from thinknet.models import Attendance, Meeting, MeetingState, Member, Takeaway, Topic, TopicState
from thinknet.pagecache import page_cache


def feed_path(client) -> str:
    page = client.get("/me/").get_data(as_text=True)
    return re.search(r'id="feed-url" type="text" value="http://localhost(/calendar/[^"]+\.ics)"', page).group(1)


@pytest.fixture
def signed_in(client, login, member):
    login(member)
    return client


def test_me_shows_the_https_and_webcal_links(signed_in, member):
    page = signed_in.get("/me/").get_data(as_text=True)
    path = feed_path(signed_in)
    assert f'href="webcal://localhost{path}"' in page
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    member_id, mac = token.split("-", 1)
    assert int(member_id) == member.id and len(mac) * 6 >= 128


def test_the_database_alone_does_not_give_the_link(app, member):
    with app.app_context():
        row = db.session.get(Member, member.id)
        token = feed.feed_token(row)
        stored = " ".join(str(getattr(row, column.key)) for column in Member.__table__.columns)
    assert token.split("-", 1)[1] not in stored
    # The same member and version under another key give another link: the key, not the row, makes it.
    app.config["SECRET_KEY"] = "another key entirely, from another installation"
    with app.app_context():
        assert feed.feed_token(db.session.get(Member, member.id)) != token


def test_the_feed_covers_four_weeks_back_to_eight_ahead_with_cancellations(app, signed_in, make_meeting):
    inside = [make_meeting(days_from_now=d) for d in (-27, -1, 2, 55)]
    outside = [make_meeting(days_from_now=d) for d in (-30, 58)]
    cancelled = make_meeting(days_from_now=9, state=MeetingState.CANCELLED)
    response = signed_in.get(feed_path(signed_in))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"].startswith("private")
    parsed = check_ics(response.data, None)
    with app.app_context():
        uids = {db.session.get(Meeting, i).calendar_uid: i for i in [*inside, *outside, cancelled]}
    seen = {uids[str(event["UID"])]: event for event in parsed.walk("VEVENT")}
    assert set(seen) == {*inside, cancelled}
    assert seen[cancelled]["STATUS"] == "CANCELLED"
    assert parsed["X-WR-CALNAME"] == "Thinking Network"


def test_the_feed_answers_conditional_requests_with_304(app, signed_in, make_meeting, monkeypatch):
    meeting_id = make_meeting(days_from_now=3)
    path = feed_path(signed_in)
    first, second = signed_in.get(path), signed_in.get(path)
    assert first.data == second.data  # nothing changed: the same bytes
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    with monkeypatch.context() as patch:  # a 304 never builds the calendar, kept or not
        with app.app_context():
            page_cache().clear()
        patch.setattr(ical, "feed", lambda *args: pytest.fail("the calendar was built for a 304"))
        assert signed_in.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert signed_in.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    with app.app_context():
        db.session.get(Meeting, meeting_id).venue_name = "The Library"
        db.session.commit()
    changed = signed_in.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"The Library" in changed.data
    assert changed.headers["ETag"] != etag


def test_a_new_link_retires_the_old_one(signed_in):
    old = feed_path(signed_in)
    response = signed_in.post("/me/calendar/reset", data={"csrf_token": csrf_token(signed_in, "/me/")})
    assert response.status_code == 303
    new = feed_path(signed_in)
    assert new != old
    assert signed_in.get(old).status_code == 404
    assert signed_in.get(new).status_code == 200


def test_a_forged_or_switched_off_feed_is_404(app, signed_in, member):
    path = feed_path(signed_in)
    assert signed_in.get(path.replace(f"/{member.id}-", f"/{member.id + 1}-")).status_code == 404
    assert signed_in.get("/calendar/not-a-token.ics").status_code == 404
    signed_in.post("/me/calendar", data={"calendar": "invites", "csrf_token": csrf_token(signed_in, "/me/")})
    assert signed_in.get(path).status_code == 404
    with app.app_context():
        assert db.session.get(Member, member.id).wants_calendar_feed is False


def test_the_feed_needs_no_sign_in_but_dies_with_a_suspension(app, signed_in, member):
    path = feed_path(signed_in)
    assert app.test_client().get(path).status_code == 200
    with app.app_context():
        db.session.get(Member, member.id).status = "suspended"
        db.session.commit()
    assert app.test_client().get(path).status_code == 404


def test_the_feed_holds_nothing_private(app, signed_in, member, make_member, make_meeting):
    past, ahead = make_meeting(days_from_now=-2), make_meeting(days_from_now=3)
    author = make_member(name="Zeb Secret", email="zeb@example.org")
    with app.app_context():
        db.session.add(Attendance(meeting_id=past, member_id=member.id))
        db.session.add(Takeaway(meeting_id=past, author_id=member.id, body="Confidential takeaway text"))
        db.session.add(Topic(title="Anonymous worry", author_id=author.id, anonymous=True, meeting_id=ahead,
                             state=TopicState.ON_AGENDA))
        db.session.commit()
    data = signed_in.get(feed_path(signed_in)).data
    for secret in (b"@example.org", b"Confidential takeaway text", b"Zeb Secret", b"Anonymous worry", b"ATTENDEE"):
        assert secret not in data


def test_the_feed_is_built_with_a_fixed_number_of_queries(app, signed_in, make_meeting, count_queries):
    path = feed_path(signed_in)
    make_meeting(days_from_now=3)
    with count_queries() as few:
        signed_in.get(path)
    for days in range(4, 40, 3):
        make_meeting(days_from_now=days)
    with count_queries() as many:
        signed_in.get(path)
    assert few.count == many.count
    etag = signed_in.get(path).headers["ETag"]
    with count_queries() as conditional:
        assert signed_in.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert conditional.count < many.count  # the 304 never loads the meetings


def test_last_modified_moves_when_a_far_off_session_comes_into_the_window(app, member, make_meeting):
    """The ETag changed and If-Modified-Since said 304: a client that sends only the date missed the session."""
    from datetime import timedelta

    from thinknet.models import utcnow

    now = utcnow()
    make_meeting(days_from_now=3)
    make_meeting(days_from_now=7 * feed.WEEKS_AHEAD + 1 / 24)  # comes into view an hour from now
    with app.app_context():
        row = db.session.get(Member, member.id)
        before = feed.feed_version(row, "http://localhost", now)
        after = feed.feed_version(row, "http://localhost", now + timedelta(hours=2))
        assert after.etag != before.etag
        assert after.last_modified > before.last_modified
        assert after.last_modified >= (now + timedelta(hours=1)).replace(microsecond=0) - timedelta(seconds=1)
        # and when the window moves past one, four weeks after it started
        gone = feed.feed_version(row, "http://localhost", now + timedelta(weeks=feed.WEEKS_BACK, days=4))
        assert gone.last_modified > after.last_modified


def test_a_weak_etag_matches_as_rfc_9110_says(signed_in, make_meeting):
    make_meeting(days_from_now=3)
    path = feed_path(signed_in)
    etag = signed_in.get(path).headers["ETag"]
    assert signed_in.get(path, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert signed_in.get(path, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert signed_in.get(path, headers={"If-None-Match": "*"}).status_code == 304
    assert signed_in.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200
