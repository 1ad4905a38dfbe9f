"""The schema's own guarantees, as the migrations create them, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    Invitation,
    Meeting,
    Member,
    Rsvp,
    RsvpAnswer,
    Settings,
    Topic,
    Vote,
    utcnow,
)


def add_member(email: str, **fields) -> Member:
    member = Member(email=email, name=fields.pop("name", email), password_hash="x", **fields)
    db.session.add(member)
    db.session.flush()
    return member


def add_meeting(**fields) -> Meeting:
    start = fields.pop("starts_at", utcnow() + timedelta(days=3))
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café", **fields)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def refused(statement_maker) -> None:
    with pytest.raises(IntegrityError):
        statement_maker()
        db.session.flush()
    db.session.rollback()


def test_email_is_unique_whatever_its_case(app_context):
    add_member("ada@example.org")
    db.session.commit()
    refused(lambda: add_member("ADA@Example.ORG"))


def test_one_rsvp_per_member_and_meeting(app_context):
    member, meeting = add_member("a@example.org"), add_meeting()
    db.session.add(Rsvp(meeting_id=meeting.id, member_id=member.id, answer=RsvpAnswer.YES))
    db.session.commit()
    refused(lambda: db.session.add(Rsvp(meeting_id=meeting.id, member_id=member.id, answer=RsvpAnswer.NO)))


def test_one_vote_per_member_and_topic(app_context):
    member = add_member("a@example.org")
    topic = Topic(title="Hiring", author_id=member.id)
    db.session.add(topic)
    db.session.flush()
    db.session.add(Vote(topic_id=topic.id, member_id=member.id))
    db.session.commit()
    refused(lambda: db.session.add(Vote(topic_id=topic.id, member_id=member.id)))


def test_one_attendance_row_per_member_and_meeting(app_context):
    member, meeting = add_member("a@example.org"), add_meeting()
    db.session.add(Attendance(meeting_id=meeting.id, member_id=member.id))
    db.session.commit()
    refused(lambda: db.session.add(Attendance(meeting_id=meeting.id, member_id=member.id)))


def test_one_invitation_becomes_at_most_one_member(app_context):
    sponsor, first, second = (add_member(f"{n}@example.org") for n in ("s", "f", "g"))
    for email, member in (("f@example.org", first), ("g@example.org", second)):
        db.session.add(Invitation(sponsor_id=sponsor.id, email=email, vouch_note="Known for years",
                                  token_hash=email, expires_at=utcnow(), member_id=None))
    db.session.commit()
    invitations = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()
    invitations[0].member_id = first.id
    db.session.commit()
    refused(lambda: setattr(db.session.get(Invitation, invitations[1].id), "member_id", first.id))


def test_foreign_keys_are_enforced(app_context):
    meeting = add_meeting()
    db.session.commit()
    refused(lambda: db.session.add(Rsvp(meeting_id=meeting.id, member_id=9999, answer=RsvpAnswer.YES)))


def test_a_member_with_history_cannot_be_deleted(app_context):
    member, meeting = add_member("a@example.org"), add_meeting()
    db.session.add(Attendance(meeting_id=meeting.id, member_id=member.id))
    db.session.commit()
    refused(lambda: db.session.execute(delete(Member).where(Member.id == member.id)))


def test_deleting_a_meeting_takes_its_rsvps_with_it(app_context):
    member, meeting = add_member("a@example.org"), add_meeting()
    db.session.add(Rsvp(meeting_id=meeting.id, member_id=member.id, answer=RsvpAnswer.YES))
    db.session.commit()
    db.session.execute(delete(Meeting).where(Meeting.id == meeting.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Rsvp)) == 0


def test_a_series_week_is_scheduled_once(app_context):
    from thinknet.models import Series

    series = Series(weekday=2, start_time=time(6, 30), timezone="Europe/London", venue_name="Café")
    db.session.add(series)
    db.session.flush()
    add_meeting(series_id=series.id, series_date=date(2026, 12, 2))
    db.session.commit()
    refused(lambda: add_meeting(series_id=series.id, series_date=date(2026, 12, 2)))


def test_a_meeting_cannot_end_before_it_starts(app_context):
    start = utcnow()
    refused(lambda: db.session.add(Meeting(starts_at=start, ends_at=start - timedelta(hours=1), venue_name="Café")))


def test_moments_come_back_as_aware_utc(app_context):
    moment = datetime(2026, 3, 29, 6, 30, tzinfo=timezone(timedelta(hours=2)))
    meeting = add_meeting(starts_at=moment)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Meeting, meeting.id).starts_at
    assert stored == moment
    assert stored.tzinfo == timezone.utc
    assert stored.hour == 4


def test_naive_datetimes_are_refused(app_context):
    with pytest.raises(Exception, match="naive datetime"):
        add_meeting(starts_at=datetime(2026, 1, 1, 6, 30))
    db.session.rollback()


def test_settings_row_is_created_once_with_the_defaults(app_context):
    first = Settings.get()
    db.session.commit()
    assert Settings.get() is first
    assert first.sponsor_min_attendance == 2
    assert first.sponsor_max_pending == 2
    assert first.invitation_ttl_days == 14
    assert first.member_cap == 150
    assert first.rsvp_cutoff_time == time(20, 0)
    assert "stays here" in first.charter
    assert db.session.scalar(select(func.count()).select_from(Settings)) == 1


def test_meetings_get_a_stable_unique_calendar_uid(app_context):
    first, second = add_meeting(), add_meeting()
    assert first.calendar_uid != second.calendar_uid
    assert first.calendar_uid.endswith("@thinknet")
    assert first.sequence == 0
