"""Default-deny: every endpoint needs a signed-in active member unless allow-listed; organizers' pages; CSRF."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conftest import CSRF_META
from thinknet.access import public_endpoints
from thinknet.extensions import db
from thinknet.models import SignIn
from werkzeug.routing import AnyConverter, IntegerConverter

# The whole allow-list. A new public endpoint must be added here on purpose.
PUBLIC = {"auth.login", "auth.forgot_password", "auth.reset_password", "main.healthz", "join.landing",
          "calendar.subscription", "own_data.ask", "own_data.open_link", "own_data.manage", "own_data.export",
          "own_data.delete"}


def example_url(app, rule) -> str:
    def example(converter):
        if isinstance(converter, IntegerConverter):
            return 1
        return min(converter.items) if isinstance(converter, AnyConverter) else "x"

    values = {name: example(rule._converters[name]) for name in rule.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def guarded_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and rule.endpoint not in PUBLIC]


def test_the_allow_list_is_exactly_the_public_pages(app):
    assert public_endpoints(app) == PUBLIC


def test_every_other_endpoint_sends_a_visitor_to_sign_in(app, client):
    rules = guarded_rules(app)
    assert len(rules) >= 3
    for rule in rules:
        url = example_url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 303, (rule.endpoint, method, response.status_code)
            assert response.headers["Location"].startswith("/login"), (rule.endpoint, method)


def test_public_pages_open_without_signing_in(client):
    assert client.get("/login").status_code == 200
    assert client.get("/password/forgot").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/thinknet.css").status_code == 200


def test_organizer_pages_refuse_members(client, login, member):
    login(member)
    assert client.get("/admin/").status_code == 403


def test_organizer_pages_open_for_organizers(client, login, organizer):
    login(organizer)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Audit log" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(app, client, login, member):
    login(member)
    response = client.post("/logout")
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in: nothing changed


def test_sign_in_without_csrf_token_is_refused(app, client, member):
    response = client.post("/login", data={"email": member.email, "password": "correct horse battery"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SignIn)) == 0


def test_htmx_request_carries_the_token_in_a_header(client, login, member):
    login(member)
    page = client.get("/").get_data(as_text=True)
    token = CSRF_META.search(page).group(1)  # the same page's: a token is signed with the second it was made
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    response = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/login"
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("header", ["X-CSRFToken", "X-CSRF-Token"])
def test_htmx_request_with_a_wrong_token_is_refused(client, login, member, header):
    login(member)
    response = client.post("/logout", headers={"HX-Request": "true", header: "forged"})
    assert response.status_code == 400
    assert client.get("/").status_code == 200


def test_unknown_address_is_a_plain_404(client, login, member):
    login(member)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.get_data(as_text=True)
