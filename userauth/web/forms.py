"""The hosted pages' forms (Flask-WTF): fields, presence checks and each form's CSRF token.

Only presence and length are checked here; what makes an email or a password acceptable is
the domain's rule, and its error is shown next to the field it names.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from userauth.web.schemas import MAX_FIELD_LENGTH


def _required(missing: str, too_long: str) -> list[DataRequired | Length]:
    """The presence and length checks, with their messages (lazy: in the page's language)."""
    return [DataRequired(message=missing), Length(max=MAX_FIELD_LENGTH, message=too_long)]


EMAIL = _required(_l("email is required"), _l("email is too long"))
PASSWORD = _required(_l("password is required"), _l("password is too long"))
NEW_PASSWORD = _required(_l("new password is required"), _l("new password is too long"))


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Log in: email and password."""

    email = EmailField(_l("Email"), validators=EMAIL)
    password = PasswordField(_l("Password"), validators=PASSWORD)


class SignupForm(LoginForm):
    """Create an account: the same two fields as a login."""


class ForgotForm(FlaskForm):  # type: ignore[misc]
    """Ask for a reset link: the account's email."""

    email = EmailField(_l("Email"), validators=EMAIL)


class ResetForm(FlaskForm):  # type: ignore[misc]
    """Choose a new password: the token from the emailed link identifies the account."""

    token = HiddenField(
        _l("Reset token"),
        validators=_required(
            _l("the reset link's token is required"), _l("the reset link's token is too long")
        ),
    )
    new_password = PasswordField(_l("New password"), validators=NEW_PASSWORD)


class VerifyEmailForm(FlaskForm):  # type: ignore[misc]
    """Verify the address: the token from the mailed link names the account."""

    token = HiddenField(
        _l("Verification token"),
        validators=_required(
            _l("the link's token is required"), _l("the link's token is too long")
        ),
    )


class EmailChangeForm(FlaskForm):  # type: ignore[misc]
    """Move the account to a new address: the address, and the password (a recent
    authentication, as the API's PUT /profile/email needs)."""

    new_email = EmailField(
        _l("New email"),
        validators=_required(_l("new email is required"), _l("new email is too long")),
    )
    # Named apart from the password form's field: one page, distinct ids.
    email_password = PasswordField(_l("Current password"), validators=PASSWORD)


class ConfirmPasswordForm(FlaskForm):  # type: ignore[misc]
    """A sensitive action on the account (export, deletion): the password again."""

    leave_password = PasswordField(_l("Current password"), validators=PASSWORD)


class PasswordForm(FlaskForm):  # type: ignore[misc]
    """Change the password: the current one, and the new one."""

    password = PasswordField(
        _l("Current password"),
        validators=_required(
            _l("current password is required"), _l("current password is too long")
        ),
    )
    new_password = PasswordField(_l("New password"), validators=NEW_PASSWORD)


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something (log out, revoke): only the CSRF token."""


class CodeForm(FlaskForm):  # type: ignore[misc]
    """A second-factor code: a TOTP code from an authenticator app, or a recovery code."""

    code = StringField(
        _l("Code"), validators=_required(_l("code is required"), _l("code is too long"))
    )


class ReauthenticateForm(FlaskForm):  # type: ignore[misc]
    """Prove it is still you before a sensitive action: the password, or a code.

    Its fields have names of their own, so they never mix with the action's own fields.
    """

    reauth_password = PasswordField(
        _l("Password"),
        validators=[Length(max=MAX_FIELD_LENGTH, message=_l("password is too long"))],
    )
    reauth_code = StringField(
        _l("Code from your app"),
        validators=[Length(max=MAX_FIELD_LENGTH, message=_l("code is too long"))],
    )


class RecoveryCodesForm(FlaskForm):  # type: ignore[misc]
    """Download the recovery codes just shown: the page posts them back, as one line."""

    codes = HiddenField(
        _l("Recovery codes"),
        validators=_required(_l("recovery codes are required"), _l("recovery codes are too long")),
    )
