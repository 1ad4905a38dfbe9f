"""Consistent backups while the app keeps writing, and restoring them: SQLite's online backup API, or
pg_dump and pg_restore for PostgreSQL."""
from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from thinknet.extensions import db

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"


class BackupError(Exception):
    pass


def _database_url():
    return make_url(db.engine.url.render_as_string(hide_password=False))


def _libpq_url() -> str:
    """The URL as pg_dump wants it (no SQLAlchemy driver name), without the password: a command line is
    readable by every user of the machine (ps), so the password goes in the environment (`_pg_environment`)."""
    url = _database_url().set(drivername="postgresql")
    return url._replace(password=None).render_as_string(hide_password=False)  # set() keeps a password given None


def _pg_environment() -> dict[str, str]:
    environment = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    password = _database_url().password
    if password:
        environment["PGPASSWORD"] = str(password)
    return environment


def _pg_tool(name: str) -> str:
    """The PostgreSQL client of the newest installed version (pg_dump must not be older than the server)."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client (package postgresql-client).")
    return found


def backup(path: Path) -> str:
    """Writes a consistent copy of the database to ``path``; returns what kind of copy it made."""
    url = _database_url()
    path.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {url.get_backend_name()} are not supported")
    # A backup holds every member's data: readable by its owner only, from the moment it exists.
    previous = os.umask(0o077)
    try:
        if path.exists():
            path.chmod(0o600)
        if url.get_backend_name() == "sqlite":
            with sqlite3.connect(url.database) as source, sqlite3.connect(path) as target:
                source.backup(target)  # one step: a snapshot, while writers go on in WAL mode
            target.close()
            return "sqlite"
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={path}", _libpq_url()])
        return "postgresql"
    finally:
        os.umask(previous)


def restore(path: Path) -> str:
    """Replaces the database's contents with the backup's. Stop the app first."""
    header = path.read_bytes()[:16]
    url = _database_url()
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        if not header.startswith(SQLITE_HEADER):
            raise BackupError(f"{path} is not a SQLite backup")
        with sqlite3.connect(path) as source, sqlite3.connect(url.database) as target:
            source.backup(target)
        return "sqlite"
    if url.get_backend_name() == "postgresql":
        if not header.startswith(PG_CUSTOM_HEADER):
            raise BackupError(f"{path} is not a PostgreSQL backup made by thinknet backup")
        _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={_libpq_url()}", str(path)])
        return "postgresql"
    raise BackupError(f"restoring {url.get_backend_name()} is not supported")


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=_pg_environment())
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
