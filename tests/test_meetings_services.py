"""Scheduling the weekly series: the local start time holds across daylight-saving changes."""
from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import pytest

from thinknet.meetings.services import series_days, series_times
from thinknet.models import Series


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
    start_before, _ = series_times(series, before)
    start_after, end_after = series_times(series, after)
    for start in (start_before, start_after):
        local = start.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (6, 30)
    assert start_after.hour - start_before.hour == 1  # one hour later in UTC once clocks go back
    assert (end_after - start_after).total_seconds() == 3600


def test_series_days_fall_on_the_series_weekday_from_today_on():
    days = series_days(wednesday_series("UTC"), date(2026, 11, 22), weeks=8)
    assert len(days) == 8
    assert days[0] == date(2026, 11, 25)
    assert all(day.weekday() == 2 for day in days)
