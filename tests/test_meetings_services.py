"""Meeting rules: the schedule across DST, moving and cancelling, RSVP cut-off, the waitlist, attendance, takeaways."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from thinknet.extensions import db
from thinknet.invitations.services import attended_count
from thinknet.meetings import attendance, rsvps, schedule, takeaways
from thinknet.members.services import last_attended
from thinknet.models import Meeting, MeetingState, Member, Rsvp, RsvpAnswer, Series, Settings, utcnow


def wednesday_series(zone: str) -> Series:
    return Series(weekday=2, start_time=time(6, 30), duration_minutes=60, timezone=zone, venue_name="Café")


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # US clocks go back on 1 Nov 2026; European ones on 25 Oct 2026.
        ("America/New_York", date(2026, 10, 28), date(2026, 11, 4)),
        ("Europe/Berlin", date(2026, 10, 21), date(2026, 10, 28)),
    ],
)
def test_six_thirty_stays_six_thirty_local_across_daylight_saving(zone, before, after):
    series = wednesday_series(zone)
    start_before, _ = schedule.series_times(series, before)
    start_after, end_after = schedule.series_times(series, after)
    for start in (start_before, start_after):
        local = start.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (6, 30)
    assert start_after.hour - start_before.hour == 1  # one hour later in UTC once clocks go back
    assert (end_after - start_after).total_seconds() == 3600


def test_series_days_fall_on_the_series_weekday_from_today_on():
    days = schedule.series_days(wednesday_series("UTC"), date(2026, 11, 22), weeks=8)
    assert len(days) == 8
    assert days[0] == date(2026, 11, 25)
    assert all(day.weekday() == 2 for day in days)


def series_values(**changes) -> schedule.SeriesValues:
    values = dict(weekday=utcnow().weekday(), start_time=time(6, 30), duration_minutes=60, timezone="Europe/London",
                  venue_name="Café Rosa", venue_address="12 Market Street", seat_limit=None)
    values.update(changes)
    return schedule.SeriesValues(**values)


def member(email: str, **fields) -> Member:
    fields.setdefault("joined_at", utcnow() - timedelta(days=365))  # on the sheets of sessions in the past weeks
    m = Member(email=email, name=fields.pop("name", email.split("@")[0].title()), password_hash="x", **fields)
    db.session.add(m)
    db.session.flush()
    return m


@pytest.fixture
def organizer(app_context):
    return member("olga@example.org", role="organizer")


def upcoming(series_id=None):
    statement = select(Meeting).where(Meeting.starts_at > utcnow()).order_by(Meeting.starts_at)
    return db.session.scalars(statement).all()


def test_saving_the_series_schedules_the_next_eight_weeks_once(organizer):
    series, created = schedule.save_series(organizer, series_values(), date.today())
    assert len(created) == 8
    assert all(m.starts_at.astimezone(ZoneInfo("Europe/London")).time() == time(6, 30) for m in created)
    assert schedule.schedule_ahead(series, date.today()) == []
    assert len(upcoming()) == 8


def test_when_todays_session_has_started_the_schedule_still_holds_eight_weeks(organizer):
    today = datetime.now(ZoneInfo("Europe/London")).date()
    _, created = schedule.save_series(organizer, series_values(weekday=today.weekday(), start_time=time(0, 0)), today)
    assert len(created) == 8
    assert created[0].series_date == today + timedelta(weeks=1)


def test_a_moved_or_cancelled_week_is_not_scheduled_again(organizer):
    series, created = schedule.save_series(organizer, series_values(), date.today())
    moved, cancelled = created[1], created[2]
    schedule.update_meeting(moved, organizer, schedule.MeetingValues(
        day=moved.series_date + timedelta(days=1), start_time=time(7, 0), duration_minutes=60,
        venue_name="Café Rosa", venue_address="", seat_limit=None))
    schedule.cancel_meeting(cancelled, organizer, "Holiday")
    assert schedule.schedule_ahead(series, date.today()) == []
    assert db.session.get(Meeting, cancelled.id).state == MeetingState.CANCELLED


def test_changes_that_matter_to_calendars_raise_the_sequence(organizer):
    _, created = schedule.save_series(organizer, series_values(), date.today())
    meeting = created[0]
    local = meeting.starts_at.astimezone(ZoneInfo("UTC"))
    same = schedule.MeetingValues(day=local.date(), start_time=local.time(), duration_minutes=60,
                                  venue_name="Café Rosa", venue_address="12 Market Street", seat_limit=8)
    schedule.update_meeting(meeting, organizer, same)
    assert meeting.sequence == 0  # only the seats changed
    schedule.update_meeting(meeting, organizer, schedule.MeetingValues(
        day=local.date(), start_time=local.time(), duration_minutes=60, venue_name="The Library",
        venue_address="1 Book Row", seat_limit=8))
    assert meeting.sequence == 1
    schedule.cancel_meeting(meeting, organizer, "Snow")
    assert (meeting.sequence, meeting.state) == (2, MeetingState.CANCELLED)
    others = [m for m in upcoming() if m.id != meeting.id]
    assert all(m.sequence == 0 and m.venue_name == "Café Rosa" for m in others)


def test_changing_the_series_moves_the_weeks_that_follow_it_but_not_a_week_moved_on_its_own(organizer):
    _, created = schedule.save_series(organizer, series_values(), date.today())
    moved = created[3]
    schedule.update_meeting(moved, organizer, schedule.MeetingValues(
        day=moved.series_date, start_time=time(8, 0), duration_minutes=60, venue_name="Café Rosa",
        venue_address="12 Market Street", seat_limit=None))
    schedule.save_series(organizer, series_values(start_time=time(7, 0)), date.today())
    for meeting in created:
        local = meeting.starts_at.astimezone(ZoneInfo("Europe/London"))
        if meeting.id == moved.id:
            assert local.time() == time(8, 0)
        else:
            assert local.time() == time(7, 0)
            assert meeting.sequence == 1


def test_a_one_off_session_stands_alone(organizer):
    schedule.save_series(organizer, series_values(), date.today())
    day = date.today() + timedelta(days=3)
    meeting = schedule.add_meeting(organizer, schedule.MeetingValues(
        day=day, start_time=time(18, 0), duration_minutes=90, venue_name="Rooftop", venue_address="", seat_limit=20))
    assert meeting.series_id is None
    assert len(upcoming()) == 9


def test_a_session_cannot_be_moved_into_the_past(organizer):
    _, created = schedule.save_series(organizer, series_values(), date.today())
    with pytest.raises(schedule.MeetingChangeRefused, match="future"):
        schedule.update_meeting(created[0], organizer, schedule.MeetingValues(
            day=date.today() - timedelta(days=2), start_time=time(6, 30), duration_minutes=60, venue_name="X",
            venue_address="", seat_limit=None))


def test_standing_yes_answers_new_meetings_and_fills_the_waitlist_beyond_the_seats(organizer):
    regulars = [member(f"r{n}@example.org", standing_rsvp=RsvpAnswer.YES) for n in range(3)]
    member("asker@example.org")
    _, created = schedule.save_series(organizer, series_values(seat_limit=2), date.today())
    seen = rsvps.turnout(created[0])
    assert [r.member_id for r in seen.confirmed] == [regulars[0].id, regulars[1].id]
    assert [r.member_id for r in seen.waitlist] == [regulars[2].id]
    assert all(r.from_standing for r in seen.confirmed)


def meeting_in(hours: float, seats: int | None = None) -> Meeting:
    start = utcnow() + timedelta(hours=hours)
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café", seat_limit=seats)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def test_rsvps_close_at_eight_the_evening_before_in_the_groups_timezone(app_context):
    Settings.get().timezone = "America/New_York"
    start = datetime(2026, 12, 2, 6, 30, tzinfo=ZoneInfo("America/New_York")).astimezone(timezone.utc)
    meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café")
    cutoff = rsvps.rsvp_cutoff(meeting).astimezone(ZoneInfo("America/New_York"))
    assert (cutoff.date(), cutoff.time()) == (date(2026, 12, 1), time(20, 0))


def test_a_yes_beyond_the_seats_waits_in_line_and_a_freed_seat_goes_to_the_first(app_context):
    meeting = meeting_in(72, seats=2)
    a, b, c, d = (member(f"{n}@example.org") for n in "abcd")
    for m in (a, b, c, d):
        assert rsvps.set_rsvp(m, meeting.id, RsvpAnswer.YES).promoted == []
    seen = rsvps.turnout(meeting)
    assert [r.member_id for r in seen.confirmed] == [a.id, b.id]
    assert [seen.waitlist_position(m) for m in (c, d)] == [1, 2]
    change = rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)
    assert change.promoted == [c]
    seen = rsvps.turnout(meeting)
    assert [r.member_id for r in seen.confirmed] == [b.id, c.id]
    assert seen.waitlist_position(d) == 1
    assert rsvps.set_rsvp(b, meeting.id, RsvpAnswer.MAYBE).promoted == [d]


def test_answering_yes_again_keeps_the_place_in_line(app_context):
    meeting = meeting_in(72, seats=1)
    a, b, c = (member(f"{n}@example.org") for n in "abc")
    for m in (a, b, c):
        rsvps.set_rsvp(m, meeting.id, RsvpAnswer.YES)
    rsvps.set_rsvp(b, meeting.id, RsvpAnswer.YES)
    assert rsvps.turnout(meeting).waitlist_position(b) == 1


def test_after_the_cutoff_a_member_can_withdraw_but_not_add_a_yes(app_context):
    meeting = meeting_in(2, seats=1)  # 2 hours ahead: past the 20:00-the-evening-before cut-off
    a, b, c = (member(f"{n}@example.org") for n in "abc")
    db.session.add_all([Rsvp(meeting_id=meeting.id, member_id=a.id, answer=RsvpAnswer.YES),
                        Rsvp(meeting_id=meeting.id, member_id=b.id, answer=RsvpAnswer.YES, waitlisted=True)])
    db.session.flush()
    with pytest.raises(rsvps.RsvpClosed, match="you cannot add a yes now"):
        rsvps.set_rsvp(c, meeting.id, RsvpAnswer.YES)
    change = rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)
    assert change.promoted == [b]  # a freed seat still goes to the waitlist
    rsvps.set_rsvp(c, meeting.id, RsvpAnswer.NO)


def test_answers_cannot_change_once_the_session_has_started(app_context):
    meeting = meeting_in(-0.25)
    a = member("a@example.org")
    with pytest.raises(rsvps.RsvpClosed, match="has started"):
        rsvps.set_rsvp(a, meeting.id, RsvpAnswer.NO)


def test_a_cancelled_session_takes_no_answers(app_context):
    meeting = meeting_in(72)
    meeting.state = MeetingState.CANCELLED
    with pytest.raises(rsvps.RsvpRefused, match="cancelled"):
        rsvps.set_rsvp(member("a@example.org"), meeting.id, RsvpAnswer.YES)


def test_raising_the_seats_promotes_the_waitlist(organizer):
    meeting = meeting_in(72, seats=1)
    a, b = member("a@example.org"), member("b@example.org")
    rsvps.set_rsvp(a, meeting.id, RsvpAnswer.YES)
    rsvps.set_rsvp(b, meeting.id, RsvpAnswer.YES)
    local = meeting.starts_at.astimezone(ZoneInfo("UTC"))
    promoted = schedule.update_meeting(meeting, organizer, schedule.MeetingValues(
        day=local.date(), start_time=local.time(), duration_minutes=60, venue_name="Café", venue_address="",
        seat_limit=2))
    assert promoted == [b]


def test_a_standing_answer_answers_open_upcoming_sessions_not_closed_or_answered_ones(app_context):
    open_one, closed_one, answered = meeting_in(72), meeting_in(2), meeting_in(96)
    a = member("a@example.org")
    rsvps.set_rsvp(a, answered.id, RsvpAnswer.NO)
    assert rsvps.set_standing_answer(a, RsvpAnswer.YES) == 1
    answers = dict(db.session.execute(select(Rsvp.meeting_id, Rsvp.answer).where(Rsvp.member_id == a.id)).all())
    assert answers == {open_one.id: RsvpAnswer.YES, answered.id: RsvpAnswer.NO}
    assert rsvps.set_standing_answer(a, None) == 0
    assert a.standing_rsvp is None


def test_attendance_is_prefilled_from_the_confirmed_yeses_and_feeds_the_sponsor_rule(organizer):
    meeting = meeting_in(-2, seats=1)
    came, waitlisted, stayed_home = member("c@example.org"), member("w@example.org"), member("s@example.org")
    db.session.add_all([Rsvp(meeting_id=meeting.id, member_id=came.id, answer=RsvpAnswer.YES),
                        Rsvp(meeting_id=meeting.id, member_id=waitlisted.id, answer=RsvpAnswer.YES, waitlisted=True),
                        Rsvp(meeting_id=meeting.id, member_id=stayed_home.id, answer=RsvpAnswer.NO)])
    db.session.flush()
    sheet = {row.member.id: row.came for row in attendance.attendance_sheet(meeting)}
    assert sheet[came.id] and not sheet[waitlisted.id] and not sheet[stayed_home.id]
    assert attendance.toggle_attendance(meeting, waitlisted.id, organizer) is True  # walked in anyway
    assert {m.id for m in attendance.attendees(meeting)} == {came.id, waitlisted.id}
    assert attendance.toggle_attendance(meeting, came.id, organizer) is False
    assert {m.id for m in attendance.attendees(meeting)} == {waitlisted.id}
    assert attended_count(waitlisted) == 1 and attended_count(came) == 0
    assert last_attended(waitlisted) == meeting.starts_at


def test_attendance_waits_for_the_session_to_start(organizer):
    with pytest.raises(attendance.AttendanceRefused):
        attendance.toggle_attendance(meeting_in(24), organizer.id, organizer)


def test_only_attendees_add_takeaways_once_the_session_started(organizer):
    past, future = meeting_in(-2), meeting_in(24)
    came, absent = member("c@example.org"), member("a@example.org")
    attendance.toggle_attendance(past, came.id, organizer)
    takeaways.add_takeaway(past, came, "Say the hard thing early.")
    with pytest.raises(takeaways.TakeawayRefused):
        takeaways.add_takeaway(past, absent, "I was not there.")
    db.session.add(Rsvp(meeting_id=future.id, member_id=came.id, answer=RsvpAnswer.YES))
    with pytest.raises(takeaways.TakeawayRefused):
        takeaways.add_takeaway(future, came, "Too early.")
    assert [t.body for t in takeaways.takeaways(past)] == ["Say the hard thing early."]


def test_meetings_needing_attendance_lists_ended_unrecorded_sessions(organizer):
    ended, recorded, coming = meeting_in(-30), meeting_in(-60), meeting_in(24)
    attendance.confirm_attendance(recorded, organizer)
    assert attendance.meetings_needing_attendance() == [ended]
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 3
