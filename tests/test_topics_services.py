"""Topic rules: agenda order, "me too", organizers' pin/drop/move, discussed and roll-over, anonymity."""
from __future__ import annotations

from datetime import timedelta

import pytest

from thinknet.extensions import db
from thinknet.models import Meeting, MeetingState, Member, Role, Topic, TopicState, Vote, utcnow
from thinknet.topics import services


def member(email: str, **fields) -> Member:
    m = Member(email=email, name=fields.pop("name", email.split("@")[0].title()), password_hash="x", **fields)
    db.session.add(m)
    db.session.flush()
    return m


def meeting_in(hours: float, **fields) -> Meeting:
    start = utcnow() + timedelta(hours=hours)
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café", **fields)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def topic(author: Member, title: str, meeting: Meeting | None = None, age_hours: float = 0, **fields) -> Topic:
    t = services.post_topic(author, title=title, details="", anonymous=fields.pop("anonymous", False),
                            meeting=None)
    if meeting is not None:  # set directly, so a test can place a topic on a session already past
        t.meeting_id, t.state = meeting.id, TopicState.ON_AGENDA
    t.created_at = utcnow() - timedelta(hours=age_hours)
    for name, value in fields.items():
        setattr(t, name, value)
    db.session.flush()
    return t


def vote(t: Topic, *voters: Member) -> None:
    for voter in voters:
        services.set_vote(t, voter, True)


@pytest.fixture
def people(app_context):
    return [member(f"{n}@example.org") for n in "abcdef"]


def test_the_agenda_is_ordered_pinned_then_votes_then_age(people):
    a, b, c, d, *_ = people
    meeting = meeting_in(48)
    older = topic(a, "Older, two votes", meeting, age_hours=10)
    newer = topic(a, "Newer, two votes", meeting, age_hours=1)
    popular = topic(b, "Three votes", meeting, age_hours=0)
    pinned = topic(b, "Pinned, no votes", meeting, age_hours=0, pinned=True)
    vote(older, b, c)
    vote(newer, b, c)
    vote(popular, a, c, d)
    titles = [v.topic.title for v in services.agenda(meeting, a)]
    assert titles == ["Pinned, no votes", "Three votes", "Older, two votes", "Newer, two votes"]
    assert [v.votes for v in services.agenda(meeting, a)] == [0, 3, 2, 2]


def test_me_too_is_one_vote_per_member_given_or_taken_back_and_not_on_your_own_topic(people):
    a, b, *_ = people
    t = topic(a, "Hiring")
    assert services.set_vote(t, b, True) is True
    assert services.set_vote(t, b, True) is True  # the same tap again changes nothing
    view = services.topic_view(t, b)
    assert (view.votes, view.voted) == (1, True)
    assert services.set_vote(t, b, False) is False
    assert services.topic_view(t, b).votes == 0
    with pytest.raises(services.TopicRefused, match="your own topic"):
        services.set_vote(t, a, True)


def test_only_the_author_edits_or_withdraws(people):
    a, b, *_ = people
    t = topic(a, "Hiring")
    with pytest.raises(services.TopicRefused, match="Only the member who posted"):
        services.edit_topic(t, b, title="Mine now", details="", anonymous=False)
    with pytest.raises(services.TopicRefused):
        services.withdraw_topic(t, b)
    services.withdraw_topic(t, a)
    assert t.state == TopicState.WITHDRAWN
    assert services.open_topics(b) == []
    with pytest.raises(services.TopicRefused, match="no longer open"):
        services.set_vote(t, b, True)


def test_an_anonymous_authors_identity_reaches_nobody_but_the_author(people):
    a, b, *_ = people
    organizer = member("org@example.org", role=Role.ORGANIZER)
    t = topic(a, "Co-founder trouble", anonymous=True)
    for viewer in (b, organizer):
        view = services.topic_view(t, viewer)
        assert view.author_name is None and view.author_label == "Anonymous" and not view.is_mine
    mine = services.topic_view(t, a)
    assert mine.is_mine and mine.author_label == "you (anonymously)"
    assert not services.may_see_author(t, organizer)


def test_organizers_pin_drop_and_move(people):
    a, organizer = people[0], member("org@example.org", role=Role.ORGANIZER)
    first, second = meeting_in(48), meeting_in(48 + 168)
    t = topic(a, "Pricing", first)
    services.set_pinned(t, organizer, True)
    assert t.pinned
    services.move_topic(t, organizer, second)
    assert (t.meeting_id, t.state, t.pinned) == (second.id, TopicState.ON_AGENDA, False)
    services.drop_topic(t, organizer)
    assert (t.meeting_id, t.state) == (None, TopicState.OPEN)
    with pytest.raises(services.TopicRefused):
        services.move_topic(t, organizer, meeting_in(-5))


def test_after_the_session_undiscussed_topics_roll_over_to_the_next(people):
    a, organizer = people[0], member("org@example.org", role=Role.ORGANIZER)
    past, cancelled, next_one = meeting_in(-24), meeting_in(24, state=MeetingState.CANCELLED), meeting_in(48)
    talked = topic(a, "Talked about", past)
    left = topic(a, "Ran out of time", past, pinned=True)
    services.set_discussed(talked, organizer, True)
    assert services.roll_over(past) == 1
    assert (left.meeting_id, left.state, left.pinned) == (next_one.id, TopicState.ON_AGENDA, False)
    assert (talked.meeting_id, talked.state) == (past.id, TopicState.DISCUSSED)
    assert cancelled.id != left.meeting_id


def test_roll_over_with_nothing_scheduled_returns_topics_to_the_backlog(people):
    a = people[0]
    past = meeting_in(-24)
    t = topic(a, "Ran out of time", past)
    assert services.roll_over_past() == 1
    db.session.refresh(t)
    assert (t.meeting_id, t.state) == (None, TopicState.OPEN)


def test_discussed_only_once_the_session_started(people):
    a, organizer = people[0], member("org@example.org", role=Role.ORGANIZER)
    t = topic(a, "Too early", meeting_in(24))
    with pytest.raises(services.TopicRefused):
        services.set_discussed(t, organizer, True)


def test_topics_go_only_to_upcoming_sessions(people):
    with pytest.raises(services.TopicRefused, match="upcoming sessions only"):
        services.post_topic(people[0], title="Late", details="", anonymous=False, meeting=meeting_in(-1))


def test_open_topics_and_recent_topics_leave_out_discussed_and_withdrawn(people):
    a, b, *_ = people
    past = meeting_in(-24)
    gone = topic(a, "Withdrawn")
    services.withdraw_topic(gone, a)
    done = topic(a, "Done", past)
    done.state = TopicState.DISCUSSED
    live = topic(b, "Live")
    assert [v.topic.id for v in services.open_topics(a)] == [live.id]
    assert [v.topic.id for v in services.recent_topics(a)] == [live.id]
    assert db.session.query(Vote).count() == 0
