"""The Flask application class: links on the site's own address, and one commit point for every request."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, has_request_context
from werkzeug.routing import MapAdapter

from thinknet import database, links


class Thinknet(Flask):
    def url_for(self, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        """Every ``url_for(..., _external=True)`` is on BASE_URL, never on the request's host."""
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
