"""/topics: the open agenda: the backlog, posting a topic, one topic, "me too", and organizers' agenda controls."""
from __future__ import annotations

from flask import Blueprint, Response, flash, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from thinknet import htmx
from thinknet.access import organizers_only, resubmittable, safe_next_url
from thinknet.database import commit_then_read
from thinknet.extensions import db
from thinknet.routing import page_number
from thinknet.meetings import queries
from thinknet.pagecache import cached_page
from thinknet.templating import format_when
from thinknet.topics import services
from thinknet.topics.forms import MoveTopicForm, NewTopicForm, TopicForm

bp = Blueprint("topics", __name__, url_prefix="/topics")


def back(default: str) -> str:
    return safe_next_url(request.form.get("next")) or default


@bp.route("/")
@cached_page
def index() -> Response:
    page = page_number()
    topics = services.open_topics(current_user, page)
    return htmx.render("topics/index.html", topics=topics[:services.TOPICS_PAGE_SIZE], page=page,
                       more=len(topics) > services.TOPICS_PAGE_SIZE)


@bp.route("/new", methods=["GET", "POST"])
@resubmittable
def new() -> Response:
    form = NewTopicForm()
    next_meeting = queries.next_meeting()
    if form.validate_on_submit():
        meeting = next_meeting if form.when.data == "next" else None
        try:
            topic = services.post_topic(current_user, title=form.title.data, details=form.details.data or "",
                                        anonymous=form.anonymous.data, meeting=meeting)
        except services.TopicRefused as refused:
            form.form_errors.append(str(refused))  # shown with the form, which keeps what was typed
        else:
            flash("Your topic is posted" + (" anonymously." if topic.anonymous else "."), "success")
            return htmx.redirect_to(url_for("topics.show", topic_id=topic.id))
    return htmx.render("topics/new.html", form=form, next_meeting=next_meeting,
                       status=422 if form.errors or form.form_errors else 200)


@bp.route("/<int:topic_id>")
@cached_page
def show(topic_id: int) -> Response:
    topic = services.get_topic_or_404(topic_id)
    move_form = None
    if current_user.is_organizer:
        move_form = MoveTopicForm(formdata=None)
        move_form.meeting_id.choices = [SelectChoice(str(m.id), format_when(m.starts_at))
                                        for m in queries.upcoming_meetings()
                                        if not m.is_cancelled and m.id != topic.meeting_id]
    return htmx.render("topics/show.html", view=services.topic_view(topic, current_user), move_form=move_form)


@bp.route("/<int:topic_id>/edit", methods=["GET", "POST"])
@resubmittable
def edit(topic_id: int) -> Response:
    topic = services.get_topic_or_404(topic_id, own_by=current_user)
    form = TopicForm(obj=topic)
    if form.validate_on_submit():
        try:
            services.edit_topic(topic, current_user, title=form.title.data, details=form.details.data or "",
                                anonymous=form.anonymous.data)
        except services.TopicRefused as refused:
            form.form_errors.append(str(refused))  # shown with the form, which keeps what was typed
        else:
            flash("Your topic is saved.", "success")
            return htmx.redirect_to(url_for("topics.show", topic_id=topic.id))
    return htmx.render("topics/edit.html", form=form, topic=topic, status=422 if form.errors or form.form_errors else 200)


@bp.route("/<int:topic_id>/withdraw", methods=["POST"])
def withdraw(topic_id: int) -> Response:
    services.withdraw_topic(services.get_topic_or_404(topic_id, own_by=current_user), current_user)
    flash("Your topic is withdrawn.", "info")
    return htmx.redirect_to(url_for("topics.index"))


@bp.route("/<int:topic_id>/vote", methods=["POST"])
def vote(topic_id: int) -> Response:
    topic = services.get_topic_or_404(topic_id)
    error = None
    try:
        services.set_vote(topic, current_user, request.form.get("vote") != "off")
    except services.TopicRefused as refused:
        db.session.rollback()
        error = str(refused)
    else:
        commit_then_read()
    if htmx.wants_fragment():
        view = services.topic_view(topic, current_user)
        said = error or (f"Me too: {view.votes}, including you" if view.voted else f"{view.votes} me too, not including you")
        body = render_template("topics/_vote.html", view=view) + render_template("_announce.html", text=said)
        return htmx.make_fragment_response(body, status=422 if error else 200)
    if error:
        flash(error, "error")
    return htmx.redirect_to(back(url_for("topics.show", topic_id=topic_id)))


def organizer_topic_action(topic_id: int, act) -> Response:
    topic = services.get_topic_or_404(topic_id)
    act(topic)  # a refusal goes back where the organizer was, with its message (errors.Refused)
    default = url_for("meetings.show", meeting_id=topic.meeting_id) + "#agenda" if topic.meeting_id else \
        url_for("topics.show", topic_id=topic.id)
    return htmx.redirect_to(back(default))


@bp.route("/<int:topic_id>/pin", methods=["POST"])
@organizers_only
def pin(topic_id: int) -> Response:
    return organizer_topic_action(topic_id, lambda t: services.set_pinned(t, current_user, not t.pinned))


@bp.route("/<int:topic_id>/drop", methods=["POST"])
@organizers_only
def drop(topic_id: int) -> Response:
    topic = services.get_topic_or_404(topic_id)
    meeting_id = topic.meeting_id
    response = organizer_topic_action(topic_id, lambda t: services.drop_topic(t, current_user))
    if meeting_id and not request.form.get("next"):
        return htmx.redirect_to(url_for("meetings.show", meeting_id=meeting_id) + "#agenda")
    return response


@bp.route("/<int:topic_id>/discussed", methods=["POST"])
@organizers_only
def discussed(topic_id: int) -> Response:
    return organizer_topic_action(
        topic_id, lambda t: services.toggle_discussed(t, current_user))


@bp.route("/<int:topic_id>/move", methods=["POST"])
@organizers_only
def move(topic_id: int) -> Response:
    form = MoveTopicForm()
    form.meeting_id.choices = [SelectChoice(str(m.id)) for m in queries.upcoming_meetings()]
    if not form.validate_on_submit():
        flash("Choose an upcoming session to move the topic to.", "error")
        return htmx.redirect_to(url_for("topics.show", topic_id=topic_id))
    meeting = queries.get_meeting(form.meeting_id.data)
    return organizer_topic_action(topic_id, lambda t: services.move_topic(t, current_user, meeting))
