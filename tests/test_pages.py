"""Every page renders on the demo network, for an organizer and for a member."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from conftest import sign_in
from thinknet.demo import MEMBER_LOGIN, ORGANIZER_LOGIN, load_demo
from thinknet.extensions import db
from thinknet.models import Member

SKIP = {"static", "auth.reset_password", "join.landing"}  # need a secret token; covered in their own tests


@pytest.fixture
def demo(app):
    with app.app_context():
        sign_in_details = load_demo(date.today(), password="demo password 1")
        db.session.commit()
        member_id = db.session.scalar(select(Member.id).where(Member.email == MEMBER_LOGIN))
    return sign_in_details, member_id


def get_pages(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in SKIP:
            yield rule


@pytest.mark.parametrize("who", [ORGANIZER_LOGIN, MEMBER_LOGIN])
def test_every_page_renders_on_the_demo_network(app, client, demo, who):
    details, member_id = demo
    assert sign_in(client, who, details.password).status_code == 303
    organizer = who == ORGANIZER_LOGIN
    for rule in get_pages(app):
        path = rule.rule.replace("<int:member_id>", str(member_id))
        response = client.get(path)
        expected = 403 if rule.endpoint.startswith("admin.") and not organizer else 200
        if rule.endpoint == "auth.login":
            expected = 302
        assert response.status_code == expected, (path, response.status_code)
