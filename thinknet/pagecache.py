"""The page cache: a member's page, once rendered, is served again until the group's data changes.

Every committed change to the group's data moves one number on (the `revision` row) in the same
transaction, so a page cached under the number it was rendered with can never show data older than the
database's, on any worker or machine. The key also holds the URL, page-or-fragment, the member (or only
their role, for a page that shows everyone the same) and the minute (except on a page that nothing on the
clock changes), so what opens or closes with the clock is at most a minute late. The CSRF token is left out of the
stored copy and put back, fresh, on every hit; a page with a message waiting (flash) is not cached.

Each worker keeps its own copy (least recently used goes first, within PAGE_CACHE_BYTES), so nothing here
is shared but the revision number. Tables whose changes no cached page shows do not move it on, nor
do statements that touch no row.
"""
from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from threading import Lock
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Result, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from thinknet import htmx
from thinknet.extensions import db
from thinknet.models import Revision

View = TypeVar("View", bound=Callable[..., Any])

# Rows no cached page shows: sign-ins, brute-force counters, the audit log, reset links.
UNSHOWN_TABLES = frozenset({"sign_in", "attempt", "audit_event", "audit_erasure", "password_reset", "revision"})
TOKEN_HOLE = b"\x00csrf-token\x00"
_CHANGED = "thinknet.changed"
_NEXT_REVISION = update(Revision.__table__).where(Revision.__table__.c.id == 1).values(
    number=Revision.__table__.c.number + 1)


class PageCache:
    """Rendered pages by key, least recently used dropped first once the size passes ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.pages: OrderedDict[tuple, tuple[bytes, int, list[tuple[str, str]]]] = OrderedDict()
        self.lock = Lock()

    def get(self, key: tuple) -> tuple[bytes, int, list[tuple[str, str]]] | None:
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def put(self, key: tuple, body: bytes, status: int, headers: list[tuple[str, str]]) -> None:
        if len(body) > self.limit // 4:
            return
        with self.lock:
            if key in self.pages:
                return
            self.pages[key] = (body, status, headers)
            self.size += len(body)
            while self.size > self.limit:
                _, (dropped, _, _) = self.pages.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.size = 0


def init_app(app: Flask) -> None:
    app.extensions["thinknet.pagecache"] = PageCache(app.config["PAGE_CACHE_BYTES"])


def page_cache() -> PageCache:
    """This worker's cache, for pages and for other bytes kept under a key that names all they depend on."""
    return current_app.extensions["thinknet.pagecache"]


def _note_change(session: Session, table: Any) -> None:
    if getattr(table, "name", None) not in UNSHOWN_TABLES:
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    for row in (*session.new, *session.dirty, *session.deleted):
        _note_change(session, getattr(row, "__table__", None))


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Result | None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    # A statement that touched no row (a "me too" already given, taking back one that is not there) changes
    # no page. SQLAlchemy keeps an INSERT's row count only when asked. A count the driver does not know (-1)
    # counts as a change, and so does a statement written with RETURNING: SQLite counts its rows only once
    # they have all been read.
    result = state.invoke_statement(execution_options={"preserve_rowcount": True})
    if getattr(result, "rowcount", -1) != 0 or state.statement.returning_column_descriptions:
        _note_change(state.session, getattr(state.statement, "table", None))
    return result


@event.listens_for(Session, "before_commit")
def _move_revision_on(session: Session) -> None:
    # Last of all, just before the commit: the revision row is the final lock a transaction takes, so it
    # can never be part of a deadlock.
    session.flush()
    if session.info.pop(_CHANGED, False):
        session.connection().execute(_NEXT_REVISION)  # Core: none of the ORM's bookkeeping is needed


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


_REVISION = select(Revision.number).where(Revision.id == 1)  # built once: read on every cached page


def current_revision() -> int | None:
    """The revision number, or None if its row is missing (then nothing is cached)."""
    return db.session.scalar(_REVISION)


def _key(same_for_each_role: bool, timeless: bool) -> tuple | None:
    if not current_app.config["PAGE_CACHE_BYTES"] or "_flashes" in session:
        return None
    revision = current_revision()
    if revision is None:
        return None
    viewer = ("organizer" if current_user.is_organizer else "member") if same_for_each_role else current_user.id
    return (request.endpoint, request.full_path, viewer, htmx.wants_fragment(), request.headers.get("HX-Target"),
            revision, None if timeless else _minute(viewer))


def _minute(viewer: Any) -> int:
    """The minute the page was built in. Each member's minute starts at its own second, so the pages of all
    members do not fall due at the same moment."""
    offset = zlib.crc32(f"{viewer} {request.full_path}".encode()) % 60
    return int((time.time() + offset) // 60)


def cached_page(view: View | None = None, *, same_for_each_role: bool = False,
                timeless: bool = False) -> Any:
    """Serves a signed-in member's GET page from the cache while nothing it could show has changed.

    ``same_for_each_role``: the page shows every member the same thing but for the organizers' links, so
    one copy serves all members and one all organizers. ``timeless``: nothing on it depends on the clock
    (no "today", nothing that opens or closes), so it is kept until the data changes, not a minute.
    """
    if view is None:
        return lambda view: cached_page(view, same_for_each_role=same_for_each_role, timeless=timeless)

    @wraps(view)
    def serve(*args: Any, **kwargs: Any) -> Response:
        key = _key(same_for_each_role, timeless) if request.method == "GET" else None
        if key is None:
            return make_response(view(*args, **kwargs))
        cache = page_cache()
        page = cache.get(key)
        if page is not None:
            body, status, headers = page
            return Response(body.replace(TOKEN_HOLE, generate_csrf().encode()), status, headers)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.direct_passthrough and "_flashes" not in session:
            body = response.get_data()
            token = g.get(current_app.config["WTF_CSRF_FIELD_NAME"])
            if token:
                body = body.replace(token.encode(), TOKEN_HOLE)
            headers = [(name, value) for name, value in response.headers.items() if name.lower() not in ("set-cookie", "content-length")]
            cache.put(key, body, response.status_code, headers)
        return response

    return serve  # type: ignore[return-value]
