"""The one place that decides page or fragment, and writes htmx's response headers (redirects, Vary)."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, make_response, redirect, render_template, request

def is_htmx() -> bool:
    return bool(getattr(request, "htmx", False))


def wants_fragment() -> bool:
    """A fragment only for htmx's own swaps: boosted links and history restores want the whole page."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(page: str, fragment: str | None = None, /, *, status: int = 200, **context: Any) -> Response:
    """Renders the page, or its fragment for an htmx swap; both come from one template source."""
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    if fragment:
        response.vary.add("HX-Request")
    return response


def make_fragment_response(body: str, status: int = 200) -> Response:
    """A response made of several fragments (the target's and out-of-band swaps)."""
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def redirect_to(location: str) -> Response:
    """A redirect that works for both: htmx navigates the whole window, a plain form gets a 303."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_htmx_for_htmx_requests(response: Response) -> Response:
        # A cache must never hand a fragment to a full-page request, or the reverse.
        if is_htmx():
            response.vary.add("HX-Request")
        return response
