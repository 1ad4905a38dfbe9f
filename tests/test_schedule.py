"""The weekly schedule: 6:30 local across daylight saving, the weeks ahead, moving, cancelling, adding."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meeting_helpers import meeting_in, member, organizer, upcoming  # noqa: F401 (organizer is a fixture)
from thinknet.extensions import db
from thinknet.meetings import rsvps, schedule
from thinknet.models import Meeting, MeetingState, RsvpAnswer, Series, utcnow


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


def test_saving_the_series_schedules_the_next_eight_weeks_once(organizer):
    series, created, _ = schedule.save_series(organizer, series_values(), date.today())
    assert len(created) == 8
    assert all(m.starts_at.astimezone(ZoneInfo("Europe/London")).time() == time(6, 30) for m in created)
    assert schedule.schedule_ahead(series, date.today()) == []
    assert len(upcoming()) == 8


def test_when_todays_session_has_started_the_schedule_still_holds_eight_weeks(organizer):
    today = datetime.now(ZoneInfo("Europe/London")).date()
    _, created, _ = schedule.save_series(organizer, series_values(weekday=today.weekday(), start_time=time(0, 0)),
                                         today)
    assert len(created) == 8
    assert created[0].series_date == today + timedelta(weeks=1)


def test_a_moved_or_cancelled_week_is_not_scheduled_again(organizer):
    series, created, _ = schedule.save_series(organizer, series_values(), date.today())
    moved, cancelled = created[1], created[2]
    schedule.update_meeting(moved, organizer, schedule.MeetingValues(
        day=moved.series_date + timedelta(days=1), start_time=time(7, 0), duration_minutes=60,
        venue_name="Café Rosa", venue_address="", seat_limit=None))
    schedule.cancel_meeting(cancelled, organizer, "Holiday")
    assert schedule.schedule_ahead(series, date.today()) == []
    assert db.session.get(Meeting, cancelled.id).state == MeetingState.CANCELLED


def test_changes_that_matter_to_calendars_raise_the_sequence(organizer):
    _, created, _ = schedule.save_series(organizer, series_values(), date.today())
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
    _, created, _ = schedule.save_series(organizer, series_values(), date.today())
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
    _, created, _ = schedule.save_series(organizer, series_values(), date.today())
    with pytest.raises(schedule.MeetingChangeRefused, match="future"):
        schedule.update_meeting(created[0], organizer, schedule.MeetingValues(
            day=date.today() - timedelta(days=2), start_time=time(6, 30), duration_minutes=60, venue_name="X",
            venue_address="", seat_limit=None))


def test_standing_yes_answers_new_meetings_and_fills_the_waitlist_beyond_the_seats(organizer):
    regulars = [member(f"r{n}@example.org", standing_rsvp=RsvpAnswer.YES) for n in range(3)]
    member("asker@example.org")
    _, created, _ = schedule.save_series(organizer, series_values(seat_limit=2), date.today())
    seen = rsvps.turnout(created[0])
    assert [r.member_id for r in seen.confirmed] == [regulars[0].id, regulars[1].id]
    assert [r.member_id for r in seen.waitlist] == [regulars[2].id]
    assert all(r.from_standing for r in seen.confirmed)


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
