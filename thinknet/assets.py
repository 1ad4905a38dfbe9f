"""Static files for a slow phone: each linked under a versioned address (``?v=`` and its content's hash), so a
browser keeps it for a year without asking again (``immutable``) and fetches it anew the moment it changes;
text files sent gzip-compressed to browsers that take it (compressed once per process, at start).

A repeat visit then costs one request, the page; a first visit the page and four small files.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, current_app, request, url_for

YEAR = 365 * 24 * 3600
COMPRESSED_TYPES = ("text/", "application/javascript", "image/svg+xml")


@dataclass(frozen=True)
class Asset:
    body: bytes
    compressed: bytes | None
    version: str
    mimetype: str


def _load(folder: Path) -> dict[str, Asset]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        body = path.read_bytes()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype == "text/javascript":
            mimetype = "application/javascript"
        compressed = gzip.compress(body, compresslevel=9, mtime=0) if mimetype.startswith(COMPRESSED_TYPES) else None
        if compressed is not None and len(compressed) >= len(body):
            compressed = None
        found[path.relative_to(folder).as_posix()] = Asset(body, compressed, hashlib.sha256(body).hexdigest()[:12],
                                                           mimetype)
    return found


def asset_url(filename: str) -> str:
    """The file's address, with its version: what templates link to."""
    asset = current_app.extensions["thinknet_assets"].get(filename)
    return url_for("static", filename=filename, v=asset.version if asset else None)


def send_asset(filename: str) -> Response:
    """A static file: for a year when asked for under its current version, else for five minutes (an old page
    asking for an old version gets today's file, never a 404); compressed when the browser takes gzip."""
    asset = current_app.extensions["thinknet_assets"].get(filename)
    if asset is None:
        abort(404)
    compressed = asset.compressed is not None and request.accept_encodings["gzip"] > 0
    response = Response(asset.compressed if compressed else asset.body, mimetype=asset.mimetype)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    current = request.args.get("v") == asset.version
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable" if current else "public, max-age=300"
    response.set_etag(f"{asset.version}{'-gz' if compressed else ''}")
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    app.extensions["thinknet_assets"] = _load(Path(app.static_folder or ""))
    app.view_functions["static"] = send_asset
    app.jinja_env.globals["asset_url"] = asset_url
