"""Forms for answering an RSVP and for writing a takeaway."""
from __future__ import annotations

from thinknet.forms import Form
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from thinknet.models import RsvpAnswer


class RsvpForm(Form):
    answer = RadioField("Your answer", choices=[SelectChoice(a.value) for a in RsvpAnswer],
                        validators=[InputRequired("Choose yes, maybe or no.")])
    next = HiddenField()


class TakeawayForm(Form):
    body = TextAreaField("What you are taking away", validators=[
        DataRequired("Write a sentence or two."), Length(max=2000, message="Keep it under 2000 characters.")])

