"""Absolute links, built from the configured BASE_URL only: a request's Host or X-Forwarded-Host never
decides where a link in an email, a calendar or a page points."""
from __future__ import annotations

from typing import Any
from flask import Flask, current_app, has_request_context, request


def absolute(path: str, app: Flask | None = None) -> str:
    """The site's own absolute URL for a path url_for built in this request: BASE_URL (with its path prefix,
    if any) stands in for wherever the request says the app is mounted."""
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root):]
    return (app or current_app).config["BASE_URL"] + path


class Thinknet(Flask):
    """Flask, with every ``url_for(..., _external=True)`` on BASE_URL instead of the request's host."""

    def url_for(self, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        if not has_request_context() or not _external:
            return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme,
                                   _external=_external, **values)
        path = super().url_for(endpoint, _anchor=_anchor, _method=_method, _external=False, **values)
        return absolute(path, self)
