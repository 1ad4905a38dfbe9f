"""Response headers every page gets, the start-up check of SECRET_KEY, and keeping secrets out of logs."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, abort, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

# No inline script or style anywhere: htmx is configured by a meta tag, its indicator styles live in our CSS.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
])

WEAK_KEYS = {"dev", "development", "secret", "changeme", "change-me", "test", "key", "password", "thinknet"}
MIN_KEY_LENGTH = 32

# Paths whose last part is a secret: join links, reset links, calendar feeds.
SECRET_PATHS = re.compile(r"(/join/|/password/reset/|/calendar/|/own-data/(?!(?:manage|export\.json)(?:$|[\s/?\"'])))[^\s/?\"'.]+")
# Logs name members by id, never by address.
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}\b")  # not user@127.0.0.1 in a URL


View = TypeVar("View", bound=Callable[..., Any])


class InsecureSecretKey(RuntimeError):
    pass


def check_secret_key(app: Flask) -> None:
    """Outside tests, a missing, short or well-known SECRET_KEY stops start-up with a clear message."""
    if app.config.get("TESTING"):
        return
    key = app.config.get("SECRET_KEY") or ""
    if len(key) < MIN_KEY_LENGTH or key.lower() in WEAK_KEYS:
        raise InsecureSecretKey(
            f"SECRET_KEY is missing or weak (it must be at least {MIN_KEY_LENGTH} random characters). "
            "Remove it to have one generated into the instance folder, or set THINKNET_SECRET_KEY to the "
            "output of: python -c 'import secrets; print(secrets.token_hex(32))'"
        )


def redact(text: str) -> str:
    """A log line without secret links or email addresses."""
    return EMAIL_ADDRESS.sub("[email]", SECRET_PATHS.sub(lambda m: m.group(1) + "[redacted]", text))


class RedactSecrets(logging.Filter):
    """Rewrites log records so that join, reset and feed tokens and email addresses never reach a log file."""

    def clean(self, message: str) -> str:
        return redact(message)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "thinknet")


class SessionSecureOverHttps(SecureCookieSessionInterface):
    """The session cookie is Secure when the configuration says so, and on every request that came over
    https (directly, or through a trusted proxy), whatever BASE_URL says."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app)) or (has_request_context() and request.is_secure)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        # A static file is the same for everyone, whoever asks (the log line read the member's id from the
        # session): no "Vary: Cookie", which would make a browser ask for it again in every new session.
        if request.endpoint == "static" and not session.modified:
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    check_secret_key(app)
    app.session_interface = SessionSecureOverHttps()
    secret_filter = RedactSecrets()
    for name in (*REDACTED_LOGGERS, app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(secret_filter)

    @app.before_request
    def refuse_a_foreign_mount_point() -> None:
        # SCRIPT_NAME comes from a trusted proxy; one naming another host ("//evil.example") would turn every
        # redirect into a link off the site.
        root = request.script_root
        if root.startswith("//") or "\\" in root:
            abort(400)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        # Nothing a member sees may be kept by a shared cache or the browser's back-forward cache. Whether this
        # is a member's request is known without the database: the member loaded for it, or its sign-in.
        member = g.get("_login_user")
        signed_in = not member.is_anonymous if member is not None else "_user_id" in session
        view = app.view_functions.get(request.endpoint or "")
        if (signed_in or getattr(view, "no_store", False)) and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            _make_cookies_secure(headers)
        return response


def _make_cookies_secure(headers: Any) -> None:
    """A request that came over https (directly, or through a trusted proxy's X-Forwarded-Proto) gets only
    Secure cookies, whatever BASE_URL says."""
    cookies = headers.getlist("Set-Cookie")
    if not any("; secure" not in cookie.lower() for cookie in cookies):
        return
    headers.remove("Set-Cookie")
    for cookie in cookies:
        headers.add("Set-Cookie", cookie if "; secure" in cookie.lower() else cookie + "; Secure")


def no_store(view: View) -> View:
    """Marks a page that carries a secret in its address or content (a join or reset link): no cache keeps it."""
    view.no_store = True  # type: ignore[attr-defined]
    return view
