"""Engine set-up: SQLite gets foreign keys, WAL and a busy timeout.

SQLite has one writer at a time. A request that may write (POST and the like, and every command) begins
with BEGIN IMMEDIATE, so a read-then-write rule takes the write lock before it reads. A GET only reads:
it begins a plain read transaction, which in WAL mode runs beside the writer instead of queueing behind
it, and is read-only (``PRAGMA query_only``), so a GET that writes by mistake fails in the tests. The rare
GET that must write says so first with `begin_writing()`.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import Engine, event

from thinknet.extensions import db

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configure_engines(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_SECONDS"])
    # First of all request hooks, before the sign-in check reads the database.
    app.before_request_funcs.setdefault(None, []).insert(0, _note_read_only_request)


def _note_read_only_request() -> None:
    g.reads_only = request.method in READ_ONLY_METHODS


def reads_only() -> bool:
    """True while serving a GET (or HEAD) request that has not said it must write."""
    return has_request_context() and g.get("reads_only", False)


def begin_writing() -> None:
    """Lets a GET request write: its read transaction ends, and the next one takes the write lock."""
    if reads_only():
        db.session.rollback()
        g.reads_only = False


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    # The pysqlite transaction recipe from SQLAlchemy's SQLite dialect docs: we emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if reads_only():
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("PRAGMA query_only = OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
