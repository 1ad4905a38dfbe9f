"""Composing and sending every message the group sends: plain text and HTML from templates/email/, and
calendar invites with their text/calendar part. Sending is done through Flask-Mailman."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.mime.text import MIMEText
from email.utils import formataddr
from typing import Any

from flask import Flask, current_app, flash, render_template, url_for
from flask_mailman import EmailMultiAlternatives

from thinknet.forms import on_one_line
from thinknet.templating import group_settings


def sender_address() -> str:
    settings = group_settings()
    if settings.mail_sender_email:
        return settings.mail_sender_email
    return current_app.config["MAIL_DEFAULT_SENDER"].rsplit("<", 1)[-1].rstrip(">").strip()


def sender() -> str:
    """The group's own sender when organizers set one, else the configured default."""
    settings = group_settings()
    if settings.mail_sender_email:
        return formataddr((on_one_line(settings.mail_sender_name or settings.group_name), settings.mail_sender_email))
    return current_app.config["MAIL_DEFAULT_SENDER"]


class CalendarMessage(EmailMultiAlternatives):
    """A message whose text/calendar alternative carries its iTIP method and keeps its bytes exactly (base64)."""

    def _create_mime_attachment(self, content: Any, mimetype: str) -> Any:
        if mimetype.startswith("text/calendar"):
            part = MIMEText(content.decode("utf-8") if isinstance(content, bytes) else content, "calendar", "utf-8")
            for parameter in mimetype.split(";")[1:]:
                name, _, value = parameter.strip().partition("=")
                part.set_param(name, value)
            return part
        return super()._create_mime_attachment(content, mimetype)


def compose(to: str, subject: str, template: str, *, message_class: type[EmailMultiAlternatives] = EmailMultiAlternatives,
            **context: Any) -> EmailMultiAlternatives:
    """A message to one person, from templates/email/<template>.txt and .html."""
    context.setdefault("group_name", group_settings().group_name)
    message = message_class(
        subject=on_one_line(subject),  # a name saved before line breaks were refused must not break the header
        body=render_template(f"email/{template}.txt", **context),
        from_email=sender(),
        to=[to],
    )
    message.attach_alternative(render_template(f"email/{template}.html", **context), "text/html")
    return message


def compose_invite(to: str, subject: str, ics: bytes, method: str, **context: Any) -> EmailMultiAlternatives:
    """A calendar invite: text and HTML for people, the calendar as an alternative for calendar clients,
    and the same bytes attached as invite.ics."""
    message = compose(to, subject, "meeting_invite", message_class=CalendarMessage, method=method, **context)
    message.attach_alternative(ics, f"text/calendar; method={method}")
    message.attach("invite.ics", ics, "application/ics")
    return message


def tell_seat_opened(meeting: Any, promoted: list[Any]) -> None:
    """Emails each member who got a seat; whoever freed it is told of any message that could not be sent."""
    for member in promoted:
        if not send(member.email, "A seat opened up: you're coming to breakfast", "seat_opened",
                    member=member, meeting=meeting, link=url_for("meetings.show", meeting_id=meeting.id, _external=True)):
            flash(f"{member.name} has a seat now, but could not be emailed about it just now.", "error")


def send_invitation(invitation: Any, token: str) -> bool:
    """Emails a newcomer their invitation link; False (and logged) when it could not be sent."""
    settings = group_settings()
    return send(invitation.email, f"{invitation.sponsor.name} invites you to {settings.group_name}", "invitation",
                invitation=invitation, link=url_for("join.landing", token=token, _external=True),
                charter=settings.charter)


def send(to: str, subject: str, template: str, **context: Any) -> bool:
    """Sends one message; a delivery failure is logged and reported as False, never raised into the page."""
    try:
        compose(to, subject, template, **context).send()
    except Exception:  # any transport error: the page goes on, the log keeps the reason
        current_app.logger.exception("could not send %r to %s", subject, to)
        return False
    return True


# Work done after the response: bulk invites must not hold a page up.

_running: list[threading.Thread] = []


def run_in_background(app: Flask, work: Callable[..., Any], *args: Any) -> None:
    """Runs ``work(*args)`` after the response, in an app context whose links point to the site (BASE_URL).
    With MAIL_IN_BACKGROUND off (a one-process script), it runs at once."""

    def target() -> None:
        with links_context(app):
            work(*args)

    if not app.config["MAIL_IN_BACKGROUND"]:
        target()
        return
    thread = threading.Thread(target=target, name="thinknet-mail", daemon=True)
    _running.append(thread)
    thread.start()


def wait_for_background(timeout: float = 60) -> None:
    """Waits for background sending to finish (for commands and tests)."""
    while _running:
        _running.pop().join(timeout)


@contextmanager
def links_context(app: Flask) -> Iterator[None]:
    """An app context in which url_for(..., _external=True) builds links on the site's address (BASE_URL)."""
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        yield
