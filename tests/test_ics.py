"""thinknet.calendar: events, time zones Outlook accepts, escaping and folding, and DST as other parsers see it."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
from dateutil import tz as dateutil_tz
import pytest
import recurring_ical_events
import vobject

from ical_checks import check_ics
from thinknet.calendar import ics as ical
from thinknet.models import Meeting, MeetingState, RsvpAnswer
from thinknet.timezones import pickable_zones

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


ADA = ical.Attendee("Ada Lovelace", "ada@example.org", RsvpAnswer.YES, reply_to="club+1-2-0a1b@example.org")


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
    # Her answer goes to her own reply address (thinknet.calendar.replies)
    assert str(event["ORGANIZER"]) == "mailto:club+1-2-0a1b@example.org"
    assert event["ORGANIZER"].params["CN"] == "Olga Organizer"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == datetime(2026, 12, 2, 6, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.mark.parametrize(("answer", "partstat"), [(RsvpAnswer.YES, "ACCEPTED"), (RsvpAnswer.MAYBE, "TENTATIVE"),
                                                  (RsvpAnswer.NO, "DECLINED"), (None, "NEEDS-ACTION")])
def test_the_members_rsvp_becomes_their_partstat(answer, partstat):
    ics = ical.invite(meeting(date(2026, 12, 2)), group(), "u", ical.Attendee("A", "a@example.org", answer),
                          [], STAMP)
    assert icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] == partstat


def test_a_yes_waiting_for_a_seat_is_tentative_with_the_place_in_line_and_no_reply_asked_when_none_is_read():
    waiting = ical.Attendee("Ada Lovelace", "ada@example.org", RsvpAnswer.YES, waitlist_position=3)
    [event] = check_ics(ical.invite(meeting(date(2026, 12, 2)), group(), "u", waiting, [], STAMP),
                        "REQUEST").walk("VEVENT")
    assert event["ATTENDEE"].params["PARTSTAT"] == "TENTATIVE"
    assert event["DESCRIPTION"].startswith("You're number 3 on the waitlist")
    assert event["ATTENDEE"].params["RSVP"] == "FALSE" and str(event["ORGANIZER"]) == "mailto:club@example.org"


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


def days_from(first: date, years: int) -> list[date]:
    return [first + timedelta(days=n) for n in range((date(first.year + years, first.month, first.day) - first).days)]


@pytest.mark.parametrize("zones", [pickable_zones()[n::8] for n in range(8)], ids=[f"zones-{n}-of-8" for n in range(8)])
def test_the_vtimezone_says_what_the_zone_database_says_at_six_thirty_on_every_day_of_five_years(zones):
    """Every zone a group can pick, read back from the VTIMEZONE alone (icalendar's own reading of it, which
    never consults the zone database), against zoneinfo, every morning from today for five years."""
    today = date.today()
    days = days_from(today, 5)
    for name in zones:
        component = ical.vtimezone(name, today.year, today.year + 5)
        ours, zone = component.to_tz(lookup_tzid=False), ZoneInfo(name)
        wrong = [day for day in days if datetime.combine(day, time(6, 30), ours).utcoffset()
                 != datetime.combine(day, time(6, 30), zone).utcoffset()]
        assert not wrong, f"{name}: {wrong[:3]}"


@pytest.mark.parametrize("zone", ["Asia/Jerusalem", "America/Santiago", "Africa/Cairo", "Asia/Gaza",
                                  "Africa/Casablanca", "Europe/Dublin", "America/New_York", "Australia/Sydney"])
def test_zones_whose_rules_move_are_right_in_an_independent_parser_for_every_session_of_five_years(zone):
    """The zones a yearly rule got wrong: a weekly 6:30 session for five years, in one calendar, its VTIMEZONE
    read by dateutil's tzical (an implementation of RFC 5545 apart from icalendar's) and the events expanded by
    recurring-ical-events. The zone is renamed in the file, so that neither can look the name up in a zone
    database of its own: they must use our VTIMEZONE."""
    first = date.today()
    meetings = [meeting(day, zone) for day in days_from(first, 5)[::7]]
    ics = ical.feed(meetings, group(zone), {m.id: "u" for m in meetings})
    check_ics(ics, None)
    private = f"Our-Own-{zone.replace('/', '-')}"
    ics = ics.replace(f"TZID:{zone}".encode(), f"TZID:{private}".encode()).replace(
        f"TZID={zone}".encode(), f"TZID={private}".encode())
    text = ics.decode()
    vtimezone_text = text[text.index("BEGIN:VTIMEZONE"):text.index("END:VTIMEZONE")] + "END:VTIMEZONE\r\n"
    theirs = dateutil_tz.tzical(io.StringIO(vtimezone_text)).get()
    starts = [event.decoded("DTSTART").replace(tzinfo=theirs)
              for event in icalendar.Calendar.from_ical(ics).walk("VEVENT")]
    assert [s.astimezone(timezone.utc) for s in starts] == [m.starts_at for m in meetings]
    expanded = recurring_ical_events.of(icalendar.Calendar.from_ical(ics)).between(
        datetime.combine(first, time()), datetime.combine(first + timedelta(days=5 * 366), time()))
    assert {(e.decoded("DTSTART").hour, e.decoded("DTSTART").minute) for e in expanded} == {(6, 30)}
    assert len(expanded) == len(meetings)


def test_dublins_summer_is_daylight_and_its_winter_standard():
    component = ical.vtimezone("Europe/Dublin", 2026, 2027)
    by_kind = {(sub.name, str(sub["TZNAME"])) for sub in component.subcomponents}
    assert by_kind == {("STANDARD", "GMT"), ("DAYLIGHT", "IST")}


def test_a_zone_without_daylight_saving_has_one_standard_observance():
    component = ical.vtimezone("Asia/Tokyo", 2026, 2027)
    assert [sub.name for sub in component.subcomponents] == ["STANDARD"]


def test_the_vtimezone_is_built_once_per_zone_and_years():
    assert ical.vtimezone("Europe/Berlin", 2026, 2027) is ical.vtimezone("Europe/Berlin", 2026, 2027)


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
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in ics and b"X-PUBLISHED-TTL:PT1H\r\n" in ics


def test_the_feeds_name_is_escaped_as_text():
    named = ical.GroupIdentity(name="Breakfast, Books; Ideas", timezone="UTC", sender_email="b@example.org",
                               organizer_name="B")
    ics = ical.feed([meeting(date(2026, 12, 2), "UTC")], named, {date(2026, 12, 2).toordinal(): "u"})
    assert b"\r\nNAME:Breakfast\\, Books\\; Ideas\r\n" in ics
    assert b"\r\nX-WR-CALNAME:Breakfast\\, Books\\; Ideas\r\n" in ics
    assert vobject.readOne(ics.decode()).x_wr_calname.value == "Breakfast, Books; Ideas"


@pytest.mark.parametrize("name, written", [
    ('Ana "Nan" Silva', 'CN="Ana \'Nan\' Silva"'),
    ("O'Brien, Pat", 'CN="O\'Brien, Pat"'),
    ("Caret ^ Man", 'CN="Caret ^ Man"'),
    ("Caret ^^ Twice", 'CN="Caret ^^^ Twice"'),  # RFC 6868's one need: a ^ before ^, n or '
    ("A ^n B", 'CN="A ^^n B"'),
    ("Zoë Ünal; Ltd: x", 'CN="Zoë Ünal; Ltd: x"'),
])
def test_names_are_written_as_outlook_shows_them_with_no_caret_escapes_where_quotes_suffice(name, written):
    person = ical.Attendee(name, "a@example.org", None)
    ics = ical.invite(meeting(date(2026, 12, 2)), group(), "u", person, [], STAMP)
    unfolded = ics.decode().replace("\r\n ", "")
    assert f"ATTENDEE;{written};" in unfolded
    [event] = check_ics(ics, "REQUEST").walk("VEVENT")
    assert str(event["ATTENDEE"].params["CN"]) == name.replace('"', "'")


def test_the_same_meetings_give_the_same_feed_bytes():
    meetings = [meeting(date(2026, 12, 2)), meeting(date(2026, 12, 9))]
    urls = {m.id: "u" for m in meetings}
    assert ical.feed(meetings, group(), urls) == ical.feed(meetings, group(), urls)
