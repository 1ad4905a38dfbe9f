"""Every absolute link the app writes points at the configured BASE_URL, never at the host a request names:
a forged Host or X-Forwarded-Host can neither steer a reset link nor be served at all."""
from __future__ import annotations

import re

import pytest

from conftest import CSRF_META, PASSWORD, app_config, body_text, csrf_token, sent_mail
from thinknet import create_app, outbox
from thinknet.config import MissingBaseUrl
from thinknet.extensions import db
from thinknet.models import Rsvp, RsvpAnswer

EVIL = "evil.example"


def token_for(client, path, headers):
    return CSRF_META.search(client.get(path, headers=headers).get_data(as_text=True)).group(1)


def forgot(client, email, **headers):
    token = token_for(client, "/password/forgot", headers)
    return client.post("/password/forgot", data={"email": email, "csrf_token": token}, headers=headers)


def test_a_request_for_another_host_is_refused_and_sends_nothing(app, client, member):
    assert client.get("/password/forgot", headers={"Host": EVIL}).status_code == 400
    token = csrf_token(client, "/password/forgot")
    response = client.post("/password/forgot", data={"email": member.email, "csrf_token": token},
                           headers={"Host": EVIL})
    assert response.status_code == 400
    assert sent_mail(app) == []


@pytest.mark.parametrize("proxy_count", [0, 1])
def test_a_forged_forwarded_host_never_reaches_a_reset_link(make_app, member, proxy_count):
    app = make_app(PROXY_COUNT=proxy_count)
    client = app.test_client()
    response = forgot(client, member.email, **{"X-Forwarded-Host": EVIL})
    assert response.status_code == 303
    [message] = sent_mail(app)
    assert re.search(r"http://localhost/password/reset/[\w-]+", body_text(message))
    assert EVIL not in message.as_string()


def test_links_come_from_the_base_url_even_for_a_host_the_operator_trusts(make_app, member):
    """Even a host let through (an operator's alias) is never written into a link."""
    app = make_app(TRUSTED_HOSTS=[EVIL, "localhost"], BASE_URL="https://breakfast.example.org/group")
    client = app.test_client()
    assert forgot(client, member.email, Host=EVIL).status_code == 303
    [message] = sent_mail(app)
    assert re.search(r"https://breakfast\.example\.org/group/password/reset/[\w-]+", body_text(message))
    assert EVIL not in message.as_string()


def test_every_link_a_member_and_an_organizer_cause_points_at_the_site(make_app, make_member, make_meeting):
    """Invitation, welcome, calendar invites (URL and DESCRIPTION), seat opened, the feed link on /me and
    htmx's HX-Redirect, each caused by requests that name another host."""
    app = make_app(TRUSTED_HOSTS=[EVIL, "localhost"], MAIL_IN_BACKGROUND=False)
    organizer = make_member.organizer(email="olga@example.org", name="Olga Organizer")
    waiting = make_member(email="wes@example.org", name="Wes Waiting", sponsor_id=organizer.id)
    meeting_id = make_meeting(days_from_now=5, seat_limit=1)
    with app.app_context():
        db.session.add_all([
            Rsvp(meeting_id=meeting_id, member_id=organizer.id, answer=RsvpAnswer.YES),
            Rsvp(meeting_id=meeting_id, member_id=waiting.id, answer=RsvpAnswer.YES, waitlisted=True,
                 answered_at=db.func.now()),
        ])
        db.session.commit()
    client = app.test_client()
    host = {"Host": EVIL, "X-Forwarded-Host": EVIL}
    token = token_for(client, "/login", host)
    client.post("/login", data={"email": organizer.email, "password": PASSWORD, "csrf_token": token}, headers=host)
    token = token_for(client, "/", host)
    response = client.post("/invitations/", headers={**host, "HX-Request": "true"}, data={
        "csrf_token": token, "email": "newcomer@example.org", "vouch_note": "A friend of ten years, thoughtful."})
    assert response.headers["HX-Redirect"] == "/invitations/"
    client.post(f"/admin/meetings/{meeting_id}/calendar-updates", data={"csrf_token": token}, headers=host)
    client.post(f"/meetings/{meeting_id}/rsvp", data={"csrf_token": token, "answer": "no"}, headers=host)
    me = client.get("/me/", headers=host).get_data(as_text=True)
    assert 'value="http://localhost/calendar/' in me and EVIL not in me
    join_link = re.search(r"http://localhost(/join/[\w-]+)", body_text(sent_mail(app)[0])).group(1)
    newcomer = app.test_client()
    token = token_for(newcomer, join_link, host)
    newcomer.post(join_link, headers=host, data={
        "csrf_token": token, "name": "Nell Newcomer", "headline": "Baker", "sector": "Agriculture and food",
        "password": "a long and private passphrase", "confirm": "a long and private passphrase",
        "accept_charter": "y"})
    outbox.wait_for_background()
    messages = sent_mail(app)
    subjects = " | ".join(m["Subject"] for m in messages)
    for wanted in ("invites you", "Welcome", "seat opened"):
        assert wanted in subjects, subjects
    assert any("text/calendar" in m.as_string() for m in messages)
    for message in messages:
        text = message.as_string() + "".join(part.get_payload(decode=True).decode() for part in message.walk()
                                             if not part.is_multipart())
        assert EVIL not in text, message["Subject"]
        assert "http://localhost/" in text, message["Subject"]


def test_production_refuses_to_start_without_a_base_url(tmp_path, database_url):
    config = app_config(tmp_path / "instance", database_url, PRODUCTION=True)
    del config["BASE_URL"]
    with pytest.raises(MissingBaseUrl, match="THINKNET_BASE_URL"):
        create_app(config)


def test_production_trusts_only_the_base_urls_host(tmp_path, database_url):
    app = create_app(app_config(tmp_path / "instance", database_url, PRODUCTION=True,
                                BASE_URL="https://breakfast.example.org", REPLY_ADDRESS="breakfast@example.org"))
    assert app.config["TRUSTED_HOSTS"] == ["breakfast.example.org"]
    client = app.test_client()
    assert client.get("/login", base_url="https://breakfast.example.org").status_code == 200
    assert client.get("/login", base_url="https://localhost").status_code == 400
    with app.app_context():
        db.engine.dispose()


def test_gunicorn_settings_mark_production():
    import runpy
    from pathlib import Path

    settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    assert "THINKNET_PRODUCTION=true" in settings["raw_env"]
