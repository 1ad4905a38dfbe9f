"""What an operator meets: a server that will not start on a database it cannot use says why in one line."""
from __future__ import annotations

import pytest

from conftest import free_port_url
from servers import GunicornServer
from test_main_views import head_revision


def refused_start(database_url: str, tmp_path) -> str:
    server = GunicornServer(database_url, tmp_path / "instance", workers=1)
    with pytest.raises(RuntimeError, match="gunicorn did not start"):
        server.start()
    assert server.process.returncode == 3
    log = server.error_log.read_text()
    assert "Traceback" not in log
    return log


def test_gunicorn_will_not_start_on_a_database_behind_the_code_and_names_the_upgrade(tmp_path):
    log = refused_start(f"sqlite:///{tmp_path / 'new.sqlite'}", tmp_path)
    assert log.count("not starting:") == 1
    assert (f"not starting: The database is at revision none, but this release needs {head_revision()}: "
            "run `thinknet db upgrade`.") in log


def test_gunicorn_will_not_start_when_the_database_cannot_be_reached_and_says_where(tmp_path):
    url = free_port_url()
    log = refused_start(url, tmp_path)
    assert log.count("not starting:") == 1
    line = next(line for line in log.splitlines() if "not starting:" in line)
    assert "cannot reach the database postgresql+psycopg://postgres@127.0.0.1:" in line and "/nothing" in line


def test_gunicorn_on_postgresql_will_not_start_without_a_shared_secret_key(tmp_path, postgres):
    server = GunicornServer(postgres.create_database("thinknet_keyless"), tmp_path / "instance", workers=1,
                            THINKNET_SECRET_KEY="")
    with pytest.raises(RuntimeError, match="gunicorn did not start"):
        server.start()
    assert server.process.returncode == 3
    said = server.stderr.read_text()
    assert "thinknet: not starting: THINKNET_SECRET_KEY is not set." in said and "Traceback" not in said


def test_production_without_a_secret_key_is_refused_on_postgresql_but_sqlite_keeps_its_instance_key(
        tmp_path, monkeypatch):
    from thinknet import production_app

    monkeypatch.setenv("THINKNET_PRODUCTION", "true")
    monkeypatch.setenv("THINKNET_BASE_URL", "https://breakfast.example.org")
    monkeypatch.setenv("THINKNET_REPLY_ADDRESS", "breakfast@example.org")
    monkeypatch.setenv("THINKNET_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("THINKNET_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(SystemExit) as stopped:
        production_app()
    assert stopped.value.code == 3
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'one-machine.sqlite'}")
    assert production_app().config["SECRET_KEY"] == (tmp_path / "instance" / "secret_key").read_text().strip()


def test_gunicorns_control_socket_is_in_the_sites_instance_folder_for_its_owner_only(tmp_path, database_url):
    import stat
    import time

    server = GunicornServer(database_url, tmp_path / "instance", workers=1)
    server.start()
    try:
        master = server.process.pid
        socket = tmp_path / "instance" / f"gunicorn.{master}.ctl"
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert socket.is_socket()
        assert stat.S_IMODE(socket.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_during_a_database_outage_pages_answer_the_sites_own_503_and_one_log_line_each(tmp_path, capfd):
    from conftest import PASSWORD, app_config, migrate_to_head, sign_in
    from servers import PostgresCluster
    from thinknet import create_app
    from thinknet.auth.services import hash_password
    from thinknet.extensions import db

    cluster = PostgresCluster()
    cluster.start()
    try:
        url = cluster.create_database("outage")
        migrate_to_head(url, tmp_path / "migrate")
        app = create_app(app_config(tmp_path / "instance", url))
        client = app.test_client()
        assert client.get("/login").status_code == 200
        with app.app_context():
            from thinknet.models import Member

            db.session.add(Member(email="ada@example.org", name="Ada", password_hash=hash_password(PASSWORD)))
            db.session.commit()
        assert sign_in(client, "ada@example.org").status_code == 303  # a signed-in member, as most are
        capfd.readouterr()

        cluster.pause()
        for path in ("/", "/topics/", "/login"):
            response = client.get(path)
            assert response.status_code == 503
            assert "not answering just now" in response.get_data(as_text=True)
            assert response.headers["Retry-After"] == "30"
            assert response.headers["Content-Security-Policy"] and response.headers["X-Frame-Options"]
        log = capfd.readouterr().err
        assert log.count("thinknet: database unavailable: GET /") == 3  # the app's own line, once each
        assert "Traceback" not in log

        cluster.resume()
        assert client.get("/").status_code == 200
    finally:
        cluster.stop()


def test_make_run_loads_the_demo_into_its_own_sqlite_file_never_into_a_database_url_left_in_the_shell(
        tmp_path, postgres):
    import os
    import signal
    import subprocess
    import time
    import urllib.request
    from pathlib import Path

    from sqlalchemy import create_engine, text

    from conftest import migrate_to_head
    from servers import free_port

    production = postgres.create_database("thinknet_production")
    migrate_to_head(production, tmp_path / "migrate")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": production, "THINKNET_PRODUCTION": "true",
           "THINKNET_BASE_URL": "https://breakfast.example.org", "THINKNET_INSTANCE_PATH": str(tmp_path / "instance")}
    root = Path(__file__).resolve().parent.parent
    make = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert make.poll() is None, make.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=20)
    engine = create_engine(production)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM member")) == 0
    engine.dispose()
    demo = create_engine(f"sqlite:///{tmp_path / 'instance' / 'thinknet.sqlite'}")
    with demo.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM member")) > 5
    demo.dispose()


def test_the_demo_command_refuses_a_production_site(make_app):
    app = make_app(PRODUCTION=True, BASE_URL="https://breakfast.example.org", CALENDAR_INVITES=False)
    result = app.test_cli_runner().invoke(args=["demo", "--if-empty"])
    assert result.exit_code != 0 and "production site" in result.output


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_a_database_whose_tables_drifted_from_its_revision_is_found_at_start_up_and_0010_mends_it(tmp_path):
    """A database made while migration 0008 lacked outgoing_mail.password_reset_id is stamped 0008 without it."""
    from flask_migrate import upgrade
    from sqlalchemy import inspect

    from conftest import app_config
    from thinknet import create_app, schema
    from thinknet.extensions import db

    from flask_migrate import stamp

    app = create_app(app_config(tmp_path / "instance", f"sqlite:///{tmp_path / 'early.sqlite'}"))
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:  # as the first 0008 made it
            from alembic.operations import Operations
            from alembic.runtime.migration import MigrationContext

            connection.info["thinknet.migrating"] = True
            with Operations(MigrationContext.configure(connection)).batch_alter_table("outgoing_mail") as table:
                table.drop_index("ix_outgoing_mail_password_reset_id")
                table.drop_constraint("fk_outgoing_mail_password_reset_id_password_reset", type_="foreignkey")
                table.drop_column("password_reset_id")
        db.engine.dispose()
    problem = schema.startup_problem(app)  # stamped with the newest revision, and a column short
    assert problem and "missing column outgoing_mail.password_reset_id" in problem and "thinknet db upgrade" in problem
    with app.app_context():
        stamp(revision="0009")  # where such a database stands
        upgrade(revision="0010")
        assert "password_reset_id" in {c["name"] for c in inspect(db.engine).get_columns("outgoing_mail")}
        stamp(revision="head")  # later migrations had run already
        db.engine.dispose()
    assert schema.startup_problem(app) is None


def test_gunicorn_gives_up_on_a_database_that_never_answers_within_seconds(tmp_path):
    """A server that accepts the connection and then says nothing (a dropped network, a hung host)."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes connections; nothing ever answers them
    try:
        port = silent.getsockname()[1]
        started = time.monotonic()
        log = refused_start(f"postgresql+psycopg://postgres@127.0.0.1:{port}/thinknet", tmp_path)
        assert time.monotonic() - started < 20
        assert log.count("not starting: cannot reach the database") == 1
    finally:
        silent.close()


def test_a_sqlite_database_named_by_a_file_uri_takes_writes(tmp_path, migrated_database):
    import shutil

    from conftest import app_config, sign_in
    from thinknet import create_app
    from thinknet.extensions import db
    from thinknet.members.services import create_founder

    if not migrated_database.startswith("sqlite"):
        return
    copy = tmp_path / "uri.sqlite"
    shutil.copy(migrated_database.removeprefix("sqlite:///"), copy)
    app = create_app(app_config(tmp_path / "instance", f"sqlite:///file:{copy}?mode=rw&uri=true"))
    with app.app_context():
        create_founder(email="ada@example.org", name="Ada", password="correct horse battery")
        db.session.commit()
    assert sign_in(app.test_client(), "ada@example.org").status_code == 303  # a sign-in writes its row
    assert (tmp_path / "uri.sqlite-writer").exists()


def test_while_the_database_is_down_the_mail_sender_logs_one_line_a_pass(tmp_path):
    import logging

    from conftest import app_config, migrate_to_head
    from servers import PostgresCluster
    from thinknet import create_app, outbox

    cluster = PostgresCluster()
    cluster.start()
    app = None
    try:
        url = cluster.create_database("outbox_outage")
        migrate_to_head(url, tmp_path / "migrate")
        app = create_app(app_config(tmp_path / "instance", url, MAIL_IN_BACKGROUND=True, MAIL_POLL_SECONDS=60))
        logged: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = logged.append
        app.logger.addHandler(handler)
        outbox.start(app)
        outbox.wait_for_background()
        cluster.pause()
        for _ in range(2):  # each wait begins a pass and waits for its end
            outbox.wait_for_background()
        app.logger.removeHandler(handler)
        failures = [record for record in logged if "outbox" in record.getMessage()]
        assert len(failures) == 2 and all(record.exc_info is None for record in failures)
        assert failures[0].getMessage().startswith("the outbox could not reach the database: ")
    finally:
        outbox.stop(timeout=5)
        cluster.stop()
