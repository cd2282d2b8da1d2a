"""The hosted pages' forms (Flask-WTF): fields, presence checks and each form's CSRF token.

Only presence and length are checked here; what makes an email or a password acceptable is
the domain's rule, and its error is shown next to the field it names.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from userauth.web.schemas import MAX_FIELD_LENGTH


def _required(name: str) -> list[DataRequired | Length]:
    return [
        DataRequired(message=f"{name} is required"),
        Length(max=MAX_FIELD_LENGTH, message=f"{name} is too long"),
    ]


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Log in: email and password."""

    email = EmailField("Email", validators=_required("email"))
    password = PasswordField("Password", validators=_required("password"))


class SignupForm(LoginForm):
    """Create an account: the same two fields as a login."""


class ForgotForm(FlaskForm):  # type: ignore[misc]
    """Ask for a reset link: the account's email."""

    email = EmailField("Email", validators=_required("email"))


class ResetForm(FlaskForm):  # type: ignore[misc]
    """Choose a new password: the token from the emailed link identifies the account."""

    token = HiddenField("Reset token", validators=_required("the reset link's token"))
    new_password = PasswordField("New password", validators=_required("new password"))


class VerifyEmailForm(FlaskForm):  # type: ignore[misc]
    """Verify the address: the token from the mailed link names the account."""

    token = HiddenField("Verification token", validators=_required("the link's token"))


class EmailChangeForm(FlaskForm):  # type: ignore[misc]
    """Move the account to a new address: the address, and the password (a recent
    authentication, as the API's PUT /profile/email needs)."""

    new_email = EmailField("New email", validators=_required("new email"))
    # Named apart from the password form's field: one page, distinct ids.
    email_password = PasswordField("Current password", validators=_required("password"))


class ConfirmPasswordForm(FlaskForm):  # type: ignore[misc]
    """A sensitive action on the account (export, deletion): the password again."""

    leave_password = PasswordField("Current password", validators=_required("password"))


class PasswordForm(FlaskForm):  # type: ignore[misc]
    """Change the password: the current one, and the new one."""

    password = PasswordField("Current password", validators=_required("current password"))
    new_password = PasswordField("New password", validators=_required("new password"))


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something (log out, revoke): only the CSRF token."""


class CodeForm(FlaskForm):  # type: ignore[misc]
    """A second-factor code: a TOTP code from an authenticator app, or a recovery code."""

    code = StringField("Code", validators=_required("code"))


class ReauthenticateForm(FlaskForm):  # type: ignore[misc]
    """Prove it is still you before a sensitive action: the password, or a code.

    Its fields have names of their own, so they never mix with the action's own fields.
    """

    reauth_password = PasswordField("Password", validators=[Length(max=MAX_FIELD_LENGTH)])
    reauth_code = StringField("Code from your app", validators=[Length(max=MAX_FIELD_LENGTH)])


class RecoveryCodesForm(FlaskForm):  # type: ignore[misc]
    """Download the recovery codes just shown: the page posts them back, as one line."""

    codes = HiddenField("Recovery codes", validators=_required("recovery codes"))
