"""The base of every form: typed text loses invisible control characters (NUL and the like), which nobody
means to type and PostgreSQL cannot store; tabs and line breaks stay."""
from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_FIELDS = (StringField, TextAreaField, EmailField)


def without_control_characters(value: Any) -> Any:
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            if issubclass(unbound_field.field_class, TEXT_FIELDS):
                options["filters"] = [*unbound_field.kwargs.get("filters", ()), without_control_characters]
            return super().bind_field(form, unbound_field, options)
