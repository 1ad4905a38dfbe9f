"""Error pages: a plain page for people, never a stack trace; and domain refusals, one family with one
handler."""
from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, SecurityError

from thinknet import htmx
from thinknet.extensions import db


class Refused(Exception):
    """A domain rule said no; the message is safe to show and says why. Every area's refusals derive from it.
    A view that can show the refusal next to a field catches it; any other reaches `refused`, the one handler:
    the request's changes are rolled back, and the person is sent back with the message (a 303 with a flash,
    or for htmx a 422 that shows the message in the page's message region)."""


def back_to() -> str:
    """Where a refused action sends the person back: the form's own ``next``, else the page they were on
    (only its path: a Referer names a host, which is never followed), else the home page."""
    from thinknet.access import safe_next_url  # here: access imports the services, which import Refused

    target = safe_next_url(request.form.get("next"))
    if target:
        return target
    referrer = urlsplit(request.headers.get("HX-Current-URL") or request.referrer or "")
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next_url(path) or "/"


# SQLite's words for a database it cannot use just now (busy past the timeout, gone, or out of disk).
SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk I/O error",
                      "database or disk is full")
# PostgreSQL's: a connection failed or was cut (08...), the server shutting down or starting (57P...), or out
# of connections (53300). No SQLSTATE at all: the connection was never made.
POSTGRESQL_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")


def first_line(error: Exception) -> str:
    """What a database error says, on one line (the driver's words, without SQLAlchemy's SQL and links)."""
    words = str(getattr(error, "orig", None) or error).strip()
    return words.splitlines()[0] if words else type(error).__name__


def unavailable_page(title: str, message: str) -> str:
    """A page drawn without the template context (whose signed-in member would be looked up in the database
    that is not there), so it can be served when the database cannot be used."""
    return current_app.jinja_env.get_template("errors/unavailable.html").render(title=title, message=message)


def database_unreachable(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.Error):
        return any(words in str(error.orig) for words in SQLITE_UNAVAILABLE)
    state = getattr(error.orig, "sqlstate", None)
    return state is None or state.startswith(POSTGRESQL_UNAVAILABLE)


def init_app(app: Flask) -> None:
    @app.errorhandler(Refused)
    def refused(error: Refused) -> Any:
        db.session.rollback()
        if htmx.is_htmx():
            response = make_response(render_template("_refused.html", message=str(error)), 422)
            response.headers["HX-Retarget"] = "#messages"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        flash(str(error), "error")
        return htmx.redirect_to(back_to())

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> Any:
        view = current_app.view_functions.get(request.endpoint or "")
        if request.method == "POST" and getattr(view, "resubmittable", False):
            # The form's own CSRF check fails too, so nothing changes; it comes back filled in.
            try:
                return view(**(request.view_args or {}))
            except HTTPException as refused:  # the view refused (not theirs, gone): answer that as usual
                return current_app.handle_http_exception(refused)
        message = "This form had expired or was sent from elsewhere. Reload the page and try again."
        return render_template("errors/error.html", code=400, title="Form expired", message=message), 400

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError) -> tuple[str, int, dict[str, str]]:
        # A Host the site does not answer to: nothing is built for it (no URL can be, no template is used).
        current_app.logger.warning("refused a request for an untrusted host: %s", error.description)
        return "This site does not answer to that host name.\n", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        titles = {403: "Not for you", 404: "Not found", 405: "Not allowed"}
        return (
            render_template(
                "errors/error.html",
                code=code,
                title=titles.get(code, error.name),
                message=error.description if code not in (403, 404) else None,
            ),
            code,
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error: DBAPIError) -> tuple[str, int, dict[str, str]]:
        """The database is down, restarting, out of connections or of disk: the site's own 503 (with its
        security headers), and one line in the log per request instead of a traceback. Any other database
        error is a fault in the code, and fails as one."""
        if not database_unreachable(error):
            raise error
        try:
            db.session.rollback()
        except DBAPIError:
            pass  # the connection is gone; the pool replaces it
        current_app.logger.error("database unavailable: %s %s: %s", request.method, request.path, first_line(error))
        return unavailable_page("Back in a moment", "The site's database is not answering just now. Please try "
                                "again in a minute."), 503, {"Retry-After": "30"}

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        return render_template("errors/error.html", code=500, title="Something went wrong", message=None), 500
