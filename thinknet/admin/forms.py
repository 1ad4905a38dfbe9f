"""Organizer forms: member actions with their reason, invitation decisions, the group's settings."""
from __future__ import annotations

from zoneinfo import available_timezones

from thinknet.forms import Form, on_one_line, visible
from thinknet.timezones import pickable_zones
from wtforms import BooleanField, DateField, EmailField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError


class ReasonForm(Form):
    reason = TextAreaField(
        "Why", validators=[DataRequired("Say why: it is kept in the audit log."), Length(max=1000)],
        filters=[on_one_line],
    )


class ApproveForm(Form):
    pass


class TimeZoneField(SelectField):
    """The group's time zone, picked from the zone database's own names (a zone saved before this list, such
    as a legacy alias, stays offered while it is the group's)."""

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__(label, validators=[InputRequired("Choose the group's time zone.")], **kwargs)
        self.choices = [SelectChoice(zone, zone.replace("_", " ")) for zone in pickable_zones()]

    def pre_validate(self, form: Form) -> None:
        if self.data not in {choice.value for choice in self.choices}:
            raise ValidationError("Choose a time zone from the list.")

    def keep_offering(self, current: str) -> None:
        if current not in pickable_zones() and current in available_timezones():
            self.choices = [SelectChoice(current, current), *self.choices]


def _whole(label: str, low: int, high: int) -> IntegerField:
    return IntegerField(label, validators=[
        InputRequired(f"Enter a whole number from {low} to {high}."),
        NumberRange(low, high, f"Enter a whole number from {low} to {high}."),
    ])


class SettingsForm(Form):
    group_name = StringField("Group name", validators=[DataRequired("Name the group."), visible("Name the group."),
                                                       Length(max=120)])
    charter = TextAreaField("Charter", validators=[DataRequired("The charter is what newcomers accept."),
                                                   Length(max=10000)])
    timezone = TimeZoneField("Time zone")
    sponsor_min_attendance = _whole("Sessions a member attends before they may sponsor", 0, 52)
    sponsor_max_pending = _whole("Pending invitations per sponsor, at most", 1, 20)
    invitation_ttl_days = _whole("Days before an invitation expires", 1, 90)
    member_cap = _whole("Active members, at most", 2, 1000)
    invitations_need_approval = BooleanField("Every invitation waits for an organizer's approval before it is emailed")
    founding_until = DateField("Founding period: any member may sponsor until", validators=[Optional()])

    def validate_founding_until(self, field: DateField) -> None:
        """From the group's today to two years on; a day already saved may stay (a period that has ended)."""
        if field.data is None or field.data == getattr(self, "saved_founding_until", None):
            return
        from datetime import timedelta

        from thinknet.models import utcnow
        from thinknet.templating import local_time

        today = local_time(utcnow()).date()
        if not today <= field.data <= today + timedelta(days=731):
            raise ValidationError("Choose a day from today to two years on, or leave it empty: a founding period "
                                  "that has already ended lets no newcomer in.")
    rsvp_cutoff_days_before = _whole("RSVPs close this many days before a session", 0, 7)
    rsvp_cutoff_time = TimeField("…at this local time", validators=[InputRequired("Enter a time like 20:00.")])
    mail_sender_name = StringField("Email sender name", validators=[
        Optional(), visible("Write a name that shows, or leave it empty."), Length(max=120)])
    mail_sender_email = EmailField("Email sender address", validators=[
        Optional(), Email("Enter an email address like breakfast@example.org."), Length(max=254),
        Regexp(r"^[\x21-\x7e]*$", message="Use an address in plain letters (a-z, digits, dots): mail servers "
               "refuse to send from others.")])


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class SeriesForm(Form):
    weekday = SelectField("Day", coerce=int, choices=[SelectChoice(str(n), day) for n, day in enumerate(WEEKDAYS)],
                          validators=[InputRequired("Choose the day of the week.")])
    start_time = TimeField("Starts at (local time)", validators=[InputRequired("Enter a time like 06:30.")])
    duration_minutes = _whole("Lasts (minutes)", 15, 600)
    timezone = TimeZoneField("The group's time zone")
    venue_name = StringField("Venue", validators=[DataRequired("Name the venue."), Length(max=120)])
    venue_address = StringField("Address", validators=[Optional(), Length(max=250)])
    seat_limit = IntegerField("Seats (leave empty for no limit)", validators=[
        Optional(), NumberRange(1, 500, "Enter a number of seats from 1 to 500, or leave it empty.")])


class MeetingForm(Form):
    day = DateField("Date", validators=[InputRequired("Enter the date.")])
    start_time = TimeField("Starts at (local time)", validators=[InputRequired("Enter a time like 06:30.")])
    duration_minutes = _whole("Lasts (minutes)", 15, 600)
    venue_name = StringField("Venue", validators=[DataRequired("Name the venue."), Length(max=120)])
    venue_address = StringField("Address", validators=[Optional(), Length(max=250)])
    seat_limit = IntegerField("Seats (leave empty for no limit)", validators=[
        Optional(), NumberRange(1, 500, "Enter a number of seats from 1 to 500, or leave it empty.")])


class InviteWeeksForm(Form):
    weeks = _whole("Weeks ahead", 1, 8)


class SetupNameForm(Form):
    group_name = SettingsForm.group_name
    timezone = TimeZoneField("Time zone")


class SetupCharterForm(Form):
    charter = SettingsForm.charter


class SetupSponsorsForm(Form):
    founding_until = SettingsForm.founding_until
    validate_founding_until = SettingsForm.validate_founding_until
    sponsor_min_attendance = SettingsForm.sponsor_min_attendance
    sponsor_max_pending = SettingsForm.sponsor_max_pending
    invitations_need_approval = SettingsForm.invitations_need_approval
