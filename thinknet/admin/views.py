"""Organizer pages: the admin home and the audit log."""
from __future__ import annotations

from flask import Blueprint, Response

from thinknet import htmx
from thinknet.admin import services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
def index() -> Response:
    return htmx.render("admin/index.html", events=services.recent_audit_events())
