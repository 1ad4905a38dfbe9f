"""The first organizer's first five minutes: `create-organizer`, a sign-in that leads through a short set-up
(name and time zone, when and where, the charter, who may sponsor), each step saved or skipped and changeable
later, a founding period in which any member may sponsor, and nothing sent under a default name."""
from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from conftest import PASSWORD, body_text, csrf_token, sent_mail, sign_in
from thinknet.extensions import db
from thinknet.models import Meeting, Settings, utcnow


@pytest.fixture
def fresh_group(app):
    """What a freshly migrated database holds: no name, nothing set up, the set-up never opened."""
    with app.app_context():
        db.session.execute(update(Settings).values(group_name="", setup_done="", setup_opened_at=None))
        db.session.commit()
    return app


@pytest.fixture
def first_organizer(fresh_group, runner):
    result = runner.invoke(args=["create-organizer", "--email", "olga@example.org", "--name", "Olga Organizer",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "the first sign-in leads through the group's set-up" in result.output
    assert "http://localhost/login" in result.output
    return "olga@example.org"


def post(client, path, data, **kwargs):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)}, **kwargs)


def settings_row(app) -> Settings:
    with app.app_context():
        row = db.session.scalar(select(Settings))
        db.session.expunge(row)
        return row


def test_the_first_sign_in_leads_into_the_set_up_once(app, client, first_organizer):
    response = sign_in(client, first_organizer)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/setup/name"
    assert settings_row(app).setup_opened_at is not None
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    again = sign_in(client, first_organizer)
    assert again.headers["Location"] == "/"  # after that, the dashboard says what is left


def test_a_sign_in_with_somewhere_to_go_goes_there(client, first_organizer):
    response = client.post("/login?next=/topics/", data={"email": first_organizer, "password": PASSWORD,
                                                         "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/topics/"


def test_a_member_signing_in_to_a_new_group_is_not_led_into_the_set_up(app, client, fresh_group, make_member):
    member = make_member(email="m@example.org")
    assert sign_in(client, member.email).headers["Location"] == "/"
    assert settings_row(app).setup_opened_at is None


def test_the_set_up_walked_through_saves_each_step_and_leaves_nothing_to_do(app, client, first_organizer):
    sign_in(client, first_organizer)
    page = client.get("/admin/setup/name").get_data(as_text=True)
    assert "step 1 of 4" in page and "data-guess-zone" in page  # the device's zone is offered to confirm
    response = post(client, "/admin/setup/name", {"group_name": "  Dawn Circle ", "timezone": "Europe/Berlin"})
    assert response.headers["Location"] == "/admin/setup/meetings"

    page = client.get("/admin/setup/meetings").get_data(as_text=True)
    assert 'name="timezone"' not in page and "Times are in Europe/Berlin." in page  # asked once, in step 1
    response = post(client, "/admin/setup/meetings", {
        "weekday": "3", "start_time": "06:30", "duration_minutes": "90", "venue_name": "Café Luna",
        "venue_address": "Torstraße 1, Berlin", "seat_limit": "12"})
    assert response.headers["Location"] == "/admin/setup/charter"

    page = client.get("/admin/setup/charter").get_data(as_text=True)
    assert "No selling, no pitching" in page  # a starting text to edit
    response = post(client, "/admin/setup/charter", {"charter": "We think together.\n- Phones away."})
    assert response.headers["Location"] == "/admin/setup/sponsors"

    page = client.get("/admin/setup/sponsors").get_data(as_text=True)
    today = utcnow().astimezone(ZoneInfo("Europe/Berlin")).date()
    assert f'value="{(today + timedelta(weeks=8)).isoformat()}"' in page  # founding period proposed
    response = post(client, "/admin/setup/sponsors", {
        "founding_until": (today + timedelta(weeks=6)).isoformat(), "sponsor_min_attendance": "3",
        "sponsor_max_pending": "2"})
    assert response.headers["Location"] == "/admin/setup"

    saved = settings_row(app)
    assert saved.group_name == "Dawn Circle" and saved.timezone == "Europe/Berlin"
    assert saved.charter == "We think together.\n- Phones away."
    assert saved.founding_until == today + timedelta(weeks=6) and saved.sponsor_min_attendance == 3
    assert saved.setup_left == []
    with app.app_context():
        sessions = db.session.scalars(select(Meeting).order_by(Meeting.starts_at)).all()
        assert len(sessions) >= 7
        local = sessions[0].starts_at.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.time()) == (3, time(6, 30))
        assert sessions[0].seat_limit == 12 and sessions[0].venue_address == "Torstraße 1, Berlin"
    overview = client.get("/admin/setup").get_data(as_text=True)
    assert "The group is set up." in overview and "Invite someone" in overview
    dashboard = client.get("/").get_data(as_text=True)
    assert "setup-left" not in dashboard and "Dawn Circle" in dashboard


def test_each_step_can_be_skipped_and_the_dashboard_says_what_is_left(app, client, first_organizer):
    sign_in(client, first_organizer)
    for step, following in [("name", "/admin/setup/meetings"), ("meetings", "/admin/setup/charter"),
                            ("charter", "/admin/setup/sponsors"), ("sponsors", "/admin/setup")]:
        response = post(client, f"/admin/setup/{step}", {"skip": "1"})
        assert response.status_code == 303 and response.headers["Location"] == following
    saved = settings_row(app)
    assert saved.setup_left == ["name", "meetings", "charter", "sponsors"] and saved.group_name == ""
    dashboard = client.get("/").get_data(as_text=True)
    assert ("Finish setting up the group</a>: name and time zone, when and where you meet, the charter, "
            "who may sponsor") in dashboard
    assert "4 of 4 steps left" in client.get("/admin/setup").get_data(as_text=True)


def test_steps_done_later_under_settings_and_sessions_count(app, client, make_member):
    """A group set up before the set-up existed, or an organizer who skipped it, does it in the usual pages."""
    with app.app_context():
        db.session.execute(update(Settings).values(setup_done="", setup_opened_at=utcnow()))
        db.session.commit()
    organizer = make_member.organizer(email="o@example.org")
    sign_in(client, organizer.email)
    page = client.get("/admin/settings").get_data(as_text=True)
    fields = {"group_name": "Dawn Circle", "charter": "Be kind.", "timezone": "UTC", "sponsor_min_attendance": "2",
              "sponsor_max_pending": "2", "invitation_ttl_days": "14", "member_cap": "150",
              "rsvp_cutoff_days_before": "1", "rsvp_cutoff_time": "20:00", "founding_until": ""}
    assert 'name="founding_until"' in page
    assert post(client, "/admin/settings", fields).status_code == 303
    assert settings_row(app).setup_left == ["meetings"]
    post(client, "/admin/series", {"weekday": "2", "start_time": "06:30", "duration_minutes": "60",
                                   "timezone": "UTC", "venue_name": "Café"})
    assert settings_row(app).setup_left == []
    assert "Set-up</a>" not in client.get("/admin/settings").get_data(as_text=True)


def test_a_refused_step_says_why_next_to_the_field_and_keeps_what_was_typed(client, first_organizer):
    sign_in(client, first_organizer)
    response = post(client, "/admin/setup/name", {"group_name": "  ", "timezone": "Pacific/Auckland"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="group_name-error">Name the group.</p>' in page
    assert '<option selected value="Pacific/Auckland">' in page
    assert "data-guess-zone" not in page  # what they chose is not guessed over
    response = post(client, "/admin/setup/name", {"group_name": "Dawn", "timezone": "Mars/Olympus"})
    assert response.status_code == 422 and "Choose a time zone from the list." in response.get_data(as_text=True)
    response = post(client, "/admin/setup/sponsors", {"founding_until": "next spring", "sponsor_min_attendance": "x",
                                                      "sponsor_max_pending": "2"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="next spring"' in page
    assert "Enter a whole number from 0 to 52." in page


def test_a_skip_without_the_form_s_token_is_refused_with_the_step_again(app, client, first_organizer):
    sign_in(client, first_organizer)
    response = client.post("/admin/setup/name", data={"skip": "1"})
    assert response.status_code == 422  # an expired page says so, not a bare 400
    assert "This page had expired: press Skip for now again." in response.get_data(as_text=True)
    assert client.get("/admin/setup/elsewhere").status_code == 404


def test_nothing_goes_out_under_a_default_name(app, client, first_organizer):
    sign_in(client, first_organizer)
    page = client.get("/invitations/").get_data(as_text=True)
    assert "The group has no name yet" in page and "Name the group</a>" in page
    response = post(client, "/invitations/", {"email": "nia@example.org", "vouch_note": "A friend of ten years, thoughtful and kind."})
    assert response.status_code == 422 and sent_mail(app) == []
    assert "Thinking Network" not in page
    post(client, "/admin/setup/name", {"group_name": "Dawn Circle", "timezone": "UTC"})
    response = post(client, "/invitations/", {"email": "nia@example.org", "vouch_note": "A friend of ten years, thoughtful and kind."})
    assert response.status_code == 303
    [invitation] = sent_mail(app)
    assert invitation["Subject"] == "Olga Organizer invites you to Dawn Circle"
    body = body_text(invitation)
    assert "Olga Organizer vouches for you and invites you to join Dawn Circle" in body  # no "(Organizer)"


@pytest.fixture
def new_member(app, make_member):
    founder = make_member.organizer(email="o@example.org", name="Olga Organizer")
    return make_member(email="m@example.org", name="Mia Member", sponsor_id=founder.id)


def set_founding(app, until: date | None) -> None:
    with app.app_context():
        db.session.execute(update(Settings).values(founding_until=until, timezone="Pacific/Kiritimati"))
        db.session.commit()


def group_today() -> date:
    return utcnow().astimezone(ZoneInfo("Pacific/Kiritimati")).date()


def test_in_the_founding_period_any_member_may_sponsor_to_its_last_day(app, client, new_member):
    # The last day is the group's own day: UTC+14 is a day ahead of most of the world.
    set_founding(app, group_today())
    sign_in(client, new_member.email)
    response = post(client, "/invitations/", {"email": "nia@example.org", "vouch_note": "A friend of ten years, thoughtful and kind."})
    assert response.status_code == 303, response.get_data(as_text=True)


def test_after_the_founding_period_the_attendance_rule_applies(app, client, new_member):
    set_founding(app, group_today() - timedelta(days=1))
    sign_in(client, new_member.email)
    page = client.get("/invitations/").get_data(as_text=True)
    assert "You can sponsor after attending 2 sessions; you have attended 0." in page
    response = post(client, "/invitations/", {"email": "nia@example.org", "vouch_note": "A friend of ten years, thoughtful and kind."})
    assert response.status_code == 422 and sent_mail(app) == []


def test_the_demo_group_is_set_up(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    saved = settings_row(app)
    assert saved.setup_left == [] and saved.setup_opened_at is not None


@pytest.mark.parametrize("members", [True, False])
def test_migration_0013_sets_up_a_group_that_has_members_and_not_one_that_has_none(tmp_path, members):
    from flask_migrate import upgrade

    from conftest import app_config
    from thinknet import create_app

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    app = create_app(app_config(tmp_path / "instance", url))
    with app.app_context():
        upgrade(revision="0012")
        with db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE settings SET group_name = 'Dawn Circle'" if members else "SELECT 1")
            if members:
                connection.exec_driver_sql(
                    "INSERT INTO member (email, name, headline, sector, bio, password_hash, role, status, "
                    "wants_calendar_updates, wants_calendar_feed, calendar_feed_version, joined_at) VALUES "
                    "('o@example.org', 'Olga', '', '', '', 'x', 'ORGANIZER', 'ACTIVE', 1, 0, 0, '2025-01-01')")
        upgrade()
        row = db.session.scalar(select(Settings))
        if members:
            assert row.group_name == "Dawn Circle" and row.setup_left == [] and row.setup_opened_at is not None
        else:
            assert row.group_name == "" and len(row.setup_left) == 4 and row.setup_opened_at is None
        db.engine.dispose()


# Found from outside: the bare address, dates that end the founding period before it starts, an invisible name,
# the zone when the first step is skipped, and what an unnamed group sends.


def test_the_first_sign_in_from_the_bare_address_also_leads_into_the_set_up(client, first_organizer):
    assert client.get("/").headers["Location"] == "/login?next=/"
    response = client.post("/login?next=/", data={"email": first_organizer, "password": PASSWORD,
                                                   "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/admin/setup/name"


@pytest.mark.parametrize("day", ["2020-01-01", "0001-01-01", "yesterday", "far"])
def test_a_founding_period_that_has_ended_or_is_years_away_is_refused(client, first_organizer, day):
    sign_in(client, first_organizer)
    today = utcnow().date()  # the new group's zone is UTC
    value = {"yesterday": (today - timedelta(days=1)).isoformat(),
             "far": (today + timedelta(days=800)).isoformat()}.get(day, day)
    response = post(client, "/admin/setup/sponsors", {"founding_until": value, "sponsor_min_attendance": "2",
                                                      "sponsor_max_pending": "2"})
    assert response.status_code == 422
    assert "Choose a day from today to two years on, or leave it empty" in response.get_data(as_text=True)


def test_a_founding_period_that_ended_may_stay_saved_in_the_settings(app, client, organizer):
    ended = utcnow().date() - timedelta(days=30)
    with app.app_context():
        db.session.execute(update(Settings).values(founding_until=ended))
        db.session.commit()
    sign_in(client, organizer.email)
    fields = {"group_name": "Thinking Network", "charter": "Be kind.", "timezone": "UTC",
              "sponsor_min_attendance": "2", "sponsor_max_pending": "2", "invitation_ttl_days": "14",
              "member_cap": "150", "rsvp_cutoff_days_before": "1", "rsvp_cutoff_time": "20:00",
              "founding_until": ended.isoformat()}
    assert post(client, "/admin/settings", fields).status_code == 303
    assert settings_row(app).founding_until == ended


@pytest.mark.parametrize("name", ["\u200b", " \u200b\u2060 ", "\u00ad"])
def test_a_name_that_shows_nothing_is_refused(client, first_organizer, name):
    sign_in(client, first_organizer)
    response = post(client, "/admin/setup/name", {"group_name": name, "timezone": "UTC"})
    assert response.status_code == 422
    assert '<p class="error" id="group_name-error">Name the group.</p>' in response.get_data(as_text=True)


def test_with_the_first_step_skipped_the_meetings_step_asks_the_zone_and_guesses_it(client, first_organizer):
    sign_in(client, first_organizer)
    post(client, "/admin/setup/name", {"skip": "1"})
    page = client.get("/admin/setup/meetings").get_data(as_text=True)
    assert 'name="timezone"' in page and "data-guess-zone" in page and 'id="zone-guess"' in page


def test_an_unnamed_group_sends_no_invite_and_names_no_breakfast_after_nobody(app, client, first_organizer):
    sign_in(client, first_organizer)
    post(client, "/admin/setup/meetings", {"weekday": "3", "start_time": "06:30", "duration_minutes": "60",
                                           "timezone": "UTC", "venue_name": "Café"})
    with app.app_context():
        meeting_id = db.session.scalars(select(Meeting.id).order_by(Meeting.starts_at)).first()
    response = post(client, f"/admin/meetings/{meeting_id}/calendar-updates", {})
    assert response.status_code == 303 and sent_mail(app) == []
    assert "Name the group first" in client.get(response.headers["Location"]).get_data(as_text=True)
    response = post(client, "/admin/calendar-updates", {"weeks": "4"})
    assert sent_mail(app) == []
    ics = client.get(f"/meetings/{meeting_id}.ics").get_data(as_text=True)
    assert "SUMMARY:Breakfast" in ics and 'CN="The organizers"' in ics
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "text=Breakfast" in page and "text=+breakfast" not in page


def test_once_named_mail_goes_out_under_the_group_s_name(app, client, first_organizer):
    sign_in(client, first_organizer)
    post(client, "/admin/setup/name", {"group_name": "Dawn Circle", "timezone": "UTC"})
    post(client, "/invitations/", {"email": "nia@example.org", "vouch_note": "A friend of ten years, kind."})
    [invitation] = sent_mail(app)
    assert invitation["From"] == "Dawn Circle <no-reply@localhost>"


def test_a_zone_chosen_in_the_meetings_step_is_not_guessed_over_later(client, first_organizer):
    sign_in(client, first_organizer)
    post(client, "/admin/setup/name", {"skip": "1"})
    post(client, "/admin/setup/meetings", {"weekday": "2", "start_time": "07:30", "duration_minutes": "60",
                                           "timezone": "Europe/Lisbon", "venue_name": "Café"})
    page = client.get("/admin/setup/name").get_data(as_text=True)
    assert "data-guess-zone" not in page and '<option selected value="Europe/Lisbon">' in page
