"""The outbox: mail is queued with the change that causes it, sent after the commit, tried again with back-off
when the mail server is down, shown to organizers when it cannot be delivered, and never lost to a restart."""
from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, body_text, csrf_token, sign_in
from servers import GunicornServer, SmtpServer, free_port
from thinknet import mail, outbox
from thinknet.extensions import db
from thinknet.invitations.services import issue_invitation
from thinknet.models import MailState, Member, OutgoingMail, utcnow


def smtp_config(port: int, **more):
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_TIMEOUT": 2, **more}


def invite(app, sponsor, email="newcomer@example.org"):
    """The sponsor invites someone through the page; the client and the page they land on."""
    client = app.test_client()
    assert sign_in(client, sponsor.email).status_code == 303
    response = client.post("/invitations/", data={"email": email, "vouch_note": "A friend of ten years.",
                                                  "csrf_token": csrf_token(client, "/invitations/")},
                           follow_redirects=True)
    return client, response.get_data(as_text=True)


def rows(app):
    with app.app_context():
        return list(db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def send_due_later(app, seconds: float):
    """The outbox's pass as it runs once `seconds` have gone by (a retry's time has come)."""
    with app.app_context():
        return outbox.send_due(utcnow() + timedelta(seconds=seconds))


def test_a_change_rolled_back_sends_nothing_and_a_committed_one_is_sent_after_the_commit(make_app, member,
                                                                                         smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    with app.app_context():
        mail.queue("someone@example.org", "About a change", "welcome", member=db.session.get(Member, member.id),
                   sponsor=None, link="http://localhost/")
        assert smtp_server.received == []  # queued, not sent: the change has not committed
        db.session.rollback()
        assert outbox.send_due() == (0, 0) and rows(app) == []
    with app.app_context():
        mail.queue("someone@example.org", "About a change", "welcome", member=db.session.get(Member, member.id),
                   sponsor=None, link="http://localhost/")
        db.session.commit()
        assert smtp_server.received == []
        assert outbox.send_due() == (1, 0)
    [received] = smtp_server.received
    assert received.rcpt_tos == ["someone@example.org"] and received.message["Subject"] == "About a change"


@pytest.fixture
def later_server():
    """A mail server that is down until the test starts it."""
    server = SmtpServer()
    yield server
    server.stop()


def test_an_invitation_sent_while_the_mail_server_is_down_is_tried_again_and_delivered(make_app, make_member,
                                                                                      later_server):
    app = make_app(**smtp_config(later_server.port))
    sponsor = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    client, page = invite(app, sponsor)
    # The invitation is kept and its email waits: the sponsor is told it is not emailed yet, and when it is retried.
    assert "Invitation sent to newcomer@example.org" in page
    assert "Not emailed yet: the mail server did not take it" in page
    [queued] = rows(app)
    assert (queued.state, queued.attempts) == (MailState.PENDING, 1)
    assert "Connection" in queued.error and queued.next_attempt_at > utcnow() + timedelta(seconds=50)
    assert send_due_later(app, 10) == (0, 0)  # not before its time
    later_server.start()  # the mail server is back
    assert send_due_later(app, 61) == (1, 0)
    [received] = later_server.received
    assert received.rcpt_tos == ["newcomer@example.org"] and "/join/" in received.message.as_string()
    page = client.get("/invitations/").get_data(as_text=True)
    assert "Emailed" in page and "Not emailed yet" not in page
    [sent] = rows(app)
    assert sent.state == MailState.SENT and sent.body_text == "" and sent.body_html == ""  # the link is not kept


def test_after_every_try_fails_organizers_see_the_message_and_can_send_it_again(make_app, make_member,
                                                                               later_server):
    app = make_app(**smtp_config(later_server.port, MAIL_RETRY_DELAYS=[60, 300]))
    organizer = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    sponsor = make_member(name="Sam Sponsor", email="sam@example.org", sponsor_id=organizer.id)
    make_member.organizer(name="Otto Other", email="otto@example.org")
    with app.app_context(), app.test_request_context():
        issued = issue_invitation(db.session.get(Member, organizer.id), "newcomer@example.org", "Known for years.")
        mail.send_invitation(issued.invitation, issued.token)
        db.session.commit()
        assert outbox.send_due() == (0, 1)
    assert send_due_later(app, 61) == (0, 1)
    assert send_due_later(app, 61 + 301) == (0, 1)
    [failed] = rows(app)
    assert (failed.state, failed.attempts) == (MailState.FAILED, 3)
    assert send_due_later(app, 86400) == (0, 0)  # failed for good: no more tries
    del sponsor

    client = app.test_client()
    assert sign_in(client, "otto@example.org").status_code == 303
    index = client.get("/admin/").get_data(as_text=True)
    assert "1 message could not be delivered" in index
    page = client.get("/admin/mail").get_data(as_text=True)
    assert "newcomer@example.org" in page and "ConnectionRefusedError" in page and "tried 3 times" in page

    later_server.start()
    response = client.post(f"/admin/mail/{failed.id}/send-again",
                           data={"csrf_token": csrf_token(client, "/admin/mail")})
    assert response.status_code == 303
    assert [r.rcpt_tos for r in later_server.received] == [["newcomer@example.org"]]
    assert "Every message so far was delivered" in client.get("/admin/mail").get_data(as_text=True)
    assert "mail sent again" in client.get("/admin/audit").get_data(as_text=True)  # who sent it, in the audit log
    # A second tap says it was delivered, and sends nothing; a message that is not there is not found.
    token = csrf_token(client, "/admin/mail")
    again = client.post(f"/admin/mail/{failed.id}/send-again", data={"csrf_token": token}, follow_redirects=True)
    assert "The message to newcomer@example.org was delivered." in again.get_data(as_text=True)
    assert client.post("/admin/mail/999999/send-again", data={"csrf_token": token}).status_code == 404
    assert len(later_server.received) == 1


def test_an_address_the_mail_server_refuses_for_good_fails_at_once(make_app, make_member, smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    smtp_server.refuse.add("newcomer@example.org")
    _, page = invite(app, make_member.organizer(email="olga@example.org"))
    assert "The email could not be delivered" in page
    [failed] = rows(app)
    assert (failed.state, failed.attempts) == (MailState.FAILED, 1) and "550" in failed.error


def test_a_message_claimed_by_a_process_that_died_is_sent_again_after_the_stuck_window(make_app, member,
                                                                                      smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    with app.app_context():
        queued = mail.queue("someone@example.org", "Hello", "welcome", member=db.session.get(Member, member.id),
                            sponsor=None, link="http://localhost/")
        # Claimed a minute ago by a sender that never finished.
        queued.state, queued.claimed_at = MailState.SENDING, utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert outbox.send_due() == (0, 0)  # a minute is not stuck: it may still be sending
        assert outbox.send_due(utcnow() + timedelta(seconds=app.config["MAIL_STUCK_SECONDS"])) == (1, 0)
    assert len(smtp_server.received) == 1


def test_two_senders_at_once_send_each_message_exactly_once(make_app, member, smtp_server):
    apps = [make_app(**smtp_config(smtp_server.port)) for _ in range(3)]
    with apps[0].app_context():
        for n in range(30):
            mail.queue(f"person{n}@example.org", f"Message {n}", "welcome",
                       member=db.session.get(Member, member.id), sponsor=None, link="http://localhost/")
        db.session.commit()
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(len(apps))

    def drain(app):
        with app.app_context():
            barrier.wait()
            results.append(outbox.send_due())
            db.session.remove()

    threads = [threading.Thread(target=drain, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(sent for sent, _ in results) == 30
    recipients = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert recipients == sorted(f"person{n}@example.org" for n in range(30))  # none twice, none missing


def test_the_page_answers_before_the_mail_server_does_when_sending_in_the_background(make_app, make_member,
                                                                                   smtp_server):
    app = make_app(**smtp_config(smtp_server.port, MAIL_IN_BACKGROUND=True))
    smtp_server.gate.clear()  # the mail server holds every message
    _, page = invite(app, make_member.organizer(email="olga@example.org"))
    assert "Invitation sent to newcomer@example.org" in page and smtp_server.received == []
    smtp_server.gate.set()
    outbox.wait_for_background()
    assert len(smtp_server.received) == 1


def test_deleting_an_account_takes_its_waiting_mail_with_it(make_app, make_member):
    app = make_app(**smtp_config(free_port()))
    ada = make_member(name="Ada Lovelace", email="ada@example.org")
    client = app.test_client()
    sign_in(client, "ada@example.org")
    with app.app_context():
        mail.queue("ada@example.org", "For Ada", "welcome", member=db.session.get(Member, ada.id), sponsor=None,
                   link="http://localhost/")
        db.session.commit()
    response = client.post("/me/delete", data={"password": PASSWORD, "confirm": "y",
                                               "csrf_token": csrf_token(client, "/me/")})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 0


def wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def post_invitation(server: GunicornServer, email: str) -> None:
    """Signs Olga in on the live server and sends one invitation, as a browser would."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def token(path: str) -> str:
        page = opener.open(server.url + path).read().decode()
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def post(path: str, data: dict) -> None:
        opener.open(server.url + path, urllib.parse.urlencode({**data, "csrf_token": token(path)}).encode())

    post("/login", {"email": "olga@example.org", "password": PASSWORD})
    post("/invitations/", {"email": email, "vouch_note": "Known for years, a thoughtful person."})


def test_a_worker_killed_mid_send_and_a_restart_lose_no_message(database_url, tmp_path, make_app, make_member,
                                                                 smtp_server):
    make_app()  # empties the shared PostgreSQL database afterwards
    make_member.organizer(name="Olga Organizer", email="olga@example.org")
    env = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port), "MAIL_POLL_SECONDS": "0.5",
           "MAIL_STUCK_SECONDS": "3", "MAIL_TIMEOUT": "20"}
    server = GunicornServer(database_url, tmp_path / "live", workers=2, **env)
    server.start()
    try:
        smtp_server.gate.clear()  # the mail server takes the message but holds it: the send is in progress
        post_invitation(server, "first@example.org")
        checker = make_app()
        wait_for(lambda: [r.state for r in rows(checker)] == [MailState.SENDING])
        # Every process dies at once, mid-send (a crash, an OOM kill): nothing is left to finish the message.
        for child in _children(server.process.pid):
            os.kill(child, signal.SIGKILL)
        server.process.kill()
        server.process.wait(10)
    finally:
        server.stop()
    smtp_server.gate.set()
    time.sleep(0.5)
    smtp_server.received.clear()  # the killed send may or may not have reached the mail server
    restarted = GunicornServer(database_url, tmp_path / "live-again", workers=2, **env)
    restarted.start()
    try:
        # The new workers' senders take the orphaned message once its claim is stale, with no request at all.
        wait_for(lambda: [r.state for r in rows(checker)] == [MailState.SENT])
        assert [r.rcpt_tos for r in smtp_server.received] == [["first@example.org"]]
    finally:
        restarted.stop()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def test_a_revoked_invitation_is_not_emailed_when_its_turn_comes_nor_sent_again(make_app, make_member,
                                                                               later_server):
    app = make_app(**smtp_config(later_server.port, MAIL_RETRY_DELAYS=[]))
    organizer = make_member.organizer(name="Olga Organizer", email="olga@example.org")
    client, _ = invite(app, organizer)  # the mail server is down: the email fails
    [failed] = rows(app)
    assert failed.state == MailState.FAILED
    token = csrf_token(client, "/invitations/")
    assert client.post(f"/invitations/{failed.invitation_id}/revoke", data={"csrf_token": token}).status_code in (
        200, 303)
    later_server.start()
    page = client.post(f"/admin/mail/{failed.id}/send-again", data={"csrf_token": csrf_token(client, "/admin/mail")},
                       follow_redirects=True).get_data(as_text=True)
    assert "is not sent again. Not sent: the invitation is revoked." in page
    assert later_server.received == []
    [withdrawn] = rows(app)
    assert withdrawn.state == MailState.WITHDRAWN and withdrawn.body_text == ""


def test_an_invitation_revoked_while_its_email_waits_is_never_sent(make_app, make_member, later_server):
    app = make_app(**smtp_config(later_server.port))
    client, _ = invite(app, make_member.organizer(email="olga@example.org"))
    [waiting] = rows(app)
    assert waiting.state == MailState.PENDING
    client.post(f"/invitations/{waiting.invitation_id}/revoke", data={"csrf_token": csrf_token(client, "/invitations/")})
    later_server.start()
    assert send_due_later(app, 61) == (0, 0)
    assert later_server.received == [] and rows(app)[0].state == MailState.WITHDRAWN


def test_a_reset_link_used_or_replaced_before_its_email_goes_is_not_sent(make_app, member, later_server):
    from thinknet.auth.services import end_all_sign_ins

    app = make_app(**smtp_config(later_server.port))
    client = app.test_client()
    client.post("/password/forgot", data={"email": member.email,
                                          "csrf_token": csrf_token(client, "/password/forgot")})
    [waiting] = rows(app)
    assert waiting.kind == "password_reset" and waiting.state == MailState.PENDING
    with app.app_context():
        end_all_sign_ins(db.session.get(Member, member.id))  # a password change retires the link
        db.session.commit()
    later_server.start()
    assert send_due_later(app, 61) == (0, 0)
    assert later_server.received == [] and rows(app)[0].state == MailState.WITHDRAWN


def test_pressing_send_invites_twice_or_from_two_tabs_at_once_sends_each_member_one(make_app, make_member,
                                                                                   make_meeting, smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    organizer = make_member.organizer(email="olga@example.org")
    make_member(email="ada@example.org")
    meeting_id = make_meeting(days_from_now=3)
    clients = []
    for _ in range(4):
        client = app.test_client()
        sign_in(client, organizer.email)
        clients.append((client, csrf_token(client, "/")))
    barrier = threading.Barrier(len(clients))

    def press(client_and_token):
        client, token = client_and_token
        barrier.wait()
        return client.post(f"/admin/meetings/{meeting_id}/calendar-updates", data={"csrf_token": token})

    threads = [threading.Thread(target=press, args=(pair,)) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    again = clients[0][0].post(f"/admin/meetings/{meeting_id}/calendar-updates",
                               data={"csrf_token": clients[0][1]}, follow_redirects=True)
    assert "has this version already" in again.get_data(as_text=True)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["ada@example.org", "olga@example.org"]


def test_every_try_of_a_message_carries_the_same_message_id(make_app, member, smtp_server):
    """A copy a slow mail server took after the try timed out, and the next try, are one message to mail
    clients, which show it once."""
    from thinknet.outbox import _message

    app = make_app(**smtp_config(smtp_server.port))
    with app.app_context():
        queued = mail.queue("someone@example.org", "Hello", "welcome", member=db.session.get(Member, member.id),
                            sponsor=None, link="http://localhost/")
        db.session.commit()
        again = _message(queued).extra_headers["Message-ID"]  # what any later try would carry
        assert outbox.send_due() == (1, 0)
    [received] = smtp_server.received
    assert received.message["Message-ID"] == again
    assert again.startswith("<outbox.") and again.endswith("@localhost>")


def test_mail_test_sends_through_the_configured_server_and_says_so(make_app, smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    result = app.test_cli_runner().invoke(args=["mail", "test", "operator@example.org"])
    assert result.exit_code == 0, result.output
    assert f"through the mail server 127.0.0.1:{smtp_server.port}, which accepted it" in result.output
    [received] = smtp_server.received
    assert received.rcpt_tos == ["operator@example.org"] and "thinknet mail test" in body_text(received.message)


def test_mail_test_says_what_went_wrong_when_the_server_is_down_or_refuses(make_app, smtp_server):
    down = make_app(**smtp_config(free_port())).test_cli_runner().invoke(args=["mail", "test", "op@example.org"])
    assert down.exit_code == 1
    assert "Could not send to op@example.org through the mail server 127.0.0.1:" in down.output
    assert "ConnectionRefusedError" in down.output

    smtp_server.refuse.add("nobody@example.org")
    refused = make_app(**smtp_config(smtp_server.port)).test_cli_runner().invoke(
        args=["mail", "test", "nobody@example.org"])
    assert refused.exit_code == 1 and "SMTPRecipientsRefused" in refused.output


def test_organizers_delivery_log_lists_every_message_with_what_became_of_it(app, client, login, organizer, member):
    states = [(MailState.SENT, 1, ""), (MailState.FAILED, 3, "SMTPRecipientsRefused: 550 no such user"),
              (MailState.WITHDRAWN, 0, "the invitation was revoked"), (MailState.PENDING, 2, "timed out"),
              (MailState.PENDING, 0, "")]
    with app.app_context():
        for number in range(outbox.DELIVERY_LOG_PAGE):  # older messages, for a second page
            db.session.add(OutgoingMail(kind="welcome", recipient=f"old{number}@example.org", sender="",
                                        subject="Old", body_text="", body_html="", state=MailState.SENT,
                                        attempts=1, error="", created_at=utcnow(), next_attempt_at=utcnow()))
        db.session.flush()
        for number, (state, attempts, error) in enumerate(states):
            db.session.add(OutgoingMail(
                kind="welcome", recipient=f"person{number}@example.org", sender="", subject=f"Message {number}",
                body_text="", body_html="", state=state, attempts=attempts, error=error, created_at=utcnow(),
                next_attempt_at=utcnow(), sent_at=utcnow() if state == MailState.SENT else None))
            db.session.flush()
        db.session.commit()
    members_client = app.test_client()
    assert sign_in(members_client, member.email).status_code == 303
    assert members_client.get("/admin/mail").status_code == 403
    login(organizer)
    page = client.get("/admin/mail").get_data(as_text=True)
    log = page[page.index('id="mail-log"'):]
    for number, words in enumerate(["sent", "<strong>failed</strong>: SMTPRecipientsRefused: 550 no such user",
                                    "not sent: the invitation was revoked", "retrying", "on its way"]):
        row = log[log.index(f"person{number}@example.org"):]
        assert words in row[:row.index("</tr>")], (number, words)
    assert "Older" in log and "old5@example.org" in log and "old0@example.org" not in log  # newest first
    older = client.get("/admin/mail?page=2").get_data(as_text=True)
    assert "old0@example.org" in older and "Newer" in older
    assert client.get("/admin/mail?page=3").status_code == 404
    assert client.get("/admin/mail?page=99999999999").status_code == 404


def test_a_sponsor_sends_an_undelivered_invitation_again_and_nobody_else_can(make_app, make_member, smtp_server):
    app = make_app(**smtp_config(smtp_server.port))
    smtp_server.refuse.add("newcomer@example.org")  # the newcomer's server bounces it (full mailbox, say)
    sponsor = make_member.organizer(email="olga@example.org")
    client, page = invite(app, sponsor)
    assert "The email could not be delivered: SMTPRecipientsRefused" in page and "Send again" in page
    [failed] = rows(app)

    other = app.test_client()
    assert sign_in(other, make_member.organizer(email="otto@example.org").email).status_code == 303
    stranger = other.post(f"/invitations/{failed.invitation_id}/send-again",
                          data={"csrf_token": csrf_token(other, "/invitations/")})
    assert stranger.status_code == 404

    smtp_server.refuse.clear()
    token = csrf_token(client, "/invitations/")
    sent = client.post(f"/invitations/{failed.invitation_id}/send-again", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "will be emailed again" in sent and "Emailed" in sent
    assert [received.rcpt_tos for received in smtp_server.received] == [["newcomer@example.org"]]
    again = client.post(f"/invitations/{failed.invitation_id}/send-again", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "was delivered" in again and len(smtp_server.received) == 1
    assert client.post("/invitations/999999/send-again", data={"csrf_token": token}).status_code == 404
