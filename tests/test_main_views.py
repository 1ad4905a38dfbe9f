"""The dashboard and /healthz."""
from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import update

import thinknet
from conftest import app_config, free_port_url
from thinknet import create_app
from thinknet.extensions import db
from thinknet.models import MailState, Meeting, MeetingState, OutgoingMail, Settings, utcnow


def test_healthz_reports_a_reachable_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "mail": "ok", "version": thinknet.__version__}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database no migration has touched."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.sqlite'}"
    return request.getfixturevalue("postgres").create_database("thinknet_fresh")


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from thinknet import resource_dir

    return ScriptDirectory(str(resource_dir("migrations"))).get_current_head()


def test_on_a_database_behind_the_code_pages_answer_503_and_healthz_names_the_upgrade(tmp_path, fresh_database):
    import logging

    from flask_migrate import upgrade

    app = create_app(app_config(tmp_path / "instance", fresh_database))
    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    app.logger.addHandler(handler)
    client = app.test_client()
    for revision, shown in ((None, None), ("0007", "0007")):
        if revision:
            with app.app_context():
                upgrade(revision=revision)
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json == {"status": "unavailable", "database": "behind", "revision": shown,
                               "needs": head_revision(), "run": "thinknet db upgrade", "version": thinknet.__version__}
        page = client.get("/login")
        assert page.status_code == 503
        assert "being upgraded" in page.get_data(as_text=True)
        assert page.headers["Content-Security-Policy"] and page.headers["X-Content-Type-Options"] == "nosniff"
        assert "thinknet db upgrade" not in page.get_data(as_text=True)  # for the operator, not for visitors
    app.logger.removeHandler(handler)
    refusals = [line for line in logged if line.startswith("refusing to serve:")]
    assert len(refusals) == 1 and "run `thinknet db upgrade`" in refusals[0]

    with app.app_context():
        upgrade()
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").json["status"] == "ok"


def test_healthz_is_503_on_a_sqlite_file_that_takes_no_writes(tmp_path, migrated_database):
    if not migrated_database.startswith("sqlite"):
        return
    import shutil

    copy = tmp_path / "thinknet.sqlite"
    shutil.copy(migrated_database.removeprefix("sqlite:///"), copy)
    read_only = f"sqlite:///file:{copy}?mode=ro&uri=true"
    response = create_app(app_config(tmp_path / "instance", read_only)).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable" and response.json["database"] == "read-only"


def test_healthz_is_503_when_the_sqlite_disk_is_nearly_full(tmp_path, app, client):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["HEALTH_MIN_FREE_BYTES"] = shutil.disk_usage(tmp_path).free * 10
        assert client.get("/healthz").json["database"] == "disk full"
        assert client.get("/healthz").status_code == 503


def test_healthz_says_degraded_but_ready_when_mail_due_a_while_ago_is_not_sent(app, client):
    with app.app_context():  # queued 40 minutes ago, and no sender took it: as if every sender had stopped
        db.session.add(OutgoingMail(kind="welcome", recipient="someone@example.org", sender="", subject="Hello",
                                    body_text="Hello", body_html="", state=MailState.PENDING, attempts=0, error="",
                                    next_attempt_at=utcnow() - timedelta(minutes=40),
                                    created_at=utcnow() - timedelta(minutes=40)))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded" and response.json["mail"] == "stuck"
    assert response.json["late_minutes"] >= 39
    with app.app_context():  # a server that keeps refusing it: tried 3 times, its next try an hour away
        db.session.execute(update(OutgoingMail).values(attempts=3, next_attempt_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
    assert client.get("/healthz").json["mail"] == "stuck"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, database_url):
    unreachable = (
        f"sqlite:///{tmp_path / 'missing-folder' / 'db.sqlite'}"
        if database_url.startswith("sqlite")
        else free_port_url()
    )
    app = create_app(app_config(tmp_path / "instance", unreachable))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_dashboard_shows_the_next_breakfast_in_the_groups_timezone(app, client, login, member):
    with app.app_context():
        Settings.get().timezone = "America/New_York"
        start = utcnow().replace(hour=11, minute=30, second=0, microsecond=0) + timedelta(days=2)
        db.session.add(Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Blue Door Café",
                               venue_address="5 Elm St"))
        db.session.add(Meeting(starts_at=start - timedelta(days=1), ends_at=start - timedelta(days=1, minutes=-60),
                               venue_name="Cancelled Place", state=MeetingState.CANCELLED))
        db.session.commit()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert "Blue Door Café, 5 Elm St" in page
    assert "Cancelled Place" not in page
    assert ":30 AM" in page


def test_dashboard_says_what_happens_when_nothing_is_scheduled(client, login, member, organizer):
    login(member)
    assert "The organizers will schedule the next one soon." in client.get("/").get_data(as_text=True)


def test_signed_in_pages_are_not_cached_by_htmx_confusion(client, login, member):
    login(member)
    response = client.get("/", headers={"HX-Request": "true"})
    assert "HX-Request" in response.headers.get("Vary", "")


def test_times_of_day_are_written_one_way_everywhere():
    from datetime import time

    from thinknet.templating import clock

    assert [clock(time(h, m)) for h, m in ((0, 5), (6, 30), (12, 0), (18, 45))] == \
        ["12:05 AM", "6:30 AM", "12:00 PM", "6:45 PM"]


def test_tomorrow_stands_with_the_date_it_names(app, client, login, member, make_meeting):
    from thinknet.models import Meeting
    from thinknet.templating import format_when

    login(member)
    meeting_id = make_meeting(days_from_now=1)
    with app.app_context(), app.test_request_context():
        when = format_when(db.session.get(Meeting, meeting_id).starts_at)
    date, time_of_day = when.rsplit(", ", 1)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert f'{date} <span class="relative">(tomorrow)</span>, {time_of_day}</p>' in page
