"""What /healthz checks: what makes requests fail (the database unreachable, behind the code, or unable to take
a write; on SQLite a read-only file or a full disk), and whether mail is getting out. The first make the
answer 503, so a load balancer stops sending requests; mail that is stuck makes it "degraded" but still 200,
since pages work and taking every server out of rotation would not send a message more."""
from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import timedelta
from typing import Any

from flask import current_app
from urllib.parse import urlencode

from sqlalchemy import URL, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from thinknet import __version__, schema
from thinknet.database import sqlite_file
from thinknet.extensions import db
from thinknet.models import MailState, OutgoingMail, utcnow

# Mail queued this long ago and still not delivered: no sender runs, or the mail server keeps refusing it.
MAIL_LATE = timedelta(minutes=15)


def database_problem() -> dict[str, Any] | None:
    """Why requests would fail on this database, or None."""
    try:
        found = schema.schema()
    except SQLAlchemyError:
        return {"database": "unreachable"}
    if found.behind:
        return {"database": "behind", "revision": found.database, "needs": found.code,
                "run": schema.UPGRADE_COMMAND}
    engine = db.engine
    if engine.dialect.name == "sqlite":
        if not _sqlite_takes_writes(engine.url):
            return {"database": "read-only"}
        folder = os.path.dirname(os.path.abspath(sqlite_file(engine.url.database or "")))
        if shutil.disk_usage(folder).free < current_app.config["HEALTH_MIN_FREE_BYTES"]:
            return {"database": "disk full"}
    else:
        with engine.connect() as connection:
            if connection.scalar(text("SELECT pg_is_in_recovery()")) or \
                    connection.scalar(text("SHOW default_transaction_read_only")) == "on":
                return {"database": "read-only"}
    return None


def _sqlite_takes_writes(url: URL) -> bool:
    """Whether the file takes a write, tried on a connection of its own outside the app's (which reads with
    writes turned off): a write that changes nothing, rolled back. A read-only file, folder or mount fails it
    (file permissions alone say nothing when the server runs as root)."""
    database, uri = url.database or "", url.query.get("uri") == "true"
    if uri:  # file:...?mode=ro: the URI's own options (the read-only mode) count
        options = {key: value for key, value in url.query.items() if key != "uri"}
        database += ("?" + urlencode(options)) if options else ""
    try:
        connection = sqlite3.connect(database, uri=uri, timeout=2, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        connection.execute("BEGIN")
        connection.execute("DELETE FROM alembic_version WHERE 0")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        return "locked" in str(error)  # a writer holds the lock for longer than 2 s: busy, not read-only
    finally:
        connection.close()


def mail_state() -> dict[str, Any]:
    """Whether queued mail is going out: the oldest message still waiting to be delivered, whether no sender
    runs or the mail server keeps refusing it (each retry moves its next try on, never its age)."""
    oldest = db.session.scalar(
        select(func.min(OutgoingMail.created_at))
        .where(OutgoingMail.state.in_([MailState.PENDING, MailState.SENDING])))
    if oldest is None or utcnow() - oldest < MAIL_LATE:
        return {"mail": "ok"}
    return {"mail": "stuck", "late_minutes": int((utcnow() - oldest).total_seconds() // 60)}


def report() -> tuple[dict[str, Any], int]:
    """The answer, with the release this server runs (a deploy can see the new code answering)."""
    problem = database_problem()
    if problem is not None:
        current_app.logger.warning("health check: %s", problem)
        return {"status": "unavailable", **problem, "version": __version__}, 503
    mail = mail_state()
    return {"status": "ok" if mail["mail"] == "ok" else "degraded", "database": "ok", **mail,
            "version": __version__}, 200
