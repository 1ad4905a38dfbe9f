"""Logs an operator can follow: a timestamp, the request's id (also in the response), the member's id, never an
email address; text or one JSON object per line; the same in gunicorn's access log."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from conftest import PASSWORD
from servers import GunicornServer

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_every_response_carries_its_own_request_id_and_a_client_cannot_choose_it(client):
    first, second = client.get("/login"), client.get("/login", headers={"X-Request-Id": "chosen-by-me-123"})
    ids = [response.headers["X-Request-Id"] for response in (first, second)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", request_id) for request_id in ids)
    assert ids[0] != ids[1] and "chosen-by-me-123" not in ids


def test_behind_a_trusted_proxy_its_request_id_is_kept_if_it_is_plainly_an_id(make_app):
    client = make_app(PROXY_COUNT=1).test_client()
    assert client.get("/login", headers={"X-Request-Id": "lb-7f3a9c21"}).headers["X-Request-Id"] == "lb-7f3a9c21"
    injected = client.get("/login", headers={"X-Request-Id": "two words; <script>"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", injected)


def test_an_app_log_line_has_the_time_request_and_member_and_no_email_address(app, client, login, member, capfd):
    login(member)
    capfd.readouterr()
    response = client.get("/admin/")  # a member reaching for organizers' pages is logged
    assert response.status_code == 403
    line = next(line for line in capfd.readouterr().err.splitlines() if "organizers only" in line)
    assert ISO_TIME.match(line)
    assert f"req={response.headers['X-Request-Id']}" in line and f"member={member.id}" in line
    with app.test_request_context("/"):
        app.logger.warning("could not send to %s", member.email)
        app.logger.warning("a path with %s", "a line\nforged line")  # %0A in a path is a newline once decoded
        try:
            raise RuntimeError(f"[parameters: ('sign_in', '{member.email}')]")
        except RuntimeError:
            app.logger.exception("a traceback quoting SQL parameters")
    said = capfd.readouterr().err
    assert "could not send to [email]" in said and member.email not in said
    assert "[parameters: ('sign_in', '[email]')]" in said
    assert "a path with a line\\nforged line" in said and "\nforged line" not in said


def test_json_logs_are_one_object_per_line(make_app, capfd):
    app = make_app(LOG_FORMAT="json")
    with app.test_request_context("/"):
        app.logger.warning("mail to ada@example.org failed")
    entry = json.loads(capfd.readouterr().err.strip().splitlines()[-1])
    assert entry["level"] == "warning" and entry["message"] == "mail to [email] failed"
    assert ISO_TIME.fullmatch(entry["time"]) and entry["request_id"] != "" and "member_id" in entry


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_gunicorns_access_log_names_the_request_and_the_member(tmp_path, database_url, member, log_format):
    server = GunicornServer(database_url, tmp_path / "instance", workers=1, THINKNET_LOG_FORMAT=log_format)
    server.start()
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(server.url + "/login?next=/private-query-words") as page:
            token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.read().decode()).group(1)
        form = f"email={member.email}&password={PASSWORD.replace(' ', '+')}&csrf_token={token}".encode()
        opener.open(server.url + "/login", data=form)
        with opener.open(server.url + "/") as home:
            request_id = home.headers["X-Request-Id"]
        try:
            opener.open(server.url + "/nothing%0A2026-01-01T00:00:00.000Z%20req=forged")
        except urllib.error.HTTPError:
            pass  # a 404, as it should be
    finally:
        server.stop()
    log = server.access_log.read_text()
    assert not [line for line in log.splitlines() if line.startswith("2026-01-01") or "req=forged" in line[:60]]
    assert member.email not in log and "example.org" not in log and "private-query-words" not in log
    line = next(line for line in log.splitlines() if request_id in line)
    if log_format == "json":
        entry = json.loads(line)
        assert entry["request_id"] == request_id and entry["member_id"] == str(member.id)
        assert entry["method"] == "GET" and entry["path"] == "/" and entry["status"] == 200
        assert ISO_TIME.fullmatch(entry["time"])
    else:
        assert ISO_TIME.match(line) and f"req={request_id} member={member.id}" in line and '"GET /" 200' in line
