"""Forms for your own profile, your password, and leaving the group."""
from __future__ import annotations

from thinknet.forms import Form, SectorField, visible
from wtforms import BooleanField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from thinknet.auth.forms import new_password_field


class ProfileForm(Form):
    name = StringField("Name", validators=[DataRequired("Enter your name."), visible("Enter your name."),
                                           Length(max=120)])
    headline = StringField("Role", validators=[DataRequired("Say what you do."), Length(max=160)])
    sector = SectorField("Sector")
    bio = TextAreaField("A few words about you", validators=[Length(max=1000, message="Keep it under 1000 characters.")])


class PasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    password = new_password_field()
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )


class LeaveForm(Form):
    confirm = BooleanField("I want to leave the group",
                           validators=[DataRequired("Tick the box to confirm that you want to leave.")])
    reason = TextAreaField("Anything you would like the organizers to know (optional)",
                           validators=[Length(max=1000)])


class StandingAnswerForm(Form):
    standing = RadioField("Your usual answer", choices=[SelectChoice("yes", "I usually come"), SelectChoice("ask", "Ask me each week")],
                          validators=[DataRequired("Choose one.")])


# How sessions reach a member's calendar: (email invites, the feed) for each choice.
CALENDAR_CHOICES = {"invites": (True, False), "feed": (False, True), "both": (True, True), "none": (False, False)}


class CalendarChoiceForm(Form):
    calendar = RadioField("How sessions reach your calendar", choices=[
        SelectChoice("invites", "An email invite for each session (recommended): it lands in your calendar, and "
                                "Yes, Maybe or No there is your RSVP"),
        SelectChoice("feed", "A calendar feed you subscribe to: every session appears by itself, updated within "
                             "hours; you answer on the site"),
        SelectChoice("both", "Both: a calendar that has both shows every session twice"),
        SelectChoice("none", "Neither"),
    ], validators=[InputRequired("Choose how sessions reach your calendar.")])


class DeleteAccountForm(Form):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password to confirm.")])
    confirm = BooleanField("Delete my account and my personal data for good",
                           validators=[DataRequired("Tick the box to confirm.")])
