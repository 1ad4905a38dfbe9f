"""thinknet backup and restore: a consistent copy while the app writes, restored whole, and an older backup
brought up to date by the migrations."""
from __future__ import annotations

import threading

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from thinknet.extensions import db
from thinknet.models import Member, Topic, Vote


@pytest.fixture
def second_database(request, database_url, tmp_path):
    """An empty database of the same kind, to restore into."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    return request.getfixturevalue("postgres").create_database("thinknet_restore")


def test_a_backup_taken_while_the_app_writes_restores_whole(app, make_app, make_member, tmp_path, second_database):
    author, voter = make_member(), make_member()
    stop, written = threading.Event(), []

    def keep_writing():
        # Each topic comes with its vote in one transaction: a torn copy would have one without the other.
        with app.app_context():
            while not stop.is_set():
                topic = Topic(title=f"Topic {len(written)}", author_id=author.id)
                db.session.add(topic)
                db.session.flush()
                db.session.add(Vote(topic_id=topic.id, member_id=voter.id))
                db.session.commit()
                written.append(topic.id)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.db")])
        at_backup = len(written)
        while len(written) < at_backup + 20:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output

    target = make_app(SQLALCHEMY_DATABASE_URI=second_database)
    restored = target.test_cli_runner().invoke(args=["restore", "--yes", str(tmp_path / "backup.db")])
    assert restored.exit_code == 0, restored.output
    with target.app_context():
        topics = db.session.scalar(select(func.count()).select_from(Topic))
        votes = db.session.scalar(select(func.count()).select_from(Vote))
        assert 20 <= topics <= len(written)
        assert topics == votes  # the copy is one moment in time
        assert db.session.scalar(select(func.count()).select_from(Member)) == 2
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert db.session.execute(text("PRAGMA foreign_key_check")).first() is None
        db.engine.dispose()


def test_an_older_backup_is_brought_up_to_date_by_the_migrations(app, make_app, tmp_path, second_database):
    with app.app_context():
        downgrade(revision="0002")
        db.session.remove()
        # Written as the release of that schema wrote it: straight to the database, with none of today's hooks
        # (the page cache's revision table does not exist yet).
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(
                "INSERT INTO member (email, name, headline, sector, bio, password_hash, role, status, "
                "wants_calendar_invites, joined_at) VALUES ('old@example.org', 'Old Timer', '', '', '', 'x', "
                "'member', 'active', true, CURRENT_TIMESTAMP)")
            raw.commit()
        finally:
            raw.close()
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "old.db")])
        assert result.exit_code == 0, result.output
        upgrade()  # leave the test database as the others expect it
    target = make_app(SQLALCHEMY_DATABASE_URI=second_database)
    assert target.test_cli_runner().invoke(args=["restore", "--yes", str(tmp_path / "old.db")]).exit_code == 0
    upgraded = target.test_cli_runner().invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with target.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "old@example.org"))
        assert member.name == "Old Timer" and member.calendar_feed_version == 0
        db.engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    result = app.test_cli_runner().invoke(args=["restore", "--yes", str(junk)])
    assert result.exit_code != 0 and "is not a" in result.output
