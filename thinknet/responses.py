"""Responses that more than one area answers with: a link asked for by email, and a member's own data as a
file. Views import these, never one another."""
from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, flash, make_response, request, url_for

from thinknet import htmx, mail, throttle
from thinknet.auth.forms import ForgotPasswordForm
from thinknet.auth.services import ResetRequest
from thinknet.members.services import export_own_data
from thinknet.models import Member


def email_a_link(form: ForgotPasswordForm, page: str, issue: Callable[[str], ResetRequest | None],
                 endpoint: str, *, subject: str, template: str, said: str) -> Response:
    """Asking for a link by email (a password reset, a departed member's data): the address's and the
    network's limits, the link issued and mailed, and the same answer whoever asked, so the form does not
    reveal who is or was a member."""
    account, ip = form.email.data.strip().lower(), request.remote_addr or ""
    try:
        throttle.check("reset", account, ip)
    except throttle.TooManyAttempts as refused:
        form.email.errors.append(str(refused))
        return htmx.render(page, form=form, status=429)
    throttle.record("reset", account, ip)
    link = issue(form.email.data)
    if link is not None:
        url = url_for(endpoint, token=link.token, _external=True)
        mail.queue(link.member.email, subject, template, member=link.member, password_reset_id=link.id,
                   expires_at=link.expires_at, link=url)
    flash(said, "info")
    return htmx.redirect_to(url_for("auth.login"))


def own_data_file(member: Member) -> Response:
    """All a member's own data, as a file to download."""
    response = make_response(json.dumps(export_own_data(member), indent=2, ensure_ascii=False))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="my-thinknet-data.json"'
    return response
