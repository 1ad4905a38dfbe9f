"""/meetings: upcoming and past sessions; one session with RSVP, who's coming, agenda, attendance, takeaways."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, make_response, render_template, url_for
from flask_login import current_user

from thinknet import htmx
from thinknet.access import organizers_only, resubmittable, safe_next_url
from thinknet.database import commit_then_read
from thinknet.extensions import db
from thinknet.routing import page_number
from thinknet.calendar import ics, itip, web_links
from thinknet.templating import group_settings
from thinknet.meetings import attendance, queries, rsvps, takeaways
from thinknet.meetings.forms import RsvpForm, TakeawayForm
from thinknet.models import Meeting, RsvpAnswer, utcnow
from thinknet.pagecache import cached_page
from thinknet.topics import services as topic_services

bp = Blueprint("meetings", __name__, url_prefix="/meetings")


@bp.route("/")
@cached_page
def index() -> Response:
    page = page_number()
    past = queries.past_meetings(page)
    return htmx.render("meetings/index.html", upcoming=queries.upcoming_meetings(), past=past[:queries.PAST_PAGE_SIZE],
                       page=page, more_past=len(past) > queries.PAST_PAGE_SIZE)


def agenda_context(meeting: Meeting, is_past: bool) -> dict[str, Any]:
    agenda = topic_services.agenda(meeting, current_user)
    return {"agenda": agenda, "can_close_agenda": is_past and topic_services.undiscussed_left(agenda)}


def render_show(meeting: Meeting, takeaway_form: TakeawayForm | None = None, status: int = 200) -> Response:
    is_past = meeting.starts_at <= utcnow()
    return htmx.render(
        "meetings/show.html", **rsvps.rsvp_block(meeting, current_user),
        **agenda_context(meeting, is_past),
        is_past=is_past,
        sheet=attendance.attendance_sheet(meeting) if is_past and current_user.is_organizer else None,
        attendees=attendance.attendees(meeting) if is_past else [],
        takeaways=takeaways.takeaways(meeting) if is_past else [],
        can_add_takeaway=takeaways.can_add_takeaway(meeting, current_user),
        takeaway_form=takeaway_form or TakeawayForm(formdata=None),
        later_meetings=queries.upcoming_meetings() if current_user.is_organizer else [],
        calendar_links=None if is_past or meeting.is_cancelled else web_links.add_to_calendar(
            meeting, group_settings().group_name, itip.meeting_url(meeting)),
        status=status,
    )


@bp.route("/<int:meeting_id>")
@cached_page
def show(meeting_id: int) -> Response:
    return render_show(db.get_or_404(Meeting, meeting_id))


@bp.route("/<int:meeting_id>/rsvp", methods=["POST"])
def rsvp(meeting_id: int) -> Response:
    form = RsvpForm()
    back = safe_next_url(form.next.data) or url_for("meetings.show", meeting_id=meeting_id)
    error, meeting, first_yes = None, None, False
    if form.validate_on_submit():  # before the lock: the form holds no one up
        try:
            change = rsvps.set_rsvp(current_user, meeting_id, RsvpAnswer(form.answer.data))
        except rsvps.RsvpRefused as refused:
            db.session.rollback()
            error = str(refused)
        else:
            commit_then_read()
            meeting, first_yes = change.meeting, change.first_yes
    else:
        error = "Choose yes, maybe or no."
    meeting = meeting or db.get_or_404(Meeting, meeting_id)
    if not htmx.wants_fragment():
        if error:
            flash(error, "error")
        return htmx.redirect_to(back)
    # Only the RSVP block and, out of band, the who's-coming block (as the page it is on shows it) and the
    # announcement a screen reader hears change. A first yes with a seat is offered the calendar.
    context = rsvps.rsvp_block(meeting, current_user, error)
    offer = first_yes and not context["rsvp"].waitlist_position and not meeting.is_cancelled
    body = render_template(
        "meetings/_rsvp.html", next_url=back, announce=True, offer_calendar=offer,
        calendar_links=web_links.add_to_calendar(meeting, group_settings().group_name, itip.meeting_url(meeting))
        if offer else None, **context,
    ) + render_template("meetings/_coming.html", oob=True, compact=back == url_for("main.dashboard"), **context)
    response = htmx.make_fragment_response(body, status=422 if error else 200)
    return response


@bp.route("/<int:meeting_id>/attendance", methods=["POST"])
@organizers_only
def confirm_attendance(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    attendance.confirm_attendance(meeting, current_user)  # a refusal goes back with its message
    flash("Attendance is recorded.", "success")
    return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id) + "#attendance")


@bp.route("/<int:meeting_id>/attendance/<int:member_id>", methods=["POST"])
@organizers_only
def toggle_attendance(meeting_id: int, member_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    attendance.toggle_attendance(meeting, member_id, current_user)  # a refusal goes back with its message
    if htmx.wants_fragment():
        row = next(r for r in attendance.attendance_sheet(meeting) if r.member.id == member_id)
        return htmx.render("meetings/_attendance_row.html", "meetings/_attendance_row.html", meeting=meeting, row=row)
    return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id) + "#attendance")


@bp.route("/<int:meeting_id>/takeaways", methods=["POST"])
@resubmittable
def add_takeaway(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    form = TakeawayForm()
    if form.validate_on_submit():
        try:
            takeaways.add_takeaway(meeting, current_user, form.body.data)
        except takeaways.TakeawayRefused as refused:
            form.form_errors.append(str(refused))  # with what was written; the 422 rolls the request back
        else:
            if not htmx.wants_fragment():
                return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id) + "#takeaways")
            form = TakeawayForm(formdata=None)
    status = 422 if form.errors or form.form_errors else 200
    if not htmx.wants_fragment():
        # Without JavaScript the whole page comes back, with what was written still in the form.
        return render_show(meeting, takeaway_form=form, status=status)
    return htmx.render("meetings/_takeaways.html", "meetings/_takeaways.html", meeting=meeting,
                       takeaways=takeaways.takeaways(meeting), takeaway_form=form,
                       can_add_takeaway=takeaways.can_add_takeaway(meeting, current_user), status=status)


@bp.route("/<int:meeting_id>/close-agenda", methods=["POST"])
@organizers_only
def close_agenda(meeting_id: int) -> Response:
    meeting = db.get_or_404(Meeting, meeting_id)
    moved = topic_services.roll_over(meeting)
    flash(f"{moved} undiscussed topic{'s' if moved != 1 else ''} moved to the next session.", "success")
    return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting.id) + "#agenda")


@bp.route("/<int:meeting_id>.ics")
def download(meeting_id: int) -> Response:
    """The session as a file to save into a calendar (no METHOD, no attendees)."""
    meeting = db.get_or_404(Meeting, meeting_id)
    body = ics.download(meeting, itip.group_identity(), itip.meeting_url(meeting),
                        itip.top_topic_titles(meeting, current_user))
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="breakfast-{meeting.starts_at:%Y-%m-%d}.ics"'
    return response
