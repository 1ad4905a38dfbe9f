"""Device cookies (OWASP): a browser where a member has signed in carries a signed note of it, so failed
guesses from unknown browsers cannot lock the member out of their own."""
from __future__ import annotations

import hashlib
import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "thinknet_device"
MAX_AGE = 365 * 24 * 3600
MAX_ACCOUNTS = 5  # a shared family computer; older entries drop off


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="thinknet device cookie")


def _account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def _entries() -> dict[str, str]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        entries = _serializer().loads(raw)
    except BadSignature:
        return {}
    return entries if isinstance(entries, dict) else {}


def throttle_account(email: str) -> str:
    """Whose counter a sign-in for ``email`` from this browser goes on: the browser's own when it has signed
    in as that member before, else the account's counter for unknown browsers."""
    device = _entries().get(_account_key(email))
    return f"device:{device}" if isinstance(device, str) else email.strip().lower()


def remember_device(response: Response, email: str) -> None:
    entries = _entries()
    key = _account_key(email)
    # The same browser keeps its one id for the account (and the count of guesses made under it).
    entries[key] = entries.pop(key, None) or secrets.token_urlsafe(12)
    while len(entries) > MAX_ACCOUNTS:
        entries.pop(next(iter(entries)))
    response.set_cookie(COOKIE, _serializer().dumps(entries), max_age=MAX_AGE, httponly=True, samesite="Lax",
                        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
