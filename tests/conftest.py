"""Fixtures: the app on SQLite and on a real PostgreSQL, client, runner, sign-in, factories, outbox, SMTP."""
from __future__ import annotations

import re
from datetime import datetime, timezone
import shutil
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import insert, text

from servers import DovecotServer, PostgresCluster, SmtpServer, free_port
from thinknet import create_app, outbox
from thinknet.auth.services import hash_password
from thinknet.extensions import db
from thinknet.models import SETTINGS_ID, Member, MemberStatus, Role, Settings

PASSWORD = "correct horse battery"
SECRET_KEY = "test-secret-key-not-for-production-0123456789"


def app_config(instance: Path, database_url: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "SECRET_KEY": SECRET_KEY,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Cheap hashing keeps the suite fast; production uses argon2-cffi's defaults.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_COST": 1024,
        "PASSWORD_HASH_PARALLELISM": 1,
        # Tests sign many members in from one address; the limits have tests of their own.
        "RATELIMIT_ENABLED": False,
        # A test that leaves a write transaction open fails in seconds, not half a minute.
        "SQLITE_BUSY_TIMEOUT_SECONDS": 5,
        # The test client's host; links in mail are built from this, never from a request.
        "BASE_URL": "http://localhost",
        # Every page served from the cache is also built afresh and must be the same (thinknet.pagecache).
        "PAGE_CACHE_VERIFY": True,
        # Queued mail is sent at the commit, before the response, so a test reads it right after; the tests of
        # sending in the background turn this on.
        "MAIL_IN_BACKGROUND": False,
    }
    config.update(overrides)
    return config


def free_port_url() -> str:
    """A PostgreSQL URL where nothing listens."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def migrate_to_head(database_url: str, instance: Path) -> None:
    app = create_app(app_config(instance, database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


# Most tests run in a group that has been going for a while: named, and its first organizer's set-up done. The
# set-up's own tests start from what a fresh database holds (fresh_group).
ESTABLISHED = {"group_name": "Thinking Network", "setup_done": "name,meetings,charter,sponsors",
               "setup_opened_at": datetime(2026, 1, 5, tzinfo=timezone.utc)}


def establish_group(database_url: str) -> None:
    from sqlalchemy import create_engine, update

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(Settings.__table__).values(**ESTABLISHED))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head once per session: a template SQLite file, or a PostgreSQL database."""
    instance = tmp_path_factory.mktemp("migrate")
    if request.param == "sqlite":
        url = f"sqlite:///{instance / 'template.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").create_database("thinknet_test")
    migrate_to_head(url, instance)
    establish_group(url)
    return url


@pytest.fixture
def database_url(migrated_database: str, tmp_path: Path) -> str:
    """This test's database: a fresh copy of the SQLite template, or the emptied PostgreSQL database."""
    if migrated_database.startswith("sqlite"):
        template = Path(migrated_database.removeprefix("sqlite:///"))
        copy = tmp_path / "thinknet.sqlite"
        shutil.copy(template, copy)
        return f"sqlite:///{copy}"
    return migrated_database


def empty_postgres(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # Back to what a freshly migrated database holds: the settings row with its defaults.
            conn.execute(insert(Settings.__table__).values(id=SETTINGS_ID, **ESTABLISHED))
        db.engine.dispose()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Builds apps on this test's database (several may share it, as several servers would)."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(app_config(tmp_path / "instance", database_url, **overrides))
        apps.append(app)
        return app

    yield build
    outbox.stop()  # nothing may still be writing when the database is emptied
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if database_url.startswith("postgresql") and apps:
        empty_postgres(apps[0])


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


class MemberFactory:
    """Creates members straight in the database, committed, with the shared test password."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.count = 0

    def __call__(self, **fields: Any) -> Member:
        self.count += 1
        password = fields.pop("password", PASSWORD)
        defaults: dict[str, Any] = {
            "email": f"member{self.count}@example.org",
            "name": f"Member {self.count}",
            "headline": "Engineer, software",
            "role": Role.MEMBER,
            "status": MemberStatus.ACTIVE,
            # Made straight in the database, with both ways to a calendar on (the feed's tests need it); a
            # newcomer who joins gets invites alone (test_calendar_truth).
            "wants_calendar_feed": True,
        }
        defaults.update(fields)
        with self.app.app_context():
            member = Member(password_hash=hash_password(password), **defaults)
            db.session.add(member)
            db.session.commit()
            db.session.refresh(member)
            db.session.expunge(member)
        return member

    def organizer(self, **fields: Any) -> Member:
        return self(role=Role.ORGANIZER, **fields)


@pytest.fixture
def make_member(app: Flask) -> MemberFactory:
    return MemberFactory(app)


@pytest.fixture
def member(make_member: MemberFactory) -> Member:
    return make_member(email="ada@example.org", name="Ada Lovelace", headline="Analyst, engines")


@pytest.fixture
def organizer(make_member: MemberFactory) -> Member:
    return make_member.organizer(email="grace@example.org", name="Grace Hopper", headline="Admiral, navy")


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page gives this client's session, read from the page as a browser would."""
    response = client.get(path)
    match = CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})


@pytest.fixture
def login(client: FlaskClient) -> Any:
    def do_login(member: Member, password: str = PASSWORD) -> FlaskClient:
        response = sign_in(client, member.email, password)
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return do_login


def sent_mail(app: Flask) -> list[Message]:
    """Every message the file mail backend wrote, oldest first."""
    folder = Path(app.config["MAIL_FILE_PATH"])
    if not folder.exists():
        return []
    messages = []
    for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk))
    return messages


def body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("message has no plain-text part")


def running(server: Any) -> Iterator[Any]:
    """A test server started for one test and stopped after it, however the test ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from running(SmtpServer())


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A real IMAP server (Dovecot) on 127.0.0.1, over TLS, with the group's reply mailbox."""
    yield from running(DovecotServer())


@pytest.fixture
def make_meeting(app: Flask) -> Any:
    """Creates a meeting (by default a week ago) and returns its id."""
    from datetime import timedelta

    from thinknet.models import Meeting, utcnow

    def build(days_from_now: float = -7, **fields: Any) -> int:
        start = utcnow() + timedelta(days=days_from_now)
        with app.app_context():
            meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1),
                              venue_name=fields.pop("venue_name", "Café Rosa"), **fields)
            db.session.add(meeting)
            db.session.commit()
            return meeting.id

    return build


@pytest.fixture
def close_rsvps_an_hour_ago(app: Flask) -> Any:
    """Sets the RSVP cut-off so that, for the given meeting, it passed an hour ago, whatever the time of day
    (the default, 20:00 the day before, is anywhere from 2 to 26 hours before a session two hours ahead)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from thinknet.models import Meeting, Settings, utcnow

    def close(meeting_id: int) -> None:
        with app.app_context():
            settings, meeting = Settings.get(), db.session.get(Meeting, meeting_id)
            zone = ZoneInfo(settings.timezone)
            cutoff = (utcnow() - timedelta(hours=1)).astimezone(zone).replace(microsecond=0)
            settings.rsvp_cutoff_days_before = (meeting.starts_at.astimezone(zone).date() - cutoff.date()).days
            settings.rsvp_cutoff_time = cutoff.time()
            db.session.commit()

    return close


@pytest.fixture
def attend(app: Flask, make_meeting: Any) -> Any:
    """Records that a member came to `times` past meetings."""
    from thinknet.models import Attendance

    def record(member: Member, times: int = 1) -> None:
        for n in range(times):
            meeting_id = make_meeting(days_from_now=-7 * (n + 1))
            with app.app_context():
                db.session.add(Attendance(meeting_id=meeting_id, member_id=member.id))
                db.session.commit()

    return record


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Any:
    """A context manager counting the SQL statements the app sends while it is open."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not statement.startswith(("BEGIN", "PRAGMA query_only")):  # SQLite transaction set-up, not a query
                counter.statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)

    return counting
