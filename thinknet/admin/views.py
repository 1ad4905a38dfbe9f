"""Organizer pages: members and their status and role, invitations, settings, the audit log."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datetime import time, timedelta

from flask import Blueprint, Response, abort, flash, request, url_for
from flask_login import current_user

from thinknet.access import resubmittable
from thinknet import htmx, mail, outbox
from thinknet.admin import services
from thinknet.admin.forms import (
    ApproveForm,
    InviteWeeksForm,
    MeetingForm,
    ReasonForm,
    SeriesForm,
    SettingsForm,
    SetupCharterForm,
    SetupNameForm,
    SetupSponsorsForm,
)
from thinknet.extensions import db
from thinknet.invitations import services as invitation_services
from thinknet.calendar import itip, replies
from thinknet.meetings import queries, schedule
from thinknet.members import services as member_services
from thinknet.models import SETUP_STEPS, Meeting, Member, OutgoingMail, Settings, utcnow
from thinknet.templating import local_time
from thinknet.topics import services as topic_services

bp = Blueprint("admin", __name__, url_prefix="/admin")

UNNAMED = "Name the group first (Set-up): an invite says whose breakfast it is."


@bp.route("/")
def index() -> Response:
    waiting, failed = outbox.waiting_and_failed()
    return htmx.render("admin/index.html", events=services.recent_audit_events(limit=10), mail_failed=failed)


@bp.route("/mail")
def mail_page() -> Response:
    page = request.args.get("page", 1, type=int)
    log, older = outbox.delivery_log(page) if 1 <= page <= 10_000 else ([], False)
    if page != 1 and not log:
        abort(404)
    return htmx.render("admin/mail.html", failed=outbox.failed_messages(), waiting=outbox.waiting_messages(),
                       replies=replies.recent_replies() if replies.replies_configured() else None,
                       retries=outbox.retry_schedule(), log=log, page=page, older=older)


@bp.route("/mail/<int:mail_id>/send-again", methods=["POST"])
def send_mail_again(mail_id: int) -> Response:
    if not ApproveForm().validate_on_submit():
        abort(400)
    message = db.get_or_404(OutgoingMail, mail_id)
    refusal = outbox.send_again(message, current_user)  # a double tap, or a link that no longer works, says why
    if refusal:
        flash(refusal, "info")
    else:
        flash(f"The message to {message.recipient} is queued again.", "success")
    return htmx.redirect_to(url_for("admin.mail_page"))


@bp.route("/audit")
def audit() -> Response:
    return htmx.render("admin/audit.html", events=services.recent_audit_events())


@bp.route("/members")
def members() -> Response:
    return htmx.render("admin/members.html", members=services.all_members())


def render_member(member: Member, form: ReasonForm | None = None, action: str | None = None,
                  status: int = 200) -> Response:
    actions = member_services.allowed_actions(member, current_user)
    if action is not None and action not in actions:
        actions.insert(0, action)  # a refused action stays on the page with its error and the reason typed
    return htmx.render(
        "admin/member.html", member=member, sponsored=member_services.sponsored_by(member),
        form=form or ReasonForm(formdata=None), failed_action=action, status=status,
        actions=[(name, member_services.MEMBER_ACTION_LABELS[name]) for name in actions],
    )


@bp.route("/members/<int:member_id>")
def member(member_id: int) -> Response:
    return render_member(db.get_or_404(Member, member_id))


MEMBER_ACTIONS: dict[str, tuple[Callable[[Member, Member, str], member_services.Departure | None], str]] = {
    "suspend": (member_services.suspend_member, "{name} is suspended."),
    "reinstate": (member_services.reinstate_member, "{name} is active again."),
    "depart": (member_services.mark_departed, "{name} is marked as departed."),
    "make-organizer": (lambda m, by, why: member_services.set_organizer(m, by, True, why), "{name} is an organizer."),
    "unmake-organizer": (lambda m, by, why: member_services.set_organizer(m, by, False, why),
                         "{name} is no longer an organizer."),
}


@bp.route("/members/<int:member_id>/<action>", methods=["POST"])
@resubmittable
def member_action(member_id: int, action: str) -> Response:
    if action not in MEMBER_ACTIONS:
        abort(404)
    member = db.get_or_404(Member, member_id)
    perform, done = MEMBER_ACTIONS[action]
    form = ReasonForm()
    if not form.validate_on_submit():
        return render_member(member, form, action, 422)
    try:
        perform(member, current_user, form.reason.data.strip())
    except member_services.MemberActionRefused as refused:
        form.form_errors.append(str(refused))  # with the reason typed; the 422 rolls the request back
        return render_member(member, form, action, 422)
    flash(done.format(name=member.name), "success")
    return htmx.redirect_to(url_for("admin.member", member_id=member.id))


@bp.route("/invitations")
def invitations() -> Response:
    return htmx.render("admin/invitations.html", invitations=services.all_invitations())


@bp.route("/invitations/<int:invitation_id>/approve", methods=["POST"])
def approve_invitation(invitation_id: int) -> Response:
    invitation = invitation_services.get_invitation_or_404(invitation_id)
    if not ApproveForm().validate_on_submit():
        abort(400)
    token = invitation_services.approve_invitation(invitation, current_user)  # a refusal goes back with its message
    mail.send_invitation(invitation, token)
    flash(f"Approved: the invitation is on its way to {invitation.email}.", "success")
    return htmx.redirect_to(url_for("admin.invitations"))


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
def revoke_invitation(invitation_id: int) -> Response:
    invitation = invitation_services.get_invitation_or_404(invitation_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("Say why you revoke the invitation: it is kept in the audit log.", "error")
        return htmx.redirect_to(url_for("admin.invitations"))
    invitation_services.revoke_invitation(invitation, current_user, form.reason.data.strip())
    flash(f"The invitation to {invitation.email} is revoked.", "success")
    return htmx.redirect_to(url_for("admin.invitations"))


@bp.route("/settings", methods=["GET", "POST"])
@resubmittable
def settings() -> Response:
    current = Settings.get()
    form = SettingsForm(obj=current)
    form.timezone.keep_offering(current.timezone)
    form.saved_founding_until = current.founding_until
    if form.validate_on_submit():
        changed = services.update_settings(current_user, {name: getattr(form, name).data
                                                          for name in services.SETTINGS_FIELDS})
        flash("Settings saved." if changed else "Nothing changed.", "success")
        return htmx.redirect_to(url_for("admin.settings"))
    return htmx.render("admin/settings.html", form=form, status=422 if form.errors else 200)


def series_form() -> SeriesForm:
    """The weekly series' form, filled in with the series, or with a weekly breakfast at 6:30 for the first."""
    current = schedule.active_series()
    form = SeriesForm(obj=current)
    if current is None:  # the group's time zone is asked here, once; later it is a setting
        form.timezone.keep_offering(Settings.get().timezone)
        if not form.is_submitted():
            form.weekday.data, form.start_time.data, form.duration_minutes.data = 2, time(6, 30), 60
            form.timezone.data = Settings.get().timezone
    else:
        del form.timezone
    return form


def save_series_form(form: SeriesForm) -> schedule.SeriesSaved | None:
    """Saves a valid series form; None, with the refusal next to the seat limit, when a rule refuses it."""
    group_zone = Settings.get().timezone
    values = schedule.SeriesValues(
        weekday=form.weekday.data, start_time=form.start_time.data, duration_minutes=form.duration_minutes.data,
        timezone=form.timezone.data if form.timezone else group_zone, venue_name=form.venue_name.data,
        venue_address=form.venue_address.data or "", seat_limit=form.seat_limit.data,
    )
    try:
        return schedule.save_series(current_user, values)
    except schedule.MeetingChangeRefused as refused:
        form.seat_limit.errors = [*form.seat_limit.errors, str(refused)]  # the 422 rolls the request back
        return None


def flash_series_saved(saved: schedule.SeriesSaved) -> None:
    created = len(saved.created)
    message = f"The weekly series is saved; {created} new session{'s' if created != 1 else ''} scheduled."
    if saved.updates:
        message += (f" Members' calendars held the old times: {len(saved.updates)} calendar "
                    f"update{'s are' if len(saved.updates) != 1 else ' is'} on the way.")
    flash(message, "success")


@bp.route("/series", methods=["GET", "POST"])
@resubmittable
def series() -> Response:
    form = series_form()
    if form.validate_on_submit():
        saved = save_series_form(form)
        if saved is not None:
            flash_series_saved(saved)
            return htmx.redirect_to(url_for("admin.meetings"))
    return htmx.render("admin/series.html", form=form, status=422 if form.errors else 200,
                       group_zone=Settings.get().timezone)


# The first organizer's set-up: one short page per step, each saved or skipped, all changeable later here under
# Settings and the weekly series. The dashboard says what is left.
SETUP_FORMS = {"name": SetupNameForm, "charter": SetupCharterForm, "sponsors": SetupSponsorsForm}
FOUNDING_WEEKS = 8


def setup_form(step: str) -> Any:
    settings = Settings.get()
    if step == "meetings":
        form = series_form()
        if form.timezone and "name" not in settings.setup_left:  # the set-up's first step asked it
            del form.timezone
        return form
    form = SETUP_FORMS[step](obj=settings)
    form.saved_founding_until = settings.founding_until
    if step == "name":
        form.timezone.keep_offering(settings.timezone)
    if step == "sponsors" and not form.is_submitted() and settings.founding_until is None and "sponsors" in \
            settings.setup_left:  # a new group: nobody has attended yet, so anyone may sponsor for a while
        form.founding_until.data = local_time(utcnow()).date() + timedelta(weeks=FOUNDING_WEEKS)
    return form


@bp.route("/setup")
def setup() -> Response:
    return htmx.render("admin/setup.html", steps=SETUP_STEPS, titles=services.SETUP_TITLES, left=Settings.get().setup_left)


@bp.route("/setup/<any(name, meetings, charter, sponsors):step>", methods=["GET", "POST"])
@resubmittable
def setup_step(step: str) -> Response:
    following = SETUP_STEPS[SETUP_STEPS.index(step) + 1:]
    next_url = url_for("admin.setup_step", step=following[0]) if following else url_for("admin.setup")
    form = setup_form(step)
    if request.method == "POST" and request.form.get("skip"):
        if ApproveForm().validate_on_submit():
            return htmx.redirect_to(next_url)
        form = setup_form(step)  # the token had expired: the step again, asking to press Skip once more
        form.form_errors.append("This page had expired: press Skip for now again.")
        return render_setup_step(step, form, 422)
    if form.validate_on_submit():
        if step == "meetings":
            saved = save_series_form(form)
            if saved is not None:
                flash_series_saved(saved)
                return htmx.redirect_to(next_url)
        else:
            services.update_settings(current_user, {name: field.data for name, field in form._fields.items()
                                                    if name != "csrf_token"})
            flash("Saved.", "success")
            return htmx.redirect_to(next_url)
    return render_setup_step(step, form, 422 if form.errors else 200)


def render_setup_step(step: str, form: Any, status: int) -> Response:
    return htmx.render("admin/setup_step.html", step=step, titles=services.SETUP_TITLES,
                       number=SETUP_STEPS.index(step) + 1, total=len(SETUP_STEPS), form=form, status=status,
                       group_zone=Settings.get().timezone)


def _meeting_values(form: MeetingForm) -> schedule.MeetingValues:
    return schedule.MeetingValues(
        day=form.day.data, start_time=form.start_time.data, duration_minutes=form.duration_minutes.data,
        venue_name=form.venue_name.data, venue_address=form.venue_address.data or "", seat_limit=form.seat_limit.data,
    )


def render_meetings(form: MeetingForm, status: int = 200) -> Response:
    return htmx.render("admin/meetings.html", meetings=queries.upcoming_meetings(),
                       series=schedule.active_series(), form=form, status=status,
                       invite_form=InviteWeeksForm(formdata=None, weeks=4))


@bp.route("/meetings", methods=["GET", "POST"])
@resubmittable
def meetings() -> Response:
    form = MeetingForm()
    if not form.is_submitted():
        series = schedule.active_series()
        form.start_time.data = series.start_time if series else time(6, 30)
        form.duration_minutes.data = series.duration_minutes if series else 60
        if series:
            form.venue_name.data, form.venue_address.data = series.venue_name, series.venue_address
    if form.validate_on_submit():
        try:
            meeting = schedule.add_meeting(current_user, _meeting_values(form))
        except schedule.MeetingChangeRefused as refused:
            form.day.errors.append(str(refused))  # with the form; the 422 rolls the request back
        else:
            flash("The session is added.", "success")
            return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id))
    return render_meetings(form, 422 if form.errors else 200)


def prefilled_meeting_form(meeting: Meeting) -> MeetingForm:
    local = local_time(meeting.starts_at)
    form = MeetingForm(formdata=None)
    form.day.data, form.start_time.data = local.date(), local.time()
    form.duration_minutes.data = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
    form.venue_name.data, form.venue_address.data = meeting.venue_name, meeting.venue_address
    form.seat_limit.data = meeting.seat_limit
    return form


def render_meeting(meeting: Meeting, form: MeetingForm, cancel_form: ReasonForm, status: int = 200) -> Response:
    return htmx.render("admin/meeting.html", meeting=meeting, form=form, cancel_form=cancel_form, status=status,
                       report=itip.delivery_report(meeting) if meeting.calendar_sent_at else None)


@bp.route("/meetings/<int:meeting_id>", methods=["GET", "POST"])
@resubmittable
def meeting(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    form = MeetingForm() if request.method == "POST" else prefilled_meeting_form(meeting)
    if form.validate_on_submit():
        try:
            schedule.update_meeting(meeting, current_user, _meeting_values(form))
        except schedule.MeetingChangeRefused as refused:
            form.day.errors.append(str(refused))  # with the form; the 422 rolls the request back
        else:
            if meeting.calendars_outdated:
                flash("The session is saved. Its invites went out before this change: send the update so "
                      "calendars follow.", "info")
                return htmx.redirect_to(url_for("admin.meeting", meeting_id=meeting.id) + "#invites")
            flash("The session is saved.", "success")
            return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id))
    return render_meeting(meeting, form, ReasonForm(formdata=None), 422 if form.errors else 200)


@bp.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@resubmittable
def cancel_meeting(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            schedule.cancel_meeting(meeting, current_user, form.reason.data.strip())
        except schedule.MeetingChangeRefused as refused:
            form.form_errors.append(str(refused))  # with the form; the 422 rolls the request back
        else:
            topic_services.roll_over(meeting)
            cancellations = itip.queue_cancellations(meeting) if meeting.calendar_sent_at else []
            flash("The session is cancelled; its topics move to the next session"
                  + (f", and {len(cancellations)} calendar cancellations are on their way." if cancellations else "."),
                  "success")
            return htmx.redirect_to(url_for("admin.meetings"))
    return render_meeting(meeting, prefilled_meeting_form(meeting), form, 422)


@bp.route("/meetings/<int:meeting_id>/calendar-updates", methods=["POST"])
def send_calendar_updates(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    if not Settings.get().group_name:
        flash(UNNAMED, "error")
        return htmx.redirect_to(url_for("admin.meeting", meeting_id=meeting.id))
    if meeting.starts_at <= utcnow():
        flash("This session has already started.", "error")
        return htmx.redirect_to(url_for("admin.meeting", meeting_id=meeting.id))
    deliveries = itip.queue_calendar_updates([meeting])
    if deliveries:
        flash(f"Sending {'the update' if meeting.calendar_sent_at and meeting.sequence else 'invites'} to "
              f"{len(deliveries)} member{'s' if len(deliveries) != 1 else ''}.", "success")
    elif not itip.invites_enabled():
        flash("Calendar invites by email are off on this site, and no member's calendar holds this session.",
              "info")
    else:
        flash("Everyone who wants calendar updates has this version already, or has it on its way: nothing "
              "more is sent.", "info")
    return htmx.redirect_to(url_for("admin.meeting", meeting_id=meeting.id) + "#invites")


@bp.route("/calendar-updates", methods=["POST"])
def send_upcoming_calendar_updates() -> Response:
    form = InviteWeeksForm()
    if not Settings.get().group_name:
        flash(UNNAMED, "error")
        return htmx.redirect_to(url_for("admin.meetings"))
    if not itip.invites_enabled():
        flash("Calendar invites by email are off on this site.", "error")
        return htmx.redirect_to(url_for("admin.meetings"))
    if not form.validate_on_submit():
        flash("Choose from 1 to 8 weeks.", "error")
        return htmx.redirect_to(url_for("admin.meetings"))
    meetings = itip.upcoming_sessions(form.weeks.data)
    deliveries = itip.queue_calendar_updates(meetings)
    flash(f"Sending invites for {len(meetings)} session{'s' if len(meetings) != 1 else ''} "
          f"({len(deliveries)} messages).", "success")
    return htmx.redirect_to(url_for("admin.meetings"))
