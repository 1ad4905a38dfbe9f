"""Answers given in a calendar become RSVPs: Yes, Maybe and No pressed in Gmail, Outlook or Apple Calendar,
read from a real IMAP server (Dovecot) or piped in, go through the RSVP rules; forgeries, strangers' mail and
replays change nothing."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import icalendar
import pytest
from sqlalchemy import select

import reply_shapes
from conftest import body_text, sent_mail
from ical_checks import check_ics
from thinknet import outbox
from thinknet.calendar import itip, mailbox, replies
from thinknet.extensions import db
from thinknet.models import (
    CalendarReply,
    Meeting,
    MeetingState,
    Member,
    MemberStatus,
    OutgoingMail,
    Rsvp,
    RsvpAnswer,
    utcnow,
)

REPLY_ADDRESS = "breakfast@example.org"


@pytest.fixture
def reply_app(make_app):
    return make_app(REPLY_ADDRESS=REPLY_ADDRESS)


@pytest.fixture
def people(reply_app, make_member):
    return (make_member(name="Ada Lovelace", email="ada@example.org"),
            make_member(name="Ben Okafor", email="ben@example.org"))


@pytest.fixture
def session_id(reply_app, make_meeting):
    return make_meeting(days_from_now=3, venue_name="Blue Door")


@pytest.fixture
def full_session(reply_app, people, make_meeting):
    """A session of one seat, invites out, the seat Ben's: its id and each member's invite."""
    _, ben = people
    meeting_id = make_meeting(days_from_now=3, seat_limit=1)
    invites = send_invites(reply_app, meeting_id)
    with reply_app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=ben.id, answer=RsvpAnswer.YES))
        db.session.commit()
    return meeting_id, invites


def calendar_of(message) -> bytes:
    [part] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    check_ics(data, part.get_param("method"))  # icalendar, vobject, and the VTIMEZONE against the zone database
    return data


def send_invites(app, meeting_id: int) -> dict[str, bytes]:
    """Invites to everyone who wants them, sent as the outbox sends them; each member's calendar, by address."""
    before = len(sent_mail(app))
    with app.app_context():
        itip.queue_calendar_updates([db.session.get(Meeting, meeting_id)])
        db.session.commit()
        outbox.send_due()
        # sent a while ago, as invites are: a reply written minutes ago came after it
        for sent in db.session.scalars(select(OutgoingMail).where(OutgoingMail.meeting_id == meeting_id)):
            sent.sent_at = sent.sent_at - timedelta(hours=3) if sent.sent_at else None
        db.session.commit()
    return {message["To"]: calendar_of(message) for message in sent_mail(app)[before:]
            if message.get_content_type() != "text/plain" and any(
                part.get_content_type() == "text/calendar" for part in message.walk())}


def answer_of(app, member, meeting_id):
    with app.app_context():
        rsvp = db.session.scalar(select(Rsvp).where(Rsvp.member_id == member.id, Rsvp.meeting_id == meeting_id))
        return (rsvp.answer, rsvp.waitlisted) if rsvp else None


def take(app, raw: bytes) -> replies.Outcome:
    with app.app_context():
        outcome = mailbox.take(raw)
        outbox.send_due()
        return outcome


def later():
    return utcnow() + timedelta(seconds=1)


@pytest.mark.parametrize("shape", sorted(reply_shapes.SHAPES))
@pytest.mark.parametrize("partstat, answer", [("ACCEPTED", RsvpAnswer.YES), ("TENTATIVE", RsvpAnswer.MAYBE),
                                              ("DECLINED", RsvpAnswer.NO)])
def test_a_press_in_each_calendar_becomes_the_members_rsvp(reply_app, people, session_id, shape, partstat, answer):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    assert invite["organizer"] != REPLY_ADDRESS and invite["organizer"].startswith("breakfast+")
    raw = reply_shapes.SHAPES[shape](invite, ada.email, ada.name, partstat, later())
    outcome = take(reply_app, raw)
    assert (outcome.outcome, outcome.authenticated_by) == ("applied", "address")
    assert answer_of(reply_app, ada, session_id) == (answer, False)


def test_outlooks_reply_is_known_by_the_address_it_was_sent_to_alone(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    raw = reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later())
    assert b"ORGANIZER" not in raw and b"breakfast+" in raw  # only the To header says whose invite it was
    assert take(reply_app, raw).outcome == "applied"


def test_a_forged_reply_changes_nothing_and_is_logged(reply_app, people, session_id, caplog):
    ada, ben = people
    invites = send_invites(reply_app, session_id)
    ada_invite = reply_shapes.invite_facts(invites[ada.email])
    ben_invite = reply_shapes.invite_facts(invites[ben.email])
    forgeries = {
        # Ada's address and the session's UID (a calendar shows it to anyone it is forwarded to), sent to the
        # group's plain address
        "to the plain address": reply_shapes.gmail({**ada_invite, "organizer": REPLY_ADDRESS}, ada.email, ada.name,
                                                   "DECLINED", later()),
        # Ben answering for Ada with his own reply address
        "another member's address": reply_shapes.gmail(ben_invite, ada.email, ada.name, "DECLINED", later()),
        # a guessed tag
        "a made-up tag": reply_shapes.outlook(ada_invite, ada.email, ada.name, "DECLINED", later(),
                                              to=f"breakfast+{ada.id}-{session_id}-{'0' * 20}@example.org"),
    }
    with reply_app.app_context():
        other = Meeting(starts_at=utcnow() + timedelta(days=10), ends_at=utcnow() + timedelta(days=10, hours=1),
                        venue_name="Elsewhere")
        db.session.add(other)
        db.session.commit()
        other_uid = other.calendar_uid
    # Ada's own reply address for this session, used for another one
    forgeries["another session's address"] = reply_shapes.gmail(
        {**ada_invite, "uid": other_uid}, ada.email, ada.name, "ACCEPTED", later())
    for label, raw in forgeries.items():
        caplog.clear()
        outcome = take(reply_app, raw)
        assert outcome.outcome == "kept", label
        assert "kept" in caplog.text and "not authenticated" in caplog.text or "attendee" in caplog.text, label
    assert answer_of(reply_app, ada, session_id) is None
    with reply_app.app_context():
        assert db.session.scalars(select(CalendarReply.outcome)).all() == ["kept"] * 4


def test_replies_are_authenticated_only_when_sub_addresses_or_dkim_say_so(make_app, people, session_id):
    plain = make_app(REPLY_ADDRESS=REPLY_ADDRESS, REPLY_SUBADDRESS=False)
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(plain, session_id)[ada.email])
    assert invite["organizer"] == REPLY_ADDRESS  # one address for all: it proves nothing
    outcome = take(plain, reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", later()))
    assert outcome.outcome == "kept" and "not authenticated" in outcome.detail
    assert answer_of(plain, ada, session_id) is None


def test_a_yes_beyond_the_seats_waits_in_line_and_the_member_is_told_and_their_calendar_says_tentative(
        reply_app, people, full_session):
    ada, ben = people
    meeting_id, invites = full_session
    before = len(sent_mail(reply_app))
    invite = reply_shapes.invite_facts(invites[ada.email])
    outcome = take(reply_app, reply_shapes.apple(invite, ada.email, ada.name, "ACCEPTED", later()))
    assert (outcome.outcome, outcome.detail) == ("applied", "waitlisted")
    assert answer_of(reply_app, ada, meeting_id) == (RsvpAnswer.YES, True)
    told = sent_mail(reply_app)[before:]
    words = [message for message in told if not any(p.get_content_type() == "text/calendar" for p in message.walk())]
    assert len(words) == 1 and "number 1 on the waitlist" in body_text(words[0])
    [update] = [calendar_of(message) for message in told if message not in words]
    event = next(iter(icalendar.Calendar.from_ical(update).walk("VEVENT")))
    assert event["ATTENDEE"].params["PARTSTAT"] == "TENTATIVE"
    assert "number 1 on the waitlist" in str(event["DESCRIPTION"])

    # Ben steps back: Ada gets the seat, is told, and her calendar says ACCEPTED
    before = len(sent_mail(reply_app))
    ben_invite = reply_shapes.invite_facts(invites[ben.email])
    take(reply_app, reply_shapes.outlook(ben_invite, ben.email, ben.name, "DECLINED", later()))
    assert answer_of(reply_app, ada, meeting_id) == (RsvpAnswer.YES, False)
    promoted = [message for message in sent_mail(reply_app)[before:] if message["To"] == ada.email]
    calendars = [calendar_of(message) for message in promoted if any(
        part.get_content_type() == "text/calendar" for part in message.walk())]
    assert len(promoted) == 2 and len(calendars) == 1
    event = next(iter(icalendar.Calendar.from_ical(calendars[0]).walk("VEVENT")))
    assert event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED" and "waitlist" not in str(event["DESCRIPTION"])


def test_a_yes_after_the_cut_off_is_refused_and_the_member_is_told_what_stands(
        reply_app, people, session_id, close_rsvps_an_hour_ago):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    close_rsvps_an_hour_ago(session_id)
    before = len(sent_mail(reply_app))
    outcome = take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", later()))
    assert outcome.outcome == "refused" and "closed" in outcome.detail
    assert answer_of(reply_app, ada, session_id) is None
    told = sent_mail(reply_app)[before:]
    assert len(told) == 2
    words = next(message for message in told if "could not take it" in body_text(message))
    assert "RSVPs for this session have closed" in body_text(words)
    update = next(calendar_of(message) for message in told if message is not words)
    assert next(iter(icalendar.Calendar.from_ical(update).walk("VEVENT")))["ATTENDEE"].params["PARTSTAT"] == \
        "NEEDS-ACTION"
    # a no after the cut-off is still taken, as on the site
    assert take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "DECLINED", later())).outcome == "applied"


def test_the_same_message_twice_is_applied_once_and_an_old_reply_never_undoes_a_newer_answer(
        reply_app, people, session_id, login, client):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    written = utcnow()
    yes = reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", written)
    assert take(reply_app, yes).outcome == "applied"
    with reply_app.app_context():
        rsvp = db.session.scalar(select(Rsvp).where(Rsvp.member_id == ada.id))
        rsvp.answer, rsvp.answered_at = RsvpAnswer.NO, written + timedelta(minutes=5)  # then a no on the site
        db.session.commit()
    again = take(reply_app, yes)
    assert (again.outcome, again.detail) == ("unchanged", "this message was read before")
    # the same yes in another message (a resend), written before the no
    late = take(reply_app, reply_shapes.apple(invite, ada.email, ada.name, "ACCEPTED", written))
    assert late.outcome == "unchanged" and "answered since" in late.detail
    assert answer_of(reply_app, ada, session_id) == (RsvpAnswer.NO, False)


def test_a_yes_to_an_earlier_time_is_not_a_yes_to_the_new_one(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        meeting = db.session.get(Meeting, session_id)
        meeting.starts_at += timedelta(hours=2)
        meeting.ends_at += timedelta(hours=2)
        meeting.sequence += 1
        db.session.commit()
    outcome = take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later()))
    assert outcome.outcome == "unchanged" and "version 0" in outcome.detail
    assert take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "DECLINED", later())).outcome == "applied"


MANGLED = {
    "unknown session": lambda text: text.replace("UID:", "UID:not-ours-"),
    "not a reply": lambda text: text.replace("METHOD:REPLY", "METHOD:REQUEST"),
    "cut short": lambda text: text[:text.index("UID:")],
    "no attendee": lambda text: text.replace("ATTENDEE;", "X-ATTENDEE;"),
    "two attendees": lambda text: text.replace("ATTENDEE;", "ATTENDEE;CN=X:mailto:x@y.example\r\nATTENDEE;"),
    "not an answer": lambda text: text.replace("PARTSTAT=ACCEPTED", "PARTSTAT=DELEGATED"),
    "two sessions": lambda text: text.replace("END:VCALENDAR", "BEGIN:VEVENT\r\nUID:other\r\nEND:VEVENT\r\n"
                                              "END:VCALENDAR"),
    "a vcard": lambda text: text.replace("VCALENDAR", "VCARD"),
    "not a calendar": lambda text: "\x00\xff" * 500,
}


@pytest.mark.parametrize("shape", sorted(reply_shapes.SHAPES))
@pytest.mark.parametrize("label", sorted(MANGLED))
def test_what_is_not_a_reply_for_an_upcoming_session_is_kept_aside_never_fatal(
        reply_app, people, session_id, label, shape):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    raw = reply_shapes.SHAPES[shape](invite, ada.email, ada.name, "ACCEPTED", later(), mangle=MANGLED[label])
    outcome = take(reply_app, raw)
    assert outcome.kept, label
    assert answer_of(reply_app, ada, session_id) is None


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"From: a@b.c\r\nSubject: lunch?\r\n\r\nAre you free?\r\n",
                                 b"\x00\xff" * 1000, b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" * 50,
                                 b"x" * (replies.MAX_MESSAGE_BYTES + 1)])
def test_a_message_that_is_no_reply_at_all_is_kept_aside(reply_app, raw):
    assert take(reply_app, raw).kept


def test_a_reply_for_a_past_session_or_from_a_suspended_member_is_kept_aside(reply_app, people, session_id):
    ada, ben = people
    invites = send_invites(reply_app, session_id)
    with reply_app.app_context():
        db.session.get(Member, ben.id).status = MemberStatus.SUSPENDED
        db.session.commit()
    ben_invite = reply_shapes.invite_facts(invites[ben.email])
    outcome = take(reply_app, reply_shapes.gmail(ben_invite, ben.email, ben.name, "ACCEPTED", later()))
    assert outcome.kept and "suspended" in outcome.detail
    with reply_app.app_context():
        meeting = db.session.get(Meeting, session_id)
        meeting.starts_at, meeting.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
        db.session.commit()
    ada_invite = reply_shapes.invite_facts(invites[ada.email])
    outcome = take(reply_app, reply_shapes.gmail(ada_invite, ada.email, ada.name, "ACCEPTED", later()))
    assert outcome.kept and "started" in outcome.detail
    assert answer_of(reply_app, ada, session_id) is None and answer_of(reply_app, ben, session_id) is None


def test_invites_ask_for_answers_in_the_calendar_only_when_the_group_reads_them(make_app, people, session_id):
    ada, _ = people
    for reads, app in ((True, make_app(REPLY_ADDRESS=REPLY_ADDRESS)), (False, make_app())):
        before = len(sent_mail(app))
        send_invites(app, session_id)
        message = next(m for m in sent_mail(app)[before:] if m["To"] == ada.email)
        event = next(iter(icalendar.Calendar.from_ical(calendar_of(message)).walk("VEVENT")))
        assert ("in your calendar" in body_text(message)) is reads
        assert (event["ATTENDEE"].params["RSVP"] == "TRUE") is reads
        with app.app_context():
            db.session.execute(db.delete(Rsvp))
            db.session.execute(db.text("DELETE FROM outgoing_mail"))
            db.session.commit()


def test_fetch_replies_reads_the_mailbox_over_tls_and_moves_each_message_once(make_app, people, session_id,
                                                                              dovecot, runner_for):
    app = make_app(REPLY_ADDRESS=REPLY_ADDRESS, **dovecot.config())
    ada, ben = people
    invites = send_invites(app, session_id)
    ada_invite = reply_shapes.invite_facts(invites[ada.email])
    ben_invite = reply_shapes.invite_facts(invites[ben.email])
    dovecot.deliver(reply_shapes.gmail(ada_invite, ada.email, ada.name, "ACCEPTED", later()))
    dovecot.deliver(reply_shapes.outlook(ben_invite, ben.email, ben.name, "TENTATIVE", later()))
    dovecot.deliver(b"From: someone@elsewhere.example\r\nSubject: hello\r\nMessage-ID: <h@e>\r\n\r\nhi\r\n")
    dovecot.deliver(reply_shapes.gmail(ada_invite, ben.email, ben.name, "DECLINED", later()))  # forged
    result = runner_for(app).invoke(args=["fetch-replies"])
    assert result.exit_code == 0, result.output
    assert "2 answer(s) applied" in result.output and "2 message(s) kept aside" in result.output
    assert answer_of(app, ada, session_id) == (RsvpAnswer.YES, False)
    assert answer_of(app, ben, session_id) == (RsvpAnswer.MAYBE, False)
    assert dovecot.folder("INBOX") == []
    assert len(dovecot.folder("thinknet-read")) == 2 and len(dovecot.folder("thinknet-kept")) == 2
    again = runner_for(app).invoke(args=["fetch-replies"])
    assert "0 answer(s) applied" in again.output and "0 message(s) kept aside" in again.output


def test_fetch_replies_refuses_a_server_whose_certificate_it_cannot_trust(make_app, dovecot, runner_for):
    app = make_app(REPLY_ADDRESS=REPLY_ADDRESS, **{**dovecot.config(), "IMAP_CA_FILE": None})
    result = runner_for(app).invoke(args=["fetch-replies"])
    assert result.exit_code == 1 and "could not read the reply mailbox" in result.output
    assert "CERTIFICATE_VERIFY_FAILED" in result.output


def test_fetch_replies_with_idle_applies_a_reply_as_it_arrives(make_app, people, session_id, dovecot):
    app = make_app(REPLY_ADDRESS=REPLY_ADDRESS, **dovecot.config())
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(app, session_id)[ada.email])
    stop = threading.Event()

    def run():
        with app.app_context():
            mailbox.fetch_replies(idle=True, stop=stop)

    reader = threading.Thread(target=run)
    reader.start()
    try:
        time.sleep(0.5)  # connected and waiting
        dovecot.deliver(reply_shapes.apple(invite, ada.email, ada.name, "DECLINED", later()))
        deadline = time.monotonic() + 10
        while answer_of(app, ada, session_id) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answer_of(app, ada, session_id) == (RsvpAnswer.NO, False)
    finally:
        stop.set()
        reader.join(timeout=10)
    assert not reader.is_alive()


def test_receive_mail_takes_one_message_on_standard_input_and_keeps_what_is_not_a_reply(
        reply_app, people, session_id, runner_for):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    raw = reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later())
    result = runner_for(reply_app).invoke(args=["receive-mail"], input=raw)
    assert result.exit_code == 0 and "Calendar reply applied" in result.output
    assert answer_of(reply_app, ada, session_id) == (RsvpAnswer.YES, False)
    stranger = b"From: x@y.example\r\nSubject: hi\r\n\r\nhello\r\n"
    result = runner_for(reply_app).invoke(args=["receive-mail"], input=stranger)
    assert result.exit_code == 0 and "Kept aside" in result.output
    kept = result.output.rsplit(": ", 1)[1].strip()
    with open(kept, "rb") as saved:
        assert saved.read() == stranger


@pytest.fixture
def runner_for():
    return lambda app: app.test_cli_runner()


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory):
    """A signing key for gmail.example and the DNS record that publishes it."""
    import base64
    import subprocess

    folder = tmp_path_factory.mktemp("dkim")
    subprocess.run(["openssl", "genrsa", "-out", "key.pem", "2048"], cwd=folder, check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", "key.pem", "-pubout", "-outform", "DER"], cwd=folder,
                            check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return (folder / "key.pem").read_bytes(), {"s1._domainkey.gmail.example.": record}


def signed(raw: bytes, key: bytes, domain: str = "gmail.example") -> bytes:
    import dkim

    signature = dkim.sign(raw, b"s1", domain.encode(), key, include_headers=[b"from", b"to", b"subject", b"date",
                                                                             b"message-id"])
    return signature + raw


def altered(raw: bytes) -> bytes:
    """The same message with its calendar's DECLINED made ACCEPTED, every header (and signature) as it was."""
    import base64
    import email

    [part] = [part for part in email.message_from_bytes(raw).walk() if part.get_content_type() == "text/calendar"]
    encoded = part.get_payload()
    changed = base64.encodebytes(base64.b64decode(encoded).replace(b"DECLINED", b"ACCEPTED")).decode()
    assert encoded.encode() in raw and changed != encoded
    return raw.replace(encoded.encode(), changed.encode())


@pytest.fixture
def dkim_nia(make_app, make_member, make_meeting, dkim_key):
    """A site taking DKIM-signed replies, Nia at gmail.example (whose key DNS publishes), a session, her invite."""
    key, records = dkim_key
    app = dkim_app(make_app, records)
    nia = make_member(name="Nia Adeyemi", email="nia@gmail.example")
    meeting_id = make_meeting(days_from_now=3)
    return app, key, nia, meeting_id, reply_shapes.invite_facts(send_invites(app, meeting_id)[nia.email])


def dkim_app(make_app, records):
    # DNS is the one outside part: the test publishes the key where dkimpy asks for it.
    return make_app(REPLY_ADDRESS=REPLY_ADDRESS, REPLY_SUBADDRESS=False, REPLY_DKIM=True,
                    DKIM_DNSFUNC=lambda name, timeout=5: records.get(name.decode() if isinstance(name, bytes)
                                                                     else name))


def test_with_dkim_on_a_reply_signed_by_the_attendees_own_domain_is_taken(dkim_nia):
    app, key, nia, meeting_id, invite = dkim_nia
    assert invite["organizer"] == REPLY_ADDRESS
    outcome = take(app, signed(reply_shapes.gmail(invite, nia.email, nia.name, "ACCEPTED", later()), key))
    assert (outcome.outcome, outcome.authenticated_by) == ("applied", "dkim")
    assert answer_of(app, nia, meeting_id) == (RsvpAnswer.YES, False)


def test_with_dkim_on_a_forgery_is_kept_aside(make_app, make_member, make_meeting, dkim_key):
    key, records = dkim_key
    app = dkim_app(make_app, records)
    nia = make_member(name="Nia Adeyemi", email="nia@gmail.example")
    ola = make_member(name="Ola Berg", email="ola@elsewhere.example")
    meeting_id = make_meeting(days_from_now=3)
    invites = send_invites(app, meeting_id)
    nia_invite = reply_shapes.invite_facts(invites[nia.email])
    ola_invite = reply_shapes.invite_facts(invites[ola.email])
    forgeries = {
        "unsigned": reply_shapes.gmail(nia_invite, nia.email, nia.name, "DECLINED", later()),
        # signed by gmail.example, but for an attendee of another domain
        "another domain's signature": signed(reply_shapes.gmail(ola_invite, ola.email, ola.name, "DECLINED",
                                                                later()), key),
        # a good signature on a no, then the answer changed to yes on the way
        "altered after signing": altered(signed(reply_shapes.outlook(nia_invite, nia.email, nia.name, "DECLINED",
                                                                     later()), key)),
    }
    tampered = signed(reply_shapes.gmail(nia_invite, nia.email, nia.name, "ACCEPTED", later()), key)
    forgeries["From changed after signing"] = tampered.replace(b"From: Nia", b"From: Mallory")
    for label, raw in forgeries.items():
        outcome = take(app, raw)
        assert outcome.kept and "not authenticated" in outcome.detail, label
    assert answer_of(app, nia, meeting_id) is None and answer_of(app, ola, meeting_id) is None


@pytest.mark.parametrize("reply_address, problem", [
    (None, "THINKNET_REPLY_ADDRESS is not set"),
    ("no-reply@localhost", "no calendar can send to"),
    ("breakfast@localhost.", "plain address"),
    ("breakfast@example.org.", "plain address"),
    ("breakfast@@example.org", "plain address"),
    ("breakfast@mail.lan", "no calendar can send to"),
    ("breakfast@home.arpa", "no calendar can send to"),
    ("breakfast@127.0.0.1", "no calendar can send to"),
    ("breakfast@[127.0.0.1]", "no calendar can send to"),
    ("breakfast@mail.local", "no calendar can send to"),
    ("Breakfast <breakfast@example.org>", "plain address"),
    ("breakfast+x@example.org", "plain address"),
])
def test_production_refuses_to_start_invites_without_a_mailbox_the_app_reads(tmp_path, monkeypatch, reply_address,
                                                                           problem, capsys):
    from thinknet import production_app

    monkeypatch.setenv("THINKNET_PRODUCTION", "true")
    monkeypatch.setenv("THINKNET_BASE_URL", "https://breakfast.example.org")
    monkeypatch.setenv("THINKNET_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'site.sqlite'}")
    if reply_address is None:
        monkeypatch.delenv("THINKNET_REPLY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("THINKNET_REPLY_ADDRESS", reply_address)
    with pytest.raises(SystemExit) as stopped:
        production_app()
    assert stopped.value.code == 3
    said = capsys.readouterr().err
    assert problem in said and len(said.strip().splitlines()) == 1
    # a site that sends no invites needs no reply mailbox
    monkeypatch.setenv("THINKNET_CALENDAR_INVITES", "false")
    monkeypatch.delenv("THINKNET_REPLY_ADDRESS", raising=False)
    assert production_app().config["CALENDAR_INVITES"] is False


def test_receive_mail_asks_the_mail_server_to_try_again_while_the_database_is_down(tmp_path):
    """A pipe from the mail server: exit 75 (EX_TEMPFAIL) keeps the message queued there, nothing is lost."""
    import os
    import subprocess
    import sys

    from conftest import free_port_url

    env = {**os.environ, "DATABASE_URL": free_port_url(), "THINKNET_INSTANCE_PATH": str(tmp_path / "instance"),
           "THINKNET_REPLY_ADDRESS": REPLY_ADDRESS, "THINKNET_SECRET_KEY": "k" * 64}
    thinknet = os.path.join(os.path.dirname(sys.executable), "thinknet")
    result = subprocess.run([thinknet, "receive-mail"], input=b"From: a@b.example\r\n\r\nhi\r\n", env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 75, result.stderr.decode()
    assert b"database unavailable" in result.stderr and b"Traceback" not in result.stderr
    assert not (tmp_path / "instance" / mailbox.KEPT_FOLDER_ON_DISK).exists()


def test_two_readers_of_one_message_at_once_apply_it_once(make_app, people, session_id):
    """The timer's run and the IDLE reader, or the pipe and the mailbox, take the same message together."""
    apps = [make_app(REPLY_ADDRESS=REPLY_ADDRESS) for _ in range(2)]
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(apps[0], session_id)[ada.email])
    raw = reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", later())
    start = threading.Barrier(2)
    outcomes = []

    def read(app):
        with app.app_context():
            start.wait()
            outcomes.append(mailbox.take(raw).outcome)

    readers = [threading.Thread(target=read, args=(app,)) for app in apps]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=30)
    assert sorted(outcomes) == ["applied", "unchanged"]
    with apps[0].app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CalendarReply)) == 1


def test_organizers_see_what_became_of_each_calendar_answer(reply_app, people, session_id, make_member):
    from conftest import sign_in

    ada, ben = people
    organizer = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    invites = send_invites(reply_app, session_id)
    take(reply_app, reply_shapes.gmail(reply_shapes.invite_facts(invites[ada.email]), ada.email, ada.name,
                                       "ACCEPTED", later()))
    take(reply_app, reply_shapes.gmail(reply_shapes.invite_facts(invites[ben.email]), ada.email, ada.name,
                                       "DECLINED", later()))  # Ben's address, Ada's name: a forgery
    client = reply_app.test_client()
    assert sign_in(client, organizer.email).status_code == 303
    page = client.get("/admin/mail").get_data(as_text=True)
    section = page[page.index('id="calendar-replies"'):page.index('id="mail-log"')]
    assert section.count("<tr>") == 3  # the header and two answers
    assert "Ada Lovelace" in section and "applied" in section
    assert "kept aside" in section and "not the member this invite was sent to" in section
    assert "ada@example.org" not in section  # names and ids, no addresses


# From the outside review: each of these failed before.

POISON_HEADERS = ["Cc: <", 'To: "', 'To: "a"@', "Cc: " + "(" * 3000, "Delivered-To: " + "(" * 3000,
                  "X-Original-To: <<<@@@>>>", "To: =?utf-8?q?=ZZ?= <", "From: " + "\"" * 500]


@pytest.mark.parametrize("header", POISON_HEADERS, ids=range(len(POISON_HEADERS)))
def test_a_hostile_address_header_never_crashes_the_reader(reply_app, people, session_id, header, runner_for):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    raw = reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later())
    poisoned = raw.replace(b"\nSubject:", f"\n{header}\nSubject:".encode(), 1)
    result = runner_for(reply_app).invoke(args=["receive-mail"], input=poisoned)
    assert result.exit_code == 0 and result.exception is None, result.output
    # the member's own reply address is still in To: the answer stands, whatever else the headers hold
    assert "Calendar reply applied" in result.output


def test_a_hostile_message_in_the_mailbox_does_not_hold_up_the_answers_behind_it(make_app, people, session_id,
                                                                                  dovecot, runner_for):
    app = make_app(REPLY_ADDRESS=REPLY_ADDRESS, **dovecot.config())
    ada, ben = people
    invites = send_invites(app, session_id)
    poisoned = reply_shapes.outlook(reply_shapes.invite_facts(invites[ada.email]), ada.email, ada.name, "DECLINED",
                                    later()).replace(b"\nSubject:", b"\nCc: " + b"(" * 3000 + b"\nSubject:", 1)
    dovecot.deliver(poisoned)
    dovecot.deliver(reply_shapes.gmail(reply_shapes.invite_facts(invites[ben.email]), ben.email, ben.name,
                                       "ACCEPTED", later()))
    result = runner_for(app).invoke(args=["fetch-replies"])
    assert result.exit_code == 0, result.output
    assert answer_of(app, ben, session_id) == (RsvpAnswer.YES, False)
    assert dovecot.folder("INBOX") == []


def test_a_change_of_mind_read_in_one_pass_ends_with_the_later_answer(reply_app, people, session_id):
    """Yes pressed four minutes ago, No two minutes ago, both read by one run of the timer, in either order."""
    ada, ben = people
    invites = send_invites(reply_app, session_id)
    now = utcnow()
    for member, order in ((ada, "yes-then-no"), (ben, "no-then-yes")):
        invite = reply_shapes.invite_facts(invites[member.email])
        yes = reply_shapes.gmail(invite, member.email, member.name, "ACCEPTED", now - timedelta(minutes=4))
        no = reply_shapes.apple(invite, member.email, member.name, "DECLINED", now - timedelta(minutes=2))
        for raw in ((yes, no) if order == "yes-then-no" else (no, yes)):
            take(reply_app, raw)
        assert answer_of(reply_app, member, session_id) == (RsvpAnswer.NO, False), order


def test_pressing_yes_again_while_waiting_for_a_seat_tells_the_member_once(reply_app, people, full_session):
    """An auto-accepting calendar answers every updated invite: the mail must not start a loop."""
    ada, ben = people
    meeting_id, invites = full_session
    invite = reply_shapes.invite_facts(invites[ada.email])
    before = len(sent_mail(reply_app))
    for _ in range(3):
        take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later()))
    assert answer_of(reply_app, ada, meeting_id) == (RsvpAnswer.YES, True)
    assert len(sent_mail(reply_app)) - before == 2  # one email, one updated invite


def test_a_refused_yes_pressed_again_is_told_once(reply_app, people, session_id, close_rsvps_an_hour_ago):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    close_rsvps_an_hour_ago(session_id)
    before = len(sent_mail(reply_app))
    for _ in range(3):
        assert take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", later())).outcome == \
            "refused"
    assert len(sent_mail(reply_app)) - before == 2


def test_an_answer_to_an_earlier_version_asks_the_member_again_once(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        meeting = db.session.get(Meeting, session_id)
        meeting.starts_at += timedelta(hours=1)
        meeting.ends_at += timedelta(hours=1)
        meeting.sequence += 1  # moved, and the update not sent yet
        db.session.commit()
    before = len(sent_mail(reply_app))
    for _ in range(2):
        take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "TENTATIVE", later()))
    told = sent_mail(reply_app)[before:]
    assert len(told) == 2
    words = next(m for m in told if "earlier version" in body_text(m))
    assert "answer again" in body_text(words)
    update = next(calendar_of(m) for m in told if m is not words)
    assert next(iter(icalendar.Calendar.from_ical(update).walk("VEVENT")))["SEQUENCE"] == 1
    assert answer_of(reply_app, ada, session_id) is None


def test_with_dkim_a_reply_sent_to_someone_else_is_not_an_answer_to_us(dkim_nia):
    """An attacker's own invite reusing our UID: the member's signed answer to it, passed on to us."""
    app, key, nia, meeting_id, invite = dkim_nia
    theirs = {**invite, "organizer": "attacker@evil.example"}
    outcome = take(app, signed(reply_shapes.gmail(theirs, nia.email, nia.name, "DECLINED", later()), key))
    assert outcome.kept and "not authenticated" in outcome.detail
    assert answer_of(app, nia, meeting_id) is None


def test_a_reply_for_a_cancelled_session_is_kept_aside_with_no_promise_of_an_update(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        db.session.get(Meeting, session_id).state = MeetingState.CANCELLED
        db.session.commit()
    before = len(sent_mail(reply_app))
    outcome = take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "DECLINED", later()))
    assert outcome.kept and "cancelled" in outcome.detail
    assert len(sent_mail(reply_app)) == before


def test_an_answer_from_another_address_is_not_counted_and_the_member_is_told_once(reply_app, people, session_id):
    """A forwarding address, or someone the invite was forwarded to."""
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    before = len(sent_mail(reply_app))
    for _ in range(2):
        outcome = take(reply_app, reply_shapes.gmail(invite, "ada.l@forward.example", ada.name, "ACCEPTED", later()))
        assert outcome.kept
    told = [m for m in sent_mail(reply_app)[before:] if m["To"] == ada.email and "another address" in body_text(m)]
    assert len(told) == 1 and "ada.l@forward.example" in body_text(told[0])
    assert answer_of(reply_app, ada, session_id) is None


def test_the_pipe_prints_no_attacker_text_and_keeps_only_the_head_of_a_huge_message(reply_app, people, session_id,
                                                                                    runner_for):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    raw = reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", later(),
                             mangle=lambda text: text.replace("PARTSTAT=ACCEPTED", "PARTSTAT=\"X\\nmallory@evil.example\""))
    result = runner_for(reply_app).invoke(args=["receive-mail"], input=raw)
    assert "mallory" not in result.output and "@" not in result.output.split(":")[0]
    huge = b"From: a@b.example\r\nSubject: x\r\n\r\n" + b"x" * (replies.MAX_MESSAGE_BYTES + 10)
    result = runner_for(reply_app).invoke(args=["receive-mail"], input=huge)
    kept = result.output.rsplit(": ", 1)[1].strip()
    with open(kept, "rb") as saved:
        assert len(saved.read()) == mailbox.KEPT_BYTES


def test_receive_mail_asks_to_try_again_when_the_database_is_behind_the_code(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}",
           "THINKNET_INSTANCE_PATH": str(tmp_path / "instance"), "THINKNET_REPLY_ADDRESS": REPLY_ADDRESS,
           "THINKNET_SECRET_KEY": "k" * 64}
    thinknet = os.path.join(os.path.dirname(sys.executable), "thinknet")
    result = subprocess.run([thinknet, "receive-mail"], input=b"From: a@b.example\r\n\r\nhi\r\n", env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 75, result.stderr.decode()
    assert b"Traceback" not in result.stderr


def test_the_other_address_is_named_to_the_member_only_when_it_is_a_plain_address(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    before = len(sent_mail(reply_app))
    take(reply_app, reply_shapes.gmail(invite, "Visit https://evil.example/login now", ada.name, "ACCEPTED",
                                       later()))
    [told] = [m for m in sent_mail(reply_app)[before:] if "another address" in body_text(m)]
    assert "evil.example" not in body_text(told) and "not a plain email address" in body_text(told)



def test_production_refuses_replies_nothing_could_authenticate(tmp_path, monkeypatch, capsys):
    from thinknet import production_app

    for key, value in {"THINKNET_PRODUCTION": "true", "THINKNET_BASE_URL": "https://breakfast.example.org",
                       "THINKNET_INSTANCE_PATH": str(tmp_path / "instance"),
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite'}",
                       "THINKNET_REPLY_ADDRESS": REPLY_ADDRESS, "THINKNET_REPLY_SUBADDRESS": "false"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as stopped:
        production_app()
    assert stopped.value.code == 3 and "THINKNET_REPLY_DKIM" in capsys.readouterr().err
    monkeypatch.setenv("THINKNET_REPLY_DKIM", "true")
    assert production_app().config["REPLY_DKIM"] is True


def test_a_command_refused_by_its_settings_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite'}",
           "THINKNET_INSTANCE_PATH": str(tmp_path / "instance"), "THINKNET_REPLY_ADDRESS": "Breakfast <b@x.org>"}
    thinknet = os.path.join(os.path.dirname(sys.executable), "thinknet")
    for command, code in (("receive-mail", 75), ("fetch-replies", 3)):
        result = subprocess.run([thinknet, command], input=b"", env=env, capture_output=True, timeout=60)
        said = result.stderr.decode()
        assert result.returncode == code and "Traceback" not in said and len(said.strip().splitlines()) == 1, said
        assert "plain address" in said
    env.pop("THINKNET_REPLY_ADDRESS")
    result = subprocess.run([thinknet, "receive-mail"], input=b"From: a@b.example\r\n\r\nhi\r\n", env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 75 and b"THINKNET_REPLY_ADDRESS is not set" in result.stderr


def test_a_nul_in_a_strangers_calendar_is_set_aside_and_the_answers_behind_it_are_read(make_app, people,
                                                                                       session_id, dovecot,
                                                                                       runner_for):
    """PostgreSQL will not store a NUL byte: the message must not stop the reader on it."""
    app = make_app(REPLY_ADDRESS=REPLY_ADDRESS, **dovecot.config())
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(app, session_id)[ada.email])
    dovecot.deliver(reply_shapes.outlook({**invite, "uid": "abc\x00def@thinknet"}, "x@y.example", "X",
                                         "ACCEPTED", later()))
    dovecot.deliver(reply_shapes.gmail({**invite, "organizer": invite["organizer"]}, ada.email, ada.name,
                                       "DECLINED", later(), mangle=lambda text: text.replace(
                                           "SUMMARY:", "X-NOTE:a\x00b\r\nSUMMARY:")))
    dovecot.deliver(reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", later()))
    result = runner_for(app).invoke(args=["fetch-replies"])
    assert result.exit_code == 0, result.output
    assert answer_of(app, ada, session_id) == (RsvpAnswer.YES, False)
    assert dovecot.folder("INBOX") == []


def test_with_dkim_a_second_to_header_added_above_the_signed_one_is_refused(dkim_nia):
    app, key, nia, meeting_id, invite = dkim_nia
    theirs = signed(reply_shapes.outlook(invite, nia.email, nia.name, "DECLINED", later(),
                                         to="mallory@evil.example"), key)
    outcome = take(app, b"To: breakfast@example.org\r\n" + theirs)
    assert outcome.kept and answer_of(app, nia, meeting_id) is None


def test_after_a_change_of_answer_the_member_is_told_again(reply_app, people, full_session):
    """Told once per state: a no then a yes again puts them back in line, and their calendar must say so."""
    ada, ben = people
    meeting_id, invites = full_session
    invite = reply_shapes.invite_facts(invites[ada.email])
    now = utcnow()
    before = len(sent_mail(reply_app))
    for seconds, partstat in ((1, "ACCEPTED"), (2, "ACCEPTED"), (3, "DECLINED"), (4, "ACCEPTED")):
        take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, partstat, now + timedelta(seconds=seconds)))
    told = [m for m in sent_mail(reply_app)[before:] if "waitlist" in body_text(m) and not any(
        p.get_content_type() == "text/calendar" for p in m.walk())]
    assert len(told) == 2 and answer_of(reply_app, ada, meeting_id) == (RsvpAnswer.YES, True)


def test_a_device_clock_ahead_does_not_silence_later_answers(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    take(reply_app, reply_shapes.apple(invite, ada.email, ada.name, "TENTATIVE", utcnow() + timedelta(hours=3)))
    assert answer_of(reply_app, ada, session_id) == (RsvpAnswer.MAYBE, False)
    take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "DECLINED", utcnow()))
    assert answer_of(reply_app, ada, session_id) == (RsvpAnswer.NO, False)


def test_an_answer_overtaken_by_a_newer_one_shows_the_calendar_what_stands(reply_app, people, session_id, client,
                                                                           login):
    """A phone whose clock is behind, or a reply held up for hours: it does not count, and the member's
    calendar, which shows what they pressed, is shown the truth."""
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        db.session.add(Rsvp(meeting_id=session_id, member_id=ada.id, answer=RsvpAnswer.NO, answered_at=utcnow()))
        db.session.commit()
    before = len(sent_mail(reply_app))
    outcome = take(reply_app, reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED",
                                                 utcnow() - timedelta(hours=2)))
    assert outcome.outcome == "unchanged" and answer_of(reply_app, ada, session_id) == (RsvpAnswer.NO, False)
    told = sent_mail(reply_app)[before:]
    assert len(told) == 2 and any("written before your latest one" in body_text(m) for m in told)


def test_with_invites_off_calendars_that_hold_a_session_still_follow_it_and_nothing_new_goes_out(
        make_app, people, session_id, make_meeting):
    ada, ben = people
    on = make_app(REPLY_ADDRESS=REPLY_ADDRESS)
    send_invites(on, session_id)
    later_session = make_meeting(days_from_now=10)
    off = make_app(REPLY_ADDRESS=REPLY_ADDRESS, CALENDAR_INVITES=False)
    with off.app_context():
        moved = db.session.get(Meeting, session_id)
        moved.starts_at, moved.ends_at, moved.sequence = (moved.starts_at + timedelta(hours=1),
                                                          moved.ends_at + timedelta(hours=1), moved.sequence + 1)
        queued = itip.queue_calendar_updates([moved,
                                              db.session.get(Meeting, later_session)])
        # the session they hold gets its update; the new one no invite
        assert {(m.meeting_id, m.recipient) for m in queued} == {(session_id, ada.email), (session_id, ben.email)}
        db.session.commit()


def test_a_first_invite_waiting_when_its_session_is_cancelled_is_not_sent(reply_app, people, session_id):
    with reply_app.app_context():
        meeting = db.session.get(Meeting, session_id)
        itip.queue_calendar_updates([meeting])
        meeting.state = MeetingState.CANCELLED
        db.session.commit()
        before = len(sent_mail(reply_app))
        outbox.send_due()
        assert len(sent_mail(reply_app)) == before
        states = set(db.session.scalars(select(OutgoingMail.error).where(OutgoingMail.meeting_id == session_id)))
        assert states == {"Not sent: the session was cancelled before its invite went out."}


# From the third outside review: each of these failed before.

def test_pressing_again_later_is_answered_again_but_an_auto_accepting_calendar_never_loops(
        reply_app, people, session_id, close_rsvps_an_hour_ago):
    from thinknet.models import CalendarReplyNotice

    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    close_rsvps_an_hour_ago(session_id)

    def press():
        before = len(sent_mail(reply_app))
        take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "ACCEPTED", utcnow()))
        return len(sent_mail(reply_app)) - before

    assert press() == 2  # refused: told, and the calendar shown the truth
    assert press() == 0  # seconds later, as an auto-accepting calendar answers the correction: nothing
    for _ in range(replies.MAX_TELLS + 2):  # a person pressing again, minutes apart
        with reply_app.app_context():
            notice = db.session.scalar(select(CalendarReplyNotice))
            notice.told_at -= replies.RETELL_AFTER
            db.session.commit()
        press()
    with reply_app.app_context():
        assert db.session.scalar(select(CalendarReplyNotice.told_count)) == replies.MAX_TELLS


def test_an_overtaken_yes_from_a_member_now_waiting_for_a_seat_shows_their_calendar_tentative(
        reply_app, people, make_meeting):
    ada, ben = people
    meeting_id = make_meeting(days_from_now=3, seat_limit=1)
    invite = reply_shapes.invite_facts(send_invites(reply_app, meeting_id)[ada.email])
    held = reply_shapes.gmail(invite, ada.email, ada.name, "ACCEPTED", utcnow())  # pressed, then held up
    with reply_app.app_context():
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=ben.id, answer=RsvpAnswer.YES,
                            answered_at=utcnow() - timedelta(hours=1)))
        db.session.add(Rsvp(meeting_id=meeting_id, member_id=ada.id, answer=RsvpAnswer.YES, waitlisted=True,
                            answered_at=utcnow() + timedelta(seconds=30)))  # then yes on the site: in line
        db.session.commit()
    before = len(sent_mail(reply_app))
    assert take(reply_app, held).outcome == "unchanged"
    updates = [calendar_of(m) for m in sent_mail(reply_app)[before:] if m["To"] == ada.email and any(
        p.get_content_type() == "text/calendar" for p in m.walk())]
    [update] = updates
    assert next(iter(icalendar.Calendar.from_ical(update).walk("VEVENT")))["ATTENDEE"].params["PARTSTAT"] == \
        "TENTATIVE"


def test_a_suspended_member_is_never_written_to_about_a_reply_with_their_address(reply_app, people, session_id):
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        db.session.get(Member, ada.id).status = MemberStatus.SUSPENDED
        db.session.commit()
    before = len(sent_mail(reply_app))
    outcome = take(reply_app, reply_shapes.outlook(invite, "someone.else@evil.example", "X", "ACCEPTED", later()))
    assert outcome.kept and "suspended" in outcome.detail
    assert len(sent_mail(reply_app)) == before


def test_a_standing_yes_does_not_silence_a_no(reply_app, people, session_id):
    """The "I usually come" yes is no one's answer to this session: a reply written before it was set still
    counts."""
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        db.session.add(Rsvp(meeting_id=session_id, member_id=ada.id, answer=RsvpAnswer.YES, from_standing=True,
                            answered_at=utcnow()))
        db.session.commit()
    outcome = take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "DECLINED",
                                                   utcnow() - timedelta(minutes=1)))
    assert outcome.outcome == "applied" and answer_of(reply_app, ada, session_id) == (RsvpAnswer.NO, False)


def test_a_clock_behind_the_invite_does_not_silence_a_later_press(reply_app, people, session_id):
    """A DTSTAMP from before the invite was sent comes from a clock that is behind: the order decides."""
    ada, _ = people
    invite = reply_shapes.invite_facts(send_invites(reply_app, session_id)[ada.email])
    with reply_app.app_context():
        db.session.add(Rsvp(meeting_id=session_id, member_id=ada.id, answer=RsvpAnswer.YES,
                            answered_at=utcnow() - timedelta(hours=1)))  # on the site, after the invite
        db.session.commit()
    outcome = take(reply_app, reply_shapes.outlook(invite, ada.email, ada.name, "DECLINED",
                                                   utcnow() - timedelta(hours=5)))
    assert outcome.outcome == "applied" and answer_of(reply_app, ada, session_id) == (RsvpAnswer.NO, False)
