"""Composing every message the group sends: plain text and HTML from templates/email/, and calendar updates
with their text/calendar part. Messages are queued in the outbox (thinknet.outbox), which sends them through
Flask-Mailman once the change that caused them commits."""
from __future__ import annotations

from email.mime.text import MIMEText
from email.utils import formataddr
from typing import Any

from flask import current_app, render_template, url_for
from flask_mailman import EmailMultiAlternatives

from thinknet import outbox
from thinknet.forms import on_one_line
from thinknet.models import OutgoingMail
from thinknet.templating import group_settings


def sender_address() -> str:
    settings = group_settings()
    if settings.mail_sender_email:
        return settings.mail_sender_email
    return current_app.config["MAIL_DEFAULT_SENDER"].rsplit("<", 1)[-1].rstrip(">").strip()


def sender() -> str:
    """The group's own sender when organizers set one; else the configured address, under the group's name once
    it has one (the configured name, often the product's, is for a group not yet named)."""
    settings = group_settings()
    name = settings.mail_sender_name or settings.group_name
    if settings.mail_sender_email:
        return formataddr((on_one_line(name), settings.mail_sender_email))
    if name:
        return formataddr((on_one_line(name), sender_address()))
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
    context.setdefault("group_name", group_settings().shown_name)
    message = message_class(
        subject=on_one_line(subject),  # a name saved before line breaks were refused must not break the header
        body=render_template(f"email/{template}.txt", **context),
        from_email=sender(),
        to=[to],
    )
    message.attach_alternative(render_template(f"email/{template}.html", **context), "text/html")
    return message


def compose_calendar_message(to: str, subject: str, ics: bytes, method: str, **context: Any) -> EmailMultiAlternatives:
    """A calendar update (iTIP over iMIP): text and HTML for people, the calendar as an alternative for calendar
    clients, and the same bytes attached as invite.ics."""
    message = compose(to, subject, "calendar_update", message_class=CalendarMessage, method=method, **context)
    message.attach_alternative(ics, f"text/calendar; method={method}")
    message.attach("invite.ics", ics, "application/ics")
    return message


def queue(to: str, subject: str, template: str, *, member: Any = None, invitation: Any = None,
          meeting: Any = None, password_reset_id: int | None = None, **context: Any) -> OutgoingMail:
    """Writes a message now and queues it in the current transaction: it is sent once the change commits
    (thinknet.outbox). ``member``, ``invitation`` and ``meeting`` are also what the message is about;
    ``invitation`` and ``password_reset_id`` name the link it carries, so it is not sent once that link no
    longer works."""
    for name, value in (("member", member), ("invitation", invitation), ("meeting", meeting)):
        if value is not None:
            context.setdefault(name, value)
    return outbox.put_message(compose(to, subject, template, **context), template,
                              member_id=getattr(member, "id", None), invitation_id=getattr(invitation, "id", None),
                              meeting_id=getattr(meeting, "id", None), password_reset_id=password_reset_id)


def tell_seat_opened(meeting: Any, promoted: list[Any]) -> None:
    """Queues a message to each member who got a seat."""
    for member in promoted:
        queue(member.email, "A seat opened up: you're coming to breakfast", "seat_opened", member=member,
              meeting=meeting, link=url_for("meetings.show", meeting_id=meeting.id, _external=True))


def send_invitation(invitation: Any, token: str) -> OutgoingMail:
    """Queues a newcomer's invitation link."""
    settings = group_settings()
    return queue(invitation.email, f"{invitation.sponsor.name} invites you to {settings.group_name}", "invitation",
                 invitation=invitation, link=url_for("join.landing", token=token, _external=True),
                 charter=settings.charter)
