"""The one place that decides page or fragment, and writes htmx's response headers (redirects, triggers, Vary)."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, make_response, redirect, render_template, request

# htmx-flask's make_response rejects valid swap styles ("beforebegin" "afterbegin" run together in its
# list), so the HX-* response headers are written here.
SWAP_STYLES = frozenset(
    {"innerHTML", "outerHTML", "textContent", "beforebegin", "afterbegin", "beforeend", "afterend",
     "delete", "none"}
)


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


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Adds an event to HX-Trigger, merged with any already set."""
    existing = response.headers.get("HX-Trigger")
    events: dict[str, Any] = {}
    if existing:
        events = json.loads(existing) if existing.startswith("{") else {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def reswap(response: Response, style: str) -> Response:
    if style.split()[0] not in SWAP_STYLES:
        raise ValueError(f"unknown swap style: {style}")
    response.headers["HX-Reswap"] = style
    return response



def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_htmx_for_htmx_requests(response: Response) -> Response:
        # A cache must never hand a fragment to a full-page request, or the reverse.
        if is_htmx():
            response.vary.add("HX-Request")
        return response
