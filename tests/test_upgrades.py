"""Upgrades never lose a row. For every earlier release (each migration revision), a database made by it is
filled with the demo network and a few of every other row, then upgraded to head on SQLite and PostgreSQL;
every row must still be there with the same content. A new migration joins this test by being there."""
from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Column, MetaData, Table, TypeDecorator, func, select, text

from conftest import app_config
from thinknet import create_app
from thinknet.demo import load_demo
from thinknet.extensions import db
from thinknet.models import Member

# Columns a migration renamed in place: (table, name at the older release) -> name at head.
RENAMED = {
    ("meeting", "invites_sent_at"): "calendar_sent_at",
    ("meeting", "invites_sent_sequence"): "calendar_sent_sequence",
    ("member", "wants_calendar_invites"): "wants_calendar_updates",
}
# Tables whose rows an upgrade replaces on purpose, and why.
STARTS_AGAIN = {
    "alembic_version": "Alembic's own record of the revision",
    "revision": "the page cache's version numbers, which start again with every process anyway (0009)",
}
# Tables whose rows an upgrade moves into another table: old table -> (new table, the moved rows there).
MOVED = {"invite_delivery": ("outgoing_mail", "kind = 'calendar'")}
# Values for columns of tables that no longer exist, where any text would not do.
OLD_VALUES = {("invite_delivery", "state"): "sent", ("invite_delivery", "method"): "REQUEST"}
ROWS_PER_EMPTY_TABLE = 3
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def earlier_revisions() -> list[str]:
    script = ScriptDirectory(str(MIGRATIONS))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))][:-1]


def app_on(url: str, instance: Path) -> Flask:
    return create_app(app_config(instance, url, PAGE_CACHE_BYTES=0))


def python_type(column: Column) -> type:
    type_ = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    try:
        return type_.python_type
    except NotImplementedError:
        return str


def a_value(column: Column, index: int, ids: dict[str, list[Any]]) -> Any:
    """A value for a column of a generated row: a parent that exists for a foreign key, one that differs per
    row otherwise, so unique constraints hold."""
    for key in column.foreign_keys:
        parents = ids.get(key.column.table.name) or []
        return parents[index % len(parents)] if parents else None
    kind = python_type(column)
    if issubclass(kind, enum.Enum):
        return list(kind)[index % len(list(kind))]
    if kind is bool:
        return index % 2 == 0
    if kind is int:
        return index + 1
    if kind in (float, Decimal):
        return kind(index)
    if kind is datetime:
        return datetime(2025, 1, 6, 6, 30, tzinfo=timezone.utc) + timedelta(days=index)
    if kind is date:
        return date(2025, 1, 6) + timedelta(days=index)
    if kind is time:
        return time(6, 30)
    if kind is dict:
        return {}
    length = getattr(column.type, "length", None) or 200
    return f"{column.table.name}-{column.name}-{index}"[-length:]


def rows_of(connection: Any, table: Table) -> list[dict[str, Any]]:
    primary_key = list(table.primary_key.columns)
    return [dict(row) for row in connection.execute(select(table).order_by(*primary_key)).mappings()]


@pytest.fixture(scope="module")
def head_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows at head: the demo network, then a few generated rows in each table it leaves empty."""
    instance = tmp_path_factory.mktemp("head")
    app = app_on(f"sqlite:///{instance / 'head.sqlite'}", instance)
    with app.app_context():
        upgrade()
        load_demo(date.today(), password="demo password 1")
        db.session.commit()
        rows: dict[str, list[dict[str, Any]]] = {}
        with db.engine.begin() as connection:
            ids: dict[str, list[Any]] = {}
            for table in db.metadata.sorted_tables:
                if not connection.scalar(select(func.count()).select_from(table)):
                    generated = [{column.name: a_value(column, index, ids) for column in table.columns
                                  if not (column.primary_key and column.autoincrement is not False
                                          and python_type(column) is int)}
                                 for index in range(ROWS_PER_EMPTY_TABLE)]
                    connection.execute(table.insert(), generated)
                rows[table.name] = rows_of(connection, table)
                ids[table.name] = [row[table.primary_key.columns.values()[0].name] for row in rows[table.name]]
        db.engine.dispose()
    return rows


def fill(connection: Any, tables: MetaData, head_rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict]]:
    """Writes the head rows into a database at an older revision: the columns that release had, each renamed
    column from its new name, and any column it had that head has not made up."""
    written: dict[str, list[dict[str, Any]]] = {}
    ids: dict[str, list[Any]] = {}
    for table in tables.sorted_tables:
        if table.name in STARTS_AGAIN:
            continue
        source = head_rows.get(table.name) or [{} for _ in range(ROWS_PER_EMPTY_TABLE)]
        rows = []
        for index, head_row in enumerate(source):
            row = {}
            for column in table.columns:
                new_name = RENAMED.get((table.name, column.name), column.name)
                if new_name in head_row:
                    row[column.name] = head_row[new_name]
                elif (table.name, column.name) in OLD_VALUES:
                    row[column.name] = OLD_VALUES[(table.name, column.name)]
                elif column.primary_key and table.name not in head_rows:
                    continue  # the database numbers it
                elif column.nullable and not column.foreign_keys:
                    row[column.name] = None
                else:
                    row[column.name] = a_value(column, index, ids)
            rows.append(row)
        if rows:
            connection.execute(table.delete())  # a row the migrations made themselves (the settings) is replaced
            connection.execute(table.insert(), rows)
        written[table.name] = rows_of(connection, table)
        ids[table.name] = [row[table.primary_key.columns.values()[0].name] for row in written[table.name]]
    return written


def same(before: Any, after: Any) -> bool:
    if isinstance(before, datetime) and isinstance(after, datetime):
        as_utc = [moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
                  for moment in (before, after)]
        return as_utc[0] == as_utc[1]
    return before == after


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    return request.getfixturevalue("postgres").create_database("thinknet_upgrade")


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.parametrize("revision", earlier_revisions())
def test_a_database_from_an_earlier_release_upgrades_to_head_with_every_row(revision, fresh_database, head_rows,
                                                                           tmp_path):
    app = app_on(fresh_database, tmp_path / "instance")
    with app.app_context():
        upgrade(revision=revision)
        old = MetaData()
        with db.engine.begin() as connection:
            connection.info["thinknet.migrating"] = True  # written as that release would have: no revisions
            old.reflect(connection)
            written = fill(connection, old, head_rows)

        upgrade()

        new = MetaData()
        with db.engine.connect() as connection:
            new.reflect(connection)
            for table_name, rows in written.items():
                if table_name in MOVED:
                    target, where = MOVED[table_name]
                    moved = connection.scalar(text(f"SELECT count(*) FROM {target} WHERE {where}"))
                    assert moved == len(rows), f"{table_name}: {len(rows)} rows, {moved} moved into {target}"
                    continue
                table = new.tables[table_name]
                after = {tuple(row[c.name] for c in table.primary_key.columns): row for row in rows_of(connection, table)}
                assert len(after) == len(rows), f"{table_name}: {len(rows)} rows before the upgrade, {len(after)} after"
                for row in rows:
                    key = tuple(row[c.name] for c in old.tables[table_name].primary_key.columns)
                    assert key in after, f"{table_name} {key} is gone"
                    for name, value in row.items():
                        new_name = RENAMED.get((table_name, name), name)
                        if new_name in table.columns:
                            assert same(value, after[key][new_name]), (table_name, key, name, value, after[key][new_name])
            foreign_key_trouble = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() \
                if connection.dialect.name == "sqlite" else []
            assert foreign_key_trouble == []
        db.engine.dispose()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_on_sqlite_rows_already_pointing_at_nothing_do_not_block_an_upgrade_and_are_reported(tmp_path, capfd):
    """A row deleted by hand with foreign keys off, long before: not the upgrade's doing."""
    app = app_on(f"sqlite:///{tmp_path / 'old.sqlite'}", tmp_path / "instance")
    with app.app_context():
        upgrade(revision="0007")
        old = MetaData()
        with db.engine.connect() as connection:
            connection.info["thinknet.migrating"] = True
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # as the sqlite3 shell has it
            old.reflect(connection)
            vote = old.tables["vote"]
            connection.execute(vote.insert().values(
                {column.name: 999 if column.foreign_keys else a_value(column, 0, {})
                 for column in vote.columns if not column.primary_key}))
            connection.commit()
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")

        upgrade()
        assert "already holds rows pointing at nothing, left as they are: 1 in vote (to member), 1 in vote (to topic)" \
            in capfd.readouterr().err
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == \
                ScriptDirectory(str(MIGRATIONS)).get_current_head()
            assert connection.scalar(text("SELECT count(*) FROM vote WHERE member_id = 999")) == 1  # left as it was
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


BREAKING_MIGRATION = '''"""a migration that deletes a member the votes still point at (a test's)"""
from alembic import op

revision = "9999"
down_revision = "{head}"


def upgrade():
    op.execute("DELETE FROM member WHERE id = (SELECT member_id FROM vote LIMIT 1)")


def downgrade():
    pass
'''


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_on_sqlite_a_migration_that_leaves_rows_pointing_at_nothing_is_rolled_back_whole(tmp_path, capfd):
    import shutil

    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    (migrations / "versions" / "9999_breaks_references.py").write_text(BREAKING_MIGRATION.format(head=head))
    app = app_on(f"sqlite:///{tmp_path / 'site.sqlite'}", tmp_path / "instance")
    with app.app_context():
        upgrade()
        load_demo(date.today(), password="demo password 1")
        db.session.commit()
        members = db.session.scalar(select(func.count()).select_from(Member))
        db.session.rollback()
        capfd.readouterr()

        with pytest.raises(SystemExit):
            upgrade(directory=str(migrations))
        said = capfd.readouterr().err
        assert "migration 9999 would leave rows pointing at nothing:" in said and "in vote (to member)" in said
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head
            assert connection.scalar(text("SELECT count(*) FROM member")) == members  # nothing was deleted
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()
