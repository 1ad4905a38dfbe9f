"""The pages the benchmark drives, the mixed load a writing group puts on them, and the SQL statements each
page sends, counted in-process."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import event

from bench.build import PASSWORD, Network
from thinknet.extensions import db

# name, method, path, how wrk sends it (see mix.lua): posts go as htmx sends them.
PAGES = [
    ("dashboard", "GET", "/", "page"), ("meeting", "GET", "/meetings/{meeting}", "page"),
    ("topics", "GET", "/topics/", "page"), ("members", "GET", "/members/", "page"),
    ("tree", "GET", "/members/tree", "page"), ("profile", "GET", "/members/{member}", "page"),
    ("me", "GET", "/me/", "page"),
    ("rsvp", "POST", "/meetings/{meeting}/rsvp", "rsvp"), ("me too", "POST", "/topics/{topic}/vote", "vote"),
    ("feed", "GET", "{feed}", "page"), ("feed 304", "GET", "{feed}", "conditional"),
    ("healthz", "GET", "/healthz", "page"),
]
POSTS = ("rsvp", "me too")
# Pages the app never caches (their forms hold the member's own settings): held to the target of a page built
# for each request, not to the cached pages' one.
NEVER_CACHED = ("me",)
# The mixed load's reads, weighted as members use the app: the dashboard and the session page most.
MIX_READS = {"dashboard": 3, "meeting": 2, "topics": 2, "members": 1, "tree": 1, "profile": 2, "me": 1}
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FEED = re.compile(r'id="feed-url" type="text" value="http://[^/]+(/calendar/[^"]+)"')
# SQLite's BEGIN and read-only switch are how a transaction starts, not queries.
NOT_QUERIES = ("BEGIN", "PRAGMA query_only")


def paths(network: Network, feed: str, member: int | None = None) -> dict[str, tuple[str, str, str]]:
    """Each page's (method, path, kind); the profile is of ``member`` (the network's second member by default)."""
    values = {"meeting": network.meeting_id, "topic": network.topic_id, "feed": feed,
              "member": member or network.member_ids[1]}
    return {name: (method, path.format(**values), kind) for name, method, path, kind in PAGES}


def htmx_headers(kind: str, path: str) -> dict[str, str]:
    """The headers htmx sends with an RSVP or a "me too" (see mix.lua)."""
    if kind == "rsvp":
        target = "rsvp-" + path.split("/")[2]
    elif kind == "vote":
        target = "vote-" + path.split("/")[2]
    else:
        return {}
    return {"HX-Request": "true", "HX-Target": target, "HX-Trigger": target}


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
    for name, (method, path, kind) in paths(network, feed).items():
        statements: list[str] = []

        def count(*args: Any) -> None:
            if not args[2].startswith(NOT_QUERIES):
                statements.append(args[2])

        data = {"rsvp": {"answer": "maybe"}, "vote": {"vote": "on"}}.get(kind)
        headers = {"X-CSRFToken": token, **htmx_headers(kind, path),
                   **({"If-None-Match": etag} if kind == "conditional" else {})}
        if data:  # the other answer first, so the counted post changes something on either network
            client.open(path, method=method, data={"rsvp": {"answer": "yes"}, "vote": {"vote": "off"}}[kind],
                        headers=headers)
        event.listen(engine, "before_cursor_execute", count)
        response = client.open(path, method=method, data=data, headers=headers)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code < 400, (name, response.status_code)
        counts[name] = len(statements)
    return counts
