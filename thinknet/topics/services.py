"""Topic rules: posting, "me too", the agenda's order, organizers' pin/drop/move, discussed and roll-over,
and who may see an anonymous topic's author. Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import joinedload

from thinknet.audit import record
from thinknet.extensions import db
from thinknet.models import Meeting, MeetingState, Member, Topic, TopicState, Vote, insert_ignoring_conflict, utcnow

LIVE_TOPIC_STATES = (TopicState.OPEN, TopicState.ON_AGENDA)


class TopicRefused(Exception):
    """A topic action the rules do not allow; the message says why."""


@dataclass(frozen=True)
class TopicView:
    """A topic as one viewer may see it: ``author`` is None unless the viewer may know who wrote it."""

    topic: Topic
    votes: int
    voted: bool
    is_mine: bool
    author: Member | None

    @property
    def author_label(self) -> str:
        if self.is_mine:
            return "you (anonymously)" if self.topic.anonymous else "you"
        return self.author.name if self.author is not None else "Anonymous"

    @property
    def can_vote(self) -> bool:
        return not self.is_mine and self.topic.state in LIVE_TOPIC_STATES


def may_see_author(topic: Topic, viewer: Member) -> bool:
    """The one rule for anonymity: only the author knows an anonymous topic is theirs, organizers included."""
    return not topic.anonymous or topic.author_id == viewer.id


def _vote_count() -> Any:
    # Counted per topic shown, through the (topic, member) index: the cost follows the page, not the history.
    return select(func.count()).where(Vote.topic_id == Topic.id).correlate(Topic).scalar_subquery()


def _by_interest(statement: Select) -> Select:
    """Agenda order: pinned first, then most "me too", then oldest."""
    return statement.order_by(Topic.pinned.desc(), _vote_count().desc(), Topic.created_at, Topic.id)


def _views(statement: Select, viewer: Member) -> list[TopicView]:
    votes = _vote_count()
    voted = exists().where(and_(Vote.topic_id == Topic.id, Vote.member_id == viewer.id))
    rows = db.session.execute(
        statement.add_columns(votes, voted).options(joinedload(Topic.author), joinedload(Topic.meeting))
    ).all()
    return [
        TopicView(topic, votes, bool(has_voted), topic.author_id == viewer.id,
                  topic.author if may_see_author(topic, viewer) else None)
        for topic, votes, has_voted in rows
    ]


def agenda(meeting: Meeting, viewer: Member) -> list[TopicView]:
    return _views(_by_interest(
        select(Topic).where(Topic.meeting_id == meeting.id, Topic.state != TopicState.WITHDRAWN)), viewer)


TOPICS_PAGE_SIZE = 25


def open_topics(viewer: Member, page: int = 1) -> list[TopicView]:
    """Topics still to be discussed, on an upcoming agenda or in the backlog, most wanted first (the agenda's
    order), a page at a time: one more than the page size says whether there is a next page."""
    return _views(
        _by_interest(select(Topic).where(Topic.state.in_(LIVE_TOPIC_STATES)))
        .limit(TOPICS_PAGE_SIZE + 1).offset((page - 1) * TOPICS_PAGE_SIZE),
        viewer,
    )


def recent_topics(viewer: Member, limit: int = 5) -> list[TopicView]:
    return _views(
        select(Topic).where(Topic.state.in_(LIVE_TOPIC_STATES)).order_by(Topic.created_at.desc()).limit(limit),
        viewer,
    )


def topic_view(topic: Topic, viewer: Member) -> TopicView:
    [view] = _views(select(Topic).where(Topic.id == topic.id), viewer)
    return view


def post_topic(author: Member, *, title: str, details: str, anonymous: bool, meeting: Meeting | None) -> Topic:
    """A new topic for a session's agenda, or for the backlog when no session is given."""
    if meeting is not None and (meeting.is_cancelled or meeting.starts_at <= utcnow()):
        raise TopicRefused("Topics can be added to upcoming sessions only.")
    topic = Topic(
        title=title.strip(), details=details.strip(), author_id=author.id, anonymous=anonymous,
        meeting_id=meeting.id if meeting else None,
        state=TopicState.ON_AGENDA if meeting else TopicState.OPEN,
    )
    db.session.add(topic)
    db.session.flush()
    return topic


def _check_author(topic: Topic, member: Member) -> None:
    if topic.author_id != member.id:
        raise TopicRefused("Only the member who posted a topic can change it.")
    if topic.state not in LIVE_TOPIC_STATES:
        raise TopicRefused("This topic can no longer be changed.")


def edit_topic(topic: Topic, member: Member, *, title: str, details: str, anonymous: bool) -> None:
    _check_author(topic, member)
    topic.title, topic.details, topic.anonymous = title.strip(), details.strip(), anonymous
    db.session.flush()


def withdraw_topic(topic: Topic, member: Member) -> None:
    _check_author(topic, member)
    topic.state = TopicState.WITHDRAWN
    topic.pinned = False
    db.session.flush()


def set_vote(topic: Topic, member: Member, wanted: bool) -> bool:
    """Gives or takes back the member's one "me too". Idempotent: the same tap twice, or thirty at once, leaves
    one vote (the database's unique constraint settles races). Returns whether the member now has one."""
    if topic.author_id == member.id:
        raise TopicRefused("This is your own topic.")
    if topic.state not in LIVE_TOPIC_STATES:
        raise TopicRefused("This topic is no longer open.")
    values = {"topic_id": topic.id, "member_id": member.id}
    if wanted:
        db.session.execute(_give_vote(db.session.get_bind().dialect.name), {**values, "created_at": utcnow()})
    else:
        db.session.execute(_TAKE_BACK_VOTE, values)
    db.session.flush()
    return wanted


# The "me too" statements are built once, not on every tap (see auth.services._SIGNED_IN).
_TAKE_BACK_VOTE = delete(Vote).where(
    Vote.topic_id == bindparam("topic_id"), Vote.member_id == bindparam("member_id")
).execution_options(synchronize_session=False)


@cache
def _give_vote(dialect: str) -> Any:
    columns = ("topic_id", "member_id", "created_at")
    return insert_ignoring_conflict(Vote.__table__, {name: bindparam(name) for name in columns}, dialect)


# Organizers


def set_pinned(topic: Topic, organizer: Member, pinned: bool) -> None:
    if topic.state != TopicState.ON_AGENDA:
        raise TopicRefused("Only a topic on a session's agenda can be pinned.")
    topic.pinned = pinned
    db.session.flush()
    record(organizer, "topic.pinned" if pinned else "topic.unpinned", target=topic)


def drop_topic(topic: Topic, organizer: Member) -> None:
    """Takes a topic off its session's agenda, back to the backlog."""
    if topic.state != TopicState.ON_AGENDA:
        raise TopicRefused("Only a topic on a session's agenda can be dropped from it.")
    topic.meeting_id, topic.state, topic.pinned = None, TopicState.OPEN, False
    db.session.flush()
    record(organizer, "topic.dropped", target=topic)


def move_topic(topic: Topic, organizer: Member, meeting: Meeting) -> None:
    if topic.state not in LIVE_TOPIC_STATES:
        raise TopicRefused("Only an open topic can be moved.")
    if meeting.is_cancelled or meeting.starts_at <= utcnow():
        raise TopicRefused("Topics can be moved to upcoming sessions only.")
    topic.meeting_id, topic.state, topic.pinned = meeting.id, TopicState.ON_AGENDA, False
    db.session.flush()
    record(organizer, "topic.moved", target=topic, meeting_id=meeting.id)


def set_discussed(topic: Topic, organizer: Member, discussed: bool) -> None:
    """After the session: the table got to it (or, undone, it goes back on that session's agenda)."""
    meeting = topic.meeting
    if meeting is None or meeting.starts_at > utcnow():
        raise TopicRefused("A topic is marked discussed once its session has started.")
    if discussed and topic.state != TopicState.ON_AGENDA or not discussed and topic.state != TopicState.DISCUSSED:
        raise TopicRefused("This topic cannot be marked so.")
    topic.state = TopicState.DISCUSSED if discussed else TopicState.ON_AGENDA
    topic.discussed_at = utcnow() if discussed else None
    db.session.flush()


def next_session_after(meeting: Meeting) -> Meeting | None:
    return db.session.scalar(
        select(Meeting)
        .where(Meeting.state == MeetingState.SCHEDULED, Meeting.starts_at > max(meeting.starts_at, utcnow()))
        .order_by(Meeting.starts_at).limit(1)
    )


def roll_over(meeting: Meeting) -> int:
    """Moves a past session's undiscussed topics to the next session (or the backlog); returns how many."""
    target = next_session_after(meeting)
    moved = db.session.execute(
        update(Topic)
        .where(Topic.meeting_id == meeting.id, Topic.state == TopicState.ON_AGENDA)
        .values(meeting_id=target.id if target else None,
                state=TopicState.ON_AGENDA if target else TopicState.OPEN, pinned=False)
    ).rowcount
    db.session.flush()
    return moved


def roll_over_past(now: datetime | None = None) -> int:
    """Rolls over every session that has ended and still holds undiscussed topics (for the scheduled job)."""
    now = now or utcnow()
    meetings = db.session.scalars(
        select(Meeting).where(
            Meeting.ends_at <= now,
            Meeting.id.in_(select(Topic.meeting_id).where(Topic.state == TopicState.ON_AGENDA)),
        ).order_by(Meeting.starts_at)
    ).all()
    return sum(roll_over(meeting) for meeting in meetings)
