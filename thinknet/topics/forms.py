"""Forms for posting and editing a topic, and for organizers moving one."""
from __future__ import annotations

from thinknet.forms import Form, visible
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length


class TopicForm(Form):
    title = StringField("Your question or topic", validators=[
        DataRequired("Write the topic in a line, e.g. How do I let go of an under-performer?"),
        visible("Write the topic in a line, e.g. How do I let go of an under-performer?"),
        Length(max=200, message="Keep the title under 200 characters; put the rest in the details.")])
    details = TextAreaField("Details (optional)", validators=[Length(max=4000, message="Keep it under 4000 characters.")])
    anonymous = BooleanField("Post anonymously: nobody, organizers included, will see it is yours")


class NewTopicForm(TopicForm):
    when = RadioField("For", choices=[SelectChoice("next", "The next session"), SelectChoice("backlog", "The backlog (any session)")],
                      default="next", validators=[InputRequired("Choose the next session or the backlog.")])


class MoveTopicForm(Form):
    meeting_id = SelectField("Move to", coerce=int, validators=[DataRequired("Choose a session.")])
    next = HiddenField()
