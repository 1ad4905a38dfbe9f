"""Every page renders on the demo network, for an organizer and for a member."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from conftest import sign_in
from thinknet.demo import MEMBER_LOGIN, ORGANIZER_LOGIN, load_demo
from thinknet.extensions import db
from thinknet.meetings.queries import next_meeting
from thinknet.models import Meeting, Member, utcnow
from thinknet.topics.services import post_topic

SKIP = {"static", "auth.reset_password", "join.landing", "calendar.subscription",  # secret tokens: own tests
        "own_data.open_link", "own_data.manage", "own_data.export",  # reached with a data link: own tests
        "members.me_in_tree"}  # a redirect to the tree, which is here: test_members_views


@pytest.fixture
def demo(app):
    with app.app_context():
        sign_in_details = load_demo(date.today(), password="demo password 1")
        ids = {}
        for email in (ORGANIZER_LOGIN, MEMBER_LOGIN):
            member = db.session.scalar(select(Member).where(Member.email == email))
            topic = post_topic(member, title="What is on my mind", details="", anonymous=True, meeting=None)
            db.session.flush()
            ids[email] = {"member_id": member.id, "topic_id": topic.id}
        ids["meetings"] = [db.session.scalars(select(Meeting.id).where(Meeting.starts_at < utcnow())).first(),
                           next_meeting().id]
        db.session.commit()
    return sign_in_details, ids


def get_pages(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in SKIP:
            yield rule


@pytest.mark.parametrize("who", [ORGANIZER_LOGIN, MEMBER_LOGIN])
def test_every_page_renders_on_the_demo_network(app, client, demo, who):
    details, ids = demo
    assert sign_in(client, who, details.password).status_code == 303
    organizer = who == ORGANIZER_LOGIN
    for rule in get_pages(app):
        for meeting_id in ids["meetings"]:
            path = (rule.rule.replace("<int:member_id>", str(ids[who]["member_id"]))
                    .replace("<int:topic_id>", str(ids[who]["topic_id"]))
                    .replace("<int:meeting_id>", str(meeting_id))
                    .replace("<any(name, meetings, charter, sponsors):step>", "meetings"))
            response = client.get(path)
            expected = 403 if rule.endpoint.startswith("admin.") and not organizer else 200
            if rule.endpoint == "auth.login":
                expected = 302
            assert response.status_code == expected, (path, response.status_code)
