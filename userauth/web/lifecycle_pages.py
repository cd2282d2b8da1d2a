"""The account lifecycle's hosted pages under /auth/: the pages the verification and
change-of-email links open, and the account page's actions (a new link, a new address, the
export, the deletion), each asking for the password as the API asks for a recent login.

Each link's page shows one button; only its POST (with the form's CSRF token)
spends the token, so a mail scanner that follows links verifies nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from apiflask import APIBlueprint
from flask import flash, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import TooManyRequests
from wtforms import Field

from userauth.audit import Client
from userauth.errors import (
    InvalidEmailError,
    InvalidTokenError,
    TooManyCodesError,
    WrongPasswordError,
)
from userauth.sessions import LiveSession
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.forms import (
    ConfirmPasswordForm,
    EmailChangeForm,
    PasswordForm,
    VerifyEmailForm,
)
from userauth.web.limits import password_proven, rate_limited
from userauth.web.session import clear_session_cookie, current_session

BAD_LINK = _l("This link is invalid or has expired: ask for a new one from your account page.")
VERIFIED = _l("Your email address is verified.")
CHANGED = _l("Your account now uses this email address.")
LINK_SENT = _l("A link to verify your email address is on its way to it.")
DELETED = _l("Your account and everything stored with it are deleted.")
EXPORT_NAME = "userauth-account.json"

lifecycle_pages = APIBlueprint("lifecycle", __name__, enable_openapi=False)


@lifecycle_pages.route("/verify-email", methods=["GET", "POST"])
@rate_limited("verify-email")
def verify_email() -> ResponseReturnValue:
    """GET: the link's page, one button; POST: spend the token, whoever is logged in (the
    token names its own account: a link opened in another user's session changes nothing
    of theirs)."""
    verification = current_auth().verification
    return _link_page("verify_email.html", verification.is_live, verification.verify, VERIFIED)


@lifecycle_pages.route("/confirm-email", methods=["GET", "POST"])
@rate_limited("verify-email")
def confirm_email() -> ResponseReturnValue:
    """GET: the change link's page, one button; POST: apply the change the token stands for
    (to the token's account, whoever is logged in)."""
    changes = current_auth().email_changes
    return _link_page("confirm_email.html", changes.is_live, changes.confirm, CHANGED)


def _link_page(
    template: str,
    is_live: Callable[[str | None], bool],
    spend: Callable[[str, Client], object],
    done: str,
) -> ResponseReturnValue:
    """Answer a mailed link's page: GET shows its one button (or says the link is dead);
    POST spends the token with `spend`, then goes to the account with `done` as notice."""
    form = page.form(VerifyEmailForm)
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
        # Said before the button is pressed; spends nothing (a token is 122 random bits).
        if not is_live(form.token.data):
            return page.render(template, 400, form=form, dead_link=BAD_LINK)
    elif form.validate_on_submit():
        try:
            spend(page.text(form.token), current_client())
        except InvalidTokenError:
            page.fail(form.token, BAD_LINK)
        else:
            flash(str(done))
            return redirect(url_for("pages.index"))
    return page.render(template, page.status(), form=form, dead_link=None)


@lifecycle_pages.route("/account/email/verification", methods=["POST"])
@rate_limited("verification-mail")
def send_verification() -> ResponseReturnValue:
    """Mail a fresh verification link to the account's address."""
    live = current_session()
    if live is None:
        return page.to_login()
    current_auth().verification.send_link(live.user, current_client())
    flash(str(LINK_SENT))
    return redirect(url_for("pages.account"))


@lifecycle_pages.route("/account/email", methods=["POST"])
@rate_limited("email-change")
def change_email() -> ResponseReturnValue:
    """Ask to move the account to a new address (the password again, then a link to it)."""
    form, live = page.form(EmailChangeForm), current_session()
    if live is None:
        return page.to_login()
    if not form.validate_on_submit():
        return _account(400, email_form=form)
    proven = _proven(live, form.email_password)
    if proven is None:
        return _account(403, email_form=form)
    new = page.text(form.new_email)
    try:
        current_auth().email_changes.request(proven, new, current_client())
    except InvalidEmailError as error:
        page.fail(form.new_email, page.message(error))
        return _account(400, email_form=form)
    flash(
        _("A link is on its way to %(email)s: your address changes when you open it.", email=new)
    )
    return redirect(url_for("pages.account"))


@lifecycle_pages.route("/account/export", methods=["POST"])
@rate_limited("reauthenticate")
def export() -> ResponseReturnValue:
    """Download everything stored about the account, as JSON (the password again)."""
    form, live = page.form(ConfirmPasswordForm), current_session()
    if live is None:
        return page.to_login()
    proven = _proven(live, form.leave_password) if form.validate_on_submit() else None
    if proven is None:
        return _account(403 if form.leave_password.data else 400, leave_form=form)
    response = make_response(json.dumps(current_auth().leaving.export(proven), indent=2))
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="{EXPORT_NAME}"'
    return response


@lifecycle_pages.route("/account/delete", methods=["POST"])
@rate_limited("reauthenticate")
def delete_account() -> ResponseReturnValue:
    """Delete the account and everything of it (the password again)."""
    form, live = page.form(ConfirmPasswordForm), current_session()
    if live is None:
        return page.to_login()
    proven = _proven(live, form.leave_password) if form.validate_on_submit() else None
    if proven is None:
        return _account(403 if form.leave_password.data else 400, leave_form=form)
    current_auth().leaving.delete(proven, current_client())
    flash(str(DELETED))
    response = redirect(url_for("pages.login"))
    clear_session_cookie(response)
    return response


def _proven(live: LiveSession, field: Field) -> LiveSession | None:
    """Re-authenticate with the password posted in `field`; None (the error next to it) if
    it is wrong."""
    try:
        refreshed = current_auth().reauthenticate(
            live, current_client(), password=page.text(field)
        )
    except WrongPasswordError as error:
        page.fail(field, page.message(error))
        return None
    except TooManyCodesError as error:
        raise TooManyRequests from error
    password_proven()
    return refreshed


def _account(
    status: int,
    *,
    email_form: EmailChangeForm | None = None,
    leave_form: ConfirmPasswordForm | None = None,
) -> ResponseReturnValue:
    # Imported here: pages.py registers this blueprint, so it imports this module first.
    from userauth.web.pages import account_page

    return account_page(
        PasswordForm(formdata=None), status, email_form=email_form, leave_form=leave_form
    )
