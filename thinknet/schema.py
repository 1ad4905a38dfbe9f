"""Whether the database's schema is the one this code was written for. On a database an upgrade has not reached
the app serves nothing but a page (and /healthz an answer) naming the command that fixes it: otherwise every
page would fail on a missing column with a traceback, or worse, half work."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask, current_app, request
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from thinknet.extensions import db

UPGRADE_COMMAND = "thinknet db upgrade"


@cache
def _revisions_of(directory: str) -> tuple[str, frozenset[str]]:
    """The code's head revision and every revision it knows, from its migrations folder."""
    script = ScriptDirectory(directory)
    return script.get_current_head() or "", frozenset(revision.revision for revision in script.walk_revisions())


@dataclass(frozen=True)
class Schema:
    database: str | None  # the database's revision; None: never migrated
    code: str

    @property
    def behind(self) -> bool:
        """The database is at a revision older than the code's, or at none. A revision the code does not know
        is a newer release's (the database was upgraded before this server was replaced): served as it is."""
        _head, known = _revisions_of(current_app.extensions["migrate"].directory)
        return self.database is None or (self.database != self.code and self.database in known)

    @property
    def message(self) -> str:
        return (f"The database is at revision {self.database or 'none'}, but this release needs {self.code}: "
                f"run `{UPGRADE_COMMAND}`.")


def schema() -> Schema:
    """Reads the database's revision on a connection of its own (on PostgreSQL a failed statement would spoil
    the request's transaction). Raises SQLAlchemyError when the database cannot be reached."""
    head, _known = _revisions_of(current_app.extensions["migrate"].directory)
    with db.engine.connect() as connection:
        try:
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        except SQLAlchemyError:
            connection.rollback()
            if _has_version_table(connection):
                raise  # not a missing table: the database itself is in trouble
            revision = None
    return Schema(database=revision, code=head)


def _has_version_table(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


def differences() -> list[str]:
    """Columns and tables the models have and the database has not, or the reverse: a database stamped with the
    right revision can still drift from it (a migration edited after it ran, a hand-made change)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes cannot be reflected on SQLite; they are not compared
        found = compare_metadata(MigrationContext.configure(connection), db.metadata)
    return [_describe(difference) for difference in found
            if _first(difference) in ("add_table", "remove_table", "add_column", "remove_column")]


def _first(difference: Any) -> str:
    return difference[0][0] if isinstance(difference, list) else difference[0]


def _describe(difference: Any) -> str:
    kind, *rest = difference[0] if isinstance(difference, list) else difference
    if kind in ("add_column", "remove_column"):
        table, column = rest[1], rest[2]
        return f"{'missing' if kind == 'add_column' else 'unexpected'} column {table}.{column.name}"
    table = rest[0]
    return f"{'missing' if kind == 'add_table' else 'unexpected'} table {table.name}"


def startup_problem(app: Flask) -> str | None:
    """Why a server must not start on this database, in one line, or None: it cannot be reached, or its
    schema is behind the code. gunicorn asks before it starts any worker (gunicorn.conf.py)."""
    with app.app_context():
        try:
            found = schema()
            if found.behind:
                return found.message
            drift = differences()
            return (f"the database's tables differ from what release {found.code} expects ({'; '.join(drift[:3])}); "
                    f"run `{UPGRADE_COMMAND}`, and if that changes nothing, restore the last backup") if drift else None
        except SQLAlchemyError as error:
            from thinknet.errors import first_line

            return (f"cannot reach the database {db.engine.url.render_as_string(hide_password=True)}: "
                    f"{first_line(error)}")
        finally:
            db.engine.dispose()


def init_app(app: Flask) -> None:
    """Before anything else a request does: until this process has once found the database at the code's
    revision, each request looks (one small query), and one behind is answered with a 503 naming the upgrade
    command. The health check reports it itself."""
    def require_current_schema():
        if app.extensions.get("thinknet.schema_current") or request.endpoint in ("main.healthz", "static"):
            return None
        try:
            found = schema()
        except SQLAlchemyError:
            return None  # unreachable: the request fails as any would, and the health check says why
        if not found.behind:
            app.extensions["thinknet.schema_current"] = True
            return None
        if not app.extensions.get("thinknet.schema_reported"):
            app.extensions["thinknet.schema_reported"] = True
            app.logger.error("refusing to serve: %s", found.message)
        # Visitors learn it is temporary; the operator finds the command in the log and at /healthz.
        from thinknet.errors import unavailable_page

        return unavailable_page("Being upgraded", "This site is being upgraded. Please try again in a few "
                                "minutes."), 503

    app.before_request_funcs.setdefault(None, []).insert(0, require_current_schema)
