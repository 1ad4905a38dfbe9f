"""The migrations create exactly what the models describe, and SQLite connections are set up for concurrency."""
from __future__ import annotations

import re
import sqlite3
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from thinknet.extensions import db
from thinknet.models import Member


def schema_differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


# Neither reflection nor autogenerate sees expression indexes on SQLite; the next test checks that one directly.
EXPRESSION_INDEX_WARNINGS = [
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
]


@EXPRESSION_INDEX_WARNINGS[0]
@EXPRESSION_INDEX_WARNINGS[1]
def test_migrating_an_empty_database_gives_the_schema_the_models_describe(app_context):
    assert schema_differences() == []


def test_the_case_insensitive_email_index_is_in_the_migrated_schema(app_context):
    query = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE name = 'uq_member_email_lower'",
        "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_member_email_lower'",
    }[db.engine.dialect.name]
    with db.engine.connect() as connection:
        definition = connection.execute(text(query)).scalar()
    assert "UNIQUE" in definition.upper()
    assert re.search(r"lower\(\(?email\)?(::text)?\)", definition.lower())


@EXPRESSION_INDEX_WARNINGS[0]
@EXPRESSION_INDEX_WARNINGS[1]
def test_migrations_go_down_to_nothing_and_up_again(app_context):
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert schema_differences() == []


def on_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def sqlite_only(app):
    if not on_sqlite(app):
        pytest.skip("a SQLite connection setting")


def test_sqlite_connections_have_foreign_keys_wal_and_a_busy_timeout(app, app_context):
    sqlite_only(app)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_SECONDS"] * 1000


def test_a_sqlite_writer_takes_the_write_lock_at_its_first_statement_that_locks_not_before(app, app_context):
    """Plain reads leave other writers free; a SELECT ... FOR UPDATE takes the lock (BEGIN IMMEDIATE), as it
    takes a row lock on PostgreSQL."""
    sqlite_only(app)
    path = db.engine.url.database

    def other_writer_can_begin() -> bool:
        other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            return True
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return False
        finally:
            other.close()

    with db.engine.connect() as connection:
        connection.execute(select(func.count()).select_from(Member)).scalar()
        assert other_writer_can_begin()
        connection.execute(select(Member.id).with_for_update()).all()
        assert not other_writer_can_begin()
        connection.rollback()
    assert other_writer_can_begin()


def test_sqlite_writers_queue_on_the_lock_file_and_the_next_begins_when_the_first_commits(app):
    """A second writer waits (in a thread, so it polls) until the first commits, then goes straight on."""
    sqlite_only(app)
    began = threading.Event()

    def second_writer() -> None:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(text("SELECT count(*) FROM member"))
            began.set()

    with app.app_context(), db.engine.connect() as first:
        first.execute(text("SELECT count(*) FROM member"))
        assert first.connection.dbapi_connection.lock_fd is not None
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not began.wait(0.3)  # still queued behind the first writer
        first.commit()
        assert first.connection.dbapi_connection.lock_fd is None
    thread.join(5)
    assert began.is_set()


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_a_writer_that_waits_too_long_is_told_the_database_is_locked(app, where):
    """Main thread: a blocking wait under an alarm (gunicorn's sync workers); other threads poll."""
    sqlite_only(app)
    outcome = []

    def wait_briefly(waiting) -> None:
        try:
            waiting.lock_for_writing(0.2)
        except sqlite3.OperationalError as error:
            outcome.append(str(error))
        else:
            outcome.append("got the lock")

    with app.app_context(), db.engine.connect() as first:
        first.execute(text("SELECT 1"))
        raw = db.engine.raw_connection()
        waiting = raw.dbapi_connection
        if where == "main thread":
            wait_briefly(waiting)
        else:
            thread = threading.Thread(target=wait_briefly, args=(waiting,))
            thread.start()
            thread.join(5)
        first.rollback()
        waiting.lock_for_writing(0.2)  # free now
        assert waiting.lock_fd is not None
        waiting.rollback()
        assert waiting.lock_fd is None
        raw.close()
    assert outcome == ["database is locked"]


def test_a_fresh_database_has_the_settings_row_with_the_defaults(tmp_path):
    from conftest import app_config, migrate_to_head
    from thinknet import create_app
    from thinknet.models import DEFAULT_CHARTER, Settings

    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    migrate_to_head(url, tmp_path / "instance")
    app = create_app(app_config(tmp_path / "instance", url))
    with app.app_context():
        [row] = db.session.scalars(select(Settings)).all()
        assert row.charter == DEFAULT_CHARTER
        assert row.group_name == ""  # named by the first organizer: nothing goes out under a default name
        assert row.setup_left == ["name", "meetings", "charter", "sponsors"] and row.setup_opened_at is None
        assert row.founding_until is None
        assert row.rsvp_cutoff_time.hour == 20
        db.engine.dispose()


def in_transaction(dbapi_connection) -> bool:
    if isinstance(dbapi_connection, sqlite3.Connection):
        return dbapi_connection.in_transaction
    from psycopg.pq import TransactionStatus

    return dbapi_connection.info.transaction_status != TransactionStatus.IDLE


@pytest.fixture
def probe(make_app):
    """An app with a route that reads one row and tells whether the database has a transaction open, after
    the view (GET or POST) does what the query string asks: `write` (begin writing), `lock` (read the
    settings FOR UPDATE), `update` (write to them), `commit` (commit then read)."""
    from flask import request

    from thinknet.access import public
    from thinknet.database import begin_writing, commit_then_read
    from thinknet.models import Settings

    app = make_app()

    @public
    def look():
        settings = Settings.get()
        if "write" in request.args:
            begin_writing()
        if "lock" in request.args:
            Settings.get(for_update=True)
        if "update" in request.args:
            try:
                db.session.execute(text("UPDATE settings SET group_name = 'Changed'"))
            except Exception as error:  # surfaced in the answer
                return {"error": str(error)}
        if "commit" in request.args:
            commit_then_read()
        db.session.scalar(select(text("1")))
        connection = db.session.connection().connection
        return {"in_transaction": in_transaction(connection.dbapi_connection),
                "holds_write_lock": getattr(connection.dbapi_connection, "lock_fd", None) is not None,
                "settings_still_loaded": "group_name" in db.inspect(settings).dict}

    app.add_url_rule("/probe", "probe", look, methods=["GET", "POST"])
    return app


def post(app, query: str = "") -> dict:
    from conftest import csrf_token

    client = app.test_client()
    return client.post(f"/probe{query}", headers={"X-CSRFToken": csrf_token(client)}).json


def test_a_get_reads_each_statement_on_its_own(probe):
    answer = probe.test_client().get("/probe").json
    assert answer["in_transaction"] is False and answer["holds_write_lock"] is False


def test_a_post_that_only_reads_holds_no_transaction_and_no_lock(probe):
    assert post(probe) == {"in_transaction": False, "holds_write_lock": False, "settings_still_loaded": True}


@pytest.mark.parametrize("query", ["?lock", "?update"])
def test_a_post_begins_its_one_transaction_at_its_first_lock_or_write_keeping_what_it_loaded(probe, query):
    answer = post(probe, query)
    assert answer == {"in_transaction": True, "holds_write_lock": on_sqlite(probe), "settings_still_loaded": True}


def test_a_get_that_must_write_begins_writing_on_the_connection_it_read_with(probe):
    assert probe.test_client().get("/probe?write").json["in_transaction"] is False  # no write or lock yet
    answer = probe.test_client().get("/probe?write&lock").json
    assert answer == {"in_transaction": True, "holds_write_lock": on_sqlite(probe), "settings_still_loaded": True}


def test_after_commit_then_read_a_view_reads_outside_a_transaction_with_its_rows_still_loaded(probe):
    assert post(probe, "?lock&commit") == {"in_transaction": False, "holds_write_lock": False,
                                          "settings_still_loaded": True}


def test_on_sqlite_a_get_that_writes_without_saying_so_fails(probe):
    sqlite_only(probe)
    assert "readonly" in probe.test_client().get("/probe?update").json["error"]
    with probe.app_context():
        assert db.session.scalar(text("SELECT group_name FROM settings")) != "Changed"
