"""Where calendar replies come in: the group's mailbox over IMAP (`thinknet fetch-replies`, once from the
scheduler or kept open with IDLE), or one message on standard input (`thinknet receive-mail`, for a mail
server's pipe or a forwarding rule).

Each message is applied and committed on its own (thinknet.calendar.replies), then moved out of the inbox: to
IMAP_DONE_FOLDER once applied or answered, to IMAP_KEPT_FOLDER when kept aside, for an organizer to look at.
A process stopped between the commit and the move reads the message again next time, and its Message-ID makes
that a no-op. While the database is down nothing is moved: the messages wait in the inbox.

IMAPClient (a well-kept IMAP library: MOVE, IDLE, TLS with certificate checks) rather than imaplib by hand.
"""
from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import IntegrityError

from thinknet import outbox
from thinknet.calendar import replies
from thinknet.extensions import db

log = logging.getLogger(__name__)

KEPT_FOLDER_ON_DISK = "kept-mail"  # in the instance folder: messages piped in and kept aside
KEPT_BYTES = 256 * 1024  # of each, enough to see what it was; the rest is cut (a reply is a few kilobytes)


class MailboxNotConfigured(RuntimeError):
    pass


def take(raw: bytes) -> replies.Outcome:
    """One message, applied and committed on its own; the mail it causes is sent after."""
    try:
        outcome = replies.receive(raw)
        db.session.commit()
    except IntegrityError:  # another reader recorded the same message first
        db.session.rollback()
        return replies.Outcome("unchanged", "this message was read before")
    except BaseException:
        db.session.rollback()
        raise
    return outcome


def keep_on_disk(raw: bytes) -> Path:
    """A piped message kept aside: written under the instance folder, readable by the site's user only, its
    first 256 KB (the rest of a huge message is cut)."""
    import hashlib
    from datetime import datetime, timezone

    folder = Path(current_app.instance_path) / KEPT_FOLDER_ON_DISK
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{hashlib.sha256(raw).hexdigest()[:16]}.eml"
    path.touch(mode=0o600)
    path.write_bytes(raw[:KEPT_BYTES])
    return path


def prune_kept_on_disk(days: int = 90) -> int:
    """Drops piped messages kept aside longer than ``days``."""
    import time

    folder = Path(current_app.instance_path) / KEPT_FOLDER_ON_DISK
    horizon = time.time() - days * 86400
    gone = 0
    for path in folder.glob("*.eml") if folder.exists() else []:
        if path.stat().st_mtime < horizon:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


@dataclass
class Tally:
    applied: int = 0
    unchanged: int = 0
    refused: int = 0
    kept: int = 0
    outcomes: list[replies.Outcome] = field(default_factory=list)

    def add(self, outcome: replies.Outcome) -> None:
        setattr(self, outcome.outcome, getattr(self, outcome.outcome) + 1)
        self.outcomes.append(outcome)

    def __str__(self) -> str:
        return (f"{self.applied} answer(s) applied, {self.unchanged} unchanged, {self.refused} refused by the RSVP "
                f"rules, {self.kept} message(s) kept aside")


def connect() -> IMAPClient:
    """A logged-in connection to the reply mailbox, over TLS (the certificate checked) unless the server is this
    machine and IMAP_SECURITY is "none"."""
    config = current_app.config
    host = config.get("IMAP_HOST")
    if not host or not config.get("IMAP_USER"):
        raise MailboxNotConfigured("THINKNET_IMAP_HOST and THINKNET_IMAP_USER (and THINKNET_IMAP_PASSWORD) name "
                                   "the reply mailbox; they are not set.")
    security = str(config["IMAP_SECURITY"]).lower()
    if security not in ("ssl", "starttls", "none"):
        raise MailboxNotConfigured("THINKNET_IMAP_SECURITY must be ssl, starttls or none.")
    if security == "none" and host not in ("127.0.0.1", "localhost", "::1"):
        raise MailboxNotConfigured("THINKNET_IMAP_SECURITY=none is only for a server on this machine: the "
                                   "password would cross the network in clear.")
    context = ssl.create_default_context(cafile=config.get("IMAP_CA_FILE") or None)
    port = int(config.get("IMAP_PORT") or (993 if security == "ssl" else 143))
    client = IMAPClient(host, port=port, ssl=security == "ssl", ssl_context=context, timeout=30)
    try:
        if security == "starttls":
            client.starttls(context)
        client.login(config["IMAP_USER"], config.get("IMAP_PASSWORD") or "")
        for folder in (config["IMAP_DONE_FOLDER"], config["IMAP_KEPT_FOLDER"]):
            if not client.folder_exists(folder):
                client.create_folder(folder)
        client.select_folder(config["IMAP_FOLDER"])
    except BaseException:
        client.shutdown()
        raise
    return client


def _move(client: IMAPClient, uid: int, folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move([uid], folder)
    else:
        client.copy([uid], folder)
        client.delete_messages([uid])
        client.uid_expunge([uid]) if client.has_capability("UIDPLUS") else client.expunge()


def read_inbox(client: IMAPClient, tally: Tally) -> None:
    """Every message in the inbox, oldest first: applied, then moved out."""
    config = current_app.config
    for uid in client.search(["NOT", "DELETED"]):
        try:
            fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        except IMAPClientError:  # another reader took it meanwhile (EXPUNGEISSUED)
            continue
        if not fetched or b"BODY[]" not in fetched:
            continue  # gone since the search (another reader moved it)
        outcome = take(fetched[b"BODY[]"])
        tally.add(outcome)
        try:
            _move(client, uid, config["IMAP_KEPT_FOLDER"] if outcome.kept else config["IMAP_DONE_FOLDER"])
        except IMAPClientError:
            continue  # moved by another reader first; recorded once all the same
    outbox.send_due()


def fetch_replies(idle: bool = False, stop: threading.Event | None = None) -> Tally:
    """Reads the inbox once; with ``idle``, then waits for new mail (IMAP IDLE) and reads it as it comes, until
    ``stop`` is set."""
    tally = Tally()
    stop = stop or threading.Event()
    client = connect()
    try:
        read_inbox(client, tally)
        while idle and not stop.is_set():
            client.idle()
            try:
                waited = 0
                news = []
                while not news and not stop.is_set() and waited < current_app.config["IMAP_IDLE_SECONDS"]:
                    news = client.idle_check(timeout=1)
                    waited += 1
            finally:
                client.idle_done()
            read_inbox(client, tally)
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection is closing anyway
            client.shutdown()
    return tally
