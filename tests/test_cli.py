"""The thinknet commands: db upgrade, create-organizer, demo."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from conftest import app_config
from thinknet import create_app
from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    AuditEvent,
    Meeting,
    Member,
    MemberStatus,
    Role,
    Rsvp,
    Takeaway,
    Topic,
    TopicState,
    utcnow,
)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_create_organizer_with_password_option(app, runner):
    result = runner.invoke(args=["create-organizer", "--email", "Grace@Example.org", "--name", "Grace Hopper",
                                 "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert "Created organizer Grace Hopper <grace@example.org>." in result.output
    with app.app_context():
        organizer = db.session.scalar(select(Member))
        assert organizer.role == Role.ORGANIZER
        assert organizer.sponsor_id is None
        assert organizer.status == MemberStatus.ACTIVE
        assert count(AuditEvent, AuditEvent.subject_member_id == organizer.id) == 1


def test_create_organizer_asks_for_the_password(app, runner, client):
    result = runner.invoke(args=["create-organizer", "--email", "g@example.org", "--name", "Grace"],
                           input="typed at the prompt\ntyped at the prompt\n")
    assert result.exit_code == 0, result.output
    assert "typed at the prompt" not in result.output
    from conftest import sign_in

    assert sign_in(client, "g@example.org", "typed at the prompt").status_code == 303


def test_create_organizer_refuses_a_taken_email_and_a_short_password(app, runner, member):
    taken = runner.invoke(args=["create-organizer", "--email", "ADA@example.org", "--name", "X",
                                "--password", "a long enough password"])
    assert taken.exit_code != 0
    assert "already belongs to a member" in taken.output
    short = runner.invoke(args=["create-organizer", "--email", "new@example.org", "--name", "X", "--password", "short"])
    assert short.exit_code != 0
    assert "Use between 8 and 128 characters" in short.output


def test_demo_builds_a_believable_network(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "organizer: margaret@demo.thinknet.example" in result.output
    with app.app_context():
        members = db.session.scalars(select(Member)).all()
        by_id = {m.id: m for m in members}

        def depth(member):
            return 0 if member.sponsor_id is None else 1 + depth(by_id[member.sponsor_id])

        assert max(depth(m) for m in members) >= 3
        assert len({m.sector for m in members}) >= 6
        assert any(m.role == Role.ORGANIZER for m in members)
        past = Meeting.starts_at < utcnow()
        assert count(Meeting, past) >= 4
        assert count(Attendance) > 0
        assert count(Takeaway) > 0
        assert count(Meeting, Meeting.starts_at > utcnow(), Meeting.starts_at < utcnow() + timedelta(weeks=9)) == 8
        assert count(Rsvp, Rsvp.meeting_id.in_(select(Meeting.id).where(~past))) > 0
        assert count(Topic, Topic.state == TopicState.OPEN) > 0


def test_demo_sign_in_works(app, runner, client):
    result = runner.invoke(args=["demo"])
    password = result.output.split("demo account: ")[1].split(")")[0]
    from conftest import sign_in

    assert sign_in(client, "priya@demo.thinknet.example", password).status_code == 303
    assert "Next breakfast" in client.get("/").get_data(as_text=True)


def test_demo_refuses_a_database_with_members_unless_forced(app, runner, member):
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0
    assert "already has members" in refused.output
    with app.app_context():
        assert count(Member) == 1
    left_alone = runner.invoke(args=["demo", "--if-empty"])
    assert left_alone.exit_code == 0
    forced = runner.invoke(args=["demo", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert count(Member, Member.email == member.email) == 0
        assert count(Member) > 5


def test_db_upgrade_creates_the_schema_on_a_new_sqlite_database(tmp_path):
    app = create_app(app_config(tmp_path / "instance", f"sqlite:///{tmp_path / 'new.sqlite'}"))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert count(Member) == 0
        db.engine.dispose()


def test_the_thinknet_command_is_installed():
    bin_dir = Path(sys.executable).parent
    result = subprocess.run([str(bin_dir / "thinknet"), "--help"], capture_output=True, text=True, check=True)
    for command in ("create-organizer", "demo", "db", "run"):
        assert command in result.stdout


def test_thinknet_run_serves_the_app_on_loopback(tmp_path, database_url):
    import os
    import time
    import urllib.request

    from servers import free_port

    port = free_port()
    env = {**os.environ, "THINKNET_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url,
           "THINKNET_SECRET_KEY": "k" * 40}
    server = subprocess.Popen([str(Path(sys.executable).parent / "thinknet"), "run", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            assert "Sign in" in response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_force_rebuilds_a_database_whose_audit_log_cannot_be_deleted(app, runner):
    created = runner.invoke(args=["create-organizer", "--email", "o@example.org", "--name", "Olga",
                                  "--password", "a long enough password"])
    assert created.exit_code == 0
    forced = runner.invoke(args=["demo", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert count(Member, Member.email == "o@example.org") == 0
        assert count(AuditEvent) == 0
        assert count(Member) > 5
