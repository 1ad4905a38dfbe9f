"""The pages the benchmark drives, and the SQL statements each one sends, counted in-process."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import event

from bench.build import PASSWORD, Network
from thinknet.extensions import db

# name, method, path, how wrk sends it (see load.lua)
PAGES = [
    ("dashboard", "GET", "/", "page"), ("meeting", "GET", "/meetings/{meeting}", "page"),
    ("topics", "GET", "/topics/", "page"), ("members", "GET", "/members/", "page"),
    ("tree", "GET", "/members/tree", "page"), ("rsvp", "POST", "/meetings/{meeting}/rsvp", "rsvp"),
    ("me too", "POST", "/topics/{topic}/vote", "vote"), ("feed", "GET", "{feed}", "page"),
    ("feed 304", "GET", "{feed}", "conditional"), ("healthz", "GET", "/healthz", "page"),
]
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FEED = re.compile(r'id="feed-url" type="text" value="http://[^/]+(/calendar/[^"]+)"')
# SQLite's BEGIN and read-only switch are how a transaction starts, not queries.
NOT_QUERIES = ("BEGIN", "PRAGMA query_only")


def paths(network: Network, feed: str) -> dict[str, tuple[str, str]]:
    return {name: (method, path.format(meeting=network.meeting_id, topic=network.topic_id, feed=feed))
            for name, method, path, _ in PAGES}


def query_counts(app: Flask, network: Network) -> dict[str, int]:
    """SQL statements per request for each page, as a signed-in member, with the page cache off (so each page
    is built). Each POST is counted after one with the other answer, so it changes something."""
    app.config["PAGE_CACHE_BYTES"] = 0
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": network.emails[0], "password": PASSWORD, "csrf_token": token})
    me = client.get("/me/").get_data(as_text=True)
    token, feed = CSRF.search(me).group(1), FEED.search(me).group(1)
    etag = client.get(feed).headers["ETag"]
    with app.app_context():
        engine = db.engine
    counts = {}
    for (name, _, _, kind), (method, path) in zip(PAGES, paths(network, feed).values()):
        statements: list[str] = []

        def count(*args: Any) -> None:
            if not args[2].startswith(NOT_QUERIES):
                statements.append(args[2])

        data = {"rsvp": {"answer": "maybe"}, "vote": {"vote": "on"}}.get(kind)
        headers = {"X-CSRFToken": token, **({"If-None-Match": etag} if kind == "conditional" else {})}
        if data:  # the other answer first, so the counted post changes something on either network
            client.open(path, method=method, data={"rsvp": {"answer": "yes"}, "vote": {"vote": "off"}}[kind],
                        headers=headers)
        event.listen(engine, "before_cursor_execute", count)
        response = client.open(path, method=method, data=data, headers=headers)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code < 400, (name, response.status_code)
        counts[name] = len(statements)
    return counts
