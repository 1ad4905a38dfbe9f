"""Engine set-up: SQLite gets foreign keys, WAL, a busy timeout and BEGIN IMMEDIATE transactions."""
from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

from thinknet.extensions import db


def configure_engines(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_SECONDS"])


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    # The pysqlite transaction recipe from SQLAlchemy's SQLite dialect docs: we emit BEGIN ourselves,
    # as IMMEDIATE, so a read-then-write rule takes the write lock before it reads.
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")
