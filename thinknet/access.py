"""The access guard, written once: everything needs a signed-in active member unless marked public."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request, url_for
from flask_login import current_user

from thinknet import htmx
from thinknet.audit import record
from thinknet.database import READ_ONLY_METHODS, begin_writing
from thinknet.extensions import db
from thinknet.auth.services import member_for_sign_in
from thinknet.extensions import login_manager

View = TypeVar("View", bound=Callable[..., object])

# Blueprints whose every page is for organizers only.
ORGANIZER_BLUEPRINTS = frozenset({"admin"})


def public(view: View) -> View:
    """Marks a view as reachable without signing in; the allow-list is every view so marked."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def organizers_only(view: View) -> View:
    """Marks a view outside /admin (an organizer's control on a member page) as for organizers only."""
    view.organizers_only = True  # type: ignore[attr-defined]
    return view


def resubmittable(view: View) -> View:
    """Marks a form view whose every change is behind form.validate_on_submit(): when its CSRF token has
    expired, the view runs again and shows the form filled in, asking to send it again, instead of an error."""
    view.resubmittable = True  # type: ignore[attr-defined]
    return view


def is_organizer_endpoint(endpoint: str | None, blueprint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return blueprint in ORGANIZER_BLUEPRINTS or getattr(view, "organizers_only", False)


def is_public_endpoint(endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    return view is None or getattr(view, "is_public", False)


def may(endpoint: str) -> bool:
    """Whether the signed-in member may use this endpoint: what templates ask before offering a link, from
    the same rule the guard enforces."""
    if is_public_endpoint(endpoint):
        return True
    if not current_user.is_authenticated:
        return False
    view = current_app.view_functions.get(endpoint)
    blueprint = endpoint.rpartition(".")[0] or None
    return view is not None and (not is_organizer_endpoint(endpoint, blueprint) or current_user.is_organizer)


def public_endpoints(app: Flask) -> set[str]:
    return {name for name, view in app.view_functions.items() if getattr(view, "is_public", False)}


def safe_next_url(target: str | None) -> str | None:
    """Only a path on this site is followed after sign-in, never another host."""
    if not target or any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in target):
        return None  # CR/LF would split the Location header; a backslash is a host to some browsers
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_app(app: Flask) -> None:
    app.jinja_env.globals["may"] = may
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(member_for_sign_in)

    @login_manager.unauthorized_handler
    def send_to_sign_in() -> Response:
        next_url = request.full_path.rstrip("?") if request.method == "GET" else None
        if htmx.is_htmx():
            # Where the person was, not the fragment's URL, is where they return after signing in.
            current = request.headers.get("HX-Current-URL")
            next_url = urlsplit(current).path if current else None
        return htmx.redirect_to(url_for("auth.login", next=safe_next_url(next_url)))

    @app.before_request
    def require_sign_in() -> Response | None:
        if is_public_endpoint(request.endpoint):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if is_organizer_endpoint(request.endpoint, request.blueprint) and not current_user.is_organizer:
            if request.method in READ_ONLY_METHODS:
                # A GET may be another site's link or image sending the member here: it writes nothing, so
                # nobody can fill the audit log in a member's name; the application log keeps it.
                current_app.logger.warning("refused %s %s to member %s: organizers only", request.method,
                                           request.endpoint, current_user.id)
                abort(403)
            # Kept in the audit log even though nothing else happens: someone reached for organizers' powers.
            begin_writing()  # before the view would: the request is refused here
            record(current_user, "access.refused", subject=current_user, method=request.method,
                   endpoint=request.endpoint)
            db.session.commit()
            abort(403)
        return None
