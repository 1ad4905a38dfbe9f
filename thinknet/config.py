"""Configuration defaults and how instance/config.py and the environment override them."""
from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # None: decided from BASE_URL (Secure unless the site itself is plain http).
    "SESSION_COOKIE_SECURE": None,
    "REMEMBER_COOKIE_SECURE": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": timedelta(days=30),
    # A tab left open overnight must still be able to RSVP at 6 AM.
    "WTF_CSRF_TIME_LIMIT": None,
    # None: decided from the database (a server's connections are checked before use; a SQLite file's
    # cannot go stale).
    "SQLALCHEMY_ENGINE_OPTIONS": None,
    "SQLITE_BUSY_TIMEOUT_SECONDS": 30,
    # Rendered pages each worker keeps (thinknet.pagecache); 0 turns the cache off.
    "PAGE_CACHE_BYTES": 8 * 1024 * 1024,
    # Tests: every page served from the cache is also built afresh, and a difference fails the request.
    "PAGE_CACHE_VERIFY": False,
    "MAIL_BACKEND": "file",
    "MAIL_DEFAULT_SENDER": "thinknet <no-reply@localhost>",
    "RATELIMIT_STORAGE_URI": "memory://",
    # How many proxies (load balancers) in front of the app to trust for X-Forwarded-For and -Proto.
    "PROXY_COUNT": 0,
    "RATELIMIT_HEADERS_ENABLED": True,
    "MAIL_TIMEOUT": 10,
    # Queued mail is sent by each process's outbox thread after the commit (thinknet.outbox); off, it is sent
    # at the commit, before the response (tests, one-off scripts).
    "MAIL_IN_BACKGROUND": True,
    # A message not sent is tried again after each of these, in seconds (1 min, 5 min, 30 min, 2 h), then failed
    # and shown to organizers on /admin/mail.
    "MAIL_RETRY_DELAYS": (60, 300, 1800, 7200),
    # How often each process's outbox looks for messages due again (retries, or left by a stopped process).
    "MAIL_POLL_SECONDS": 30,
    # A message claimed this long ago and not finished belongs to a process that died mid-send: sent again.
    # Well above MAIL_TIMEOUT, so a slow send in progress is never taken twice.
    "MAIL_STUCK_SECONDS": 600,
    # "text": one readable line per event; "json": one JSON object per line, for log shippers (thinknet.logs).
    "LOG_FORMAT": "text",
    # /healthz answers 503 (not ready) when the SQLite file's disk has less free space than this: a write
    # could fail half-way.
    "HEALTH_MIN_FREE_BYTES": 64 * 1024 * 1024,
    # The site's one canonical address (scheme, host and any path prefix): every absolute link the app writes
    # (emails, calendar invites, the feed link) is built from it, never from a request's Host. Required in
    # production; in development it is DEVELOPMENT_BASE_URL.
    "BASE_URL": None,
    # Host names requests may be addressed to; None: BASE_URL's host (any host in development).
    "TRUSTED_HOSTS": None,
    # Production (set by gunicorn.conf.py, or THINKNET_PRODUCTION=true): BASE_URL must be configured.
    "PRODUCTION": False,
    "PASSWORD_RESET_MAX_AGE": timedelta(hours=1),
    # Calendar invites by email (organizers send them from /admin/meetings). In production they need a reply
    # mailbox: every invite asks for an answer, and an answer nobody reads is lost.
    "CALENDAR_INVITES": True,
    # The mailbox calendar replies go to (the invites' ORGANIZER), read by `thinknet fetch-replies` (IMAP) or
    # `thinknet receive-mail` (a pipe from the mail server). Unset: invites do not ask for replies.
    "REPLY_ADDRESS": None,
    # Each invite's ORGANIZER is the reply address with a sub-address of its own (breakfast+<token>@...), which
    # authenticates the reply; turn off only for a mailbox that cannot take sub-addresses (then use REPLY_DKIM).
    "REPLY_SUBADDRESS": True,
    # Also take a reply without that sub-address when the attendee's own domain signed it with DKIM.
    "REPLY_DKIM": False,
    # The reply mailbox over IMAP: host, port, account, password, "ssl" (IMAPS) or "starttls", a CA file for a
    # private certificate authority, the folder replies arrive in, and the folders read messages move to.
    "IMAP_HOST": None,
    "IMAP_PORT": None,
    "IMAP_USER": None,
    "IMAP_PASSWORD": None,
    "IMAP_SECURITY": "ssl",
    "IMAP_CA_FILE": None,
    "IMAP_FOLDER": "INBOX",
    "IMAP_DONE_FOLDER": "thinknet-read",
    "IMAP_KEPT_FOLDER": "thinknet-kept",
    # With --idle, how long to wait on the server before asking again (RFC 2177: under 29 minutes).
    "IMAP_IDLE_SECONDS": 600,
    # argon2id parameters (argon2-cffi's defaults: RFC 9106 low-memory profile).
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_COST": 65536,
    "PASSWORD_HASH_PARALLELISM": 4,
}

SECRET_KEY_FILE = "secret_key"
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


class ConfigurationError(RuntimeError):
    """A setting production cannot run without; the message says which and how to set it."""


class MissingBaseUrl(ConfigurationError):
    pass


class MissingSecretKey(ConfigurationError):
    pass


class MissingReplyMailbox(ConfigurationError):
    pass


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Defaults, then instance/config.py and the environment (THINKNET_*, DATABASE_URL, MAIL_*,
    RATELIMIT_STORAGE_URI), or, when given, the overrides."""
    app.config.from_mapping(DEFAULTS)
    if overrides is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("THINKNET")
        _load_environment(app)
    else:
        app.config.from_mapping(overrides)

    instance = Path(app.instance_path)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{instance / 'thinknet.sqlite'}")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_ENGINE_OPTIONS"] is None:
        sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        # A PostgreSQL server that stops answering (a dropped network, not a refused connection) fails a
        # connection in 5 s and a dead connection within about 30 s, instead of holding workers for minutes.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {} if sqlite else {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                             "keepalives_interval": 5, "keepalives_count": 3},
        }
    app.config.setdefault("MAIL_FILE_PATH", str(instance / "sent-mail"))
    if app.config.get("MAIL_SERVER") and not _explicit(app, overrides, "MAIL_BACKEND"):
        app.config["MAIL_BACKEND"] = "smtp"
    if not app.config.get("SECRET_KEY"):
        if app.config["PRODUCTION"] and not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            # A PostgreSQL site may run on several servers: each would make its own key, and a member signed
            # in on one would be a stranger to the next (and every form from another server refused).
            raise MissingSecretKey(
                "THINKNET_SECRET_KEY is not set. With PostgreSQL every server must sign cookies with the same "
                "key: set THINKNET_SECRET_KEY to the same long random value on each, for example the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'")
        app.config["SECRET_KEY"] = instance_secret_key(instance)  # one machine: its workers share the file
    _settle_base_url(app)
    _settle_replies(app)
    # Cookies only over https, unless the site itself is plain http (local development); a request that came
    # over https (through a trusted proxy) gets Secure cookies whatever this says (thinknet.security).
    secure = not app.config["BASE_URL"].startswith("http://")
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config[key] is None:
            app.config[key] = secure


def _settle_base_url(app: Flask) -> None:
    """BASE_URL, required in production and checked everywhere; the trusted hosts follow from it."""
    base_url = app.config["BASE_URL"]
    if not base_url:
        if app.config["PRODUCTION"]:
            raise MissingBaseUrl(
                "THINKNET_BASE_URL is not set. In production every link in email and calendars is built from it: "
                "set it to the site's address, for example THINKNET_BASE_URL=https://breakfast.example.org")
        base_url = DEVELOPMENT_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise MissingBaseUrl(f"THINKNET_BASE_URL must be an http(s) address such as https://breakfast.example.org, "
                             f"not {base_url!r}")
    app.config["BASE_URL"] = base_url.rstrip("/")
    if app.config["TRUSTED_HOSTS"] is None and base_url != DEVELOPMENT_BASE_URL:
        loopback = {"127.0.0.1", "localhost"}
        app.config["TRUSTED_HOSTS"] = sorted(loopback) if parts.hostname in loopback else [parts.hostname]
    elif isinstance(app.config["TRUSTED_HOSTS"], str):
        app.config["TRUSTED_HOSTS"] = [h.strip() for h in app.config["TRUSTED_HOSTS"].split(",") if h.strip()]


PLAIN_ADDRESS = r"[A-Za-z0-9._%'-]{1,64}@([A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*|\[[0-9.:a-fA-F]+\])"
# Names no calendar on the internet can send to (RFC 2606, RFC 6761, RFC 8375 and common private ones).
LOCAL_DOMAINS = ("localhost", "localdomain", "local", "invalid", "example", "test", "lan", "internal", "home",
                 "arpa", "intranet", "corp", "private")


def _settle_replies(app: Flask) -> None:
    """The reply mailbox: an address the app can put a sub-address on, and, in production with invites on,
    a real one, since every invite asks for an answer there."""
    address = (app.config.get("REPLY_ADDRESS") or "").strip()
    app.config["REPLY_ADDRESS"] = address or None
    # A plain address: letters, digits and . _ - in the local part (a + would clash with the tags the app adds),
    # a domain of dot-separated labels or an address literal, nothing after it.
    if address and not re.fullmatch(PLAIN_ADDRESS, address):
        raise MissingReplyMailbox(f"THINKNET_REPLY_ADDRESS must be a plain address such as "
                                  f"breakfast@example.org (no name, no +tag), not {address!r}")
    if not (app.config["PRODUCTION"] and app.config["CALENDAR_INVITES"]):
        return
    if not address:
        raise MissingReplyMailbox(
            "THINKNET_REPLY_ADDRESS is not set. Calendar invites ask members to answer in their calendar, and "
            "those answers go to this address: set it to a mailbox the app reads (thinknet fetch-replies, or "
            "thinknet receive-mail from the mail server), or set THINKNET_CALENDAR_INVITES=false.")
    domain = address.rpartition("@")[2].lower().rstrip(".")
    top = domain.rpartition(".")[2]
    if top in LOCAL_DOMAINS or "." not in domain or top.isdigit() or domain.startswith("["):
        raise MissingReplyMailbox(f"THINKNET_REPLY_ADDRESS is {address}, which no calendar can send to: set it to "
                                  "a real mailbox the app reads.")
    if not app.config["REPLY_SUBADDRESS"] and not app.config["REPLY_DKIM"]:
        raise MissingReplyMailbox("THINKNET_REPLY_SUBADDRESS is off and THINKNET_REPLY_DKIM is not on: no answer "
                                  "from a calendar could be shown to come from its member. Turn one of them on "
                                  "(see SECURITY.md, Calendar replies).")


def _explicit(app: Flask, overrides: Mapping[str, Any] | None, key: str) -> bool:
    if overrides is not None:
        return key in overrides
    return app.config[key] != DEFAULTS[key] or key in os.environ


def _load_environment(app: Flask) -> None:
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = os.environ["RATELIMIT_STORAGE_URI"]
    for key, value in os.environ.items():
        if key.startswith("MAIL_"):
            app.config[key] = _parse_env_value(value)


def _parse_env_value(value: str) -> Any:
    # Same rule as Flask's from_prefixed_env: JSON when it parses ("587", "true"), else the string.
    try:
        return json.loads(value)
    except ValueError:
        return value


def database_uri(uri: str) -> str:
    """Points PostgreSQL URLs (as hosting providers spell them) at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    return uri


def instance_secret_key(instance: Path) -> str:
    """Reads the instance's secret key, generating it on first use (safe when workers race)."""
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        tmp = instance / f".{SECRET_KEY_FILE}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
