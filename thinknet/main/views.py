"""The dashboard members land on, and the health check a load balancer polls."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_login import current_user

from thinknet import health, htmx
from thinknet.access import public
from thinknet.admin.services import setup_left
from thinknet.invitations import services as invitation_services
from thinknet.meetings import attendance, queries, rsvps
from thinknet.pagecache import cached_page
from thinknet.topics import services as topic_services

bp = Blueprint("main", __name__)

TOP_TOPICS = 3


@bp.route("/")
@cached_page
def dashboard() -> Response:
    meeting = queries.next_meeting()
    context = rsvps.rsvp_block(meeting, current_user) if meeting else {}
    organizer_todo = None
    if current_user.is_organizer:
        organizer_todo = {
            "attendance": attendance.meetings_needing_attendance(),
            "approvals": invitation_services.awaiting_approval_count(),
            "setup_left": setup_left(),
        }
    return htmx.render(
        "main/dashboard.html", **context,
        member=current_user, next_meeting=meeting,
        top_topics=topic_services.agenda(meeting, current_user, limit=TOP_TOPICS) if meeting else [],
        recent_topics=topic_services.recent_topics(current_user),
        invitations=invitation_services.invitations_for(current_user, limit=5),
        todo=organizer_todo,
    )


@bp.route("/healthz")
@public
def healthz() -> tuple[Response, int]:
    """For load balancers (503: send no requests here) and monitoring (the JSON says what is wrong)."""
    body, status = health.report()
    return jsonify(body), status
