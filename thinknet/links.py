"""Absolute links, built from the configured BASE_URL only: a request's Host or X-Forwarded-Host never
decides where a link in an email, a calendar or a page points."""
from __future__ import annotations

from flask import Flask, current_app, request


def absolute(path: str, app: Flask | None = None) -> str:
    """The site's own absolute URL for a path url_for built in this request: BASE_URL (with its path prefix,
    if any) stands in for wherever the request says the app is mounted."""
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root):]
    return (app or current_app).config["BASE_URL"] + path
