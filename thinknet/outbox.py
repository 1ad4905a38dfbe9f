"""The outbox: every message the group sends is a row of `outgoing_mail`, added in the same transaction as the
change that causes it, and sent only once that transaction commits. A change rolled back sends nothing; a
committed one is never lost to a mail outage or a restart.

Sending:
- Each process has one sender thread. The commit of a request that queued mail wakes it; it also looks every
  MAIL_POLL_SECONDS for messages whose next try is due, so retries, and messages left behind by a process that
  stopped, go out without anyone waiting on them. `thinknet send-mail` does the same from the scheduler.
- A message is claimed with a conditional UPDATE before it is sent, so several processes and servers never send
  the same one twice. A claim older than MAIL_STUCK_SECONDS (its process died mid-send) is taken again: a
  message is sent at least once, and twice only if its process died after the mail server took it.
- A failure is tried again after each of MAIL_RETRY_DELAYS in turn. When the tries are used up, or the mail
  server refuses the message for good (a 5xx answer), it is failed and organizers see it on /admin/mail, where
  they can send it again.
- A sent message keeps its subject and recipient for the reports but not its text, which may hold a link.

With MAIL_IN_BACKGROUND off (tests, one-off commands) queued mail is sent at the commit, before the response.

An outbox table in our own database rather than a job library (huey, RQ): a job queue in another store (its own
SQLite file, Redis) cannot join the transaction of the change, so a message could be queued for a change that
was rolled back, or lost between the commit and the enqueue. This table works on the embedded SQLite and across
several servers on PostgreSQL with the same claim.
"""
from __future__ import annotations

import os
import smtplib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context
from flask_mailman import EmailMultiAlternatives
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from thinknet.audit import record
from thinknet.database import after_commit, begin_writing
from thinknet.extensions import db
from thinknet.models import MailState, OutgoingMail, utcnow


# Messages written only when sent (a calendar update shows the session as it is then), by kind.
_composers: dict[str, Callable[[OutgoingMail], EmailMultiAlternatives]] = {}
# Why a kind of message is no longer wanted when its turn comes (None while it is), by kind.
_unwanted: dict[str, Callable[[OutgoingMail], str | None]] = {}


def wanted_while(*kinds: str) -> Callable:
    """Registers the check that a kind of message is still worth sending, asked before each try and before
    an organizer sends it again: a link in it that no longer works (a revoked invitation, a used reset) is
    not sent; the message is withdrawn with the reason."""

    def register(check: Callable[[OutgoingMail], str | None]) -> Callable:
        for kind in kinds:
            _unwanted[kind] = check
        return check

    return register


def composed_when_sent(kind: str) -> Callable[[Callable[[OutgoingMail], EmailMultiAlternatives]], Callable]:
    """Registers how a kind of message is written at the moment it is sent."""

    def register(compose: Callable[[OutgoingMail], EmailMultiAlternatives]) -> Callable:
        _composers[kind] = compose
        return compose

    return register


def put(mail: OutgoingMail) -> OutgoingMail:
    """Queues a message in the current transaction; it is sent once the transaction commits."""
    db.session.add(mail)
    db.session.flush()
    if has_request_context() and not g.get("outbox_wakes"):
        g.outbox_wakes = True
        after_commit(wake)
    return mail


def put_message(message: EmailMultiAlternatives, kind: str, **about: Any) -> OutgoingMail:
    """Queues a message already written (subject, text and HTML) to its one recipient."""
    [recipient] = message.to
    html = next((content for content, mimetype in message.alternatives if mimetype == "text/html"), "")
    return put(OutgoingMail(kind=kind, recipient=recipient, sender=message.from_email, subject=message.subject,
                            body_text=message.body, body_html=html, **about))


def _due(now: datetime):
    # A claim older than MAIL_STUCK_SECONDS belongs to a process that stopped mid-send: it is taken again.
    stuck = now - timedelta(seconds=current_app.config["MAIL_STUCK_SECONDS"])
    return ((OutgoingMail.state == MailState.PENDING) & (OutgoingMail.next_attempt_at <= now)) | (
        (OutgoingMail.state == MailState.SENDING) & (OutgoingMail.claimed_at < stuck))


def _claim_next(now: datetime) -> int | None:
    """The next due message, claimed for this sender and committed, or None when nothing is due."""
    while True:
        mail_id = db.session.scalar(select(OutgoingMail.id).where(_due(now)).order_by(OutgoingMail.id).limit(1))
        if mail_id is None:
            db.session.rollback()
            return None
        claimed = db.session.execute(
            update(OutgoingMail).where(OutgoingMail.id == mail_id, _due(now))
            .values(state=MailState.SENDING, claimed_at=now), execution_options={"synchronize_session": False},
        ).rowcount
        db.session.commit()
        if claimed == 1:
            return mail_id


def _message(mail: OutgoingMail) -> EmailMultiAlternatives:
    compose = _composers.get(mail.kind)
    if compose is not None:
        message = compose(mail)
    else:
        message = EmailMultiAlternatives(subject=mail.subject, body=mail.body_text, from_email=mail.sender,
                                         to=[mail.recipient])
        if mail.body_html:
            message.attach_alternative(mail.body_html, "text/html")
    # The same Message-ID on every try: a copy a slow mail server took before the try timed out is one message,
    # which mail clients show once.
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    message.extra_headers["Message-ID"] = f"<outbox.{mail.id}.{int(mail.created_at.timestamp())}@{host}>"
    return message


def refused_for_good(error: Exception) -> bool:
    """A 5xx answer from the mail server: trying the same message again cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _no_longer_wanted(mail: OutgoingMail) -> str | None:
    check = _unwanted.get(mail.kind)
    return check(mail) if check is not None else None


def _forget_text(mail: OutgoingMail) -> None:
    """Drops a message's text once it is delivered or withdrawn: it may hold a link."""
    mail.body_text = mail.body_html = ""


def _withdraw(mail: OutgoingMail, reason: str) -> None:
    mail.state, mail.error = MailState.WITHDRAWN, reason
    _forget_text(mail)


def _send(mail_id: int) -> bool | None:
    """Tries one claimed message: True sent, False not (tried again later, or failed), None withdrawn."""
    mail = db.session.get(OutgoingMail, mail_id, populate_existing=True)
    reason = _no_longer_wanted(mail)
    if reason is not None:
        _withdraw(mail, reason)
        db.session.commit()
        return None
    try:
        message = _message(mail)
        mail.subject = mail.subject or message.subject  # a message written when sent: its subject, for the reports
        message.send()
    except Exception as error:  # any transport or address error: recorded, tried again later or failed
        delays = current_app.config["MAIL_RETRY_DELAYS"]
        mail.attempts += 1
        mail.error = f"{type(error).__name__}: {error}"[:1000]
        if refused_for_good(error) or mail.attempts > len(delays):
            mail.state = MailState.FAILED
            current_app.logger.error("mail %s (%s) failed for good after %s tries: %s", mail.id, mail.kind,
                                     mail.attempts, mail.error)
        else:
            mail.state = MailState.PENDING
            mail.next_attempt_at = utcnow() + timedelta(seconds=delays[mail.attempts - 1])
            current_app.logger.warning("mail %s (%s) not sent, trying again at %s: %s", mail.id, mail.kind,
                                       mail.next_attempt_at.isoformat(timespec="seconds"), mail.error)
        db.session.commit()
        return False
    mail.attempts += 1
    mail.state, mail.sent_at, mail.error = MailState.SENT, utcnow(), ""
    _forget_text(mail)
    db.session.commit()
    return True


def send_due(now: datetime | None = None) -> tuple[int, int]:
    """Sends every message that is due, one at a time, each committed on its own. Returns (sent, not sent)."""
    begin_writing()
    sent = failed = 0
    while (mail_id := _claim_next(now or utcnow())) is not None:
        outcome = _send(mail_id)
        if outcome:
            sent += 1
        elif outcome is False:
            failed += 1
    return sent, failed


def send_again(mail: OutgoingMail, by: Any) -> str | None:
    """An organizer sends a failed message again, with a full set of tries (kept in the audit log); or why not:
    it is on its way or delivered already (a second tap), or no longer worth sending (its link no longer
    works)."""
    mail = db.session.get(OutgoingMail, mail.id, with_for_update=True, populate_existing=True)
    if mail.state in (MailState.PENDING, MailState.SENDING):
        return f"The message to {mail.recipient} is on its way already."
    if mail.state == MailState.SENT:
        return f"The message to {mail.recipient} was delivered."
    if mail.state == MailState.WITHDRAWN:
        return f"The message to {mail.recipient} is not sent again. {mail.error}"
    reason = _no_longer_wanted(mail)
    if reason is not None:
        _withdraw(mail, reason)
        return f"The message to {mail.recipient} is not sent again. {reason}"
    record(by, "mail.sent_again", target=mail, kind=mail.kind, previous_error=mail.error)
    mail.state, mail.attempts, mail.error, mail.next_attempt_at = MailState.PENDING, 0, "", utcnow()
    put(mail)
    return None


def retry_schedule() -> str:
    """When a message not sent is tried again, in words: "after 1 min, 5 min, 30 min and 2 h"."""
    def words(seconds: int) -> str:
        if seconds % 3600 == 0:
            return f"{seconds // 3600} h"
        return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"

    delays = [words(int(seconds)) for seconds in current_app.config["MAIL_RETRY_DELAYS"]]
    if not delays:
        return "never"
    return "after " + (", ".join(delays[:-1]) + " and " + delays[-1] if len(delays) > 1 else delays[0])


def waiting_and_failed() -> tuple[int, int]:
    """How many messages wait to be sent, and how many failed, for the organizers' pages."""
    counts = dict(db.session.execute(
        select(OutgoingMail.state, func.count()).where(OutgoingMail.state != MailState.SENT)
        .group_by(OutgoingMail.state)).all())
    return (counts.get(MailState.PENDING, 0) + counts.get(MailState.SENDING, 0), counts.get(MailState.FAILED, 0))


def failed_messages(limit: int = 200) -> list[OutgoingMail]:
    return list(db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.state == MailState.FAILED)
        .order_by(OutgoingMail.id.desc()).limit(limit)))


DELIVERY_LOG_PAGE = 50


def delivery_log(page: int = 1) -> tuple[list[OutgoingMail], bool]:
    """Every message, newest first, a page at a time, and whether there are older ones: what went to whom,
    and what became of it."""
    rows = list(db.session.scalars(
        select(OutgoingMail).order_by(OutgoingMail.id.desc())
        .limit(DELIVERY_LOG_PAGE + 1).offset((page - 1) * DELIVERY_LOG_PAGE)))
    return rows[:DELIVERY_LOG_PAGE], len(rows) > DELIVERY_LOG_PAGE


def waiting_messages(limit: int = 200) -> list[OutgoingMail]:
    return list(db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.state.in_([MailState.PENDING, MailState.SENDING]))
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id).limit(limit)))


# The sender thread, one per process and app.

class _Sender:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wanted = threading.Event()
        self.stopping = False
        self.done = threading.Condition()
        self.passes_begun = self.passes_done = 0
        self.thread = threading.Thread(target=self.run, name="thinknet-outbox", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping:
            self.wanted.wait(self.app.config["MAIL_POLL_SECONDS"])
            self.wanted.clear()
            with self.done:
                self.passes_begun += 1
            try:
                with self.app.app_context():  # links outside a request are built on BASE_URL (thinknet.app)
                    try:
                        send_due()
                    finally:
                        db.session.remove()
            except DBAPIError as error:
                from thinknet.errors import database_unreachable, first_line

                if not database_unreachable(error):
                    self.app.logger.exception("the outbox could not send")
                else:  # the database is down: one line a pass, and the next pass tries again
                    self.app.logger.error("the outbox could not reach the database: %s", first_line(error))
            except Exception:  # anything else: logged whole, and the next pass tries again
                self.app.logger.exception("the outbox could not send")
            with self.done:
                self.passes_done += 1
                self.done.notify_all()

    def finish(self, timeout: float) -> None:
        """Returns once a pass that began after this call is over: everything due now was tried."""
        with self.done:
            target = self.passes_begun + 1
        self.wanted.set()
        with self.done:
            self.done.wait_for(lambda: self.passes_done >= target or not self.thread.is_alive(), timeout)

    def stop(self, timeout: float) -> None:
        self.stopping = True
        self.wanted.set()
        self.thread.join(timeout)


_senders: dict[tuple[int, int], _Sender] = {}
_senders_lock = threading.Lock()


def start(app: Flask) -> None:
    """Starts this process's sender for the app (gunicorn does it for each worker as it starts)."""
    key = (id(app), os.getpid())  # a forked worker starts its own: threads do not survive a fork
    with _senders_lock:
        if key not in _senders:
            _senders[key] = _Sender(app)
        sender = _senders[key]
    sender.wanted.set()


def wake() -> None:
    """After a commit that queued mail: sends it now (MAIL_IN_BACKGROUND off) or wakes the sender."""
    app = current_app._get_current_object()
    if app.config["MAIL_IN_BACKGROUND"]:
        start(app)
    else:
        send_due()


def wait_for_background(timeout: float = 60) -> None:
    """Waits until every sender of this process has tried what is due (for commands and tests)."""
    for key, sender in list(_senders.items()):
        if key[1] == os.getpid():
            sender.finish(timeout)


def stop(timeout: float = 30) -> None:
    """Lets each sender finish the message in hand, then stops it (a worker leaving, a test ending). What is
    still queued stays queued for the next sender."""
    with _senders_lock:
        senders = [sender for key, sender in _senders.items() if key[1] == os.getpid()]
        _senders.clear()
    for sender in senders:
        sender.stop(timeout)
