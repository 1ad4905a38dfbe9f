"""thinknet.calendar: events, time zones Outlook accepts, escaping and folding, and DST as other parsers see it."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject

from ical_checks import check_ics
from thinknet.calendar import ics as ical
from thinknet.models import Meeting, MeetingState, RsvpAnswer

STAMP = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def group(zone="Europe/London"):
    return ical.GroupIdentity(name="Dawn Thinkers", timezone=zone, sender_email="club@example.org",
                                  organizer_name="Olga Organizer")


def meeting(day: date, zone="Europe/London", **fields) -> Meeting:
    start = datetime.combine(day, time(6, 30), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    values = dict(id=day.toordinal(), calendar_uid=f"{day}@thinknet", starts_at=start, ends_at=start + timedelta(hours=1),
                  venue_name="Café Rosa", venue_address="12 Market Street", sequence=0, state=MeetingState.SCHEDULED,
                  updated_at=STAMP)
    values.update(fields)
    return Meeting(**values)


ADA = ical.Attendee("Ada Lovelace", "ada@example.org", RsvpAnswer.YES)


def test_an_invite_is_a_request_with_the_attendee_and_the_agenda():
    ics = ical.invite(meeting(date(2026, 12, 2)), group(), "https://club.example/meetings/1", ADA,
                          ["Pricing, for real", "Hiring; soon"], STAMP)
    parsed = check_ics(ics, "REQUEST")
    [event] = parsed.walk("VEVENT")
    assert event["UID"] == "2026-12-02@thinknet"
    assert event["SEQUENCE"] == 0
    assert event["SUMMARY"] == "Dawn Thinkers breakfast"
    assert event["LOCATION"] == "Café Rosa, 12 Market Street"
    assert event["URL"] == "https://club.example/meetings/1"
    assert "- Pricing, for real\n- Hiring; soon" in event["DESCRIPTION"]
    assert "https://club.example/meetings/1" in event["DESCRIPTION"]
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ada@example.org"
    assert attendee.params["CN"] == "Ada Lovelace" and attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "ACCEPTED" and attendee.params["RSVP"] == "TRUE"
    assert str(event["ORGANIZER"]) == "mailto:club@example.org" and event["ORGANIZER"].params["CN"] == "Olga Organizer"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == datetime(2026, 12, 2, 6, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.mark.parametrize(("answer", "partstat"), [(RsvpAnswer.YES, "ACCEPTED"), (RsvpAnswer.MAYBE, "TENTATIVE"),
                                                  (RsvpAnswer.NO, "DECLINED"), (None, "NEEDS-ACTION")])
def test_the_members_rsvp_becomes_their_partstat(answer, partstat):
    ics = ical.invite(meeting(date(2026, 12, 2)), group(), "u", ical.Attendee("A", "a@example.org", answer),
                          [], STAMP)
    assert icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] == partstat


def test_a_cancelled_meeting_is_a_cancel_with_the_same_uid_and_a_raised_sequence():
    day = date(2026, 12, 2)
    ics = ical.invite(meeting(day, state=MeetingState.CANCELLED, sequence=2), group(), "u", ADA, [], STAMP)
    [event] = check_ics(ics, "CANCEL").walk("VEVENT")
    assert (event["UID"], event["SEQUENCE"], event["STATUS"]) == (f"{day}@thinknet", 2, "CANCELLED")


def test_text_is_escaped_once_and_long_lines_are_folded():
    long_name = "The Long-Named Breakfast Place, with a terrace; by the river " * 2
    ics = ical.download(meeting(date(2026, 12, 2), venue_name=long_name.strip()), group(), "u",
                            ["Line one\nline two, with a comma; and a semicolon"])
    text = ics.decode()
    assert "Line one\\nline two\\, with a comma\\; and a semicolon" in text.replace("\r\n ", "")
    assert "\\\\" not in text  # nothing escaped twice
    check_ics(ics, None)


@pytest.mark.parametrize(("zone", "daylight_month", "standard_month"), [("Europe/London", 3, 10),
                                                                         ("America/New_York", 3, 11)])
def test_the_vtimezone_has_one_standard_and_one_daylight_with_yearly_rules(zone, daylight_month, standard_month):
    component = ical.vtimezone(zone, 2026)
    assert component["TZID"] == zone
    observances = {sub.name: sub for sub in component.subcomponents}
    assert set(observances) == {"STANDARD", "DAYLIGHT"}
    for kind, month in (("DAYLIGHT", daylight_month), ("STANDARD", standard_month)):
        rule = observances[kind]["RRULE"].to_ical().decode()
        assert rule.startswith("FREQ=YEARLY") and f"BYMONTH={month}" in rule and "BYDAY=" in rule
    assert observances["DAYLIGHT"].decoded("DTSTART").year == 1970


def test_a_zone_without_daylight_saving_has_one_standard_observance():
    component = ical.vtimezone("Asia/Tokyo", 2026)
    assert [sub.name for sub in component.subcomponents] == ["STANDARD"]


def test_the_vtimezone_is_built_once_per_zone_and_year():
    assert ical.vtimezone("Europe/Berlin", 2026) is ical.vtimezone("Europe/Berlin", 2026)


@pytest.mark.parametrize(("zone", "before", "after"), [("America/New_York", date(2026, 10, 28), date(2026, 11, 4)),
                                                       ("Europe/Berlin", date(2026, 10, 21), date(2026, 10, 28))])
def test_six_thirty_stays_six_thirty_on_both_sides_of_dst_in_other_parsers(zone, before, after):
    meetings = [meeting(before, zone), meeting(after, zone)]
    ics = ical.feed(meetings, group(zone), {m.id: "u" for m in meetings})
    check_ics(ics, None)
    # vobject builds its time zone from our VTIMEZONE (not from its own database): the true test of it.
    starts = [event.dtstart.value for event in vobject.readOne(ics.decode()).vevent_list]
    assert [(s.hour, s.minute) for s in starts] == [(6, 30), (6, 30)]
    assert [s.astimezone(timezone.utc) for s in starts] == [m.starts_at for m in meetings]
    assert starts[0].utcoffset() != starts[1].utcoffset()
    expanded = recurring_ical_events.of(icalendar.Calendar.from_ical(ics)).between(
        datetime(2026, 10, 1), datetime(2026, 11, 30))
    assert [(e.decoded("DTSTART").hour, e.decoded("DTSTART").minute) for e in expanded] == [(6, 30), (6, 30)]


def test_the_feed_names_the_calendar_and_hints_how_often_to_refresh():
    ics = ical.feed([meeting(date(2026, 12, 2))], group(), {date(2026, 12, 2).toordinal(): "u"})
    parsed = check_ics(ics, None)
    assert parsed["X-WR-CALNAME"] == "Dawn Thinkers" and parsed["NAME"] == "Dawn Thinkers"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in ics


def test_the_same_meetings_give_the_same_feed_bytes():
    meetings = [meeting(date(2026, 12, 2)), meeting(date(2026, 12, 9))]
    urls = {m.id: "u" for m in meetings}
    assert ical.feed(meetings, group(), urls) == ical.feed(meetings, group(), urls)
