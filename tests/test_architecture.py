"""Rules the code keeps by construction, checked: a newcomer who breaks one finds out from the suite."""
from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "thinknet"


def test_views_check_ownership_through_one_helper():
    """"Is it theirs?" is asked through get_topic_or_404(id, own_by=...) and its kin, never written inline in
    a view, where each copy could drift from the others."""
    inline = re.compile(r"(author_id|sponsor_id|member_id)\s*!=\s*current_user\.id")
    found = [f"{path.relative_to(PACKAGE)}:{number}" for path in PACKAGE.rglob("views.py")
             for number, line in enumerate(path.read_text().splitlines(), start=1) if inline.search(line)]
    assert found == []


def test_every_table_that_no_cached_page_shows_says_so_in_its_own_model():
    """The page cache's exemptions live with the models (``__table_args__`` info), not in a list elsewhere."""
    text = (PACKAGE / "pagecache.py").read_text()
    assert "UNSHOWN_TABLES" not in text and '"sign_in"' not in text


def test_views_leave_committing_to_the_one_commit_point():
    """A request commits when its view returns a success (thinknet.app); a view that commits earlier says
    why on the same line. Rolling back is the commit point's too (an error answer, an exception)."""
    unexplained = [f"{path.relative_to(PACKAGE)}:{number}" for path in PACKAGE.rglob("views.py")
                   for number, line in enumerate(path.read_text().splitlines(), start=1)
                   if "db.session.commit()" in line and "#" not in line]
    assert unexplained == []
    commits = sum(path.read_text().count("db.session.commit()") for path in PACKAGE.rglob("views.py"))
    assert commits <= 5  # sign-in's counted attempt (2) and joining's (3); today's views had 38


def test_the_daily_job_drops_brute_force_counters_past_every_window(app, runner):
    from datetime import timedelta

    from sqlalchemy import func, select

    from thinknet.extensions import db
    from thinknet.models import Attempt, utcnow

    with app.app_context():
        db.session.add_all([Attempt(kind="sign_in", account="old@example.org", at=utcnow() - timedelta(days=2)),
                            Attempt(kind="sign_in", account="new@example.org")])
        db.session.commit()
    assert runner.invoke(args=["schedule-ahead"]).exit_code == 0
    with app.app_context():
        assert db.session.scalars(select(Attempt.account)).all() == ["new@example.org"]
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1


def test_views_never_import_other_views():
    """What several areas share lives below the views (mail, responses, services), so an area's views can be
    read, and changed, on their own."""
    importing = re.compile(r"^from thinknet\.\w+\.views import|^from thinknet\.\w+ import views", re.MULTILINE)
    found = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("views.py") if importing.search(path.read_text())]
    assert found == []


def test_the_audit_log_throttle_and_services_join_the_callers_transaction():
    """Writing the audit log or a counter, or any rule in a service, happens in the transaction of the request
    or command that calls it: none of them begins, commits or rolls back one of its own."""
    meetings = ("queries", "rsvps", "schedule", "attendance", "takeaways")  # reminders.py is a job: one step each
    services = [PACKAGE / "audit.py", PACKAGE / "throttle.py", *PACKAGE.rglob("services.py"),
                *(PACKAGE / "meetings" / f"{name}.py" for name in meetings)]
    own = re.compile(r"begin_writing\(|session\.commit\(|session\.rollback\(")
    found = [f"{path.relative_to(PACKAGE)}:{number}" for path in services
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if own.search(line)]
    assert found == [], "a service opens or ends a transaction itself"


def test_views_never_send_mail_themselves():
    """Mail is queued with the change, by the rule that causes it (thinknet.outbox), never sent by a view."""
    sending = re.compile(r"\.send\(|send_due\(|after_commit\(")
    found = [f"{path.relative_to(PACKAGE)}:{number}" for path in PACKAGE.rglob("views.py")
             for number, line in enumerate(path.read_text().splitlines(), start=1) if sending.search(line)]
    assert found == []
