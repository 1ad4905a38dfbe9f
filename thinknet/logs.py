"""Logs an operator can follow: every line has a timestamp, the request's id (also sent back in the
X-Request-Id header, so a member's report can be matched to its lines) and the signed-in member's id, never an
email address or a secret link. LOG_FORMAT "json" writes one JSON object per line for log shippers; gunicorn's
access log follows the same setting (GunicornLogger, named in gunicorn.conf.py)."""
from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler
from gunicorn.glogging import Logger as _GunicornLogger

from thinknet.security import RedactSecrets, redact

REQUEST_ID_HEADER = "X-Request-Id"
# A request id a trusted proxy in front already gave the request is kept, if it is plainly an id.
UPSTREAM_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Where gunicorn's access log finds what the app knew (the WSGI environ outlives the response).
ENVIRON_REQUEST_ID, ENVIRON_MEMBER_ID = "thinknet.request_id", "thinknet.member_id"
# A control character a client put in a path or a header (a %0A in the path is a newline once decoded) would
# start a line of its own in a text log: each is written as its escape instead.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


TEXT_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s req=%(request_id)s member=%(member_id)s %(name)s: %(message)s"


def _iso(moment: datetime) -> str:
    """A UTC moment as logs write it: 2026-11-30T06:00:00.000Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestFields(RedactSecrets):
    """Gives every record the request id and member id of the request it was logged in ("-" outside one),
    and, besides the redaction every log gets, writes control characters in its message as escapes."""

    def clean(self, message: str) -> str:
        return printable(super().clean(message))

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id, record.member_id = "-", "-"
        if has_request_context():
            record.request_id = g.get("request_id", "-")
            member = g.get("_login_user")
            if member is not None and not member.is_anonymous:
                record.member_id = member.id
        return super().filter(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _iso(datetime.fromtimestamp(record.created, timezone.utc)),
                 "level": record.levelname.lower(), "logger": record.name,
                 "request_id": getattr(record, "request_id", "-"), "member_id": getattr(record, "member_id", "-"),
                 "message": record.getMessage()}
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def formatException(self, exc_info: Any) -> str:  # noqa: N802 (logging's name)
        return redact(super().formatException(exc_info))  # a traceback quotes SQL parameters: addresses among them


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    text = TextFormatter(TEXT_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
    text.converter = time.gmtime  # UTC, as the Z says
    return text


def init_app(app: Flask) -> None:
    """Call after every other request hook is registered: the id is given first of all, so even a request
    refused before its view (a database behind the code, the sign-in check) carries it."""
    default_handler.setFormatter(formatter(app.config["LOG_FORMAT"]))
    if not any(isinstance(f, RequestFields) for f in default_handler.filters):
        default_handler.addFilter(RequestFields())
    if default_handler not in app.logger.handlers:  # Flask leaves it out when the root logger has a handler
        app.logger.addHandler(default_handler)

    def give_request_id() -> None:
        upstream = request.headers.get(REQUEST_ID_HEADER, "")
        trusted = app.config["PROXY_COUNT"] and UPSTREAM_ID.fullmatch(upstream)
        g.request_id = upstream if trusted else secrets.token_hex(8)
        request.environ[ENVIRON_REQUEST_ID] = g.request_id

    app.before_request_funcs.setdefault(None, []).insert(0, give_request_id)

    @app.after_request
    def tell_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        member = g.get("_login_user")
        if member is not None and not member.is_anonymous:
            request.environ[ENVIRON_MEMBER_ID] = str(member.id)
        return response


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger, writing access lines with the app's request and member ids, in text or JSON
    (THINKNET_LOG_FORMAT), paths without their query string and with secret links redacted."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        import os

        self.json = os.environ.get("THINKNET_LOG_FORMAT", "text") == "json"
        if self.json:
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())
            for handler in self.access_log.handlers:
                handler.setFormatter(logging.Formatter("%(message)s"))

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        entry = {
            "time": _iso(datetime.now(timezone.utc)),
            "request_id": environ.get(ENVIRON_REQUEST_ID, "-"),
            "member_id": environ.get(ENVIRON_MEMBER_ID, "-"),
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": printable(redact(environ.get("PATH_INFO", "-"))),
            "status": getattr(resp, "status_code", None) or str(getattr(resp, "status", "-")).split()[0],
            "bytes": getattr(resp, "sent", 0),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote": environ.get("REMOTE_ADDR", "-"),
            "user_agent": printable(environ.get("HTTP_USER_AGENT", "-")).replace('"', "'"),
        }
        if self.json:
            line = json.dumps(entry)
        else:
            line = (f'{entry["time"]} req={entry["request_id"]} member={entry["member_id"]} {entry["remote"]} '
                    f'"{entry["method"]} {entry["path"]}" {entry["status"]} {entry["bytes"]} '
                    f'{entry["duration_ms"]}ms "{entry["user_agent"]}"')
        self.access_log.info(line)
