"""Topic rules: posting, "me too", the agenda's order, organizers' pin/drop/move, discussed and roll-over,
and who may see an anonymous topic's author. Flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, func, select, update
from werkzeug.exceptions import NotFound

from thinknet.audit import record
from thinknet.extensions import db
from thinknet.models import Meeting, MeetingState, Member, Topic, TopicState, Vote, insert_ignoring_conflict, utcnow
from thinknet.errors import Refused

LIVE_TOPIC_STATES = (TopicState.OPEN, TopicState.ON_AGENDA)


class TopicRefused(Refused):
    """A topic action the rules do not allow; the message says why."""


@dataclass(frozen=True)
class TopicLine:
    """A topic as a list shows it, read as plain columns (whole topics with their author and session cost more
    to load than the list costs to draw). The rules below ask it what they ask a Topic."""

    id: int
    title: str
    state: TopicState
    pinned: bool
    anonymous: bool
    author_id: int
    meeting_id: int | None
    author_name: str
    meeting_starts_at: datetime | None


def _session_started(topic: Topic | TopicLine) -> bool:
    return topic.meeting_starts_at is not None and topic.meeting_starts_at <= utcnow()


def agenda_change_refusal(topic: Topic | TopicLine, what: str) -> str | None:
    """Why an organizer may not pin, unpin or drop this topic now, or None: only a topic on the agenda of a
    session that has not started (once it has, its agenda is the record of what was on the table)."""
    if topic.state != TopicState.ON_AGENDA:
        return f"Only a topic on a session's agenda can be {what}."
    if _session_started(topic):
        return f"This session has started: its agenda can no longer be {what}."
    return None


def discussed_refusal(topic: Topic | TopicLine, discussed: bool) -> str | None:
    """Why this topic may not be marked discussed (or not discussed after all) now, or None."""
    if not _session_started(topic):
        return "A topic is marked discussed once its session has started."
    if topic.state != (TopicState.ON_AGENDA if discussed else TopicState.DISCUSSED):
        return "This topic cannot be marked so."
    return None


@dataclass(frozen=True)
class TopicView:
    """A topic as one viewer may see it: ``author`` is None unless the viewer may know who wrote it; the
    ``can_…`` properties say what the viewer may do with it, from the same rules the actions apply."""

    topic: Topic | TopicLine
    votes: int
    voted: bool
    is_mine: bool
    author_name: str | None
    by_organizer: bool = False

    @property
    def can_change(self) -> bool:
        """Edit or withdraw: the author, while the topic is open."""
        return self.is_mine and self.topic.state in LIVE_TOPIC_STATES

    @property
    def can_pin(self) -> bool:
        return self.by_organizer and agenda_change_refusal(self.topic, "pinned") is None

    @property
    def can_drop(self) -> bool:
        return self.by_organizer and agenda_change_refusal(self.topic, "dropped") is None

    @property
    def can_move(self) -> bool:
        return self.by_organizer and self.topic.state in LIVE_TOPIC_STATES

    @property
    def can_mark_discussed(self) -> bool:
        return self.by_organizer and discussed_refusal(self.topic, True) is None

    @property
    def can_mark_undiscussed(self) -> bool:
        return self.by_organizer and discussed_refusal(self.topic, False) is None

    @property
    def author_label(self) -> str:
        if self.is_mine:
            return "you (anonymously)" if self.topic.anonymous else "you"
        return self.author_name if self.author_name is not None else "Anonymous"

    @property
    def can_vote(self) -> bool:
        return not self.is_mine and self.topic.state in LIVE_TOPIC_STATES


def may_see_author(topic: Topic | TopicLine, viewer: Member) -> bool:
    """The one rule for anonymity: only the author knows an anonymous topic is theirs, organizers included."""
    return not topic.anonymous or topic.author_id == viewer.id


def _vote_count() -> Any:
    # Counted per topic shown, through the (topic, member) index: the cost follows the page, not the history.
    return select(func.count()).where(Vote.topic_id == Topic.id).correlate(Topic).scalar_subquery()


def _by_interest(statement: Select) -> Select:
    """Agenda order: pinned first, then most "me too", then oldest."""
    return statement.order_by(Topic.pinned.desc(), _vote_count().desc(), Topic.created_at, Topic.id)


def real(member: Member) -> Member:
    """The member itself when a view passed current_user, which looks itself up again on every attribute."""
    return member._get_current_object() if hasattr(member, "_get_current_object") else member


_voted = exists().where(and_(Vote.topic_id == Topic.id, Vote.member_id == bindparam("viewer_id")))


def _lines(statement: Select) -> Select:
    """A list's topic statement: each topic's line, its "me too" count and whether the viewer (``viewer_id``)
    said it, in one query."""
    return statement.add_columns(_vote_count(), _voted).outerjoin(Member, Topic.author_id == Member.id) \
        .outerjoin(Meeting, Topic.meeting_id == Meeting.id)


def _view(topic: Topic | TopicLine, votes: int, voted: bool, viewer: Member, author_name: str) -> TopicView:
    return TopicView(topic, votes, bool(voted), topic.author_id == viewer.id,
                     author_name if may_see_author(topic, viewer) else None, viewer.is_organizer)


def _views(statement: Select, viewer: Member, **parameters: Any) -> list[TopicView]:
    viewer = real(viewer)  # asked per topic below
    rows = db.session.execute(statement, {"viewer_id": viewer.id, **parameters})
    views = []
    for *columns, votes, voted in rows:
        line = TopicLine(*columns)
        views.append(_view(line, votes, voted, viewer, line.author_name))
    return views


# The lists' topic statements, built once: building one costs about as much as running it.
_LINE = select(Topic.id, Topic.title, Topic.state, Topic.pinned, Topic.anonymous, Topic.author_id,
               Topic.meeting_id, Member.name, Meeting.starts_at)
_AGENDA = _lines(_by_interest(
    _LINE.where(Topic.meeting_id == bindparam("meeting_id"), Topic.state != TopicState.WITHDRAWN)))
_AGENDA_LEADING = _AGENDA.limit(bindparam("limit"))
_OPEN_TOPICS = _lines(_by_interest(_LINE.where(Topic.state.in_(LIVE_TOPIC_STATES)))
                      .limit(bindparam("limit")).offset(bindparam("offset")))
_RECENT_TOPICS = _lines(_LINE.where(Topic.state.in_(LIVE_TOPIC_STATES))
                        .order_by(Topic.created_at.desc()).limit(bindparam("limit")))
_ONE_TOPIC = select(_vote_count(), _voted).select_from(Topic).where(Topic.id == bindparam("topic_id"))


def agenda(meeting: Meeting, viewer: Member, limit: int | None = None) -> list[TopicView]:
    """The session's agenda in its order; ``limit``: only its leading topics (the dashboard, the invite)."""
    if limit is None:
        return _views(_AGENDA, viewer, meeting_id=meeting.id)
    return _views(_AGENDA_LEADING, viewer, meeting_id=meeting.id, limit=limit)


TOPICS_PAGE_SIZE = 25


def open_topics(viewer: Member, page: int = 1) -> list[TopicView]:
    """Topics still to be discussed, on an upcoming agenda or in the backlog, most wanted first (the agenda's
    order), a page at a time: one more than the page size says whether there is a next page."""
    return _views(_OPEN_TOPICS, viewer, limit=TOPICS_PAGE_SIZE + 1, offset=(page - 1) * TOPICS_PAGE_SIZE)


def recent_topics(viewer: Member, limit: int = 5) -> list[TopicView]:
    return _views(_RECENT_TOPICS, viewer, limit=limit)


def get_topic_or_404(topic_id: int, own_by: Member | None = None) -> Topic:
    """The topic; with ``own_by``, only if that member wrote it (to anyone else it is not there: 404)."""
    topic = db.session.get(Topic, topic_id)
    if topic is None or (own_by is not None and topic.author_id != own_by.id):
        raise NotFound()
    return topic


def topic_view(topic: Topic, viewer: Member) -> TopicView:
    """The topic's own page: the whole topic, its details and its session."""
    viewer = real(viewer)
    votes, voted = db.session.execute(_ONE_TOPIC, {"viewer_id": viewer.id, "topic_id": topic.id}).one()
    return _view(topic, votes, voted, viewer, topic.author.name)


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


def undiscussed_left(agenda: list[TopicView]) -> bool:
    """Whether a past session's agenda still holds topics the table did not get to (to roll over)."""
    return any(view.can_mark_discussed for view in agenda)


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
    refusal = agenda_change_refusal(topic, "pinned" if pinned else "unpinned")
    if refusal:
        raise TopicRefused(refusal)
    topic.pinned = pinned
    db.session.flush()
    record(organizer, "topic.pinned" if pinned else "topic.unpinned", target=topic)


def drop_topic(topic: Topic, organizer: Member) -> None:
    """Takes a topic off its session's agenda, back to the backlog."""
    refusal = agenda_change_refusal(topic, "dropped")
    if refusal:
        raise TopicRefused(refusal)
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


def toggle_discussed(topic: Topic, organizer: Member) -> None:
    set_discussed(topic, organizer, topic.state != TopicState.DISCUSSED)


def set_discussed(topic: Topic, organizer: Member, discussed: bool) -> None:
    """After the session: the table got to it (or, undone, it goes back on that session's agenda)."""
    refusal = discussed_refusal(topic, discussed)
    if refusal:
        raise TopicRefused(refusal)
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
