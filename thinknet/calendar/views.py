"""/calendar/<token>.ics: a member's private subscription feed."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, make_response, request

from thinknet.access import public
from thinknet.calendar import feed, ics, itip
from thinknet.pagecache import page_cache

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.route("/<token>.ics")
@public
def subscription(token: str) -> Response:
    """A member's private feed. Unchanged since the client's copy: 304, without building the calendar.
    If-None-Match compares weakly, as RFC 9110 13.1.2 says (a proxy that compressed the feed sends W/"...")."""
    member = feed.member_for_token(token)
    if member is None:
        abort(404)
    version = feed.feed_version(member, current_app.config["BASE_URL"])
    if request.if_none_match.contains_weak(version.etag) or (
            not request.if_none_match and request.if_modified_since
            and version.last_modified <= request.if_modified_since):
        response = make_response("", 304)
    else:
        # The ETag names everything the bytes depend on, so a feed built once is kept under it.
        cache = page_cache()
        kept = cache.get(("feed", version.etag))
        if kept is None:
            meetings = feed.feed_meetings()
            body = ics.feed(meetings, itip.group_identity(), {m.id: itip.meeting_url(m) for m in meetings})
            kept = (body, 200, [])
            cache.put(("feed", version.etag), *kept)
        response = make_response(kept[0])
        response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.set_etag(version.etag)
    response.last_modified = version.last_modified
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response
