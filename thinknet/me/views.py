"""/me: your profile, your password, and leaving the group."""
from __future__ import annotations

from typing import Any


from flask import Blueprint, Response, current_app, flash, session, url_for
from flask_login import current_user, logout_user
from wtforms.fields.choices import SelectChoice

from thinknet.access import resubmittable
from thinknet import htmx, responses
from thinknet.auth import services as auth_services
from thinknet.me.forms import (
    CALENDAR_CHOICES,
    CalendarChoiceForm,
    DeleteAccountForm,
    LeaveForm,
    PasswordForm,
    ProfileForm,
    StandingAnswerForm,
)
from thinknet.calendar import feed
from thinknet.meetings import rsvps
from thinknet.models import RsvpAnswer
from thinknet.members import services as member_services

bp = Blueprint("me", __name__, url_prefix="/me")


def profile_form(**kwargs: Any) -> ProfileForm:
    form = ProfileForm(obj=current_user, **kwargs)
    form.sector.keep_offering(current_user.sector)  # a sector typed before the list stays theirs
    return form


def render_page(status: int = 200, **forms: Any) -> Response:
    forms.setdefault("profile_form", profile_form(formdata=None))
    forms.setdefault("password_form", PasswordForm(formdata=None))
    forms.setdefault("leave_form", LeaveForm(formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(formdata=None))
    chosen = (current_user.wants_calendar_updates, current_user.wants_calendar_feed)
    forms.setdefault("calendar_form", calendar_form(
        formdata=None, calendar=next(name for name, pair in CALENDAR_CHOICES.items() if pair == chosen)))
    feed_url = url_for("calendar.subscription", token=feed.feed_token(current_user), _external=True)
    forms["feed_url"] = feed_url
    forms["webcal_url"] = "webcal://" + feed_url.split("://", 1)[1]
    forms.setdefault("standing_form", StandingAnswerForm(
        formdata=None, standing="yes" if current_user.standing_rsvp == RsvpAnswer.YES else "ask"))
    return htmx.render("me/index.html", status=status, **forms)


def signed_out_for_good(message: str) -> Response:
    """After leaving or deleting the account: this browser is signed out and sent to the sign-in page."""
    session.clear()
    logout_user()
    flash(message, "info")
    return htmx.redirect_to(url_for("auth.login"))


@bp.route("/", methods=["GET", "POST"])
@resubmittable
def index() -> Response:
    form = profile_form()
    if form.validate_on_submit():
        member_services.update_profile(current_user, name=form.name.data, headline=form.headline.data,
                                       sector=form.sector.data, bio=form.bio.data)
        flash("Your profile is saved.", "success")
        return htmx.redirect_to(url_for("me.index"))
    return render_page(422 if form.errors else 200, profile_form=form)


@bp.route("/password", methods=["POST"])
@resubmittable
def password() -> Response:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            auth_services.change_password(current_user, form.current_password.data, form.password.data)
        except auth_services.WrongCredentials:
            form.current_password.errors.append("That is not your current password.")
        else:
            flash("Your password is changed. You are signed out on every other device.", "success")
            return htmx.redirect_to(url_for("me.index"))
    return render_page(422, password_form=form)


@bp.route("/leave", methods=["POST"])
@resubmittable
def leave() -> Response:
    form = LeaveForm()
    if form.validate_on_submit():
        try:
            member_services.leave_group(current_user, form.reason.data or "")
        except member_services.MemberActionRefused as refused:
            form.form_errors.append(str(refused))  # with the form; the 422 rolls the request back
        else:
            return signed_out_for_good("You have left the group. Thank you for the breakfasts.")
    return render_page(422, leave_form=form)


@bp.route("/standing", methods=["POST"])
def standing() -> Response:
    form = StandingAnswerForm()
    if form.validate_on_submit():
        answer = RsvpAnswer.YES if form.standing.data == "yes" else None
        answered = rsvps.set_standing_answer(current_user, answer)
        if answer is None:
            flash("We will ask you each week.", "success")
        else:
            flash(f"You usually come: we have answered yes for you to {answered} upcoming "
                  f"session{'s' if answered != 1 else ''}. Change any week on its page.", "success")
        return htmx.redirect_to(url_for("me.index"))
    return render_page(422, standing_form=form)


def calendar_form(**values: Any) -> CalendarChoiceForm:
    """The calendar choice; where the site sends no invites, the feed or nothing."""
    form = CalendarChoiceForm(**values)
    if not current_app.config.get("REPLY_ADDRESS"):  # invites then do not take answers
        form.calendar.choices = [SelectChoice("invites", "An email invite for each session (recommended): it lands "
                                              "in your calendar; you answer on the site")
                                 if choice.value == "invites" else choice for choice in form.calendar.choices]
    if not current_app.config["CALENDAR_INVITES"]:
        form.calendar.choices = [choice for choice in form.calendar.choices if choice.value in ("feed", "none")]
        if form.calendar.data in ("invites", "both"):
            form.calendar.data = "feed" if current_user.wants_calendar_feed else "none"
    return form


@bp.route("/calendar", methods=["POST"])
def calendar_choice() -> Response:
    form = calendar_form()
    if form.validate_on_submit():
        current_user.wants_calendar_updates, current_user.wants_calendar_feed = CALENDAR_CHOICES[form.calendar.data]
        flash("Your calendar choice is saved.", "success")
    return htmx.redirect_to(url_for("me.index") + "#calendar")


@bp.route("/calendar/reset", methods=["POST"])
def reset_calendar_link() -> Response:
    feed.reset_feed(current_user)
    flash("Your calendar link is new: the old one no longer works. Subscribe again with the link below.", "success")
    return htmx.redirect_to(url_for("me.index") + "#calendar")


@bp.route("/sign-out-everywhere", methods=["POST"])
def sign_out_everywhere() -> Response:
    """Ends every other sign-in of this member (a lost phone, a shared computer); this one stays."""
    auth_services.end_all_sign_ins(current_user, except_token=current_user.sign_in_token)
    flash("You are signed out on every other device.", "success")
    return htmx.redirect_to(url_for("me.index"))


@bp.route("/export.json")
def export() -> Response:
    """All the member's own data, as a file."""
    return responses.own_data_file(current_user)


@bp.route("/delete", methods=["POST"])
@resubmittable
def delete() -> Response:
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not auth_services.password_matches(current_user, form.password.data):
            form.password.errors.append("That is not your password.")
        else:
            try:
                member_services.delete_account(current_user)
            except member_services.MemberActionRefused as refused:
                form.form_errors.append(str(refused))  # with the form; the 422 rolls the request back
            else:
                return signed_out_for_good(
                    "Your account is deleted and your personal data removed. Thank you for the breakfasts.")
    return render_page(422, delete_form=form)
