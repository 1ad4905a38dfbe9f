"""Sponsoring through /invitations, the email, and joining through /join/<token>, over HTTP."""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, body_text, csrf_token, sent_mail
from thinknet.extensions import db
from thinknet.invitations import services
from thinknet.models import AuditEvent, Invitation, InvitationState, Member, utcnow

VOUCH = "We ran a studio together for six years; she asks the questions nobody else does."


@pytest.fixture
def sponsor(make_member, attend):
    founder = make_member(email="founder@example.org", name="Fran Founder", headline="Owner", sector="Retail")
    sponsor = make_member(email="sam@example.org", name="Sam Sponsor", headline="Architect", sector="Construction",
                          sponsor_id=founder.id)
    attend(sponsor, times=2)
    return sponsor


def invite(client, email="nia@example.org", note=VOUCH, headers=None):
    token = csrf_token(client, "/invitations/")
    return client.post("/invitations/", data={"email": email, "vouch_note": note, "csrf_token": token},
                       headers=headers or {})


def join_path(message) -> str:
    match = re.search(r"http://localhost(/join/[\w-]+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def join(client, path, **fields):
    data = {"name": "Nia Newcomer", "headline": "Baker", "sector": "Agriculture and food", "password": "flour and water",
            "accept_charter": "y", "csrf_token": csrf_token(client, path)}
    data.update(fields)
    return client.post(path, data=data)


def test_the_whole_journey_from_invitation_to_signed_in_newcomer(app, client, login, sponsor):
    login(sponsor)
    response = invite(client)
    assert response.status_code == 303
    assert "Invitation sent to nia@example.org." in client.get("/invitations/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    [message] = sent_mail(app)
    assert message["To"] == "nia@example.org"
    assert "Sam Sponsor invites you to" in message["Subject"]
    text = body_text(message)
    assert "Sam Sponsor (Architect, Construction) vouches for you" in text
    assert VOUCH not in text  # the vouch note is for organizers and the sponsor only
    path = join_path(message)

    newcomer = app.test_client()
    page = newcomer.get(path).get_data(as_text=True)
    assert "Sam Sponsor" in page and "Architect, Construction" in page
    assert "What is said here stays here." in page  # the charter
    assert VOUCH not in page
    assert 'value="nia@example.org"' in page

    response = join(newcomer, path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    dashboard = newcomer.get("/").get_data(as_text=True)
    assert "Welcome to Thinking Network, Nia Newcomer!" in dashboard
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "nia@example.org"))
        assert member.sponsor_id == sponsor.id
        assert (member.headline, member.sector) == ("Baker", "Agriculture and food")
        invitation = db.session.scalar(select(Invitation))
        assert invitation.state == InvitationState.ACCEPTED and invitation.member_id == member.id
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "member.joined")) == 1

    # The link is single-use.
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)

    # Opened again by the member it made, signed in: theirs, and home they go.
    mine = newcomer.get(path)
    assert mine.status_code == 303 and mine.headers["Location"] == "/"
    assert "This is the invitation you joined with, from Sam Sponsor" in newcomer.get("/").get_data(as_text=True)


def test_a_refused_invitation_names_the_rule_and_keeps_what_was_typed(app, client, login, make_member, attend):
    founder = make_member(email="f@example.org")
    newish = make_member(email="new@example.org", sponsor_id=founder.id)
    attend(newish, times=1)
    login(newish)
    page = client.get("/invitations/").get_data(as_text=True)
    # Said once, with what lifts it, in place of a form the sponsor cannot use.
    assert page.count("You can sponsor after attending 2 sessions; you have attended 1.") == 1
    assert "counts once an organizer records it" in page
    assert 'name="vouch_note"' not in page
    response = invite(client)  # typed in another tab before the rule applied: what was typed is kept
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("You can sponsor after attending 2 sessions; you have attended 1.") == 1
    assert 'value="nia@example.org"' in page
    assert VOUCH in page
    assert sent_mail(app) == []


def test_an_email_already_taken_is_refused_next_to_the_field(client, login, sponsor):
    login(sponsor)
    response = invite(client, email="FOUNDER@example.org")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="email-error">founder@example.org already belongs to a member of the group.</p>' in page


def test_the_vouch_note_is_required(client, login, sponsor):
    login(sponsor)
    response = invite(client, note="")
    assert response.status_code == 422
    assert "Say why you trust this person" in response.get_data(as_text=True)


def test_the_sponsor_sees_states_and_revokes_a_pending_invitation_in_place(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    page = client.get("/invitations/").get_data(as_text=True)
    assert f'id="invitation-{invitation_id}"' in page and "pending" in page and VOUCH in page
    response = client.post(f"/invitations/{invitation_id}/revoke",
                           headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/invitations/")})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert fragment.strip().startswith(f'<li class="invitation state-revoked" id="invitation-{invitation_id}">')
    assert "<html" not in fragment
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).state == InvitationState.REVOKED


def test_revoking_works_without_javascript(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    response = client.post(f"/invitations/{invitation_id}/revoke",
                           data={"csrf_token": csrf_token(client, "/invitations/")})
    assert response.status_code == 303
    assert "The invitation to nia@example.org is revoked." in client.get("/invitations/").get_data(as_text=True)


def test_a_member_cannot_revoke_someone_elses_invitation(app, client, login, sponsor, make_member):
    login(sponsor)
    invite(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    other = make_member(email="other@example.org")
    login(other)
    response = client.post(f"/invitations/{invitation_id}/revoke",
                           data={"csrf_token": csrf_token(client, "/invitations/")})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).state == InvitationState.PENDING


def test_joining_needs_the_charter_accepted_and_keeps_the_answers(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    path = join_path(sent_mail(app)[0])
    newcomer = app.test_client()
    response = join(newcomer, path, accept_charter="", password="short")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "You can join once you accept the charter." in page
    assert "Use between 8 and 128 characters." in page
    assert 'value="Nia Newcomer"' in page and 'value="Baker"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 2


@pytest.mark.parametrize(
    ("change", "heading", "message"),
    [
        ("expire", "This invitation has expired", "Ask Sam Sponsor to send you a new one."),
        ("revoke", "This invitation was withdrawn", "ask Sam Sponsor about it"),
    ],
)
def test_an_unusable_link_says_which_and_what_to_do(app, client, login, sponsor, change, heading, message):
    login(sponsor)
    invite(client)
    path = join_path(sent_mail(app)[0])
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        if change == "expire":
            invitation.expires_at = utcnow() - timedelta(seconds=1)
        else:
            invitation.state = InvitationState.REVOKED
        db.session.commit()
    newcomer = app.test_client()
    page = newcomer.get(path)
    assert page.status_code == 410
    assert heading in page.get_data(as_text=True) and message in page.get_data(as_text=True)
    response = join(newcomer, path)
    assert response.status_code == 410
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 2


def test_an_unknown_link_is_a_clear_404(client):
    response = client.get("/join/this-is-not-a-token")
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.get_data(as_text=True)


def test_redeeming_the_same_invitation_at_the_same_moment_creates_one_member(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    path = join_path(sent_mail(app)[0])
    contenders = [app.test_client() for _ in range(4)]
    tokens = [csrf_token(c, path) for c in contenders]
    barrier = threading.Barrier(len(contenders))
    statuses: list[int] = []

    def redeem(c, token, n):
        barrier.wait()
        response = c.post(path, data={"name": f"Nia {n}", "headline": "Baker", "sector": "Agriculture and food",
                                      "password": "flour and water", "accept_charter": "y", "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=redeem, args=(c, t, n)) for n, (c, t) in enumerate(zip(contenders, tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 410, 410, 410]
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Member.email == "nia@example.org")) == 1


def test_a_second_redemption_waits_for_the_first_and_is_refused_by_the_database(app, sponsor):
    """A holds its redemption open; B arrives meanwhile. The database makes B wait, then refuses it."""
    with app.app_context():
        issued = services.issue_invitation(db.session.get(Member, sponsor.id), "nia@example.org", VOUCH)
        db.session.commit()
        token = issued.token
    a_redeemed, outcome = threading.Event(), {}

    def first():
        with app.app_context():
            services.redeem_invitation(token, name="A", headline="H", sector="S", password=PASSWORD)
            a_redeemed.set()
            time.sleep(0.5)
            db.session.commit()

    def second():
        a_redeemed.wait()
        started = time.monotonic()
        with app.app_context():
            try:
                services.redeem_invitation(token, name="B", headline="H", sector="S", password=PASSWORD)
                db.session.commit()
                outcome["b"] = "joined"
            except services.InvitationUnusable as refused:
                db.session.rollback()
                outcome["b"] = refused.kind
        outcome["waited"] = time.monotonic() - started

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome["b"] == "used"
    assert outcome["waited"] >= 0.3
    with app.app_context():
        assert db.session.scalars(select(Member.name).where(Member.email == "nia@example.org")).all() == ["A"]


def test_a_signed_in_member_opening_a_join_link_is_sent_home(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    path = join_path(sent_mail(app)[0])
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_join_page_says_when_and_where_and_shows_the_charter_formatted(app, client, login, sponsor):
    from datetime import time

    from thinknet.meetings.schedule import SeriesValues, save_series
    from thinknet.models import Settings

    with app.app_context():
        Settings.get().charter = "We think together.\n- No selling.\n- What is said here <stays> here.\n\nBe kind."
        save_series(db.session.get(Member, sponsor.id), SeriesValues(
            weekday=2, start_time=time(6, 30), duration_minutes=60, timezone="UTC", venue_name="Café Luna",
            venue_address="1 Main St", seat_limit=None))
        db.session.commit()
    login(sponsor)
    invite(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    page = client.get(join_path(sent_mail(app)[-1])).get_data(as_text=True)
    where = page[page.index('id="when-where"'):]
    assert where.startswith('id="when-where"><strong>Every Wednesday at 6:30 AM, Café Luna, 1 Main St.</strong>')
    assert "The next breakfast is Wed" in where
    charter = page[page.index('id="charter"'):]
    assert charter.startswith('id="charter"><p>We think together.</p><ul><li>No selling.</li>'
                              '<li>What is said here &lt;stays&gt; here.</li></ul><p>Be kind.</p>')


def test_a_refused_join_keeps_what_was_typed_and_asks_for_the_password_again(app, client, login, sponsor):
    login(sponsor)
    invite(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    path = join_path(sent_mail(app)[-1])
    page = client.get(path).get_data(as_text=True)
    assert "If it is the wrong one, ask Sam Sponsor to invite you at the right address." in page
    response = join(client, path, accept_charter="", headline="Baker & pastry")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Nia Newcomer"' in page and 'value="Baker &amp; pastry"' in page
    assert '<option selected value="Agriculture and food">' in page
    assert "flour and water" not in page
    assert "Type your password again: everything else you wrote is kept" in page
