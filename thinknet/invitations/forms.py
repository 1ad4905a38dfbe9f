"""Forms for sponsoring a newcomer and for joining through an invitation."""
from __future__ import annotations

from thinknet.forms import Form, SectorField, visible
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from thinknet.auth.forms import email_field, new_password_field

VOUCH_NOTE_MIN = 20


class InvitationForm(Form):
    email = email_field("Their email", "Enter the email address of the person you are sponsoring.")
    vouch_note = TextAreaField(
        "Why you vouch for them",
        validators=[
            DataRequired("Say why you trust this person: the organizers read it."),
            Length(min=VOUCH_NOTE_MIN, max=2000,
                   message=f"Write a sentence or two (at least {VOUCH_NOTE_MIN} characters, at most 2000)."),
        ],
    )


class JoinForm(Form):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), visible("Enter your name."),
                                                Length(max=120)])
    headline = StringField(
        "Your role", validators=[DataRequired("Say what you do, e.g. Head of engineering."), Length(max=160)]
    )
    sector = SectorField("Your sector")
    password = new_password_field("Choose a password")
    accept_charter = BooleanField(
        "I have read the charter and accept it",
        validators=[DataRequired("You can join once you accept the charter.")],
    )
