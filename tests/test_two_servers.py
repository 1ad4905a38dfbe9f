"""Any number of app servers behind a load balancer: two gunicorn instances on different ports over the same
PostgreSQL database and Redis share sign-ins, rate limits and data, with no state in the processes."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from conftest import CSRF_META, PASSWORD, app_config, migrate_to_head, running
from servers import GunicornServer, RedisServer
from thinknet import create_app
from thinknet.auth.services import hash_password
from thinknet.extensions import db
from thinknet.models import Meeting, Member, utcnow

@pytest.fixture
def redis_server():
    yield from running(RedisServer())


@pytest.fixture
def shared(postgres, redis_server, tmp_path):
    """Two servers, one database, one Redis."""
    database = postgres.create_database("thinknet_shared")
    migrate_to_head(database, tmp_path / "migrate")
    app = create_app(app_config(tmp_path / "seed", database))
    with app.app_context():
        db.session.add(Member(email="ada@example.org", name="Ada Lovelace", password_hash=hash_password(PASSWORD)))
        start = utcnow() + timedelta(days=3)
        meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café Rosa")
        db.session.add(meeting)
        db.session.commit()
        meeting_id = meeting.id
        db.engine.dispose()
    env = {"RATELIMIT_STORAGE_URI": redis_server.url, "THINKNET_RATELIMIT_ENABLED": "true"}
    servers = [GunicornServer(database, tmp_path / f"server-{n}", workers=2, **env) for n in (1, 2)]
    for server in servers:
        server.start()
    try:
        yield servers, meeting_id
    finally:
        for server in servers:
            server.stop()


def token(session: requests.Session, url: str) -> str:
    return CSRF_META.search(session.get(url, timeout=30).text).group(1)


def test_two_servers_share_sign_ins_rate_limits_and_data(shared):
    (one, two), meeting_id = shared
    ada = requests.Session()
    signed_in = ada.post(one.url + "/login", data={"email": "ada@example.org", "password": PASSWORD,
                                                   "csrf_token": token(ada, one.url + "/login")},
                         allow_redirects=False, timeout=30)
    assert signed_in.status_code == 303
    # The sign-in made through one server is good on the other: it lives in the database, not a process.
    assert "Good to see you, Ada" in ada.get(two.url + "/", timeout=30).text

    answered = ada.post(two.url + f"/meetings/{meeting_id}/rsvp",
                        data={"answer": "yes", "csrf_token": token(ada, two.url + "/")}, allow_redirects=False,
                        timeout=30)
    assert answered.status_code == 303
    assert "You're coming" in ada.get(one.url + "/", timeout=30).text  # seen through the other at once

    # The per-address request limit (30 sign-in posts a minute) is counted in Redis, across both servers and
    # their four workers: the 31st post is refused wherever it lands (each process alone would allow 30).
    guesser = requests.Session()
    statuses = []
    left = 30 - 1  # Ada's sign-in above came from the same address
    for n in range(left + 1):
        server = (one, two)[n % 2]
        statuses.append(guesser.post(server.url + "/login", data={
            "email": f"nobody{n}@example.org", "password": "wrong password!",
            "csrf_token": token(guesser, server.url + "/login")}, timeout=30).status_code)
    assert statuses[:left] == [422] * left
    assert statuses[left] == 429
