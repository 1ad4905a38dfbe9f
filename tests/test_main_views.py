"""The dashboard and /healthz."""
from __future__ import annotations

from datetime import timedelta

from conftest import app_config, free_port_url
from thinknet import create_app
from thinknet.extensions import db
from thinknet.models import Meeting, MeetingState, Settings, utcnow


def test_healthz_reports_a_reachable_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, database_url):
    unreachable = (
        f"sqlite:///{tmp_path / 'missing-folder' / 'db.sqlite'}"
        if database_url.startswith("sqlite")
        else free_port_url()
    )
    app = create_app(app_config(tmp_path / "instance", unreachable))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_dashboard_shows_the_next_breakfast_in_the_groups_timezone(app, client, login, member):
    with app.app_context():
        Settings.get().timezone = "America/New_York"
        start = utcnow().replace(hour=11, minute=30, second=0, microsecond=0) + timedelta(days=2)
        db.session.add(Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Blue Door Café",
                               venue_address="5 Elm St"))
        db.session.add(Meeting(starts_at=start - timedelta(days=1), ends_at=start - timedelta(days=1, minutes=-60),
                               venue_name="Cancelled Place", state=MeetingState.CANCELLED))
        db.session.commit()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert "Blue Door Café, 5 Elm St" in page
    assert "Cancelled Place" not in page
    assert ":30 AM" in page


def test_dashboard_says_what_happens_when_nothing_is_scheduled(client, login, member, organizer):
    login(member)
    assert "The organizers will schedule the next one soon." in client.get("/").get_data(as_text=True)


def test_signed_in_pages_are_not_cached_by_htmx_confusion(client, login, member):
    login(member)
    response = client.get("/", headers={"HX-Request": "true"})
    assert "HX-Request" in response.headers.get("Vary", "")
