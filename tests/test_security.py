"""Headers on every page, passwords people can't guess, sessions that end when they should, logs without secrets."""
from __future__ import annotations

import logging
import re

import pytest

from conftest import csrf_token, sent_mail, sign_in
from thinknet.security import CONTENT_SECURITY_POLICY, redact


def test_every_page_sends_the_security_headers(client, login, member):
    for response in (client.get("/login"), login(member).get("/")):
        headers = response.headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain http here


def test_signed_in_pages_are_not_stored_and_https_gets_hsts(client, login, member):
    login(member)
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/thinknet.css").headers.get("Cache-Control", "")
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_pages_have_no_inline_script_or_style_for_the_policy_to_block(client, login, organizer):
    login(organizer)
    for path in ("/", "/me/", "/admin/settings", "/topics/new", "/members/"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert "<style" not in page and " style=" not in page and " on" + "click=" not in page, path
    assert '"includeIndicatorStyles": false' in page and '"allowEval": false' in page


def test_sign_out_clears_site_data(client, login, member):
    login(member)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


@pytest.mark.parametrize("password", ["password", "12345678", "iloveyou", "QWERTYUIOP"])
def test_common_passwords_are_refused_next_to_the_field(app, client, member, password):
    client.post("/password/forgot", data={"email": member.email, "csrf_token": csrf_token(client, "/password/forgot")})
    path = re.search(r"http://localhost(/password/reset/\S+)", sent_mail(app)[0].as_string()).group(1)
    response = client.post(path, data={"password": password, "confirm": password, "csrf_token": csrf_token(client, path)})
    assert response.status_code == 422
    assert "one of the most common ones" in response.get_data(as_text=True)


def test_long_passphrases_without_composition_rules_are_welcome(app, client, member):
    client.post("/password/forgot", data={"email": member.email, "csrf_token": csrf_token(client, "/password/forgot")})
    path = re.search(r"http://localhost(/password/reset/\S+)", sent_mail(app)[0].as_string()).group(1)
    passphrase = "the quiet owl reads by lamplight at dawn " * 2  # 82 characters, lowercase and spaces only
    response = client.post(path, data={"password": passphrase, "confirm": passphrase,
                                       "csrf_token": csrf_token(client, path)})
    assert response.status_code == 303
    assert sign_in(client, member.email, passphrase).status_code == 303


def test_sign_out_everywhere_ends_the_other_sessions_and_keeps_this_one(app, client, login, member):
    login(member)
    phone = app.test_client()
    sign_in(phone, member.email)
    response = client.post("/me/sign-out-everywhere", data={"csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert phone.get("/").status_code == 303


def test_tokens_in_paths_are_redacted_from_every_log(app, caplog):
    line = '127.0.0.1 - - "GET /join/AbC-123_xyz HTTP/1.1" 200 / "GET /calendar/12-SeCrEt.ics" / /password/reset/t0k3n?x=1'
    assert redact(line) == ('127.0.0.1 - - "GET /join/[redacted] HTTP/1.1" 200 / "GET /calendar/[redacted].ics" / '
                            '/password/reset/[redacted]?x=1')
    with caplog.at_level(logging.INFO):
        for name in ("werkzeug", "gunicorn.access", app.logger.name):
            logging.getLogger(name).info('"GET %s HTTP/1.1" 200', "/join/very-secret-token")
    assert "very-secret-token" not in caplog.text
    assert caplog.text.count("/join/[redacted]") == 3
    # A departed member's data link too; the pages it leads to name no secret.
    assert redact('"POST /own-data/jz7GQVump6tdmssY4lNs40 HTTP/1.1" /own-data/manage /own-data/export.json') == \
        '"POST /own-data/[redacted] HTTP/1.1" /own-data/manage /own-data/export.json'


def test_behind_a_trusted_proxy_the_clients_address_and_https_are_believed(make_app):
    app = make_app(PROXY_COUNT=1)
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    direct = make_app().test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in direct.headers  # no proxy configured: the header is ignored


def test_the_production_gunicorn_settings_load():
    import runpy
    from pathlib import Path

    settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    assert settings["wsgi_app"] == "thinknet:production_app()"
    assert settings["workers"] >= 3 and settings["timeout"] == 30 and settings["graceful_timeout"] == 30
    assert settings["logger_class"] == "thinknet.logs.GunicornLogger"  # paths without their query (test_logs)
