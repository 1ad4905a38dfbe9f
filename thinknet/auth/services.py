"""Sign-in rules: passwords, revocable sign-ins, single-use password-reset links. Flush, never commit."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, func, select, update

from thinknet import outbox, throttle
from thinknet.extensions import db
from thinknet.models import Member, MemberStatus, OutgoingMail, PasswordReset, ResetPurpose, SignIn, utcnow
from thinknet.tokens import hash_token, new_token, token_matches
from thinknet.errors import Refused

PASSWORD_MIN_LENGTH = 8
DELETED_PASSWORD = "!deleted"  # a deleted account's: no password hashes to it
PASSWORD_MAX_LENGTH = 128


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> str | None:
    """Why a new password cannot be used, or None. Length and commonness only: no composition rules."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return f"Use between {PASSWORD_MIN_LENGTH} and {PASSWORD_MAX_LENGTH} characters."
    if password.lower() in common_passwords():
        return "That password is one of the most common ones; choose something less guessable."
    return None


class SignInRefused(Refused):
    """Sign-in refused; the message is safe to show."""


class WrongCredentials(SignInRefused):
    def __init__(self) -> None:
        super().__init__("That email and password do not match a member.")


class MembershipNotActive(SignInRefused):
    def __init__(self, status: MemberStatus) -> None:
        messages = {
            MemberStatus.SUSPENDED: "Your membership is suspended, so you cannot sign in. "
            "Please speak to one of the organizers.",
            MemberStatus.DEPARTED: "You have left the group, so you cannot sign in. "
            "If you would like to come back, please speak to one of the organizers.",
        }
        super().__init__(messages[status])


class ResetLinkInvalid(Refused):
    """A password-reset link that cannot be used; the message says why."""


def password_hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_HASH_TIME_COST"],
        memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
        parallelism=config["PASSWORD_HASH_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def set_password(member: Member, password: str) -> None:
    member.password_hash = hash_password(password)


def password_matches(member: Member, password: str) -> bool:
    try:
        return password_hasher().verify(member.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def change_password(member: Member, current_password: str, new_password: str) -> None:
    """Checks the current password, sets the new one, and ends the member's sign-ins but this one."""
    if not password_matches(member, current_password):
        raise WrongCredentials()
    set_password(member, new_password)
    end_all_sign_ins(member, except_token=member.sign_in_token)
    db.session.flush()


def find_member_by_email(email: str) -> Member | None:
    return db.session.scalar(select(Member).where(func.lower(Member.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> Member:
    """The member with this email and password, or SignInRefused saying why."""
    member = find_member_by_email(email)
    hasher = password_hasher()
    if member is None:
        # Spend the same time as a real check, so response times do not reveal who is a member.
        hasher.hash(password)
        raise WrongCredentials()
    try:
        hasher.verify(member.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise WrongCredentials() from None
    if member.status != MemberStatus.ACTIVE:
        raise MembershipNotActive(member.status)
    if hasher.check_needs_rehash(member.password_hash):
        member.password_hash = hasher.hash(password)
    return member


def start_sign_in(member: Member, user_agent: str = "") -> str:
    """Records a new sign-in and returns the token its cookie will carry."""
    token, token_hash = new_token()
    db.session.add(SignIn(member_id=member.id, token_hash=token_hash, user_agent=user_agent[:200]))
    db.session.flush()
    member.sign_in_token = token
    return token


# Built once: this runs on every signed-in request, and a statement built anew each time costs as much again
# as running it (SQLAlchemy memoizes a statement's cache key on the statement object).
_SIGNED_IN = (
    select(Member, SignIn.token_hash)
    .join(SignIn, SignIn.member_id == Member.id)
    .where(SignIn.token_hash == bindparam("token_hash"), SignIn.revoked_at.is_(None))
)


def member_for_sign_in(token: str) -> Member | None:
    """The active member a sign-in token belongs to, if the sign-in still stands."""
    row = db.session.execute(_SIGNED_IN, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    member, token_hash = row
    if not token_matches(token, token_hash) or member.status != MemberStatus.ACTIVE:
        return None
    member.sign_in_token = token
    return member


def end_sign_in(token: str) -> None:
    db.session.execute(
        update(SignIn)
        .where(SignIn.token_hash == hash_token(token), SignIn.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_all_sign_ins(member: Member, except_token: str | None = None) -> None:
    """Signs the member out everywhere (but for the one sign-in given), and retires every reset link they
    hold: a link asked for before a password change or a sign-out everywhere no longer works after it."""
    statement = update(SignIn).where(SignIn.member_id == member.id, SignIn.revoked_at.is_(None))
    if except_token:
        statement = statement.where(SignIn.token_hash != hash_token(except_token))
    db.session.execute(statement.values(revoked_at=utcnow()))
    db.session.execute(
        update(PasswordReset).where(PasswordReset.member_id == member.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow()), execution_options={"synchronize_session": False})


@dataclass(frozen=True)
class ResetRequest:
    member: Member
    token: str
    expires_at: datetime
    id: int


def request_password_reset(email: str) -> ResetRequest | None:
    """A reset link for an active member's email; None (and no hint) for anyone else."""
    member = find_member_by_email(email)
    if member is None or member.status != MemberStatus.ACTIVE:
        return None
    return _new_link(member, ResetPurpose.PASSWORD)


def _new_link(member: Member, purpose: ResetPurpose) -> ResetRequest:
    token, token_hash = new_token()
    max_age: timedelta = current_app.config["PASSWORD_RESET_MAX_AGE"]
    reset = PasswordReset(member_id=member.id, token_hash=token_hash, expires_at=utcnow() + max_age, purpose=purpose)
    db.session.add(reset)
    db.session.flush()
    return ResetRequest(member=member, token=token, expires_at=reset.expires_at, id=reset.id)


def request_own_data_link(email: str) -> ResetRequest | None:
    """A single-use link to their own data for a member who cannot sign in (left, or suspended) and whose
    account is not deleted; None (and no hint) for anyone else."""
    member = find_member_by_email(email)
    if member is None or member.status == MemberStatus.ACTIVE or member.password_hash == DELETED_PASSWORD:
        return None
    return _new_link(member, ResetPurpose.OWN_DATA)


def _spent(reset: PasswordReset, used: str) -> str | None:
    """Why a link sent by email can no longer be used ("has <used>", "has expired"), or None while it can: the
    one rule for opening the link and for sending its email."""
    if reset.used_at is not None:
        return f"has {used}"
    if reset.expires_at <= utcnow():
        return "has expired"
    return None


def _find_link(token: str, purpose: ResetPurpose, name: str, used: str) -> PasswordReset:
    """A link sent by email (``name`` says which kind), if it can still be used; ResetLinkInvalid says why not."""
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_token(token),
                                                          PasswordReset.purpose == purpose))
    if reset is None or not token_matches(token, reset.token_hash):
        raise ResetLinkInvalid(f"This {name} is not valid. Please ask for a new one.")
    spent = _spent(reset, used)
    if spent is not None:
        raise ResetLinkInvalid(f"This {name} {spent}. Please ask for a new one.")
    return reset


def _claim(reset: PasswordReset, name: str, used: str) -> None:
    """Uses the link up with a conditional update, so two simultaneous uses cannot both succeed."""
    claimed = db.session.execute(
        update(PasswordReset).where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if claimed != 1:
        raise ResetLinkInvalid(f"This {name} has {used}. Please ask for a new one.")


@outbox.wanted_while("password_reset", "own_data_link")
def link_mail_unwanted(mail: OutgoingMail) -> str | None:
    """A reset or data link is emailed only while it can still be used."""
    reset = db.session.get(PasswordReset, mail.password_reset_id) if mail.password_reset_id else None
    spent = ("is gone" if reset is None
             else _spent(reset, "been used or replaced (a password change, a completed reset)"))
    return None if spent is None else f"Not sent: the link in it {spent}."


DATA_LINK_USED = "already been used"
RESET_LINK_USED = "already been used, or the password was changed since it was sent"


def find_own_data_link(token: str) -> PasswordReset:
    return _find_link(token, ResetPurpose.OWN_DATA, "link", DATA_LINK_USED)


def use_own_data_link(token: str) -> Member:
    """Uses a data link once: the member it was sent to, or ResetLinkInvalid saying why not."""
    reset = find_own_data_link(token)
    _claim(reset, "link", DATA_LINK_USED)
    return reset.member


def find_password_reset(token: str) -> PasswordReset:
    """The reset this link stands for, if it can still be used; ResetLinkInvalid says why not."""
    reset = _find_link(token, ResetPurpose.PASSWORD, "password reset link", RESET_LINK_USED)
    if reset.member.status != MemberStatus.ACTIVE:
        raise ResetLinkInvalid("This account cannot sign in. Please speak to one of the organizers.")
    return reset


def reset_password(token: str, new_password: str) -> Member:
    """Uses the link once: sets the password and ends every existing sign-in of that member."""
    reset = find_password_reset(token)
    _claim(reset, "password reset link", RESET_LINK_USED)
    member = reset.member
    set_password(member, new_password)
    end_all_sign_ins(member)
    # Whoever holds the mailbox is the member: guesses from elsewhere no longer keep them out.
    throttle.forget("sign_in", member.email.lower())
    db.session.flush()
    return member
