"""Sign in, sign out, and reset a forgotten password by email."""
from __future__ import annotations


from flask import Blueprint, Response, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from thinknet import htmx, responses, throttle
from thinknet.access import public, safe_next_url
from thinknet.admin.services import open_setup
from thinknet.security import no_store
from thinknet.auth import devices, services
from thinknet.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from thinknet.extensions import db, limiter

bp = Blueprint("auth", __name__)


SUBMIT_RATE = "30 per minute"


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(SUBMIT_RATE, methods=["POST"])
def login() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        account, ip = devices.throttle_account(form.email.data), request.remote_addr or ""
        try:
            # Counted before the password is checked, so simultaneous guesses cannot outrun the limit: committed
            # at once, which also lets go of the account's lock before the slow check.
            attempt = throttle.reserve("sign_in", account, ip)
            db.session.commit()  # the attempt counts before the password is checked
            member = services.authenticate(form.email.data, form.password.data)
        except throttle.TooManyAttempts as refused:
            form.form_errors.append(str(refused))
            status = 429
        except services.SignInRefused as refused:
            if not isinstance(refused, services.WrongCredentials):
                throttle.release(attempt)  # the right password of a suspended member is no guess
                db.session.commit()  # kept although the answer is a 422, which rolls back the rest
            form.form_errors.append(str(refused))
        else:
            throttle.forget("sign_in", account)
            # A fresh session at sign-in: nothing from before it (a planted session id) carries over.
            session.clear()
            services.start_sign_in(member, request.user_agent.string)
            login_user(member, remember=form.remember.data)
            # A new group's first organizer is led through its set-up, unless they were on their way to a
            # page other than the home page (the bare address sends them here with next=/).
            target = safe_next_url(request.args.get("next"))
            step = open_setup(member) if target in (None, url_for("main.dashboard")) else None
            response = htmx.redirect_to(url_for("admin.setup_step", step=step) if step else
                                        target or url_for("main.dashboard"))
            devices.remember_device(response, member.email)
            return response
    if status == 200 and (form.errors or form.form_errors):
        status = 422
    return htmx.render("auth/login.html", form=form, status=status)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    services.end_sign_in(current_user.get_id())
    # Clear first: logout_user leaves the instruction that deletes the remember-me cookie.
    session.clear()
    logout_user()
    flash("You are signed out.", "info")
    response = htmx.redirect_to(url_for("auth.login"))
    # The browser drops what it cached of member pages; the session cookie is already replaced.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(SUBMIT_RATE, methods=["POST"])
def forgot_password() -> Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        return responses.email_a_link(
            form, "auth/forgot_password.html", services.request_password_reset, "auth.reset_password",
            subject="Reset your password", template="password_reset",
            said="If that address belongs to a member, we have emailed a link to reset the password.")
    status = 422 if form.errors else 200
    return htmx.render("auth/forgot_password.html", form=form, status=status)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@no_store
@limiter.limit(SUBMIT_RATE, methods=["POST"])
def reset_password(token: str) -> Response:
    try:
        services.find_password_reset(token)
    except services.ResetLinkInvalid as invalid:
        return htmx.render("auth/reset_link_invalid.html", reason=str(invalid), status=410)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.ResetLinkInvalid as invalid:
            return htmx.render("auth/reset_link_invalid.html", reason=str(invalid), status=410)
        session.clear()
        logout_user()
        flash("Your password is changed. Sign in with the new one.", "success")
        return htmx.redirect_to(url_for("auth.login"))
    status = 422 if form.errors else 200
    return htmx.render("auth/reset_password.html", form=form, status=status)
