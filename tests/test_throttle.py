"""Brute force: sign-in, reset links and invitations are limited per account and per address, in the database."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import DatabaseError

import pytest
from conftest import PASSWORD, csrf_token, sent_mail, sign_in
from thinknet import throttle
from thinknet.extensions import db
from thinknet.models import Attempt, AuditEvent, Member, utcnow


def test_after_ten_failed_sign_ins_the_account_is_refused_with_when_to_try_again(app, client, member):
    for _ in range(10):
        assert sign_in(client, member.email, "wrong password!").status_code == 422
    response = sign_in(client, member.email, PASSWORD)  # even the right password waits
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account in a short time. Please try again after" in page
    assert "(in about 15 minutes)" in page
    assert client.get("/").status_code == 303


def test_the_lock_lifts_when_the_window_passes_and_success_clears_the_count(app, client, member):
    for _ in range(10):
        sign_in(client, member.email, "wrong password!")
    with app.app_context():
        db.session.execute(update(Attempt).values(at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    assert sign_in(client, member.email, PASSWORD).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


def test_the_count_is_shared_by_every_server_on_the_database(make_app, member):
    first, second = make_app(), make_app()  # two processes' worth of app, one database
    for n in range(10):
        sign_in((first if n % 2 else second).test_client(), member.email, "wrong password!")
    assert sign_in(first.test_client(), member.email, PASSWORD).status_code == 429


def test_one_address_guessing_at_many_accounts_is_stopped(app, client, make_member):
    members = [make_member() for _ in range(6)]
    for n in range(throttle.LIMITS["sign_in"].per_ip):
        sign_in(client, members[n % 6].email, "wrong password!")
    response = sign_in(client, members[0].email, PASSWORD)
    assert response.status_code == 429
    assert "from your network" in response.get_data(as_text=True)


def test_reset_links_are_limited_per_account(app, client, member):
    for _ in range(throttle.LIMITS["reset"].per_account):
        client.post("/password/forgot", data={"email": member.email, "csrf_token": csrf_token(client, "/password/forgot")})
    response = client.post("/password/forgot", data={"email": member.email,
                                                     "csrf_token": csrf_token(client, "/password/forgot")})
    assert response.status_code == 429
    assert "Too many reset requests" in response.get_data(as_text=True)
    assert len(sent_mail(app)) == throttle.LIMITS["reset"].per_account


def test_guessing_invitation_tokens_is_stopped(app, client):
    for n in range(throttle.LIMITS["join"].per_ip):
        assert client.get(f"/join/guess-{n}").status_code == 404
    response = client.get("/join/guess-again")
    assert response.status_code == 429
    assert "Please try again after" in response.get_data(as_text=True)


def test_request_rates_are_limited_per_address_too(make_app, member):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    statuses = [sign_in(client, member.email, "wrong password!").status_code for _ in range(31)]
    assert statuses[-1] == 429 and 422 in statuses


def test_the_audit_log_refuses_updates_and_deletes(app, client, login, member, organizer):
    login(member)
    assert client.post("/admin/settings", data={"csrf_token": csrf_token(client, "/")}).status_code == 403
    with app.app_context():
        [refused] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
        assert refused.actor_id == member.id and refused.details["endpoint"] == "admin.settings"
        for statement in (update(AuditEvent).values(action="tampered"), AuditEvent.__table__.delete()):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(statement)
                db.session.flush()
            db.session.rollback()
        assert db.session.scalar(select(AuditEvent.action)) == "access.refused"
        assert db.session.get(Member, member.id) is not None
