"""Forms for signing in and resetting a password."""
from __future__ import annotations

from thinknet.forms import Form
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, StopValidation

from thinknet.auth.services import password_problem


def acceptable_password(form: Form, field: PasswordField) -> None:
    problem = password_problem(field.data or "")
    if problem:
        raise StopValidation(problem)


def new_password_field(label: str = "New password") -> PasswordField:
    return PasswordField(label, validators=[DataRequired("Choose a password."), acceptable_password])


def email_field(label: str = "Email", required: str = "Enter your email address.") -> EmailField:
    return EmailField(
        label,
        validators=[DataRequired(required), Email("Enter an email address like name@example.org."), Length(max=254)],
    )


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")


class ForgotPasswordForm(Form):
    email = email_field()


class ResetPasswordForm(Form):
    password = new_password_field()
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )
