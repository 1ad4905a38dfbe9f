"""A member's own data: the JSON export, deleting the account, and forms that outlive their CSRF token."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, csrf_token, sign_in
from thinknet.extensions import db
from thinknet.models import (
    Attendance,
    AuditEvent,
    Invitation,
    Member,
    MemberStatus,
    SignIn,
    Takeaway,
    Topic,
    TopicState,
    Vote,
    utcnow,
)


@pytest.fixture
def history(app, make_member, make_meeting, member):
    """Ada's history: a sponsor above, a newcomer below, an anonymous topic, a vote, a takeaway."""
    sponsor = make_member(name="Sam Sponsor")
    with app.app_context():
        db.session.get(Member, member.id).sponsor_id = sponsor.id
        db.session.commit()
    newcomer = make_member(name="Nia Newcomer", sponsor_id=member.id)
    past = make_meeting(days_from_now=-3)
    with app.app_context():
        secret = Topic(title="My co-founder worry", author_id=member.id, anonymous=True, state=TopicState.OPEN)
        other = Topic(title="Pricing", author_id=sponsor.id, state=TopicState.OPEN)
        db.session.add_all([secret, other, Attendance(meeting_id=past, member_id=member.id),
                            Takeaway(meeting_id=past, author_id=member.id, body="Say it early.")])
        db.session.flush()
        db.session.add(Vote(topic_id=other.id, member_id=member.id))
        db.session.commit()
        return {"sponsor": sponsor, "newcomer": newcomer, "secret": secret.id}


def test_a_member_downloads_all_their_own_data(client, login, member, history):
    login(member)
    response = client.get("/me/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["profile"]["email"] == member.email and data["profile"]["sponsor"] == "Sam Sponsor"
    [topic] = data["topics"]
    assert topic == {**topic, "title": "My co-founder worry", "anonymous": True, "yours": True}
    assert data["me_too"] == ["Pricing"]
    assert data["takeaways"][0]["text"] == "Say it early."
    assert len(data["attended"]) == 1
    assert "Nia Newcomer" not in response.get_data(as_text=True)  # only their own data


def test_deleting_an_account_scrubs_it_and_keeps_the_chain_and_anonymity(app, client, login, member, history,
                                                                       make_member):
    login(member)
    phone = app.test_client()
    sign_in(phone, member.email)
    response = client.post("/me/delete", data={"password": PASSWORD, "confirm": "y",
                                               "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    assert phone.get("/").status_code == 303 and client.get("/").status_code == 303
    assert sign_in(app.test_client(), member.email).status_code == 422
    with app.app_context():
        gone = db.session.get(Member, member.id)
        assert (gone.name, gone.headline, gone.bio, gone.status) == ("Former member", "", "", MemberStatus.DEPARTED)
        assert member.email not in gone.email
        assert db.session.get(Member, history["newcomer"].id).sponsor_id == member.id
        assert db.session.scalar(select(func.count()).where(SignIn.member_id == member.id, SignIn.revoked_at.is_(None))) == 0
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 0
        assert db.session.get(Topic, history["secret"]).anonymous
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "member.deleted_account"))
    viewer = make_member(name="Vic Viewer")
    other = app.test_client()
    sign_in(other, viewer.email)
    profile = other.get(f"/members/{history['newcomer'].id}").get_data(as_text=True)
    assert "Former member" in profile and "Sam Sponsor" in profile  # the chain still reaches the founder
    topic_page = other.get(f"/topics/{history['secret']}").get_data(as_text=True)
    assert "Anonymous" in topic_page and "Former member" not in topic_page


def test_deleting_needs_the_password_and_keeps_the_last_organizer(app, client, login, organizer):
    login(organizer)
    wrong = client.post("/me/delete", data={"password": "not it", "confirm": "y",
                                            "csrf_token": csrf_token(client, "/me/")})
    assert wrong.status_code == 422 and "That is not your password." in wrong.get_data(as_text=True)
    last = client.post("/me/delete", data={"password": PASSWORD, "confirm": "y",
                                           "csrf_token": csrf_token(client, "/me/")})
    assert last.status_code == 422 and "only organizer" in last.get_data(as_text=True)


def test_a_takeaway_written_past_its_tokens_life_comes_back_to_send_again(app, client, login, member,
                                                                          make_meeting):
    meeting_id = make_meeting(days_from_now=-1, attendance_recorded_at=utcnow())
    with app.app_context():
        db.session.add(Attendance(meeting_id=meeting_id, member_id=member.id))
        db.session.commit()
    login(member)
    long_text = "What I am taking away: " + "listen before advising. " * 40
    for headers in ({"HX-Request": "true", "X-CSRFToken": "expired-token"}, {}):
        response = client.post(f"/meetings/{meeting_id}/takeaways", data={"body": long_text,
                               "csrf_token": "expired-token"}, headers=headers)
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "This form had expired. What you wrote is still here: please send it again." in page
        assert "listen before advising. " * 40 in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Takeaway)) == 0
    token = csrf_token(client, f"/meetings/{meeting_id}")
    assert client.post(f"/meetings/{meeting_id}/takeaways", data={"body": long_text, "csrf_token": token}
                       ).status_code == 303


@pytest.mark.parametrize(("path", "field", "text"), [
    ("/topics/new", "title", "A long question typed at dawn"),
    ("/invitations/", "vouch_note", "Known her for years; she is thoughtful and kind."),
])
def test_other_forms_also_keep_what_was_typed_when_the_token_expired(app, client, login, organizer, path, field,
                                                                     text):
    login(organizer)
    data = {"title": "", "details": "", "when": "backlog", "email": "new@example.org", "vouch_note": "",
            field: text, "csrf_token": "stale"}
    response = client.post(path, data=data)
    assert response.status_code == 422
    assert text.replace("'", "&#39;") in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Topic)) == 0
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
