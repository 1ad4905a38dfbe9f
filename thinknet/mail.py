"""Composing and sending every message the group sends: plain text and HTML from templates/email/."""
from __future__ import annotations

from email.utils import formataddr
from typing import Any

from flask import current_app, render_template
from flask_mailman import EmailMultiAlternatives

from thinknet.templating import group_settings


def sender() -> str:
    """The group's own sender when organizers set one, else the configured default."""
    settings = group_settings()
    if settings.mail_sender_email:
        return formataddr((settings.mail_sender_name or settings.group_name, settings.mail_sender_email))
    return current_app.config["MAIL_DEFAULT_SENDER"]


def compose(to: str, subject: str, template: str, **context: Any) -> EmailMultiAlternatives:
    """A message to one person, from templates/email/<template>.txt and .html."""
    context.setdefault("group_name", group_settings().group_name)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_template(f"email/{template}.txt", **context),
        from_email=sender(),
        to=[to],
    )
    message.attach_alternative(render_template(f"email/{template}.html", **context), "text/html")
    return message


def send(to: str, subject: str, template: str, **context: Any) -> None:
    compose(to, subject, template, **context).send()
