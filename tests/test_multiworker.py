"""Concurrency against a real multi-worker server: gunicorn with 4 workers over SQLite (WAL) and over
PostgreSQL, and many members at once. The database keeps every invariant; nobody sees a 5xx."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from conftest import PASSWORD
from servers import GunicornServer
from thinknet.extensions import db
from thinknet.invitations.services import issue_invitation
from thinknet.models import Member, Rsvp, RsvpAnswer, Topic, TopicState, Vote, utcnow

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """One person's session against the live server."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def token(self, path: str = "/login") -> str:
        return CSRF.search(self.session.get(self.base + path, timeout=30).text).group(1)

    def sign_in(self, email: str) -> None:
        response = self.session.post(self.base + "/login", data={"email": email, "password": PASSWORD,
                                                                 "csrf_token": self.token()},
                                     allow_redirects=False, timeout=30)
        assert response.status_code == 303, response.text

    def post(self, path: str, data: dict, token: str) -> int:
        return self.session.post(self.base + path, data={**data, "csrf_token": token}, allow_redirects=False,
                                 timeout=60).status_code


def all_at_once(jobs):
    """Runs the callables together, released by one barrier; returns their results."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


@pytest.fixture
def server(app, database_url, tmp_path):
    live = GunicornServer(database_url, tmp_path / "live-instance")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_many_members_at_once_against_four_workers(app, server, make_member, make_meeting):
    members = [make_member(name=f"Member {n:02d}") for n in range(60)]
    organizer = make_member.organizer(name="Olga Organizer")
    seats_ten = make_meeting(days_from_now=3, seat_limit=10)
    race = make_meeting(days_from_now=10, seat_limit=10)
    with app.app_context(), app.test_request_context():
        issued = issue_invitation(db.session.get(Member, organizer.id), "newcomer@example.org",
                                  "Known for years, a thoughtful person.")
        topic = Topic(title="Pricing", author_id=organizer.id, state=TopicState.OPEN)
        db.session.add(topic)
        db.session.commit()
        topic_id, join_token = topic.id, issued.token

    browsers = []
    for member in members[:50]:
        browser = Browser(server.url)
        browser.sign_in(member.email)
        browsers.append((browser, browser.token("/")))
    statuses: list[int] = []

    # 50 yes answers for 10 seats.
    statuses += all_at_once([lambda b=b, t=t: b.post(f"/meetings/{seats_ten}/rsvp", {"answer": "yes"}, t)
                             for b, t in browsers])
    with app.app_context():
        rows = db.session.scalars(select(Rsvp).where(Rsvp.meeting_id == seats_ten)
                                  .order_by(Rsvp.answered_at, Rsvp.id)).all()
    assert len(rows) == 50
    assert [r.waitlisted for r in rows] == [False] * 10 + [True] * 40

    # 20 redemptions of one invitation.
    newcomers = [Browser(server.url) for _ in range(20)]
    tokens = [n.token(f"/join/{join_token}") for n in newcomers]
    results = all_at_once([lambda n=n, t=t, k=k: n.post(f"/join/{join_token}", {
        "name": f"Newcomer {k}", "headline": "Baker", "sector": "Agriculture and food", "password": "flour and water",
        "accept_charter": "y"}, t) for k, (n, t) in enumerate(zip(newcomers, tokens))])
    statuses += results
    assert sorted(results) == [303] + [410] * 19
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Member.email == "newcomer@example.org")) == 1

    # 10 cancellations racing 10 new yes answers; the confirmed count is watched throughout.
    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        for n, (member, _) in enumerate(zip(members[:20], browsers[:20])):
            db.session.add(Rsvp(meeting_id=race, member_id=member.id, answer=RsvpAnswer.YES, waitlisted=n >= 10,
                                answered_at=start + timedelta(seconds=n)))
        db.session.commit()
    watching, seen = threading.Event(), []

    def watch():
        with app.app_context():
            while not watching.is_set():
                seen.append(db.session.scalar(select(func.count()).select_from(Rsvp).where(
                    Rsvp.meeting_id == race, Rsvp.answer == RsvpAnswer.YES, Rsvp.waitlisted.is_(False))))
                db.session.rollback()

    watcher = threading.Thread(target=watch)
    watcher.start()
    cancels = [lambda b=b, t=t: b.post(f"/meetings/{race}/rsvp", {"answer": "no"}, t) for b, t in browsers[:10]]
    new_yes = [lambda b=b, t=t: b.post(f"/meetings/{race}/rsvp", {"answer": "yes"}, t) for b, t in browsers[20:30]]
    statuses += all_at_once(cancels + new_yes)
    watching.set()
    watcher.join()
    assert seen and max(seen) <= 10
    with app.app_context():
        confirmed = set(db.session.scalars(select(Rsvp.member_id).where(
            Rsvp.meeting_id == race, Rsvp.answer == RsvpAnswer.YES, Rsvp.waitlisted.is_(False))))
        waiting = db.session.scalars(select(Rsvp.member_id).where(
            Rsvp.meeting_id == race, Rsvp.waitlisted.is_(True)).order_by(Rsvp.answered_at, Rsvp.id)).all()
    # First come, first served: the ten who were waiting got the ten freed seats; the newcomers wait.
    assert confirmed == {m.id for m in members[10:20]}
    assert set(waiting) == {m.id for m in members[20:30]}

    # 30 "me too" taps from one member at once.
    tapper, token = browsers[0]
    statuses += all_at_once([lambda: tapper.post(f"/topics/{topic_id}/vote", {"vote": "on"}, token)
                             for _ in range(30)])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Vote).where(Vote.topic_id == topic_id)) == 1

    assert all(status < 500 for status in statuses), statuses
    server.stop()
    logs = server.error_log.read_text() + server.access_log.read_text()
    assert "database is locked" not in logs and "Traceback" not in logs
    assert join_token not in logs and "/join/[redacted]" in server.access_log.read_text()
