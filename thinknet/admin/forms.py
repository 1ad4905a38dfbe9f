"""Organizer forms: member actions with their reason, invitation decisions, the group's settings."""
from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Why", validators=[DataRequired("Say why: it is kept in the audit log."), Length(max=1000)]
    )


class ApproveForm(FlaskForm):
    pass


def _timezone(form: FlaskForm, field: StringField) -> None:
    if field.data not in available_timezones():
        raise ValidationError("Use a timezone name like Europe/London or America/New_York.")
    ZoneInfo(field.data)


def _whole(label: str, low: int, high: int) -> IntegerField:
    return IntegerField(label, validators=[
        InputRequired(f"Enter a whole number from {low} to {high}."),
        NumberRange(low, high, f"Enter a whole number from {low} to {high}."),
    ])


class SettingsForm(FlaskForm):
    group_name = StringField("Group name", validators=[DataRequired("Name the group."), Length(max=120)])
    charter = TextAreaField("Charter", validators=[DataRequired("The charter is what newcomers accept."),
                                                   Length(max=10000)])
    timezone = StringField("Timezone", validators=[DataRequired("Enter the group's timezone."), _timezone])
    sponsor_min_attendance = _whole("Sessions a member attends before they may sponsor", 0, 52)
    sponsor_max_pending = _whole("Pending invitations per sponsor, at most", 1, 20)
    invitation_ttl_days = _whole("Days before an invitation expires", 1, 90)
    member_cap = _whole("Active members, at most", 2, 1000)
    invitations_need_approval = BooleanField("Every invitation waits for an organizer's approval before it is emailed")
    rsvp_cutoff_days_before = _whole("RSVPs close this many days before a session", 0, 7)
    rsvp_cutoff_time = TimeField("…at this local time", validators=[InputRequired("Enter a time like 20:00.")])
    mail_sender_name = StringField("Email sender name", validators=[Optional(), Length(max=120)])
    mail_sender_email = EmailField("Email sender address", validators=[
        Optional(), Email("Enter an email address like breakfast@example.org."), Length(max=254)])
