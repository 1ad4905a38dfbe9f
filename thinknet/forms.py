"""The base of every form: typed text loses invisible control characters (NUL and the like), which nobody
means to type and PostgreSQL cannot store. A single-line field (a name, a headline, a venue, a title, a reason)
also loses line breaks and tabs, which would break every email header it reaches; a text area keeps them."""
from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Line and paragraph separators too: mail headers and calendar lines break on them as on CR and LF.
LINE_BREAKS = re.compile(r"[\t\n\r\x85\u2028\u2029]+")
# Bidirectional overrides and isolates: a name could read backwards, or pose as another, in every list.
BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
TEXT_FIELDS = (StringField, TextAreaField, EmailField)


def without_control_characters(value: Any) -> Any:
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def on_one_line(value: Any) -> Any:
    """A single-line field's text: line breaks and tabs become one space; other control characters and
    bidirectional overrides go."""
    if not isinstance(value, str):
        return value
    return without_control_characters(BIDI_CONTROLS.sub("", LINE_BREAKS.sub(" ", value)))


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            if issubclass(unbound_field.field_class, TEXT_FIELDS):
                single_line = not issubclass(unbound_field.field_class, TextAreaField)
                clean = on_one_line if single_line else without_control_characters
                options["filters"] = [*unbound_field.kwargs.get("filters", ()), clean]
            return super().bind_field(form, unbound_field, options)


class SectorField(SelectField):
    """A member's sector, picked from the list (thinknet.members.sectors); one typed before the list stays
    offered while it is the member's own."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        from thinknet.members.sectors import SECTORS

        super().__init__(label, validators=[InputRequired("Choose your sector, or Other.")], **kwargs)
        self.choices = [SelectChoice("", "Choose…"), *(SelectChoice(sector, sector) for sector in SECTORS)]

    def pre_validate(self, form: Any) -> None:
        if self.data not in {choice.value for choice in self.choices if choice.value}:
            raise ValidationError("Choose your sector from the list, or Other.")

    def keep_offering(self, current: str) -> None:
        if current and current not in {choice.value for choice in self.choices}:
            self.choices = [*self.choices[:1], SelectChoice(current, current), *self.choices[1:]]


# Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern, the Mongolian vowel separator.
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def shows_something(text: str) -> bool:
    import unicodedata

    return any(unicodedata.category(c)[0] in "LNPS" and c not in BLANK_CHARACTERS for c in text)


def visible(message: str) -> Any:
    """A validator: the text, when given, has a character that shows (not only spaces, zero-width, format or
    blank-drawing characters, which would name the group, a member or a topic with nothing at all)."""

    def check(form: Any, field: Any) -> None:
        if field.data and not shows_something(field.data):
            raise ValidationError(message)

    return check
