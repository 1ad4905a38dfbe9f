"""/own-data: a member who cannot sign in (they left, or are suspended) asks for a single-use link by email,
and with it downloads or deletes their own data. The link is used once, by the browser that opens it: that
browser may then act for an hour."""
from __future__ import annotations

import time

from flask import Blueprint, Response, abort, flash, session, url_for
from wtforms import BooleanField
from wtforms.validators import DataRequired

from thinknet import htmx, responses
from thinknet.access import public
from thinknet.auth import services as auth_services
from thinknet.auth.forms import ForgotPasswordForm
from thinknet.extensions import db, limiter
from thinknet.forms import Form
from thinknet.members import services as member_services
from thinknet.models import Member, MemberStatus
from thinknet.security import no_store

bp = Blueprint("own_data", __name__, url_prefix="/own-data")

GRANT = "own_data"
GRANT_SECONDS = 3600


class OpenForm(Form):
    pass


class DeleteForm(Form):
    confirm = BooleanField("Delete my account and my personal data for good",
                           validators=[DataRequired("Tick the box to confirm.")])


def granted_member() -> Member | None:
    """The member this browser may act for, from a data link it used within the hour."""
    grant = session.get(GRANT)
    if not isinstance(grant, dict) or grant.get("until", 0) < time.time():
        return None
    member = db.session.get(Member, grant.get("member"))
    if member is None or member.status == MemberStatus.ACTIVE or member.password_hash == auth_services.DELETED_PASSWORD:
        return None
    return member


def require_grant() -> Member:
    member = granted_member()
    if member is None:
        flash("Your data link has expired or was not opened in this browser. Ask for a new one.", "info")
        abort(htmx.redirect_to(url_for("own_data.ask")))
    return member


@bp.route("/", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def ask() -> Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        return responses.email_a_link(
            form, "own_data/ask.html", auth_services.request_own_data_link, "own_data.open_link",
            subject="Your data in the group", template="own_data_link",
            said="If that address belongs to a former or suspended member, we have emailed a link to their data.")
    return htmx.render("own_data/ask.html", form=form, status=422 if form.errors else 200)


@bp.route("/<token>", methods=["GET", "POST"])
@public
@no_store
@limiter.limit("30 per minute", methods=["POST"])
def open_link(token: str) -> Response:
    """GET only shows a button (a mail scanner's GET must not use the link up); the POST uses it."""
    form, member = OpenForm(), None
    try:
        auth_services.find_own_data_link(token)
        if form.validate_on_submit():
            member = auth_services.use_own_data_link(token)
    except auth_services.ResetLinkInvalid as invalid:
        return htmx.render("auth/reset_link_invalid.html", reason=str(invalid), again="own_data.ask", status=410)
    if member is None:
        return htmx.render("own_data/open.html", form=form)
    session.clear()
    session[GRANT] = {"member": member.id, "until": int(time.time()) + GRANT_SECONDS}
    return htmx.redirect_to(url_for("own_data.manage"))


@bp.route("/manage")
@public
@no_store
def manage() -> Response:
    return htmx.render("own_data/manage.html", member=require_grant(), form=DeleteForm(formdata=None))


@bp.route("/export.json")
@public
@no_store
def export() -> Response:
    return responses.own_data_file(require_grant())


@bp.route("/delete", methods=["POST"])
@public
@no_store
def delete() -> Response:
    member = require_grant()
    form = DeleteForm()
    if not form.validate_on_submit():
        return htmx.render("own_data/manage.html", member=member, form=form, status=422)
    member_services.delete_account(member)
    session.clear()
    flash("Your account is deleted and your personal data removed. Thank you for the breakfasts.", "info")
    return htmx.redirect_to(url_for("auth.login"))
