"""Sign-in limits that stop guessing without handing attackers a lock-out button, and reset links that are
really single-use: retired by a password change, a completed reset and signing out everywhere."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from conftest import PASSWORD, body_text, csrf_token, sent_mail, sign_in
from servers import GunicornServer
from test_multiworker import Browser, all_at_once
from thinknet.extensions import db
from thinknet.models import Attempt

WRONG = "not the password at all"


def ask_reset(client, email):
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")})
    return re.findall(r"http://localhost(/password/reset/[\w-]+)", body_text(outbox_of(client)[-1]))[0]


def outbox_of(client):
    return sent_mail(client.application)


def use_reset(client, path, password="a brand new passphrase"):
    return client.post(path, data={"password": password, "confirm": password, "csrf_token": csrf_token(client, path)})


def test_a_reset_link_asked_for_before_a_password_change_is_dead_after_it(app, client, login, member):
    stale = ask_reset(app.test_client(), member.email)
    login(member)
    token = csrf_token(client, "/me/")
    changed = client.post("/me/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                "password": "another long passphrase",
                                                "confirm": "another long passphrase"})
    assert changed.status_code == 303
    response = app.test_client().get(stale)
    assert response.status_code == 410 and "password was changed" in response.get_data(as_text=True)


def test_a_completed_reset_retires_every_other_reset_link(app, member):
    first, second = ask_reset(app.test_client(), member.email), ask_reset(app.test_client(), member.email)
    assert use_reset(app.test_client(), second).status_code == 303
    assert app.test_client().get(first).status_code == 410


def test_signing_out_everywhere_retires_reset_links(app, client, login, member):
    stale = ask_reset(app.test_client(), member.email)
    login(member)
    client.post("/me/sign-out-everywhere", data={"csrf_token": csrf_token(client, "/me/")})
    assert app.test_client().get(stale).status_code == 410


def guess(client, email, password=WRONG):
    return sign_in(client, email, password)


def test_guesses_from_elsewhere_do_not_lock_the_member_out_of_a_browser_they_signed_in_with(app, member):
    own = app.test_client()
    assert sign_in(own, member.email).status_code == 303
    own.post("/logout", data={"csrf_token": csrf_token(own, "/")})
    attacker = app.test_client()
    for _ in range(10):
        assert guess(attacker, member.email).status_code == 422
    assert guess(attacker, member.email).status_code == 429
    assert sign_in(attacker, member.email).status_code == 429  # the right password, from an unknown browser
    assert sign_in(app.test_client(), member.email).status_code == 429
    assert sign_in(own, member.email).status_code == 303  # the member's own browser still gets in


def test_a_forged_device_cookie_counts_as_an_unknown_browser(app, member):
    attacker = app.test_client()
    attacker.set_cookie("thinknet_device", "eyJmb3JnZWQiOiJ5ZXMifQ.forged")
    for _ in range(10):
        guess(attacker, member.email)
    assert guess(attacker, member.email).status_code == 429


def test_the_own_browser_has_its_own_limit_of_guesses(app, member):
    own = app.test_client()
    assert sign_in(own, member.email).status_code == 303
    own.post("/logout", data={"csrf_token": csrf_token(own, "/")})
    for _ in range(10):
        assert guess(own, member.email).status_code == 422
    assert guess(own, member.email).status_code == 429


def test_a_completed_reset_lifts_the_lock(app, member):
    attacker = app.test_client()
    for _ in range(10):
        guess(attacker, member.email)
    assert sign_in(app.test_client(), member.email).status_code == 429
    assert use_reset(app.test_client(), ask_reset(app.test_client(), member.email)).status_code == 303
    assert sign_in(app.test_client(), member.email, "a brand new passphrase").status_code == 303


def test_forty_simultaneous_guesses_under_four_workers_get_at_most_ten_checked(app, database_url, tmp_path,
                                                                              member):
    server = GunicornServer(database_url, tmp_path / "live", workers=4)
    server.start()
    try:
        browsers = [Browser(server.url) for _ in range(40)]
        tokens = [browser.token() for browser in browsers]

        def attempt(browser, token):
            return browser.session.post(server.url + "/login", timeout=60, allow_redirects=False,
                                        data={"email": member.email, "password": WRONG, "csrf_token": token})

        responses = all_at_once([lambda b=b, t=t: attempt(b, t) for b, t in zip(browsers, tokens)])
    finally:
        server.stop()
    statuses = [r.status_code for r in responses]
    checked = [r for r in responses if "do not match" in r.text]
    assert set(statuses) <= {422, 429}, statuses
    assert len(checked) <= 10, statuses
    assert statuses.count(429) >= 30
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)
                                 .where(Attempt.account == member.email)) == 10
