"""Signing in and out, suspended members, revocable sign-ins, and password reset by email."""
from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import func, select

from conftest import PASSWORD, body_text, csrf_token, sent_mail, sign_in
from thinknet.auth import services
from thinknet.extensions import db
from thinknet.models import Member, MemberStatus, PasswordReset, SignIn, utcnow


def set_status(app, member, status):
    with app.app_context():
        db.session.get(Member, member.id).status = status
        db.session.commit()


def test_member_signs_in_and_lands_on_the_dashboard(client, member):
    response = sign_in(client, member.email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Good to see you, Ada" in page


def test_email_is_matched_whatever_its_case(client, member):
    response = sign_in(client, "  ADA@Example.org ")
    assert response.status_code == 303


def test_wrong_password_is_refused_and_keeps_the_email(client, member):
    response = sign_in(client, member.email, "not the password")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That email and password do not match a member." in page
    assert 'value="ada@example.org"' in page
    assert client.get("/").status_code == 303


def test_unknown_email_gets_the_same_refusal(client):
    response = sign_in(client, "nobody@example.org")
    assert response.status_code == 422
    assert "That email and password do not match a member." in response.get_data(as_text=True)


def test_empty_fields_are_named_next_to_the_field(client):
    response = sign_in(client, "", "")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="email-error">Enter your email address.</p>' in page
    assert 'aria-describedby="email-error"' in page
    assert "Enter your password." in page


def test_suspended_member_is_refused_plainly(app, client, member):
    set_status(app, member, MemberStatus.SUSPENDED)
    response = sign_in(client, member.email)
    assert response.status_code == 422
    assert "Your membership is suspended, so you cannot sign in." in response.get_data(as_text=True)
    assert client.get("/").status_code == 303


def test_departed_member_is_refused_plainly(app, client, member):
    set_status(app, member, MemberStatus.DEPARTED)
    response = sign_in(client, member.email)
    assert response.status_code == 422
    assert "You have left the group, so you cannot sign in." in response.get_data(as_text=True)


def test_suspension_ends_a_sign_in_already_made(app, client, login, member):
    login(member)
    assert client.get("/").status_code == 200
    set_status(app, member, MemberStatus.SUSPENDED)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")


def test_sign_out_revokes_the_sign_in_on_the_server(app, client, login, member):
    login(member)
    stolen_cookie = client.get_cookie("session").value
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    assert client.get("/").status_code == 303
    # Replaying the cookie captured before sign-out no longer works: the sign-in is revoked.
    client.set_cookie("session", stolen_cookie)
    assert client.get("/").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(SignIn.revoked_at.is_(None))) == 0


def test_sign_out_is_not_possible_by_get(client, login, member):
    login(member)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_session_is_regenerated_at_sign_in(client, member):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client, member.email)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_after_sign_in_the_member_returns_where_they_were_going(client, member):
    response = client.get("/admin/")
    assert response.headers["Location"] == "/login?next=/admin/"
    token = csrf_token(client, "/login?next=/admin/")
    response = client.post("/login?next=/admin/", data={"email": member.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/admin/"


def test_sign_in_never_redirects_to_another_site(client, member):
    token = csrf_token(client)
    response = client.post(
        "/login?next=https://evil.example/", data={"email": member.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/", data={"email": member.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_remember_me_lasts_thirty_days_at_most(client, member):
    response = sign_in(client, member.email, remember="y")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert timedelta(days=29) < expires - utcnow() <= timedelta(days=30)


def test_remember_me_survives_a_closed_browser_until_sign_out(client, member):
    sign_in(client, member.email, remember="y")
    client.delete_cookie("session")  # the browser closed: only the remember-me cookie is left
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert any(c.startswith("remember_token=;") for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/").status_code == 303


def test_passwords_are_stored_as_argon2id(app, member):
    with app.app_context():
        stored = db.session.get(Member, member.id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_sign_in_rehashes_when_the_hash_parameters_change(make_app, member):
    stronger = make_app(PASSWORD_HASH_TIME_COST=2)
    sign_in(stronger.test_client(), member.email)
    with stronger.app_context():
        assert "t=2" in db.session.get(Member, member.id).password_hash


def test_expired_sign_in_during_htmx_request_redirects_the_window(client):
    response = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/login?next=/admin/"
    assert response.get_data() == b""


def forgot(client, email):
    return client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")})


def reset_link(message) -> str:
    match = re.search(r"http://localhost(/password/reset/[\w-]+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def test_password_reset_link_is_emailed_and_works_once(app, client, member):
    response = forgot(client, "ADA@example.org")
    assert response.status_code == 303
    [message] = sent_mail(app)
    assert message["To"] == member.email
    assert message["Subject"] == "Reset your password"
    path = reset_link(message)

    page = client.get(path)
    assert page.status_code == 200
    assert "Choose a new password" in page.get_data(as_text=True)
    token = csrf_token(client, path)
    response = client.post(path, data={"password": "a new long password", "confirm": "a new long password",
                                       "csrf_token": token})
    assert response.status_code == 303
    assert sign_in(client, member.email, "a new long password").status_code == 303
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    again = client.get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert sign_in(client, member.email, PASSWORD).status_code == 422


def test_password_reset_link_expires(app, client, member):
    forgot(client, member.email)
    path = reset_link(sent_mail(app)[0])
    with app.app_context():
        reset = db.session.scalar(select(PasswordReset))
        reset.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "has expired" in response.get_data(as_text=True)


def test_unknown_reset_link_is_refused(client):
    response = client.get("/password/reset/not-a-real-token")
    assert response.status_code == 410
    assert "not valid" in response.get_data(as_text=True)


def test_password_reset_does_not_reveal_who_is_a_member(app, client, member):
    known = forgot(client, member.email)
    unknown = forgot(client, "stranger@example.org")
    assert known.status_code == unknown.status_code == 303
    message = "If that address belongs to a member, we have emailed a link"
    assert message in client.get("/login").get_data(as_text=True)
    assert len(sent_mail(app)) == 1


def test_password_reset_keeps_a_bad_email_and_says_why(client):
    response = client.post("/password/forgot", data={"email": "not an email", "csrf_token": csrf_token(client, "/password/forgot")})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter an email address like name@example.org." in page
    assert 'value="not an email"' in page


def test_password_reset_refuses_a_short_password_next_to_the_field(app, client, member):
    forgot(client, member.email)
    path = reset_link(sent_mail(app)[0])
    token = csrf_token(client, path)
    response = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert response.status_code == 422
    assert "Use between 8 and 128 characters." in response.get_data(as_text=True)
    assert client.get(path).status_code == 200  # the link is still unused


def test_password_reset_ends_every_other_sign_in(app, make_app, client, login, member):
    login(member)
    other_device = app.test_client()
    forgot(other_device, member.email)
    path = reset_link(sent_mail(app)[0])
    token = csrf_token(other_device, path)
    other_device.post(path, data={"password": "a new long password", "confirm": "a new long password",
                                  "csrf_token": token})
    assert client.get("/").status_code == 303


def test_reset_link_cannot_be_used_twice_even_at_once(app, member):
    with app.app_context():
        request = services.request_password_reset(member.email)
        db.session.commit()
        services.reset_password(request.token, "first new password")
        db.session.commit()
        try:
            services.reset_password(request.token, "second new password")
        except services.ResetLinkInvalid as invalid:
            assert "already been used" in str(invalid)
        else:
            raise AssertionError("a used link was accepted")


def test_password_reset_mail_goes_out_over_smtp(make_app, member, smtp_server):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_BACKEND="smtp")
    client = app.test_client()
    forgot(client, member.email)
    [received] = smtp_server.received
    assert received.rcpt_tos == [member.email]
    assert received.message["Subject"] == "Reset your password"
    assert "/password/reset/" in body_text(received.message)
    parts = {part.get_content_type() for part in received.message.walk()}
    assert {"text/plain", "text/html"} <= parts


def test_once_a_session_has_its_csrf_token_pages_from_the_same_browser_set_no_cookie(login, member, client):
    """The session cookie is signed and sent only when it changes, not again with every page."""
    login(member)
    client.get("/")  # the first page gives the session its CSRF token
    for path in ("/", "/members/", "/members/tree", "/me/", "/topics/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
