"""Topics over HTTP: posting, "me too" in place, the author's controls, organizers' controls, and anonymity."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from conftest import csrf_token, sent_mail, sign_in
from thinknet.extensions import db
from thinknet.models import Topic, TopicState, Vote


def post_topic(client, **fields):
    data = {"title": "How do I let go of an under-performer?", "details": "Kindly, and soon.", "when": "next",
            "csrf_token": csrf_token(client, "/topics/new")}
    data.update(fields)
    return client.post("/topics/new", data=data)


def only_topic(app) -> Topic:
    with app.app_context():
        return db.session.scalar(select(Topic))


def test_a_member_posts_a_topic_for_the_next_session(app, client, login, member, make_meeting):
    meeting_id = make_meeting(days_from_now=3)
    login(member)
    response = post_topic(client)
    assert response.status_code == 303
    topic = only_topic(app)
    assert (topic.meeting_id, topic.state, topic.anonymous) == (meeting_id, TopicState.ON_AGENDA, False)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your topic is posted." in page and "on the agenda for" in page
    assert "How do I let go of an under-performer?" in client.get(f"/meetings/{meeting_id}").get_data(as_text=True)


def test_a_topic_can_go_to_the_backlog(app, client, login, member, make_meeting):
    make_meeting(days_from_now=3)
    login(member)
    post_topic(client, when="backlog")
    assert only_topic(app).meeting_id is None
    assert "backlog" in client.get("/topics/").get_data(as_text=True)


def test_a_topic_without_a_title_comes_back_with_what_was_typed(app, client, login, member):
    login(member)
    response = post_topic(client, title="", details="Some thoughts I typed at 6 AM")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="title-error">Write the topic in a line' in page
    assert "Some thoughts I typed at 6 AM" in page
    assert only_topic(app) is None


def test_me_too_toggles_in_place_with_htmx(app, client, login, member, make_member):
    author = make_member(name="Ann Author")
    login(author)
    post_topic(client, when="backlog")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    topic_id = only_topic(app).id
    login(member)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/topics/")}
    assert 'name="vote" value="on" aria-pressed="false"' in client.get("/topics/").get_data(as_text=True)
    response = client.post(f"/topics/{topic_id}/vote", data={"vote": "on"}, headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith(f'<form class="vote" id="vote-{topic_id}"')
    assert 'name="vote" value="off" aria-pressed="true"' in body and '<span class="vote-count">1</span>' in body
    assert "HX-Trigger" not in response.headers
    body = client.post(f"/topics/{topic_id}/vote", data={"vote": "off"}, headers=headers).get_data(as_text=True)
    assert 'aria-pressed="false"' in body and '<span class="vote-count">0</span>' in body


def test_me_too_works_without_javascript(app, client, login, member, make_member):
    author = make_member(name="Ann Author")
    login(author)
    post_topic(client, when="backlog")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    topic_id = only_topic(app).id
    login(member)
    response = client.post(f"/topics/{topic_id}/vote", data={"csrf_token": csrf_token(client, "/topics/"),
                                                             "vote": "on", "next": "/topics/"})
    assert response.status_code == 303 and response.headers["Location"] == "/topics/"
    with app.app_context():
        assert db.session.scalar(select(Vote.member_id)) == member.id
    assert '<span class="vote-count">1</span>' in client.get("/topics/").get_data(as_text=True)


def test_the_author_edits_and_withdraws_and_nobody_else_can(app, client, login, member, make_member):
    login(member)
    post_topic(client, when="backlog")
    topic_id = only_topic(app).id
    response = client.post(f"/topics/{topic_id}/edit", data={"title": "Letting go, kindly", "details": "",
                                                             "csrf_token": csrf_token(client, "/topics/")})
    assert response.status_code == 303
    assert only_topic(app).title == "Letting go, kindly"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    other = make_member()
    login(other)
    token = csrf_token(client, "/topics/")
    assert client.get(f"/topics/{topic_id}/edit").status_code == 404
    assert client.post(f"/topics/{topic_id}/withdraw", data={"csrf_token": token}).status_code == 404
    client.post("/logout", data={"csrf_token": token})
    login(member)
    client.post(f"/topics/{topic_id}/withdraw", data={"csrf_token": csrf_token(client, "/topics/")})
    assert only_topic(app).state == TopicState.WITHDRAWN


def test_organizers_pin_drop_move_and_mark_discussed(app, client, login, member, organizer, make_meeting):
    first, second = make_meeting(days_from_now=3), make_meeting(days_from_now=10)
    login(member)
    post_topic(client)
    topic_id = only_topic(app).id
    token = csrf_token(client, "/")
    assert client.post(f"/topics/{topic_id}/pin", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(organizer)
    token = csrf_token(client, "/")
    client.post(f"/topics/{topic_id}/pin", data={"csrf_token": token})
    assert only_topic(app).pinned
    client.post(f"/topics/{topic_id}/move", data={"meeting_id": str(second), "csrf_token": token})
    assert only_topic(app).meeting_id == second
    client.post(f"/topics/{topic_id}/drop", data={"csrf_token": token})
    assert (only_topic(app).meeting_id, only_topic(app).state) == (None, TopicState.OPEN)
    assert first != second


def test_after_a_session_the_organizer_marks_discussed_and_rolls_the_rest_over(app, client, login, organizer,
                                                                              make_meeting):
    past, upcoming = make_meeting(days_from_now=-1), make_meeting(days_from_now=6)
    with app.app_context():
        talked = Topic(title="Talked", author_id=organizer.id, meeting_id=past, state=TopicState.ON_AGENDA)
        left = Topic(title="Left over", author_id=organizer.id, meeting_id=past, state=TopicState.ON_AGENDA)
        db.session.add_all([talked, left])
        db.session.commit()
        talked_id, left_id = talked.id, left.id
    login(organizer)
    token = csrf_token(client, "/")
    client.post(f"/topics/{talked_id}/discussed", data={"csrf_token": token})
    response = client.post(f"/meetings/{past}/close-agenda", data={"csrf_token": token})
    assert response.status_code == 303
    assert "1 undiscussed topic moved to the next session." in client.get(f"/meetings/{past}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Topic, talked_id).state == TopicState.DISCUSSED
        assert db.session.get(Topic, left_id).meeting_id == upcoming


def crawl(app, client, ids):
    """Every page and fragment a signed-in viewer can GET, with real ids filled in."""
    texts = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in {"static", "auth.reset_password", "join.landing",
                                                         "auth.login", "auth.forgot_password",
                                                         "calendar.subscription"}:
            continue
        path = rule.rule
        for name, value in ids.items():
            path = path.replace(f"<int:{name}>", str(value))
        if "<" in path:
            continue
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(path, headers=headers)
            texts[(path, bool(headers))] = (response.status_code, response.get_data(as_text=True))
    return texts


def traces(text, author):
    return sum(text.count(trace) for trace in (author.name, author.email, f"/members/{author.id}\""))


@pytest.mark.parametrize("viewer_role", ["member", "organizer"])
def test_an_anonymous_author_appears_in_no_response_a_non_author_receives(
        app, client, login, make_member, make_meeting, viewer_role):
    meeting_id = make_meeting(days_from_now=3)
    author = make_member(name="Zebediah Quill", email="zeb@example.org")
    viewer = make_member.organizer() if viewer_role == "organizer" else make_member()
    login(viewer)
    ids = {"member_id": viewer.id, "meeting_id": meeting_id}
    before = crawl(app, client, ids)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    author_client = app.test_client()
    sign_in(author_client, author.email)
    post_topic(author_client, title="Co-founder has checked out", details="What do I do?", anonymous="y")
    topic_id = only_topic(app).id
    assert "you (anonymously)" in author_client.get(f"/topics/{topic_id}").get_data(as_text=True)

    login(viewer)
    vote = client.post(f"/topics/{topic_id}/vote", headers={"HX-Request": "true",
                                                            "X-CSRFToken": csrf_token(client, "/")})
    assert traces(vote.get_data(as_text=True), author) == 0
    after = crawl(app, client, {**ids, "topic_id": topic_id})
    seen_topic = False
    for key, (status, text) in after.items():
        if "Co-founder has checked out" in text:
            seen_topic = True
        old = traces(before[key][1], author) if key in before else 0
        assert traces(text, author) == old, key
    assert seen_topic
    assert "Anonymous" in client.get(f"/topics/{topic_id}").get_data(as_text=True)
    assert all(author.email not in str(message) for message in sent_mail(app))


def test_the_topics_list_comes_a_page_at_a_time_most_wanted_first(app, client, login, member, make_member):
    other = make_member(email="other@example.org")
    with app.app_context():
        topics = [Topic(title=f"Question number {n}", details="", author_id=other.id, state=TopicState.OPEN)
                  for n in range(30)]
        db.session.add_all(topics)
        db.session.flush()
        db.session.add(Vote(topic_id=topics[29].id, member_id=member.id))  # the last one posted is wanted
        db.session.commit()
    login(member)
    first = client.get("/topics/").get_data(as_text=True)
    # The wanted one leads; the rest by age.
    assert re.findall(r"Question number (\d+)", first) == ["29", *map(str, range(24))]
    assert 'href="/topics/?page=2"' in first and "?page=0" not in first
    second = client.get("/topics/?page=2").get_data(as_text=True)
    assert re.findall(r"Question number (\d+)", second) == ["24", "25", "26", "27", "28"] and 'href="/topics/?page=1"' in second
    assert "Question number 29" not in second
    assert "No more topics" in client.get("/topics/?page=3").get_data(as_text=True)
