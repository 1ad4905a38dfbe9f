"""/invitations: sponsoring newcomers; /join/<token>: the page an invitation link opens."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, request, session, url_for
from flask_login import current_user, login_user
from sqlalchemy.exc import IntegrityError

from thinknet import htmx, mail, outbox, throttle
from thinknet.access import public, resubmittable
from thinknet.database import begin_writing
from thinknet.security import no_store
from thinknet.extensions import db, limiter
from thinknet.invitations import services
from thinknet.invitations.forms import InvitationForm, JoinForm
from thinknet.templating import group_settings

bp = Blueprint("invitations", __name__, url_prefix="/invitations")

join_bp = Blueprint("join", __name__, url_prefix="/join")


def render_page(form: InvitationForm, status: int = 200) -> Response:
    """The sponsor's page. A rule that stops them sponsoring is said once, in place of the form they cannot use,
    with what lifts it; when it is their pending invitations, those are listed right there with Revoke."""
    invitations = services.invitations_for(current_user)
    refusal = services.sponsor_refusal(current_user)
    pending = [invitation for invitation in invitations if invitation.current_state().value in
               ("pending", "awaiting_approval")] if isinstance(refusal, services.TooManyPending) else []
    return htmx.render(
        "invitations/index.html",
        form=form,
        invitations=[invitation for invitation in invitations if invitation not in pending],
        pending=pending,
        emails=services.emails_of(invitations),
        refusal=refusal,
        status=status,
    )


@bp.route("/", methods=["GET", "POST"])
@resubmittable
def index() -> Response:
    form = InvitationForm()
    if not form.validate_on_submit():
        return render_page(form, 422 if form.errors else 200)
    try:
        issued = services.issue_invitation(current_user, form.email.data, form.vouch_note.data)
    except services.InvitationRefused as refused:
        # Next to the field the rule is about; a sponsor rule is the page's own notice. The 422 rolls back.
        if refused.field:
            getattr(form, refused.field).errors.append(str(refused))
        return render_page(form, 422)
    if issued.token is not None:
        mail.send_invitation(issued.invitation, issued.token)
        flash(f"Invitation sent to {issued.invitation.email}. This page shows when it is delivered.", "success")
    else:
        flash(f"Your invitation for {issued.invitation.email} waits for an organizer's approval; "
              "it is emailed once approved.", "info")
    return htmx.redirect_to(url_for("invitations.index"))


@bp.route("/<int:invitation_id>/revoke", methods=["POST"])
def revoke(invitation_id: int) -> Response:
    invitation = services.get_invitation_or_404(invitation_id, own_by=current_user)
    services.revoke_invitation(invitation, current_user)  # a refusal goes back with its message
    if htmx.wants_fragment():
        return htmx.render("invitations/_invitation.html", "invitations/_invitation.html", invitation=invitation)
    flash(f"The invitation to {invitation.email} is revoked.", "info")
    return htmx.redirect_to(url_for("invitations.index"))


@bp.route("/<int:invitation_id>/send-again", methods=["POST"])
def send_again(invitation_id: int) -> Response:
    """The sponsor sends an invitation's email again once it could not be delivered (the address mistyped, now
    corrected by the newcomer's mail server coming back): the same link, a full set of tries."""
    invitation = services.get_invitation_or_404(invitation_id, own_by=current_user)
    email = services.emails_of([invitation]).get(invitation.id)
    if email is None:
        abort(404)
    refusal = outbox.send_again(email, current_user)  # on its way, delivered, or no longer wanted: says so
    if refusal:
        flash(refusal, "info")
    else:
        flash(f"The invitation to {invitation.email} will be emailed again. This page shows when it is delivered.",
              "success")
    return htmx.redirect_to(url_for("invitations.index"))


def unusable_page(unusable: services.InvitationUnusable) -> Response:
    status = 404 if unusable.kind == "unknown" else 410
    return htmx.render("join/unusable.html", unusable=unusable, status=status)


def render_join(invitation: Any, form: JoinForm, status: int) -> Response:
    """The invitation's page: who vouches, when and where the group meets, the charter, and the form."""
    from thinknet.admin.forms import WEEKDAYS
    from thinknet.meetings import queries, schedule

    return htmx.render("join/landing.html", invitation=invitation, form=form, status=status,
                       series=schedule.active_series(), next_meeting=queries.next_meeting(), weekday_names=WEEKDAYS)


@join_bp.route("/<token>", methods=["GET", "POST"])
@public
@no_store
@limiter.limit("30 per minute")
@resubmittable
def landing(token: str) -> Response:
    if current_user.is_authenticated:
        own = services.joined_with(token, current_user)
        flash(f"This is the invitation you joined with, from {own.sponsor.name}: you are a member already, "
              "welcome back." if own else "You are already a member: this invitation is for someone new.", "info")
        return htmx.redirect_to(url_for("main.dashboard"))
    ip = request.remote_addr or ""
    try:
        throttle.check("join", "", ip)
        invitation = services.find_invitation(token)
    except throttle.TooManyAttempts as refused:
        return htmx.render("join/unusable.html", unusable=services.InvitationUnusable("throttled", str(refused)),
                           status=429)
    except services.InvitationUnusable as unusable:
        if unusable.kind == "unknown":  # guessing at tokens: counted against the address
            begin_writing()  # opening the link is a GET, and this one writes
            throttle.record("join", "", ip)
            db.session.commit()  # kept although the answer is a 404, which rolls back the rest
        return unusable_page(unusable)
    form = JoinForm()
    account = f"invitation:{invitation.id}"
    if request.method == "POST":
        try:
            throttle.check("join", account, ip)
        except throttle.TooManyAttempts as refused:
            form.validate()
            form.form_errors.append(str(refused))
            return render_join(invitation, form, 429)
    valid = form.validate_on_submit()
    if request.method == "POST" and not form.csrf_token.errors:  # a forged post is refused, not counted
        throttle.record("join", account, ip)
        db.session.commit()  # counted whatever comes of the form, a refusal (422) included
    if valid:
        try:
            member = services.redeem_invitation(
                token, name=form.name.data, headline=form.headline.data, sector=form.sector.data,
                password=form.password.data, user_agent=request.user_agent.string,
            )
        except services.InvitationUnusable as unusable:
            return unusable_page(unusable)
        try:
            db.session.commit()  # here, not at the end: a second redemption of the link fails at this commit
        except IntegrityError:
            # Another request redeemed it first; the database kept the second member out.
            db.session.rollback()
            return unusable_page(services.InvitationUnusable(
                "used", "This invitation has already been used to join. If that was you, sign in.", invitation))
        session.clear()
        login_user(member)
        mail.queue(member.email, f"Welcome to {group_settings().group_name}", "welcome", member=member,
                  sponsor=invitation.sponsor, link=url_for("main.dashboard", _external=True))
        flash(f"Welcome to {group_settings().group_name}, {member.name}! "
              f"{invitation.sponsor.name} will be glad to see you at the next breakfast.", "success")
        return htmx.redirect_to(url_for("main.dashboard"))
    return render_join(invitation, form, 422 if form.errors else 200)
