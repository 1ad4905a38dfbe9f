"""The Flask application class: links on the site's own address, and one commit point for every request."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, has_request_context, request
from werkzeug.routing import MapAdapter

from thinknet import database, links


# How many of a process's links are remembered (see Thinknet.url_for); past it the memory starts again.
LINKS_REMEMBERED = 20_000


class Thinknet(Flask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._links: dict[tuple[Any, ...], str] = {}

    def url_for(self, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        """Every ``url_for(..., _external=True)`` is on BASE_URL, never on the request's host.

        A link within the site depends only on the endpoint, its values and where the app is mounted, so it is
        built once per process and remembered: a page of 150 members builds 150 profile links, and Flask's
        url_for costs about as much as rendering the row around it. (The app has no url_defaults, which would
        make a link depend on more than its arguments.)"""
        if not _external and _method is None and has_request_context():
            try:
                key = (request.script_root, request.blueprint if endpoint[:1] == "." else None, endpoint, _anchor,
                       *sorted(values.items()))
                link = self._links.get(key)
            except TypeError:  # a value that cannot be a key (a list of query arguments): built each time
                return super().url_for(endpoint, _anchor=_anchor, **values)
            if link is None:
                link = super().url_for(endpoint, _anchor=_anchor, **values)
                if len(self._links) >= LINKS_REMEMBERED:
                    self._links.clear()
                self._links[key] = link
            return link
        if not has_request_context() or not _external:
            return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme,
                                   _external=_external, **values)
        path = super().url_for(endpoint, _anchor=_anchor, _method=_method, _external=False, **values)
        return links.absolute(path, self)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Outside a request (a command, the outbox's sender, a service run from a script), links are built on
        BASE_URL too, instead of failing for want of SERVER_NAME."""
        if request is not None or self.config["SERVER_NAME"]:
            return super().create_url_adapter(request)
        base = urlsplit(self.config["BASE_URL"])
        return self.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)

    def dispatch_request(self) -> Any:
        """Runs the view, then commits its changes in this one place (Indico's RH.process): a view that
        returns a success commits, a view that answers an error (a re-rendered form, 4xx) or raises is rolled
        back, and what waits for the commit (mail) runs after it."""
        try:
            rv = super().dispatch_request()
        except BaseException:
            database.end_request(commit=False)
            raise
        response = self.make_response(rv)
        database.end_request(commit=response.status_code < 400)
        return response
