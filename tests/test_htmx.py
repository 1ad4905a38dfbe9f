"""thinknet.htmx: the one place that decides page or fragment and writes htmx's headers."""
from __future__ import annotations


import pytest
from flask import Flask

from thinknet import create_app, htmx
from conftest import app_config


@pytest.fixture
def bare_app(tmp_path) -> Flask:
    app = create_app(app_config(tmp_path / "instance", f"sqlite:///{tmp_path / 'x.sqlite'}"))
    app.jinja_loader.searchpath.append(str(tmp_path))
    (tmp_path / "page.html").write_text("<html><body>{% include '_part.html' %}</body></html>")
    (tmp_path / "_part.html").write_text('<div id="part-1">{{ word }}</div>')
    return app


def rendered(app, headers=None):
    with app.test_request_context("/", headers=headers or {}):
        response = htmx.render("page.html", "_part.html", word="hello")
        return response.get_data(as_text=True), response


def test_a_plain_request_gets_the_whole_page(bare_app):
    body, response = rendered(bare_app)
    assert body.startswith("<html>")
    assert "HX-Request" in response.vary


def test_an_htmx_swap_gets_the_fragment(bare_app):
    body, response = rendered(bare_app, {"HX-Request": "true"})
    assert body == '<div id="part-1">hello</div>'
    assert "HX-Request" in response.vary


def test_boosted_navigation_and_history_restores_get_the_whole_page(bare_app):
    boosted, _ = rendered(bare_app, {"HX-Request": "true", "HX-Boosted": "true"})
    restored, _ = rendered(bare_app, {"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert boosted.startswith("<html>")
    assert restored.startswith("<html>")


def test_redirect_is_a_303_for_forms_and_hx_redirect_for_htmx(bare_app):
    with bare_app.test_request_context("/", method="POST"):
        plain = htmx.redirect_to("/somewhere")
    with bare_app.test_request_context("/", method="POST", headers={"HX-Request": "true"}):
        swapped = htmx.redirect_to("/somewhere")
    assert plain.status_code == 303
    assert plain.headers["Location"] == "/somewhere"
    assert swapped.status_code == 200
    assert swapped.headers["HX-Redirect"] == "/somewhere"
    assert "Location" not in swapped.headers
