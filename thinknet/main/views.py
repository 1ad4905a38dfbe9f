"""The dashboard members land on, and the health check a load balancer polls."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from thinknet import htmx
from thinknet.access import public
from thinknet.extensions import db
from thinknet.models import Meeting, MeetingState, utcnow

bp = Blueprint("main", __name__)


@bp.route("/")
def dashboard() -> Response:
    next_meeting = db.session.scalar(
        select(Meeting)
        .where(Meeting.state == MeetingState.SCHEDULED, Meeting.ends_at > utcnow())
        .order_by(Meeting.starts_at)
        .limit(1)
    )
    return htmx.render("main/dashboard.html", member=current_user, next_meeting=next_meeting)


@bp.route("/healthz")
@public
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
