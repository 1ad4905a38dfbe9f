"""Static files for a slow phone: versioned addresses kept for a year, compressed, and a first visit that is
small on the wire."""
from __future__ import annotations

import gzip
import re

import pytest

ASSET = re.compile(r'(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]{12})"')


def assets_of(page: str) -> list[tuple[str, str]]:
    return ASSET.findall(page)


def test_every_page_links_its_files_under_their_version_and_they_are_kept_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    linked = assets_of(page)
    assert {path for path, _ in linked} == {"/static/favicon.svg", "/static/thinknet.css",
                                             "/static/htmx-2.0.11.min.js", "/static/thinknet.js"}
    for path, version in linked:
        response = client.get(f"{path}?v={version}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Accept-Encoding" in response.headers["Vary"]


def test_an_old_version_or_none_gets_todays_file_for_minutes_not_a_year(client):
    for query in ("", "?v=000000000000", "?v=../../etc"):
        response = client.get(f"/static/thinknet.css{query}")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/static/../thinknet/app.py").status_code == 404
    assert client.get("/static/nothing.js?v=1").status_code == 404


@pytest.mark.parametrize("path", ["/static/htmx-2.0.11.min.js", "/static/thinknet.css", "/static/thinknet.js"])
def test_text_files_go_compressed_to_browsers_that_take_gzip_and_plain_to_others(client, path):
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    refused = client.get(path, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_a_browser_asking_again_gets_a_304(client):
    first = client.get("/static/thinknet.css", headers={"Accept-Encoding": "gzip"})
    again = client.get("/static/thinknet.css", headers={"Accept-Encoding": "gzip",
                                                        "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_first_visit_to_the_sign_in_page_is_under_40_kb_on_the_wire(client):
    """The page and every file it links, as a browser that takes gzip fetches them (the page itself as the
    app sends it: a proxy in front compresses it too)."""
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    total = len(page.data)
    for path, version in assets_of(page.get_data(as_text=True)):
        total += len(client.get(f"{path}?v={version}", headers={"Accept-Encoding": "gzip"}).data)
    assert total < 40 * 1024, total
