"""Engine set-up, and how a request's transactions begin.

A request begins as a reader: the sign-in and CSRF checks only read, and so does every GET. A reader runs
each statement on its own (autocommit), with no BEGIN or COMMIT around them. That is what PostgreSQL's READ
COMMITTED gives a transaction's statements anyway (each sees its own snapshot), so a reader loses nothing,
and it saves two round trips to PostgreSQL and a transaction's bookkeeping on SQLite. A reader cannot write:
on SQLite its connection is read-only (``PRAGMA query_only``), and on PostgreSQL an INSERT, UPDATE or DELETE
sent while reading raises `WriteWhileReading` before it reaches the server, so a GET that writes by mistake
fails loudly on both, never committed on its own.

A request that may write (POST and the like) becomes a writer when its view begins, after the checks; the
rare GET that must write says so first with `begin_writing()`. Commands outside a request are writers from
the start. A writer still reads each statement on its own until its first statement that writes or locks
(an INSERT, UPDATE or DELETE, a SELECT ... FOR UPDATE, or SQL it cannot see into); its transaction begins
there, on the connection it read with, keeping what the request has loaded. So a rule that reads and then
writes locks what it reads (FOR UPDATE) on both databases: PostgreSQL needs that under READ COMMITTED, and
on SQLite the same statement is where the write lock is taken, so the tests on SQLite check it too.

SQLite has one writer at a time, so its write transaction is BEGIN IMMEDIATE, and readers in WAL mode run
beside the writer instead of queueing behind it. Writers queue on a file lock next to the database before
BEGIN IMMEDIATE. SQLite's own busy handler lets a waiting writer sleep for up to 100 ms at a time however
soon the lock is free, so with a few workers posting at once most of their time went to sleeping; the file
lock hands over within a millisecond, in order. A writer holds the lock only from its first write or lock
to its commit: the form, the checks and plain reads before it leave the lock to others.
SQLite also gets foreign keys, WAL and a busy timeout.
"""
from __future__ import annotations

import fcntl
import os
import re
import signal
import sqlite3
import threading
import time
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import Engine, event, text

from thinknet.extensions import db

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The statements that change rows, and the table they change, however they were written (ORM, Core, text()).
_WRITES = re.compile(r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)",
                     re.IGNORECASE)


class WriteWhileReading(RuntimeError):
    """A request that reads only wrote: it must say so first with begin_writing()."""


def written_table(statement: str) -> str | None:
    """The table an INSERT, UPDATE or DELETE writes to; None for anything else."""
    match = _WRITES.match(statement)
    return match.group(1).lower() if match else None


def configure_engines(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_SECONDS"])
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    # First of all request hooks, before the sign-in check reads the database.
    app.before_request_funcs.setdefault(None, []).insert(0, _note_read_only_request)


def _note_read_only_request() -> None:
    g.reads_only = True


def write_from_the_view(app: Flask) -> None:
    """Registered after the sign-in and CSRF checks: those only read, so a request that may write takes the
    write lock when its view begins, not before the checks."""
    app.before_request(_begin_view)


def _begin_view() -> None:
    if request.method not in READ_ONLY_METHODS:
        begin_writing()


def reads_only() -> bool:
    """True while serving a GET (or HEAD) request that has not said it must write."""
    return has_request_context() and g.get("reads_only", False)


def begin_writing() -> None:
    """Lets the request write from here: its transaction begins at its first statement that writes or locks
    (on SQLite that statement takes the write lock), on the connection it read with."""
    if not reads_only():
        return
    g.reads_only = False
    session = db.session()
    if session.in_transaction():
        _begin(session.connection().connection, write=True)


def lock_name(name: str) -> None:
    """Holds a lock on ``name`` until the transaction ends, so that a count and the row that follows it are one
    step for simultaneous requests: PostgreSQL's transaction-level advisory lock on the name; on SQLite the
    write lock, which every writer takes in turn anyway."""
    begin_writing()
    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
    else:
        session.execute(text("SELECT 1"))  # SQL it cannot see into: the write transaction begins here


def after_commit(action: Any) -> None:
    """Runs ``action()`` once the request's changes are committed (mail about them, for one); never if they
    are rolled back."""
    g.setdefault("after_commit", []).append(action)


def end_request(commit: bool) -> None:
    """The request's one commit point (thinknet.app): commits or rolls back, then runs what waited for the
    commit."""
    session = db.session()
    if not commit:
        session.rollback()
        g.pop("after_commit", None)
        return
    if session.in_transaction() and (session.new or session.dirty or session.deleted or not reads_only()):
        session.commit()
    for action in g.pop("after_commit", []):
        action()


def commit_then_read() -> None:
    """Commits the request's change and reads from here, keeping the rows it loaded as they are: a view that
    shows its change afterwards queries only what it shows fresh."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    if has_request_context():
        g.reads_only = True


# Each engine keeps, in its connections' info, how a connection reads and how it begins writing; a writer's
# connection is marked until its first statement that writes or locks.
_READ, _WRITE, _WRITER, _READING = "thinknet.read", "thinknet.write", "thinknet.writer", "thinknet.reading"


def _begin(fairy: Any, write: bool) -> None:
    """Every transaction begins reading; a writer's is marked to begin writing at its first write or lock."""
    fairy.info[_READ](fairy.dbapi_connection, fairy.info)
    if write:
        fairy.info[_WRITER] = True
    else:
        fairy.info.pop(_WRITER, None)


def _on_begin(connection: Any) -> None:
    _begin(connection.connection, write=not reads_only())


def _before_statement(connection: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any,
                      _executemany: bool) -> None:
    info = connection.connection.info
    if _WRITER in info and _writes_or_locks(context):
        del info[_WRITER]
        info[_WRITE](connection.connection.dbapi_connection, info)
    elif _READING in info and written_table(_statement):
        # PostgreSQL's reader runs each statement on its own (autocommit): a write there would be committed at
        # once, outside any transaction. It fails instead, as SQLite's read-only connection makes it fail.
        raise WriteWhileReading(f"a request that reads only wrote ({_statement.split()[0]} {written_table(_statement)}): "
                                "call begin_writing() before writing in a GET")


def _writes_or_locks(context: Any) -> bool:
    """Anything but a plain SELECT: DML, DDL, SELECT ... FOR UPDATE, and SQL that is only text."""
    statement = context.compiled.statement if context is not None and context.compiled is not None else None
    return not (getattr(statement, "is_select", False) and getattr(statement, "_for_update_arg", None) is None)


def _listen(engine: Engine) -> None:
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "before_cursor_execute", _before_statement)


def _configure_postgresql(engine: Engine) -> None:
    def read(dbapi_connection: Any, info: dict) -> None:
        dbapi_connection.autocommit = True
        info[_READING] = True

    def write(dbapi_connection: Any, info: dict) -> None:
        if info.pop(_READING, False):
            dbapi_connection.autocommit = False  # psycopg sends BEGIN before the statement

    @event.listens_for(engine, "connect")
    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info.update({_READ: read, _WRITE: write})

    @event.listens_for(engine, "reset")
    def on_reset(dbapi_connection: Any, record: Any, _state: Any) -> None:
        write(dbapi_connection, record.info)  # back in the pool as it came: not a reader

    _listen(engine)


class _TimedOut(Exception):
    pass


def _time_out(_signum: int, _frame: Any) -> None:
    raise _TimedOut


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _wait_for_lock(fd: int, timeout: float) -> bool:
    """Waits for the writers' lock up to ``timeout`` seconds. A gunicorn worker serves in its main thread,
    where the wait blocks in the kernel (woken the moment the lock is free) under an alarm; elsewhere (a
    threaded dev server, a test's threads) it polls every millisecond or two."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)):
        previous = signal.signal(signal.SIGALRM, _time_out)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        except _TimedOut:
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    deadline, pause = time.monotonic() + timeout, 0.0002
    while time.monotonic() < deadline:
        time.sleep(pause)
        if _try_lock(fd):
            return True
        pause = min(pause * 2, 0.002)
    return False


class WriterQueueConnection(sqlite3.Connection):
    """A SQLite connection that holds the writers' file lock from before BEGIN IMMEDIATE until its commit or
    rollback. The lock file is the database's path plus ``-writer``."""

    lock_path: str | None = None
    lock_fd: int | None = None
    read_only = False  # PRAGMA query_only, as last set

    def lock_for_writing(self, timeout: float) -> None:
        if self.lock_path is None or self.lock_fd is not None:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _try_lock(fd) and not _wait_for_lock(fd, timeout):
                raise sqlite3.OperationalError("database is locked")
        except BaseException:
            os.close(fd)
            raise
        self.lock_fd = fd

    def unlock(self) -> None:
        if self.lock_fd is not None:
            fd, self.lock_fd = self.lock_fd, None
            os.close(fd)  # closing the file releases its lock

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.unlock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.unlock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.unlock()

    def __del__(self) -> None:
        self.unlock()


def _owner_only(database: str) -> None:
    """The database file is created readable by its owner only; SQLite gives its WAL and shared-memory files
    the database file's permissions. A file made before this is tightened to the same."""
    path = os.path.abspath(database)
    try:
        if os.path.isdir(os.path.dirname(path)) and not os.path.exists(path):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # another process made it first, or the folder is not ours: SQLite reports what matters
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            pass


def sqlite_file(database: str) -> str:
    """The file a SQLite database name points at: a file: URI (file:/path?mode=ro) names it before the '?'."""
    return database.removeprefix("file:").split("?", 1)[0]


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    database = engine.url.database
    path = sqlite_file(database) if database else None
    lock_path = f"{os.path.abspath(path)}-writer" if path and path != ":memory:" else None
    if lock_path is not None and not database.startswith("file:"):
        _owner_only(database)

    @event.listens_for(engine, "do_connect")
    def on_do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["factory"] = WriterQueueConnection

    # The pysqlite transaction recipe from SQLAlchemy's SQLite dialect docs: we emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, record: Any) -> None:
        record.info.update({_READ: read, _WRITE: write})
        dbapi_connection.isolation_level = None
        dbapi_connection.lock_path = lock_path
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    def query_only(dbapi_connection: WriterQueueConnection, on: bool) -> None:
        if dbapi_connection.read_only != on:
            dbapi_connection.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
            dbapi_connection.read_only = on

    def read(dbapi_connection: WriterQueueConnection, _info: dict) -> None:
        query_only(dbapi_connection, True)

    def write(dbapi_connection: WriterQueueConnection, _info: dict) -> None:
        query_only(dbapi_connection, False)
        dbapi_connection.lock_for_writing(busy_timeout_seconds)
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.unlock()
            raise

    _listen(engine)
