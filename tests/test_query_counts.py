"""No page's number of SQL queries grows with the data: each page is counted small, then after the data grows."""
from __future__ import annotations

from datetime import timedelta

import pytest

from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    Invitation,
    Meeting,
    Member,
    Rsvp,
    RsvpAnswer,
    Takeaway,
    Topic,
    TopicState,
    Vote,
    utcnow,
)
from thinknet.tokens import new_token


def grow(app, viewer_id: int, n: int, tag: str) -> dict[str, int]:
    """Adds n of everything: members (sponsored by the viewer), meetings past and ahead, RSVPs, attendance,
    topics with votes (some anonymous), takeaways, invitations."""
    with app.app_context():
        now = utcnow()
        members = [Member(email=f"{tag}{k}@example.org", name=f"{tag} {k}", password_hash="x", sector=f"S{k % 5}",
                          sponsor_id=viewer_id) for k in range(n)]
        db.session.add_all(members)
        db.session.flush()
        past = Meeting(starts_at=now - timedelta(days=7), ends_at=now - timedelta(days=7, hours=-1),
                       venue_name="Past", attendance_recorded_at=now)
        ahead = Meeting(starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1),
                        venue_name="Ahead", seat_limit=max(n // 2, 1))
        db.session.add_all([past, ahead])
        db.session.flush()
        for k, member in enumerate(members):
            db.session.add(Rsvp(meeting_id=ahead.id, member_id=member.id, answer=RsvpAnswer.YES,
                                waitlisted=k >= n // 2))
            db.session.add(Attendance(meeting_id=past.id, member_id=member.id))
            db.session.add(Takeaway(meeting_id=past.id, author_id=member.id, body=f"Takeaway {k}"))
            for meeting in (past, ahead, None):
                topic = Topic(title=f"{tag} topic {k}", author_id=member.id, anonymous=k % 3 == 0,
                              meeting_id=meeting.id if meeting else None,
                              state=TopicState.DISCUSSED if meeting is past else
                              TopicState.ON_AGENDA if meeting else TopicState.OPEN)
                db.session.add(topic)
                db.session.flush()
                db.session.add(Vote(topic_id=topic.id, member_id=viewer_id))
            db.session.add(Invitation(sponsor_id=viewer_id, email=f"{tag}-new{k}@example.org", vouch_note="Known well",
                                      token_hash=new_token()[1], expires_at=now + timedelta(days=3),
                                      state="accepted" if k % 2 else "revoked", member_id=member.id if k % 2 else None))
        db.session.commit()
        return {"past": past.id, "ahead": ahead.id}


PAGES = ["/", "/topics/", "/meetings/", "/meetings/{past}", "/meetings/{ahead}", "/members/", "/members/tree",
         "/members/{viewer}", "/invitations/", "/me/", "/admin/", "/admin/invitations", "/admin/members",
         "/admin/audit", "/admin/meetings", "/topics/{topic}"]


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_query_count_does_not_grow_with_the_data(app, client, login, organizer, count_queries, page):
    login(organizer)
    small_ids = grow(app, organizer.id, 3, "small")
    with app.app_context():
        topic_id = db.session.query(Topic.id).first()[0]

    def count(ids):
        path = page.format(viewer=organizer.id, topic=topic_id, **ids)
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200, path
        return counter.count

    small = count(small_ids)
    big_ids = grow(app, organizer.id, 40, "big")
    assert count(big_ids) == small
