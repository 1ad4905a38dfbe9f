"""The page cache: a member's page, once rendered, is served again until a table it read from changes.

Every table has a revision number, and a committed change moves on the numbers of the tables it wrote, in
the same transaction. A page is kept with the tables it read from (every statement of the request is
watched) and their numbers as they stood before it was built; it is served again only while all of them are
unchanged, so it can never show data older than the database's, on any worker or machine. An RSVP therefore
leaves the member list, the tree and the profiles standing, and a "me too" leaves them and the RSVP counts.
The key holds the URL, page-or-fragment, the member (or only their role, for a page that shows everyone the
same) and the minute (except on a page that nothing on the clock changes), so what opens or closes with the
clock is at most a minute late. The CSRF token is left out of the stored copy and put back, fresh, on every
hit; a page with a message waiting (flash) is not cached.

Each worker keeps its own copy (least recently used goes first, within PAGE_CACHE_BYTES), so nothing here
is shared but the revision numbers.

What moves them is watched where every statement passes, the engine: any INSERT, UPDATE or DELETE that touched
a row, however it was written (the ORM, Core, `text()`, on `session.connection()`), marks its table on the
connection, and the commit moves those tables' numbers on in the same transaction. A table whose rows no cached
page shows says so in its own model (``__table_args__ = {"info": {"unshown": True}}``); nothing else is exempt.

The cache checks itself: a cached view that begins writing is refused (`CachedViewWrote`), and under
``PAGE_CACHE_VERIFY`` (on in the tests) every hit also builds the page afresh and fails on any difference
(`StalePage`), so a page kept once per role that shows something personal, or a change that did not move the
right number, fails the suite instead of reaching a member.
"""
from __future__ import annotations

import re
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from functools import cache, wraps
from threading import Lock
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Connection, event, select

from thinknet import htmx
from thinknet.database import written_table
from thinknet.extensions import db
from thinknet.models import Revision

View = TypeVar("View", bound=Callable[..., Any])

TOKEN_HOLE = b"\x00csrf-token\x00"
_CHANGED = "thinknet.changed"
# The tables a statement reads from (its FROM and JOIN clauses, however it was written).
_READS = re.compile(r"\b(?:FROM|JOIN)\s+\"?(\w+)", re.IGNORECASE)


class PageCache:
    """Rendered pages by key, least recently used dropped first once the size passes ``limit`` bytes. Each
    page is kept with what it was built from (``read``: the tables it read and their revisions)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.pages: OrderedDict[tuple, tuple[bytes, int, list[tuple[str, str]], Any]] = OrderedDict()
        self.lock = Lock()

    def get(self, key: tuple) -> tuple[bytes, int, list[tuple[str, str]], Any] | None:
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def put(self, key: tuple, body: bytes, status: int, headers: list[tuple[str, str]], read: Any = None) -> None:
        """Keeps the page, in place of any older copy under the same key."""
        if len(body) > self.limit // 4:
            return
        with self.lock:
            old = self.pages.pop(key, None)
            if old is not None:
                self.size -= len(old[0])
            self.pages[key] = (body, status, headers, read)
            self.size += len(body)
            while self.size > self.limit:
                _, (dropped, *_) = self.pages.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.size = 0


def init_app(app: Flask) -> None:
    app.extensions["thinknet.pagecache"] = PageCache(app.config["PAGE_CACHE_BYTES"])
    with app.app_context():
        engine = db.engine
    if not event.contains(engine, "after_cursor_execute", _note_change):
        event.listen(engine, "after_cursor_execute", _note_change)
        event.listen(engine, "commit", _move_revisions_on)
        event.listen(engine, "rollback", _forget_changes)
    # First of all request hooks: the sign-in check's reads count among what a page was built from.
    app.before_request_funcs.setdefault(None, []).insert(0, _watch_reads)


def _watch_reads() -> None:
    if request.method == "GET":
        g.tables_read = set()


@cache  # every model is defined at import, before the first statement
def unshown_tables() -> frozenset[str]:
    """The tables whose models declare that no cached page shows their rows."""
    return frozenset(table.name for table in db.metadata.tables.values() if table.info.get("unshown"))



def page_cache() -> PageCache:
    """This worker's cache, for pages and for other bytes kept under a key that names all they depend on."""
    return current_app.extensions["thinknet.pagecache"]


def _note_change(connection: Connection, cursor: Any, statement: str, _parameters: Any, _context: Any,
                 _executemany: bool) -> None:
    """After every statement: one that wrote to a shown table marks its connection as changed. A statement
    that touched no row (a "me too" already given) changes no page; a count the driver does not know (-1)
    counts as a change, and so does RETURNING on SQLite, which counts its rows only once they have all been read
(PostgreSQL counts them at once)."""
    table = written_table(statement)
    if table is None:
        if has_request_context() and g.get("tables_read") is not None:
            g.tables_read.update(name.lower() for name in _READS.findall(statement))
        return
    if "thinknet.migrating" in connection.info or table in unshown_tables():
        return
    sqlite_returning = connection.dialect.name == "sqlite" and " RETURNING " in statement.upper()
    if cursor.rowcount != 0 or sqlite_returning:
        connection.info.setdefault(_CHANGED, set()).add(table)


def _move_revisions_on(connection: Connection) -> None:
    # Just before the commit, on the driver's own cursor (SQLAlchemy is mid-commit): the revision rows are the
    # last locks the transaction takes, always in the same order, so they are never part of a deadlock.
    tables = sorted(connection.info.pop(_CHANGED, ()))
    if not tables:
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(
            f"INSERT INTO revision (table_name, number) VALUES {', '.join(f'({mark}, 1)' for _ in tables)} "
            "ON CONFLICT (table_name) DO UPDATE SET number = revision.number + 1", tables)
    finally:
        cursor.close()


def _forget_changes(connection: Connection) -> None:
    connection.info.pop(_CHANGED, None)


_REVISIONS = select(Revision.table_name, Revision.number)  # built once: read on every cached page


def revisions() -> dict[str, int]:
    """Every table's revision number (0 for a table no change has reached)."""
    return dict(db.session.execute(_REVISIONS).all())


def _built_from(before: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """The shown tables this request read, with their numbers as they stood before the page was built: a
    change committed while it was being built makes the copy out of date at once, never hidden."""
    tables = g.get("tables_read") or set()
    return tuple((table, before.get(table, 0)) for table in sorted(tables - unshown_tables()))


def _still_current(built_from: tuple[tuple[str, int], ...], now: dict[str, int]) -> bool:
    return all(now.get(table, 0) == number for table, number in built_from)


def _key(same_for_each_role: bool, timeless: bool) -> tuple | None:
    if not current_app.config["PAGE_CACHE_BYTES"] or "_flashes" in session:
        return None
    viewer = ("organizer" if current_user.is_organizer else "member") if same_for_each_role else current_user.id
    # The mount point too: a page's links carry it (a site served under two prefixes keeps a copy for each).
    return (request.script_root, request.endpoint, request.full_path, viewer, htmx.wants_fragment(),
            request.headers.get("HX-Target"), None if timeless else _minute(viewer))


def _minute(viewer: Any) -> int:
    """The minute the page was built in. Each member's minute starts at its own second, so the pages of all
    members do not fall due at the same moment."""
    offset = zlib.crc32(f"{viewer} {request.full_path}".encode()) % 60
    return int((time.time() + offset) // 60)


class CachedViewWrote(RuntimeError):
    """A cached view began writing: served from a copy, its write would silently not happen."""


class StalePage(AssertionError):
    """Under PAGE_CACHE_VERIFY (the tests), a page served from the cache differs from one built afresh."""


def _without_token(response: Response) -> bytes:
    body = response.get_data()
    token = g.get(current_app.config["WTF_CSRF_FIELD_NAME"])
    return body.replace(token.encode(), TOKEN_HOLE) if token else body


def _verify(cached: bytes, fresh: Response, same_for_each_role: bool) -> None:
    """The copy must be what the view builds now, for this member: a page kept once per role that shows
    anything personal, or a change the revision missed, fails here."""
    if fresh.status_code != 200 or "_flashes" in session:
        return
    built = _without_token(fresh)
    if built != cached:
        import difflib

        diff = "\n".join(difflib.unified_diff(cached.decode(errors="replace").splitlines(),
                                               built.decode(errors="replace").splitlines(), "cached", "built",
                                               n=1, lineterm=""))
        scope = "one copy per role" if same_for_each_role else "one copy per member"
        raise StalePage(f"{request.full_path} ({scope}) served a copy that differs from the page built now:\n{diff}")


def cached_page(view: View | None = None, *, same_for_each_role: bool = False,
                timeless: bool = False) -> Any:
    """Serves a signed-in member's GET page from the cache while nothing it could show has changed.

    ``same_for_each_role``: the page shows every member the same thing but for the organizers' links, so
    one copy serves all members and one all organizers. ``timeless``: nothing on it depends on the clock
    (no "today", nothing that opens or closes), so it is kept until the data changes, not a minute.
    """
    if view is None:
        return lambda view: cached_page(view, same_for_each_role=same_for_each_role, timeless=timeless)

    def build(*args: Any, **kwargs: Any) -> Response:
        response = make_response(view(*args, **kwargs))
        if not g.get("reads_only", True):
            # A page served from a copy would skip whatever the view did: a cached view only reads.
            raise CachedViewWrote(f"{request.endpoint} is cached but began writing")
        return response

    @wraps(view)
    def serve(*args: Any, **kwargs: Any) -> Response:
        key = _key(same_for_each_role, timeless) if request.method == "GET" else None
        if key is None:
            return build(*args, **kwargs)
        cache = page_cache()
        page = cache.get(key)
        now = revisions()
        if page is not None and _still_current(page[3], now):
            body, status, headers, _ = page
            if current_app.config.get("PAGE_CACHE_VERIFY"):
                _verify(body, build(*args, **kwargs), same_for_each_role)
            return Response(body.replace(TOKEN_HOLE, generate_csrf().encode()), status, headers)
        response = build(*args, **kwargs)
        if response.status_code == 200 and not response.direct_passthrough and "_flashes" not in session:
            headers = [(name, value) for name, value in response.headers.items() if name.lower() not in ("set-cookie", "content-length")]
            cache.put(key, _without_token(response), response.status_code, headers, _built_from(now))
        return response

    return serve  # type: ignore[return-value]
