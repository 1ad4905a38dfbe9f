"""Every sponsor rule, and the message that names it; tokens; redemption."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from thinknet.extensions import db
from thinknet.invitations import services
from thinknet.models import Invitation, InvitationState, Member, MemberStatus, Settings, utcnow
from thinknet.tokens import hash_token


def fresh(member: Member) -> Member:
    return db.session.get(Member, member.id)


@pytest.fixture
def sponsor(make_member, attend):
    """An ordinary member who has attended enough sessions to sponsor."""
    founder = make_member(email="founder@example.org", name="Fran Founder")
    sponsor = make_member(email="sam@example.org", name="Sam Sponsor", sponsor_id=founder.id)
    attend(sponsor, times=2)
    return sponsor


def issue(sponsor, email="newcomer@example.org", note="We worked together for six years."):
    return services.issue_invitation(fresh(sponsor), email, note)


def test_a_member_who_attended_too_few_sessions_is_told_how_many_more(app_context, make_member, attend):
    founder = make_member(email="f@example.org")
    newish = make_member(email="n@example.org", sponsor_id=founder.id)
    attend(newish, times=1)
    with pytest.raises(services.SponsorNotEligible) as refused:
        issue(newish)
    assert str(refused.value) == ("You can sponsor after attending 2 sessions; you have attended 1. Each breakfast "
                                  "you come to counts once an organizer records it.")


def test_the_attendance_threshold_is_a_setting(app_context, make_member, attend):
    founder = make_member(email="f@example.org")
    newish = make_member(email="n@example.org", sponsor_id=founder.id)
    Settings.get().sponsor_min_attendance = 1
    db.session.commit()
    with pytest.raises(services.SponsorNotEligible, match="after attending 1 session; you have attended 0"):
        issue(newish)
    db.session.rollback()  # an open transaction holds SQLite's write lock; the factory writes separately
    attend(newish, times=1)
    assert issue(newish).token


def test_founders_and_organizers_may_sponsor_without_attending(app_context, make_member):
    founder = make_member(email="f@example.org")
    organizer = make_member.organizer(email="o@example.org", sponsor_id=founder.id)
    assert issue(founder, "a@example.org").token
    assert issue(organizer, "b@example.org").token


def test_a_sponsor_can_have_two_pending_invitations_at_once(app_context, sponsor):
    issue(sponsor, "one@example.org")
    issue(sponsor, "two@example.org")
    with pytest.raises(services.TooManyPending) as refused:
        issue(sponsor, "three@example.org")
    assert "You have 2 pending invitations, and a sponsor can have at most 2 at once." in str(refused.value)
    assert "when one is accepted, expires or is revoked" in str(refused.value)


def test_revoked_and_expired_invitations_free_a_place(app_context, sponsor):
    first = issue(sponsor, "one@example.org").invitation
    second = issue(sponsor, "two@example.org").invitation
    services.revoke_invitation(first, fresh(sponsor))
    second.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert issue(sponsor, "three@example.org").token
    assert issue(sponsor, "four@example.org").token


def test_the_group_cap_counts_members_and_pending_invitations(app_context, sponsor, make_member):
    Settings.get().member_cap = 4  # founder, sponsor, and below: one more member and one invitation
    db.session.commit()
    make_member(email="third@example.org")
    issue(sponsor, "one@example.org")
    with pytest.raises(services.GroupFull) as refused:
        issue(sponsor, "two@example.org")
    assert str(refused.value) == (
        "The group is at its cap of 4 members (3 active members and 1 pending invitation). "
        "You can sponsor again when a place frees up."
    )


def test_an_email_that_belongs_to_a_member_is_refused(app_context, sponsor):
    with pytest.raises(services.AlreadyMember, match="founder@example.org already belongs to a member"):
        issue(sponsor, "FOUNDER@example.org")


def test_an_email_with_a_pending_invitation_is_refused(app_context, sponsor, make_member, attend):
    other = make_member(email="other@example.org", sponsor_id=sponsor.id)
    attend(other, times=2)
    issue(sponsor, "Newcomer@Example.org")
    with pytest.raises(services.AlreadyInvited, match="newcomer@example.org already has a pending invitation"):
        issue(other, "newcomer@example.org")


def test_an_expired_invitation_does_not_block_a_new_one_to_the_same_email(app_context, sponsor):
    old = issue(sponsor).invitation
    old.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert issue(sponsor).token
    assert db.session.get(Invitation, old.id).state == InvitationState.EXPIRED


def test_the_database_allows_one_live_invitation_per_email(app_context, sponsor):
    from sqlalchemy.exc import IntegrityError

    issue(sponsor)
    db.session.commit()
    db.session.add(Invitation(sponsor_id=sponsor.id, email="newcomer@example.org", vouch_note="x",
                              token_hash="f" * 64, expires_at=utcnow() + timedelta(days=1)))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_suspended_member_cannot_sponsor(app_context, sponsor):
    member = fresh(sponsor)
    member.status = MemberStatus.SUSPENDED
    with pytest.raises(services.SponsorNotActive):
        services.issue_invitation(member, "x@example.org", "A long enough vouch note.")


def test_tokens_are_long_random_and_only_their_hash_is_stored(app_context, sponsor):
    issued = issue(sponsor)
    assert len(issued.token) >= 43  # 32 bytes in URL-safe base64: 256 bits
    stored = db.session.get(Invitation, issued.invitation.id)
    assert stored.token_hash == hash_token(issued.token)
    assert issued.token not in stored.token_hash
    other = issue(sponsor, "other@example.org")
    assert other.token != issued.token


def test_invitations_expire_after_the_configured_days(app_context, sponsor):
    issued = issue(sponsor)
    assert timedelta(days=13, hours=23) < issued.invitation.expires_at - utcnow() <= timedelta(days=14)
    issued.invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    with pytest.raises(services.InvitationUnusable, match="has expired. Ask Sam Sponsor to send you a new one."):
        services.redeem_invitation(issued.token, name="N", headline="H", sector="S", password="a long password")


def test_redeeming_creates_the_member_under_the_sponsor_once(app_context, sponsor):
    issued = issue(sponsor)
    member = services.redeem_invitation(issued.token, name="Nia New", headline="Baker", sector="Food",
                                        password="a long password")
    db.session.commit()
    assert member.sponsor_id == sponsor.id
    assert member.email == "newcomer@example.org"
    invitation = db.session.get(Invitation, issued.invitation.id)
    assert invitation.state == InvitationState.ACCEPTED
    assert invitation.member_id == member.id
    with pytest.raises(services.InvitationUnusable, match="already been used"):
        services.redeem_invitation(issued.token, name="Again", headline="B", sector="F", password="a long password")
    assert db.session.scalar(select(func.count()).select_from(Member).where(Member.name == "Again")) == 0


def test_a_revoked_invitation_cannot_be_redeemed(app_context, sponsor):
    issued = issue(sponsor)
    services.revoke_invitation(issued.invitation, fresh(sponsor))
    with pytest.raises(services.InvitationUnusable, match="withdrawn. If you think that is a mistake, ask Sam"):
        services.find_invitation(issued.token)


def test_an_unknown_token_is_refused(app_context):
    with pytest.raises(services.InvitationUnusable) as refused:
        services.find_invitation("made-up")
    assert refused.value.kind == "unknown"
    assert "ask the member who invited you" in str(refused.value)


def test_with_approval_on_an_invitation_waits_and_is_not_usable(app_context, sponsor, make_member):
    Settings.get().invitations_need_approval = True
    db.session.commit()
    issued = issue(sponsor)
    assert issued.token is None
    assert issued.invitation.state == InvitationState.AWAITING_APPROVAL
    db.session.commit()
    organizer = make_member.organizer(email="org@example.org")
    token = services.approve_invitation(issued.invitation, db.session.get(Member, organizer.id))
    assert services.find_invitation(token).id == issued.invitation.id


def test_organizers_invitations_need_no_approval(app_context, make_member):
    Settings.get().invitations_need_approval = True
    db.session.commit()
    organizer = make_member.organizer(email="org@example.org")
    assert issue(organizer).token is not None


def test_the_cap_is_checked_again_when_a_newcomer_joins(app_context, sponsor):
    issued = issue(sponsor)
    Settings.get().member_cap = 2
    db.session.commit()
    with pytest.raises(services.InvitationUnusable) as refused:
        services.redeem_invitation(issued.token, name="N", headline="H", sector="S", password="a long password")
    assert refused.value.kind == "group_full"
