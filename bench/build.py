"""Builds a benchmark network into an empty, migrated database: "big" is five years of a full group, "small"
is a young one. Bulk inserts through SQLAlchemy Core keep it to seconds."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from thinknet.auth.services import hash_password
from thinknet.extensions import db
from thinknet.members.sectors import SECTORS
from thinknet.models import (
    SETUP_STEPS,
    Attendance,
    Meeting,
    Member,
    Role,
    Rsvp,
    Settings,
    Takeaway,
    Topic,
    Vote,
    new_calendar_uid,
    utcnow,
)

PASSWORD = "bench password 1"
SIZES = {
    # active, departed, weeks back, weeks ahead, topics per meeting, RSVPs per meeting
    "big": (150, 40, 252, 8, 19, 96),
    "small": (10, 0, 4, 4, 3, 8),
}


@dataclass
class Network:
    emails: list[str]
    meeting_id: int
    topic_id: int
    member_ids: list[int]


def build(size: str, seed: int = 1) -> Network:
    active, departed, weeks_back, weeks_ahead, topics_per, rsvps_per = SIZES[size]
    rng = random.Random(seed)
    zone = ZoneInfo("Europe/London")
    settings = Settings.get()
    settings.group_name, settings.timezone = "Benchmark Breakfast Club", "Europe/London"
    for step in SETUP_STEPS:  # years of meetings: set up long ago
        settings.mark_set_up(step)
    settings.setup_opened_at = utcnow()
    password = hash_password(PASSWORD)
    now = utcnow()

    # Members: a sponsor tree up to 8 deep, founders first.
    rows, depth = [], {}
    total = active + departed
    for n in range(total):
        sponsor = None if n < 3 else rng.choice([m for m in range(n) if depth[m] < 7])
        depth[n] = 0 if sponsor is None else depth[sponsor] + 1
        rows.append({"email": f"member{n}@bench.example", "name": f"Member {n}", "headline": "Role",
                     "sector": SECTORS[n % 9], "bio": "", "password_hash": password,
                     "role": (Role.ORGANIZER if n == 0 else Role.MEMBER).value,
                     "status": "departed" if n >= active else "active",
                     "joined_at": now - timedelta(weeks=weeks_back + 4 - n * weeks_back // max(total, 1)),
                     "wants_calendar_updates": True, "wants_calendar_feed": True, "calendar_feed_version": 0,
                     "sponsor_index": sponsor})
    ids = []
    for row in rows:
        sponsor = row.pop("sponsor_index")
        row["sponsor_id"] = ids[sponsor] if sponsor is not None else None
        ids.append(db.session.execute(insert(Member).values(row).returning(Member.id)).scalar_one())
    active_ids = ids[:active]

    # Weekly meetings, 6:30 London time, from weeks back to weeks ahead.
    today = now.astimezone(zone).date()
    meetings = []
    for week in range(-weeks_back, weeks_ahead):
        start = datetime.combine(today + timedelta(weeks=week), time(6, 30), tzinfo=zone).astimezone(timezone.utc)
        meetings.append({"starts_at": start, "ends_at": start + timedelta(hours=1), "venue_name": "Café Rosa",
                         "venue_address": "12 Market Street", "state": "scheduled", "calendar_uid": new_calendar_uid(),
                         "sequence": 0, "created_at": start - timedelta(weeks=8), "updated_at": start - timedelta(weeks=8),
                         "attendance_recorded_at": start + timedelta(hours=2) if start < now else None})
    db.session.execute(insert(Meeting), meetings)
    meeting_rows = db.session.execute(select(Meeting.id, Meeting.starts_at).order_by(Meeting.starts_at)).all()

    rsvps, attendance, topics, takeaways = [], [], [], []
    for meeting_id, starts_at in meeting_rows:
        past = starts_at < now
        people = rng.sample(active_ids, min(rsvps_per, len(active_ids)))
        for k, member_id in enumerate(people):
            answer = "yes" if k % 5 else rng.choice(["maybe", "no"])
            rsvps.append({"meeting_id": meeting_id, "member_id": member_id, "answer": answer, "waitlisted": False,
                          "from_standing": False, "answered_at": starts_at - timedelta(days=2, minutes=k)})
            if past and answer == "yes" and k % 3:
                attendance.append({"meeting_id": meeting_id, "member_id": member_id,
                                   "recorded_at": starts_at + timedelta(hours=2)})
        for k in range(topics_per):
            topics.append({"title": f"Topic {len(topics)}: how do we handle this?", "details": "Some details.",
                           "author_id": rng.choice(active_ids), "anonymous": k % 7 == 0,
                           "state": "discussed" if past else "on_agenda", "meeting_id": meeting_id, "pinned": False,
                           "created_at": starts_at - timedelta(days=5), "updated_at": starts_at - timedelta(days=5)})
        if past:
            for k in range(3):
                takeaways.append({"meeting_id": meeting_id, "author_id": rng.choice(active_ids),
                                  "body": "What I am taking away from this one.", "created_at": starts_at})
    db.session.execute(insert(Rsvp), rsvps)
    db.session.execute(insert(Attendance), attendance)
    db.session.execute(insert(Topic), topics)
    db.session.execute(insert(Takeaway), takeaways)
    topic_ids = db.session.scalars(select(Topic.id)).all()
    votes = {(rng.choice(topic_ids), rng.choice(active_ids)) for _ in range(len(topic_ids) * 5)}
    db.session.execute(insert(Vote), [{"topic_id": t, "member_id": m, "created_at": now} for t, m in votes])
    db.session.commit()

    # The session members RSVP to: a week or so ahead, so its RSVPs are open whatever the time of day.
    upcoming = [mid for mid, start in meeting_rows if start > now + timedelta(days=2)][0]
    open_topic = db.session.scalar(select(Topic.id).where(Topic.meeting_id == upcoming).limit(1))
    # Posted by the organizer, who does not sign in: every member who says "me too" to it may.
    db.session.execute(update(Topic).where(Topic.id == open_topic).values(author_id=ids[0], anonymous=False))
    db.session.commit()
    # Every active member but the organizer signs in: 149 on the big network, 9 on the small one.
    return Network([f"member{n}@bench.example" for n in range(1, active)], upcoming, open_topic, ids[1:active])
