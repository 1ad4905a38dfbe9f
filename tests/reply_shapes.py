"""Calendar replies in the shapes the three big calendars send when someone presses Yes, Maybe or No on an
invite (RFC 5546 METHOD:REPLY over iMIP, RFC 6047), built from the invite the member received:

- Gmail: multipart/mixed holding multipart/alternative (text, HTML, text/calendar; method=REPLY) and the same
  calendar attached as invite.ics; the whole event comes back, the ORGANIZER included, times in UTC.
- Outlook (Exchange): multipart/alternative with text, HTML and a base64 text/calendar; method=REPLY whose
  VEVENT carries only UID, SEQUENCE, DTSTAMP and the ATTENDEE (no ORGANIZER): the address it was sent to is
  only in To.
- Apple Calendar: multipart/mixed with a short text and the calendar as an attachment (iCal-*.ics), the event
  with its VTIMEZONE, the ORGANIZER, REQUEST-STATUS and the attendee's EMAIL parameter.
"""
from __future__ import annotations

from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid

import icalendar

CRLF = "\r\n"


def invite_facts(ics: bytes) -> dict:
    """What a calendar keeps from the invite it received."""
    cal = icalendar.Calendar.from_ical(ics)
    event = next(iter(cal.walk("VEVENT")))
    return {"uid": str(event["UID"]), "sequence": int(event.get("SEQUENCE", 0)),
            "organizer": str(event["ORGANIZER"]).removeprefix("mailto:"),
            "organizer_name": str(event["ORGANIZER"].params.get("CN", "")),
            "start": event["DTSTART"].dt, "end": event["DTEND"].dt, "summary": str(event["SUMMARY"]),
            "location": str(event.get("LOCATION", ""))}


def _utc(moment) -> str:
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _stamp(stamp) -> str:
    return _utc(stamp)


def _calendar_part(text: str, encoding: str = "7bit") -> MIMEBase:
    part = MIMEText(text, "calendar", "utf-8")
    part.set_param("method", "REPLY")
    if encoding == "base64":
        from email import encoders

        del part["Content-Transfer-Encoding"]
        part.set_payload(text.encode())
        encoders.encode_base64(part)
    return part


WORDS = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentatively Accepted", "DECLINED": "Declined"}


def gmail(invite: dict, email: str, name: str, partstat: str, stamp, to: str | None = None,
          sequence: int | None = None, mangle=lambda text: text) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN", "VERSION:2.0", "CALSCALE:GREGORIAN",
        "METHOD:REPLY", "BEGIN:VEVENT", f"DTSTART:{_utc(invite['start'])}", f"DTEND:{_utc(invite['end'])}",
        f"DTSTAMP:{_stamp(stamp)}", f"ORGANIZER;CN={invite['organizer_name']}:mailto:{invite['organizer']}",
        f"UID:{invite['uid']}",
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN={name};X-NUM-GUESTS=0:mailto:{email}",
        f"CREATED:{_stamp(stamp)}", "DESCRIPTION:", f"LAST-MODIFIED:{_stamp(stamp)}",
        f"LOCATION:{invite['location'].replace(',', chr(92) + ',')}",
        f"SEQUENCE:{invite['sequence'] if sequence is None else sequence}", "STATUS:CONFIRMED",
        f"SUMMARY:{invite['summary']}", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR", "",
    ]
    text = mangle(CRLF.join(lines))
    message = MIMEMultipart("mixed")
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(f"{name} has {WORDS[partstat].lower()} this invitation.", "plain", "utf-8"))
    alternative.attach(MIMEText(f"<p>{name} has {WORDS[partstat].lower()} this invitation.</p>", "html", "utf-8"))
    alternative.attach(_calendar_part(text))
    message.attach(alternative)
    attachment = MIMEApplication(text.encode(), "ics", name="invite.ics")
    attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
    message.attach(attachment)
    return _headers(message, invite, email, name, f"{WORDS[partstat]}: {invite['summary']} ({email})", to,
                    "mail.gmail.com")


def outlook(invite: dict, email: str, name: str, partstat: str, stamp, to: str | None = None,
            sequence: int | None = None, mangle=lambda text: text) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "METHOD:REPLY", "PRODID:Microsoft Exchange Server 2010", "VERSION:2.0",
        "BEGIN:VEVENT", f"ATTENDEE;PARTSTAT={partstat};CN={name}:mailto:{email}",
        "COMMENT;LANGUAGE=en-US:\\n", f"UID:{invite['uid']}",
        f"SEQUENCE:{invite['sequence'] if sequence is None else sequence}", f"DTSTAMP:{_stamp(stamp)}",
        "END:VEVENT", "END:VCALENDAR", "",
    ]
    message = MIMEMultipart("alternative")
    message.attach(MIMEText("", "plain", "utf-8"))
    message.attach(MIMEText("<html><body></body></html>", "html", "utf-8"))
    message.attach(_calendar_part(mangle(CRLF.join(lines)), "base64"))
    return _headers(message, invite, email, name, f"{WORDS[partstat]}: {invite['summary']}", to,
                    "outlook.office365.com", thread_topic=True)


def apple(invite: dict, email: str, name: str, partstat: str, stamp, to: str | None = None,
          sequence: int | None = None, zone: str = "UTC", mangle=lambda text: text) -> bytes:
    local_start = invite["start"].strftime("%Y%m%dT%H%M%S")
    local_end = invite["end"].strftime("%Y%m%dT%H%M%S")
    zone = str(getattr(invite["start"], "tzinfo", None) or zone)
    lines = [
        "BEGIN:VCALENDAR", "METHOD:REPLY", "VERSION:2.0", "PRODID:-//Apple Inc.//macOS 14.4//EN",
        "BEGIN:VTIMEZONE", f"TZID:{zone}", "BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:+0000",
        "TZOFFSETTO:+0000", "END:STANDARD", "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f"ATTENDEE;CN=\"{name}\";CUTYPE=INDIVIDUAL;EMAIL=\"{email}\";PARTSTAT={partstat}:mailto:{email}",
        f"DTEND;TZID={zone}:{local_end}", f"DTSTAMP:{_stamp(stamp)}", f"DTSTART;TZID={zone}:{local_start}",
        f"ORGANIZER;CN=\"{invite['organizer_name']}\":mailto:{invite['organizer']}",
        "REQUEST-STATUS:2.0;Success", f"SEQUENCE:{invite['sequence'] if sequence is None else sequence}",
        f"SUMMARY:{invite['summary']}", f"UID:{invite['uid']}", "END:VEVENT", "END:VCALENDAR", "",
    ]
    message = MIMEMultipart("mixed")
    message.attach(MIMEText(f"{name} has {WORDS[partstat].lower()} your event.", "plain", "utf-8"))
    part = _calendar_part(mangle(CRLF.join(lines)), "base64")
    part.set_param("name", "iCal-20261130-073000.ics")
    part.add_header("Content-Disposition", "attachment", filename="iCal-20261130-073000.ics")
    message.attach(part)
    return _headers(message, invite, email, name, f"Invitation: {invite['summary']} ({WORDS[partstat]})", to,
                    "icloud.com")


def _headers(message, invite: dict, email: str, name: str, subject: str, to: str | None, host: str,
             thread_topic: bool = False) -> bytes:
    message["From"] = formataddr((name, email))
    message["To"] = formataddr((invite["organizer_name"], to or invite["organizer"]))
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=host)
    if thread_topic:
        message["Thread-Topic"] = invite["summary"]
    message["MIME-Version"] = "1.0"
    return message.as_bytes()


SHAPES = {"gmail": gmail, "outlook": outlook, "apple": apple}
