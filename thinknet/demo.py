"""A believable demo network: a founder, members across sectors, a sponsor chain, past and coming breakfasts."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta

from thinknet.auth.services import hash_password
from thinknet.extensions import db
from thinknet.meetings.schedule import schedule_ahead, series_days, series_times
from thinknet.models import (
    Attendance,
    Invitation,
    Meeting,
    Member,
    MemberStatus,
    Role,
    Rsvp,
    RsvpAnswer,
    SETUP_STEPS,
    Series,
    Settings,
    Takeaway,
    Topic,
    TopicState,
    Vote,
    utcnow,
)
from thinknet.tokens import new_token

# name, email, headline, sponsor's email (None: founder), role, status
PEOPLE = [
    ("Margaret Okafor", "margaret@demo.thinknet.example", "Managing director, logistics", None, Role.ORGANIZER, MemberStatus.ACTIVE),
    ("Daniel Weber", "daniel@demo.thinknet.example", "Head of engineering, fintech", "margaret", Role.MEMBER, MemberStatus.ACTIVE),
    ("Luis Ortega", "luis@demo.thinknet.example", "Accountant, own practice", "margaret", Role.ORGANIZER, MemberStatus.ACTIVE),
    ("Sofia Lindqvist", "sofia@demo.thinknet.example", "Founder, food startup", "margaret", Role.MEMBER, MemberStatus.ACTIVE),
    ("Priya Raman", "priya@demo.thinknet.example", "Owner, architecture studio", "daniel", Role.MEMBER, MemberStatus.ACTIVE),
    ("Hannah Brooks", "hannah@demo.thinknet.example", "HR lead, retail", "daniel", Role.MEMBER, MemberStatus.ACTIVE),
    ("Tom Haddad", "tom@demo.thinknet.example", "Physician, public health", "priya", Role.MEMBER, MemberStatus.ACTIVE),
    ("Kwame Mensah", "kwame@demo.thinknet.example", "Teacher, secondary school", "sofia", Role.MEMBER, MemberStatus.ACTIVE),
    ("Mei Chen", "mei@demo.thinknet.example", "Product designer, healthcare software", "luis", Role.MEMBER, MemberStatus.ACTIVE),
    ("Jonas Berg", "jonas@demo.thinknet.example", "Carpenter, own workshop", "tom", Role.MEMBER, MemberStatus.ACTIVE),
    ("Oliver Grant", "oliver@demo.thinknet.example", "Sales director, software", "kwame", Role.MEMBER, MemberStatus.DEPARTED),
]

# Each demo headline's field of work, as a member picks it from the list (thinknet.members.sectors).
DEMO_SECTORS = {
    "logistics": "Transport and logistics", "fintech": "Finance and insurance", "own practice": "Finance and insurance",
    "food startup": "Agriculture and food", "architecture studio": "Architecture and construction",
    "retail": "Retail and consumer goods", "public health": "Health and care", "secondary school": "Education",
    "healthcare software": "Software and technology", "own workshop": "Trades and crafts",
    "software": "Software and technology",
}

ORGANIZER_LOGIN = "margaret@demo.thinknet.example"
MEMBER_LOGIN = "priya@demo.thinknet.example"

PAST_TOPICS = [
    "How do I let go of an under-performer kindly?",
    "Which productivity tools actually stuck for you?",
    "Pricing a service business: hourly or by project?",
    "How do you switch off on holiday?",
    "Hiring your first employee: what I wish I'd known",
    "Is a four-day week realistic for a small team?",
]
OPEN_TOPICS = [
    ("Is this startup idea any good? Subscription repair for kids' bikes", "Half-formed, happy to be told it's bad.", False),
    ("How do you say no to a big client?", "", False),
    ("Dealing with a co-founder who has lost interest", "Would rather not say whose company this is.", True),
    ("What are you reading this winter?", "", False),
    ("Getting honest feedback as the boss", "", False),
    ("Moving the business to another city", "", False),
]
TAKEAWAYS = [
    "Say the hard thing early; it only gets harder.",
    "Try the two-list method for a week before buying another app.",
    "Charge for the outcome, not the hours, when the client can measure it.",
    "Put the phone in a drawer for the first hour of the day.",
    "Write the job down before you hire for it.",
    "Ask the team what they'd drop, not what they'd add.",
]


@dataclass(frozen=True)
class DemoSignIn:
    organizer_email: str
    member_email: str
    password: str


def clear_all_data() -> None:
    """Empties the database by rebuilding its schema: the audit log is append-only, so its rows cannot be
    deleted, only dropped with its table (used by `thinknet demo --force`)."""
    from flask_migrate import downgrade, upgrade

    db.session.remove()
    downgrade(revision="base")
    upgrade()


def load_demo(today: date, password: str | None = None, seed: int = 7) -> DemoSignIn:
    """Builds the demo network around today's date; every demo account gets the same password."""
    rng = random.Random(seed)
    password = password or secrets.token_urlsafe(9)
    password_hash = hash_password(password)

    settings = Settings.get()
    settings.group_name = "Wednesday Breakfast Club"
    settings.timezone = "Europe/London"
    for step in SETUP_STEPS:  # a group that has been meeting for a year
        settings.mark_set_up(step)
    settings.setup_opened_at = utcnow() - timedelta(days=400)

    members: dict[str, Member] = {}
    joined = utcnow() - timedelta(days=400)
    for index, (name, email, headline, sponsor, role, status) in enumerate(PEOPLE):
        role_text, field_of_work = headline.split(", ", 1)
        sector = DEMO_SECTORS[field_of_work]
        member = Member(
            email=email, name=name, headline=role_text, sector=sector, password_hash=password_hash,
            role=role, status=status,
            sponsor=members[sponsor] if sponsor else None, joined_at=joined + timedelta(days=30 * index),
            standing_rsvp=RsvpAnswer.YES if index % 3 == 0 else None,
            bio="",
        )
        db.session.add(member)
        members[email.split("@")[0]] = member
    db.session.flush()
    active = [m for m in members.values() if m.status == MemberStatus.ACTIVE]

    series = Series(
        weekday=2, start_time=time(6, 30), duration_minutes=60, timezone="Europe/London",
        venue_name="Café Rosa", venue_address="12 Market Street", seat_limit=12,
    )
    db.session.add(series)
    db.session.flush()

    past_meetings = []
    for day in series_days(series, today - timedelta(weeks=6), weeks=6):
        if day >= today:
            continue
        starts_at, ends_at = series_times(series, day)
        meeting = Meeting(
            series_id=series.id, series_date=day, starts_at=starts_at, ends_at=ends_at,
            venue_name=series.venue_name, venue_address=series.venue_address, seat_limit=series.seat_limit,
            attendance_recorded_at=ends_at,
        )
        db.session.add(meeting)
        past_meetings.append(meeting)
    db.session.flush()
    upcoming = schedule_ahead(series, today)

    organizer = members["margaret"]
    for week, meeting in enumerate(past_meetings):
        came = [m for m in active if rng.random() < 0.7]
        for member in came:
            db.session.add(Rsvp(meeting_id=meeting.id, member_id=member.id, answer=RsvpAnswer.YES,
                                answered_at=meeting.starts_at - timedelta(days=2)))
            db.session.add(Attendance(meeting_id=meeting.id, member_id=member.id, recorded_by_id=organizer.id,
                                      recorded_at=meeting.ends_at))
        topic = Topic(title=PAST_TOPICS[week % len(PAST_TOPICS)], author=rng.choice(came), meeting_id=meeting.id,
                      state=TopicState.DISCUSSED, created_at=meeting.starts_at - timedelta(days=5),
                      discussed_at=meeting.ends_at)
        db.session.add(topic)
        db.session.add(Takeaway(meeting_id=meeting.id, author=rng.choice(came),
                                body=TAKEAWAYS[week % len(TAKEAWAYS)], created_at=meeting.ends_at))

    next_meeting = upcoming[0] if upcoming else None
    if next_meeting is not None:
        # Regulars were answered yes by their standing answer when the week was scheduled.
        answers = [RsvpAnswer.YES] * 4 + [RsvpAnswer.MAYBE, RsvpAnswer.NO]
        others = [member for member in active if member.standing_rsvp is None]
        for member, answer in zip(others, answers):
            db.session.add(Rsvp(meeting_id=next_meeting.id, member_id=member.id, answer=answer))
    for index, (title, details, anonymous) in enumerate(OPEN_TOPICS):
        author = active[(index * 3 + 1) % len(active)]
        topic = Topic(title=title, details=details, author=author, anonymous=anonymous,
                      meeting_id=next_meeting.id if next_meeting and index < 4 else None,
                      state=TopicState.ON_AGENDA if next_meeting and index < 4 else TopicState.OPEN,
                      created_at=utcnow() - timedelta(days=index + 1))
        db.session.add(topic)
        db.session.flush()
        for voter in rng.sample(active, k=rng.randint(0, 5)):
            if voter.id != author.id:
                db.session.add(Vote(topic_id=topic.id, member_id=voter.id))

    _, token_hash = new_token()
    db.session.add(Invitation(
        sponsor=members["daniel"], email="rachel@demo.thinknet.example", token_hash=token_hash,
        vouch_note="We worked together for five years; she asks the questions nobody else does.",
        expires_at=utcnow() + timedelta(days=10), created_at=utcnow() - timedelta(days=4),
    ))
    db.session.flush()
    return DemoSignIn(organizer_email=ORGANIZER_LOGIN, member_email=MEMBER_LOGIN, password=password)
