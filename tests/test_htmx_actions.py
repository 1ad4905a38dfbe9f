"""Under htmx, an action that ends on another page answers with HX-Redirect, never a redirect htmx would
follow and swap a whole page into a button; without htmx the same action is a plain 303."""
from __future__ import annotations

import pytest

from conftest import csrf_token
from thinknet.extensions import db
from thinknet.models import Topic, TopicState


@pytest.fixture
def world(app, make_member, make_meeting, organizer):
    past, ahead = make_meeting(days_from_now=-1), make_meeting(days_from_now=3)
    with app.app_context():
        topic = Topic(title="Pricing", author_id=organizer.id, meeting_id=ahead, state=TopicState.ON_AGENDA)
        db.session.add(topic)
        db.session.commit()
        return {"past": past, "ahead": ahead, "topic": topic.id}


ACTIONS = [
    ("/topics/new", {"title": "A question", "details": "", "when": "backlog"}),
    ("/topics/{topic}/pin", {}),
    ("/topics/{topic}/drop", {}),
    ("/meetings/{past}/attendance", {}),
    ("/meetings/{past}/close-agenda", {}),
    ("/me/standing", {"standing": "ask"}),
    ("/me/", {"name": "Grace Hopper", "headline": "Admiral", "sector": "Government and public service", "bio": ""}),
    ("/admin/meetings/{ahead}/cancel", {"reason": "Snow"}),
    ("/invitations/", {"email": "new@example.org", "vouch_note": "Known for many years, very thoughtful."}),
]


@pytest.mark.parametrize(("path", "data"), ACTIONS)
@pytest.mark.parametrize("with_htmx", [True, False])
def test_actions_redirect_the_htmx_way_or_the_plain_way(client, login, organizer, world, path, data, with_htmx):
    login(organizer)
    url = path.format(**world)
    headers = {"HX-Request": "true"} if with_htmx else {}
    response = client.post(url, data={**data, "csrf_token": csrf_token(client, "/")}, headers=headers)
    if with_htmx:
        assert response.status_code == 200, (url, response.status_code)
        assert response.headers.get("HX-Redirect"), url
        assert "Location" not in response.headers
    else:
        assert response.status_code == 303, (url, response.status_code)
        assert "HX-Redirect" not in response.headers
