"""Organizers: invitations with vouch notes and approval, member status and role, settings, the audit log."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from conftest import body_text, csrf_token, sent_mail, sign_in
from thinknet.extensions import db
from thinknet.members import services as member_services
from thinknet.models import AuditEvent, Invitation, InvitationState, Member, MemberStatus, Role, Settings

VOUCH = "Known her for ten years; she is generous with her time and never sells."


@pytest.fixture
def family(make_member, attend):
    """An organizer, a sponsor with two members under them, and a newcomer under one of those."""
    org = make_member.organizer(email="olga@example.org", name="Olga Organizer")
    sponsor = make_member(email="sam@example.org", name="Sam Sponsor", sponsor_id=org.id)
    attend(sponsor, times=2)
    kid = make_member(email="kit@example.org", name="Kit Kid", sponsor_id=sponsor.id)
    sib = make_member(email="sib@example.org", name="Sib Sibling", sponsor_id=sponsor.id)
    grandkid = make_member(email="gus@example.org", name="Gus Grandkid", sponsor_id=kid.id)
    return org, sponsor, kid, sib, grandkid


def post(client, url, page, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def events(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_members_cannot_open_any_organizer_page(app, client, login, family):
    login(family[1])
    for path in ("/admin/", "/admin/audit", "/admin/members", f"/admin/members/{family[2].id}",
                 "/admin/invitations", "/admin/settings"):
        assert client.get(path).status_code == 403, path
    response = post(client, f"/admin/members/{family[2].id}/suspend", "/", reason="no")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Member, family[2].id).status == MemberStatus.ACTIVE


def test_organizers_see_every_invitation_with_its_vouch_note(app, client, login, family):
    org, sponsor = family[0], family[1]
    login(sponsor)
    post(client, "/invitations/", "/invitations/", email="nia@example.org", vouch_note=VOUCH)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(org)
    page = client.get("/admin/invitations").get_data(as_text=True)
    assert "nia@example.org" in page and VOUCH in page and "Sam Sponsor" in page and "pending" in page


def test_with_approval_on_an_invitation_is_emailed_only_once_an_organizer_approves(app, client, login, family):
    org, sponsor = family[0], family[1]
    with app.app_context():
        Settings.get().invitations_need_approval = True
        db.session.commit()
    login(sponsor)
    post(client, "/invitations/", "/invitations/", email="nia@example.org", vouch_note=VOUCH)
    assert "waits for an organizer&#39;s approval" in client.get("/invitations/").get_data(as_text=True)
    assert sent_mail(app) == []
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(org)
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    response = post(client, f"/admin/invitations/{invitation_id}/approve", "/admin/invitations")
    assert response.status_code == 303
    [message] = sent_mail(app)
    assert message["To"] == "nia@example.org"
    path = re.search(r"http://localhost(/join/[\w-]+)", body_text(message)).group(1)
    assert app.test_client().get(path).status_code == 200
    [approved] = events(app, "invitation.approved")
    assert approved.actor_id == org.id and approved.subject_member_id == sponsor.id


def test_an_organizer_revokes_an_invitation_and_says_why(app, client, login, family):
    org, sponsor = family[0], family[1]
    login(sponsor)
    post(client, "/invitations/", "/invitations/", email="nia@example.org", vouch_note=VOUCH)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(org)
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    post(client, f"/admin/invitations/{invitation_id}/revoke", "/admin/invitations", reason="Recruiter, not a peer")
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).state == InvitationState.REVOKED
    [revoked] = events(app, "invitation.revoked")
    assert revoked.details["reason"] == "Recruiter, not a peer"
    assert "Recruiter, not a peer" in client.get("/admin/audit").get_data(as_text=True)


def test_suspending_shows_the_sponsor_and_sponsored_then_tells_the_sponsor(app, client, login, family):
    org, sponsor, kid, sib, grandkid = family
    kid_client = app.test_client()
    sign_in(kid_client, kid.email)
    login(org)
    page = client.get(f"/admin/members/{kid.id}").get_data(as_text=True)
    facts = page[page.index('id="member-facts"'):page.index('id="action-suspend"')]
    assert "Sponsored by" in facts and "Sam Sponsor" in facts and "Gus Grandkid" in facts
    assert "Their sponsor, Sam Sponsor, is told by email." in page

    response = post(client, f"/admin/members/{kid.id}/suspend", f"/admin/members/{kid.id}",
                    reason="Pitched his product at the table twice")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Member, kid.id).status == MemberStatus.SUSPENDED
    assert kid_client.get("/").status_code == 303  # signed out at once
    [notice] = sent_mail(app)
    assert notice["To"] == sponsor.email
    assert "Kit Kid" in notice["Subject"]
    assert "Pitched" not in body_text(notice)  # the reason stays with the organizers
    [event] = events(app, "member.suspended")
    assert (event.actor_id, event.subject_member_id) == (org.id, kid.id)
    assert event.details["reason"] == "Pitched his product at the table twice"
    assert event.created_at is not None
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "member suspended" in audit and "Kit Kid" in audit and "Olga Organizer" in audit


def test_an_organizer_action_needs_a_reason_said_next_to_the_field(app, client, login, family):
    org, kid = family[0], family[2]
    login(org)
    response = post(client, f"/admin/members/{kid.id}/suspend", f"/admin/members/{kid.id}", reason="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="reason-suspend-error">Say why: it is kept in the audit log.</p>' in page
    with app.app_context():
        assert db.session.get(Member, kid.id).status == MemberStatus.ACTIVE


def test_reinstate_depart_and_roles_are_recorded(app, client, login, family):
    org, sponsor, kid = family[0], family[1], family[2]
    login(org)
    page = f"/admin/members/{kid.id}"
    post(client, f"{page}/suspend", page, reason="Cooling off")
    post(client, f"{page}/reinstate", page, reason="Talked it through")
    post(client, f"{page}/make-organizer", page, reason="Will run the summer sessions")
    post(client, f"{page}/unmake-organizer", page, reason="Summer is over")
    post(client, f"{page}/depart", page, reason="Moved to Lisbon")
    with app.app_context():
        member = db.session.get(Member, kid.id)
        assert (member.status, member.role) == (MemberStatus.DEPARTED, Role.MEMBER)
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_member_id == kid.id).order_by(AuditEvent.id)
        ).all()
    assert actions == ["member.suspended", "member.reinstated", "member.made_organizer", "member.unmade_organizer",
                       "member.departed"]


def test_the_group_is_never_left_without_an_organizer(app, client, login, family):
    org = family[0]
    login(org)
    response = post(client, f"/admin/members/{org.id}/unmake-organizer", f"/admin/members/{org.id}",
                    reason="Stepping back")
    assert response.status_code == 422
    assert "is the group&#39;s only organizer" in response.get_data(as_text=True)
    response = post(client, f"/admin/members/{org.id}/depart", f"/admin/members/{org.id}", reason="Leaving")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(Member, org.id).role == Role.ORGANIZER


def test_two_organizers_stepping_down_at_once_leave_one(app, family, make_member):
    first = family[0]
    second = make_member.organizer(email="otto@example.org", name="Otto Organizer")
    barrier, results = threading.Barrier(2), []

    def step_down(member_id):
        with app.app_context():
            barrier.wait()
            member = db.session.get(Member, member_id)
            try:
                member_services.set_organizer(member, member, False, "Stepping back")
                db.session.commit()
                results.append("done")
            except member_services.MemberActionRefused:
                db.session.rollback()
                results.append("refused")

    threads = [threading.Thread(target=step_down, args=(m.id,)) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["done", "refused"]
    with app.app_context():
        assert member_services.active_organizer_count() == 1


def test_organizers_edit_the_sponsor_rules_and_they_apply_at_once(app, client, login, family, make_member):
    org = family[0]
    newish = make_member(email="new@example.org", sponsor_id=org.id)
    login(org)
    form = {
        "group_name": "Dawn Thinkers", "charter": "Be kind. No selling.", "timezone": "Europe/Berlin",
        "sponsor_min_attendance": "0", "sponsor_max_pending": "3", "invitation_ttl_days": "7",
        "member_cap": "120", "invitations_need_approval": "", "rsvp_cutoff_days_before": "1",
        "rsvp_cutoff_time": "19:30", "mail_sender_name": "Dawn Thinkers", "mail_sender_email": "hello@dawn.example",
    }
    response = post(client, "/admin/settings", "/admin/settings", **form)
    assert response.status_code == 303
    with app.app_context():
        settings = Settings.get()
        assert (settings.group_name, settings.sponsor_min_attendance, settings.invitation_ttl_days,
                settings.member_cap, settings.timezone) == ("Dawn Thinkers", 0, 7, 120, "Europe/Berlin")
    [changed] = events(app, "settings.changed")
    assert changed.details["changes"]["sponsor_min_attendance"] == {"from": "2", "to": "0"}
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(newish)
    response = post(client, "/invitations/", "/invitations/", email="nia@example.org", vouch_note=VOUCH)
    assert response.status_code == 303


def test_bad_settings_are_refused_next_to_their_field_and_kept(app, client, login, family):
    login(family[0])
    form = {
        "group_name": "Dawn Thinkers", "charter": "Be kind.", "timezone": "Mars/Olympus",
        "sponsor_min_attendance": "-1", "sponsor_max_pending": "two", "invitation_ttl_days": "7",
        "member_cap": "120", "rsvp_cutoff_days_before": "1", "rsvp_cutoff_time": "8pm",
        "mail_sender_name": "", "mail_sender_email": "",
    }
    response = post(client, "/admin/settings", "/admin/settings", **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="timezone-error">Choose a time zone from the list.' in page
    assert 'id="sponsor_min_attendance-error">Enter a whole number from 0 to 52.' in page
    assert 'id="sponsor_max_pending-error">' in page
    assert 'value="Dawn Thinkers"' in page
    with app.app_context():
        assert Settings.get().timezone == "UTC"
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "settings.changed")) == 0
