"""Access control, proven for every route: each endpoint and method, requested as each role, must give the
outcome the policy table states. A route missing from the table fails the test, so none ships unclassified."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from conftest import PASSWORD, csrf_token, sign_in
from thinknet.auth.services import request_password_reset
from thinknet.extensions import db
from thinknet.invitations.services import issue_invitation
from thinknet.calendar.feed import feed_token
from thinknet.models import AuditEvent, MailState, Member, MemberStatus, OutgoingMail, Topic, TopicState

ROLES = ["visitor", "newcomer", "member_a", "member_b", "suspended", "organizer"]
SIGNED_OUT = {"visitor", "newcomer", "suspended"}

# Outcomes: ok (the role may; a state-changing request without a CSRF token is then refused with 400),
# login (sent to sign in), forbidden (403), missing (404: not theirs), home (a signed-in member is sent home).
EVERYONE, MEMBERS, ORGANIZERS, A_ONLY = "everyone", "members", "organizers", "a_only"

POLICY: dict[tuple[str, str], str] = {
    ("admin.index", "GET"): ORGANIZERS, ("admin.mail_page", "GET"): ORGANIZERS,
    ("admin.send_mail_again", "POST"): ORGANIZERS, ("admin.audit", "GET"): ORGANIZERS, ("admin.members", "GET"): ORGANIZERS,
    ("admin.member", "GET"): ORGANIZERS, ("admin.member_action", "POST"): ORGANIZERS,
    ("admin.invitations", "GET"): ORGANIZERS, ("admin.approve_invitation", "POST"): ORGANIZERS,
    ("admin.revoke_invitation", "POST"): ORGANIZERS, ("admin.settings", "GET"): ORGANIZERS,
    ("admin.settings", "POST"): ORGANIZERS, ("admin.series", "GET"): ORGANIZERS, ("admin.series", "POST"): ORGANIZERS,
    ("admin.meetings", "GET"): ORGANIZERS, ("admin.meetings", "POST"): ORGANIZERS,
    ("admin.meeting", "GET"): ORGANIZERS, ("admin.meeting", "POST"): ORGANIZERS,
    ("admin.cancel_meeting", "POST"): ORGANIZERS, ("admin.send_calendar_updates", "POST"): ORGANIZERS,
    ("admin.send_upcoming_calendar_updates", "POST"): ORGANIZERS,
    ("members.me_in_tree", "GET"): MEMBERS, ("admin.setup", "GET"): ORGANIZERS, ("admin.setup_step", "GET"): ORGANIZERS,
    ("admin.setup_step", "POST"): ORGANIZERS,
    ("auth.login", "GET"): "signed_out_page", ("auth.login", "POST"): "signed_out_page",
    ("auth.logout", "POST"): MEMBERS,
    ("auth.forgot_password", "GET"): EVERYONE, ("auth.forgot_password", "POST"): EVERYONE,
    ("auth.reset_password", "GET"): EVERYONE, ("auth.reset_password", "POST"): EVERYONE,
    ("join.landing", "GET"): "signed_out_page", ("join.landing", "POST"): "signed_out_page",
    ("calendar.subscription", "GET"): EVERYONE, ("main.healthz", "GET"): EVERYONE,
    ("main.dashboard", "GET"): MEMBERS,
    ("members.index", "GET"): MEMBERS, ("members.tree", "GET"): MEMBERS, ("members.profile", "GET"): MEMBERS,
    ("invitations.index", "GET"): MEMBERS, ("invitations.index", "POST"): MEMBERS,
    ("invitations.revoke", "POST"): A_ONLY, ("invitations.send_again", "POST"): A_ONLY,
    ("me.index", "GET"): MEMBERS, ("me.index", "POST"): MEMBERS, ("me.password", "POST"): MEMBERS,
    ("me.leave", "POST"): MEMBERS, ("me.standing", "POST"): MEMBERS, ("me.calendar_choice", "POST"): MEMBERS,
    ("me.reset_calendar_link", "POST"): MEMBERS, ("me.sign_out_everywhere", "POST"): MEMBERS,
    ("me.export", "GET"): MEMBERS, ("me.delete", "POST"): MEMBERS,
    ("meetings.index", "GET"): MEMBERS, ("meetings.show", "GET"): MEMBERS, ("meetings.download", "GET"): MEMBERS,
    ("meetings.rsvp", "POST"): MEMBERS, ("meetings.add_takeaway", "POST"): MEMBERS,
    ("meetings.confirm_attendance", "POST"): ORGANIZERS, ("meetings.toggle_attendance", "POST"): ORGANIZERS,
    ("meetings.close_agenda", "POST"): ORGANIZERS,
    ("topics.index", "GET"): MEMBERS, ("topics.new", "GET"): MEMBERS, ("topics.new", "POST"): MEMBERS,
    ("topics.show", "GET"): MEMBERS, ("topics.edit", "GET"): A_ONLY, ("topics.edit", "POST"): A_ONLY,
    ("topics.withdraw", "POST"): A_ONLY, ("topics.vote", "POST"): MEMBERS,
    ("topics.pin", "POST"): ORGANIZERS, ("topics.drop", "POST"): ORGANIZERS, ("topics.discussed", "POST"): ORGANIZERS,
    ("topics.move", "POST"): ORGANIZERS,
    # A departed member's own data: asking for the link and opening it are for anyone; what it opens needs the
    # grant the link gives one browser (without it, anyone is sent to ask for a link).
    ("own_data.ask", "GET"): EVERYONE, ("own_data.ask", "POST"): EVERYONE,
    ("own_data.open_link", "GET"): "gone", ("own_data.open_link", "POST"): "gone",  # a link nobody was sent
    ("own_data.manage", "GET"): "needs_grant", ("own_data.export", "GET"): "needs_grant",
    ("own_data.delete", "POST"): "needs_grant",
}


def expected(rule_class: str, role: str) -> str:
    signed_out = role in SIGNED_OUT
    if rule_class == EVERYONE:
        return "ok"
    if rule_class == "signed_out_page":
        return "ok" if signed_out else "home"
    if rule_class == "needs_grant":
        return "ask_for_link"
    if rule_class == "gone":
        return "gone"
    if signed_out:
        return "login"
    if rule_class == MEMBERS:
        return "ok"
    if rule_class == ORGANIZERS:
        return "ok" if role == "organizer" else "forbidden"
    if rule_class == A_ONLY:
        return "ok" if role == "member_a" else "missing"
    raise AssertionError(rule_class)


@pytest.fixture
def world(app, make_member, make_meeting, attend):
    """An organizer, member A (with a topic, an invitation, a feed and a reset link), member B, a member who
    will be suspended, an upcoming session."""
    organizer = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    a = make_member(name="Ada A", email="ada@example.org", sponsor_id=organizer.id)
    b = make_member(name="Ben B", email="ben@example.org", sponsor_id=organizer.id)
    suspended = make_member(name="Sue S", email="sue@example.org", sponsor_id=organizer.id)
    attend(a, times=2)
    meeting_id = make_meeting(days_from_now=3)
    with app.app_context(), app.test_request_context():
        member_a = db.session.get(Member, a.id)
        topic = Topic(title="A's own topic", author_id=a.id, state=TopicState.OPEN)
        db.session.add(topic)
        issued = issue_invitation(member_a, "newcomer@example.org", "Known for years, a thoughtful person.")
        reset = request_password_reset(a.email)
        failed = OutgoingMail(kind="welcome", recipient="gone@example.org", subject="Welcome", state=MailState.FAILED)
        db.session.add(failed)
        db.session.commit()
        ids = {"member_id": a.id, "topic_id": topic.id, "invitation_id": issued.invitation.id, "mail_id": failed.id,
               "meeting_id": meeting_id, "action": "suspend"}
        tokens = {"join.landing": issued.token, "auth.reset_password": reset.token,
                  "calendar.subscription": feed_token(member_a), "own_data.open_link": "not-a-link-anyone-was-sent"}
    return {"organizer": organizer, "a": a, "b": b, "suspended": suspended, "ids": ids, "tokens": tokens}


def client_for(app, role, world):
    client = app.test_client()
    person = {"member_a": world["a"], "member_b": world["b"], "organizer": world["organizer"],
              "suspended": world["suspended"]}.get(role)
    if person is not None:
        assert sign_in(client, person.email, PASSWORD).status_code == 303
    if role == "newcomer":
        client.get(f"/join/{world['tokens']['join.landing']}")  # holds the link and has opened it
    if role == "suspended":  # the cookie was obtained before the suspension
        with app.app_context():
            db.session.get(Member, person.id).status = MemberStatus.SUSPENDED
            db.session.commit()
    return client


def url(app, rule, world) -> str:
    values = {name: world["tokens"][rule.endpoint] if name == "token" else
              "charter" if name == "step" else world["ids"][name] for name in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {table.name: db.session.scalar(select(func.count()).select_from(table))
                for table in db.metadata.sorted_tables}


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (302, 303) and location.startswith("/login"):
        return "login"
    if response.status_code in (302, 303) and location == "/":
        return "home"
    if response.status_code in (302, 303) and location == "/own-data/":
        return "ask_for_link"
    if response.status_code == 303 and location.startswith("/members/tree#tree-member-"):
        return "ok"  # the tree, opened at the member
    if response.status_code == 422 and "csrf_token" not in response.request.form:
        return "csrf"  # a form view hands a tokenless form back, filled in, to send again
    return {200: "ok", 400: "csrf", 403: "forbidden", 404: "missing", 410: "gone", 422: "ok"}.get(response.status_code,
                                                                                   str(response.status_code))


def test_every_route_is_in_the_policy_table(app):
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - POLICY.keys() == set(), "classify these routes in POLICY"
    assert POLICY.keys() - routes == set(), "these routes no longer exist"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_gives_each_role_the_outcome_the_policy_states(app, world, role):
    client = client_for(app, role, world)
    token = csrf_token(client, "/login") if role in SIGNED_OUT else csrf_token(client, "/")
    others = [p.email for key, p in world.items() if key in ("organizer", "a", "b", "suspended")
              and not (role == "member_a" and key == "a") and not (role == "member_b" and key == "b")]
    before = row_counts(app)
    forbidden = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = url(app, rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            want = expected(POLICY[(rule.endpoint, method)], role)
            if method == "GET":
                response = client.get(path)
                assert outcome(response) == want, (rule.endpoint, role, response.status_code)
                if response.status_code == 200 and role in ("member_a", "member_b") and rule.endpoint != "me.export":
                    text = response.get_data(as_text=True)
                    assert not [e for e in others if e in text], (rule.endpoint, "shows another member's email")
                continue
            # Without a CSRF token every state-changing request is refused, whoever sends it.
            bare = client.open(path, method=method, data={})
            if want == "ok":
                assert outcome(bare) == "csrf", (rule.endpoint, role, bare.status_code)
                continue
            assert outcome(bare) in (want, "csrf"), (rule.endpoint, role, bare.status_code)
            # With a valid token, the guard (or the object's owner check) still refuses.
            armed = client.open(path, method=method, data={"csrf_token": token, "reason": "x", "answer": "yes"})
            assert outcome(armed) == want, (rule.endpoint, role, armed.status_code)
            forbidden += (outcome(bare) == "forbidden") + (want == "forbidden")
    after = row_counts(app)
    audit_growth = after.pop("audit_event") - before.pop("audit_event")
    assert after == before, "a refused request changed the database"
    # Each refused organizer-only post is in the audit log; a refused GET (which another site's link or image
    # can send) writes nothing.
    assert audit_growth == forbidden
    if role in ("member_a", "member_b"):
        with app.app_context():
            actions = set(db.session.scalars(select(AuditEvent.action)))
        assert actions <= {"access.refused", "invitation.created"}


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def test_no_email_carries_another_members_address(app, world, make_meeting, close_rsvps_an_hour_ago):
    """Drives the flows that send mail (invitation, welcome, reset, invites, seat freed, sponsor notice,
    headcount), then checks that each message names no address but its recipient's and the sender's."""
    from email.utils import parseaddr

    from thinknet import outbox
    from thinknet.models import Rsvp, RsvpAnswer, utcnow

    a, b, organizer = world["a"], world["b"], world["organizer"]
    seat = make_meeting(days_from_now=3, seat_limit=1)
    soon = make_meeting(days_from_now=2 / 24)
    close_rsvps_an_hour_ago(soon)
    with app.app_context():
        db.session.add(Rsvp(meeting_id=soon, member_id=b.id, answer=RsvpAnswer.YES,
                            answered_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    newcomer = app.test_client()
    newcomer.post(f"/join/{world['tokens']['join.landing']}", data={
        "name": "Nia New", "headline": "Baker", "sector": "Agriculture and food", "password": "flour and water",
        "accept_charter": "y", "csrf_token": csrf_token(newcomer, f"/join/{world['tokens']['join.landing']}")})
    as_a, as_b, as_org = (client_for(app, role, world) for role in ("member_a", "member_b", "organizer"))
    as_a.post("/invitations/", data={"email": "friend@example.org", "vouch_note": "Known for years, kind and sharp.",
                                     "csrf_token": csrf_token(as_a, "/")})
    as_b.post(f"/meetings/{seat}/rsvp", data={"answer": "yes", "csrf_token": csrf_token(as_b, "/")})
    as_a.post(f"/meetings/{seat}/rsvp", data={"answer": "yes", "csrf_token": csrf_token(as_a, "/")})
    as_b.post(f"/meetings/{seat}/rsvp", data={"answer": "no", "csrf_token": csrf_token(as_b, "/")})
    as_org.post(f"/admin/meetings/{seat}/calendar-updates", data={"csrf_token": csrf_token(as_org, "/")})
    as_org.post(f"/admin/members/{b.id}/suspend", data={"reason": "Pitching", "csrf_token": csrf_token(as_org, "/")})
    anonymous = app.test_client()
    anonymous.post("/password/forgot", data={"email": a.email, "csrf_token": csrf_token(anonymous, "/password/forgot")})
    outbox.wait_for_background()
    assert app.test_cli_runner().invoke(args=["send-reminders"]).exit_code == 0

    from conftest import sent_mail

    messages = sent_mail(app)
    subjects = " | ".join(m["Subject"] for m in messages)
    for expected_kind in ("invites you", "Welcome", "Reset your password", "seat opened", "Breakfast on",
                          "suspended", "Headcount"):
        assert expected_kind.lower() in subjects.lower(), expected_kind
    for message in messages:
        allowed = {parseaddr(message["To"])[1], parseaddr(message["From"])[1]}
        found = set(EMAIL.findall(message.as_string()))
        stray = {address for address in found - allowed if not address.endswith(("@thinknet", ".invalid"))
                 and "@" in address and not address.startswith(("=", "-"))}
        assert not stray, (message["Subject"], stray)
