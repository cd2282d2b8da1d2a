"""The second factor's pages: the login's second step, and TOTP from the account page.

Turn on (a QR code and the secret in text), confirm with a first code, the recovery codes
shown once with a download, new codes, turn off. An action the domain holds sensitive (NIST
SP 800-63B 7.2, reauthentication) answers with a form asking for the password or a code
when the session's last authentication is older than USERAUTH_REAUTH_MINUTES; that form
posts to the same action, which then goes on. No script: links and forms only.

Registered inside the `pages` blueprint (pages.py), so its CSRF check, its Content-Security-
Policy and its error pages apply here too.
"""

from __future__ import annotations

import re

from apiflask import APIBlueprint
from flask import flash, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.credentials import LoginOutcome, LoginResult
from userauth.enrolment import TotpEnrolment
from userauth.errors import (
    EmailNotVerifiedError,
    FactorAlreadyEnabledError,
    FactorNotFoundError,
    LoginChallengeError,
    NoPendingEnrolmentError,
    ReauthenticationRequiredError,
    TooManyCodesError,
    WrongCodeError,
)
from userauth.sessions import LiveSession
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.devices import remember_device
from userauth.web.forms import CodeForm, LoginForm, RecoveryCodesForm
from userauth.web.limits import rate_limited
from userauth.web.login_challenge import challenge_cookie, clear_challenge_cookie
from userauth.web.metrics import record_login_outcome
from userauth.web.qr import qr_svg
from userauth.web.reauthentication import ask_again, has_second_factor, reauthenticated
from userauth.web.session import current_session, set_session_cookie

factor_pages = APIBlueprint("factors", __name__, enable_openapi=False)

LOGIN_EXPIRED = _l("Your login expired: log in again.")
LOG_IN_AGAIN = _l("This page needs two-factor authentication: log in again, with a code.")
# What a recovery code may look like when posted back for the download: letters, digits and
# dashes, at most a few dozen (anything else is not a code this service made).
RECOVERY_CODE = re.compile(r"[A-Za-z0-9-]{4,64}")
MAX_RECOVERY_CODES = 20
DOWNLOAD_NAME = "recovery-codes.txt"


@factor_pages.route("/login/code", methods=["GET", "POST"])
@rate_limited("second-factor")
def second_step() -> ResponseReturnValue:
    """The login's second step: a code from the app, or (`?use=recovery`) a recovery code."""
    form, target = page.form(CodeForm), page.next_target()
    recovery = request.values.get("use") == "recovery"
    if recovery:
        form.code.label.text = _("Recovery code")
    challenge = challenge_cookie()
    if challenge is None:
        flash(str(LOGIN_EXPIRED), "error")
        return redirect(url_for("pages.login", next=target))
    if form.validate_on_submit():
        try:
            result = current_auth().complete_login(
                challenge, page.text(form.code), current_client()
            )
        except WrongCodeError as error:
            record_login_outcome(LoginOutcome.FAILED)
            page.fail(form.code, page.message(error))
            form.code.data = ""
            return page.render("login_code.html", 401, form=form, next=target, recovery=recovery)
        except TooManyCodesError as error:
            raise TooManyRequests from error
        except LoginChallengeError:
            result = None
        except EmailNotVerifiedError:
            flash(str(UNVERIFIED), "error")
            response = redirect(url_for("pages.login", next=target))
            clear_challenge_cookie(response, current_auth().settings)
            return response
        return _logged_in(result, target)
    return page.render("login_code.html", page.status(), form=form, next=target, recovery=recovery)


def two_factors_wanted(live: LiveSession, target: str) -> ResponseReturnValue | None:
    """Answer the login page for a visitor already logged in: None to go on to `target`.

    The gate's redirect mode sends `?aal=2` when the app wants two factors (NIST SP 800-63B
    AAL2) and this session was made with one: log in again, with the password then a code;
    an account with no second factor is told to turn one on first (logging in again would
    make another one-factor session, and the gate would send it back here).
    """
    if request.args.get("aal") != "2" or live.aal >= 2:
        return None
    if not has_second_factor(live):
        return page.render("two_factors_needed.html", 403, next=target)
    form = LoginForm(formdata=None)
    form.email.data = live.email
    return page.render("login.html", 200, form=form, next=target, notice=LOG_IN_AGAIN)


@factor_pages.post("/account/totp")
@rate_limited("reauthenticate")
def enable_totp() -> ResponseReturnValue:
    """Begin turning on TOTP: the QR code and the key to type, and the first code's form."""
    live = current_session()
    if live is None:
        return page.to_login()
    live, refused = reauthenticated(live, ENABLE)
    if refused is not None:
        return refused
    try:
        enrolment = current_auth().begin_totp(live, current_client())
    except ReauthenticationRequiredError:
        return ask_again(live, ENABLE)
    except FactorAlreadyEnabledError as error:
        _say(error)
        return redirect(url_for("pages.account"))
    return _setup_page(enrolment, CodeForm(formdata=None), 200)


@factor_pages.post("/account/totp/confirm")
@rate_limited("reauthenticate")
def confirm_totp() -> ResponseReturnValue:
    """Confirm the app with its first code: TOTP is on; the recovery codes are shown once."""
    form, live = page.form(CodeForm), current_session()
    if live is None:
        return page.to_login()
    try:
        return _confirm(form, live)
    except ReauthenticationRequiredError:
        # Stale since the enrolment began: prove it is still the owner, then begin again.
        return ask_again(live, ENABLE)


def _confirm(form: CodeForm, live: LiveSession) -> ResponseReturnValue:
    """Confirm with the form's code, or show the pending seed again with the form's error.

    Raises:
        ReauthenticationRequiredError: the session's last authentication is too old.
    """
    if form.validate_on_submit():
        try:
            codes = current_auth().confirm_totp(live, page.text(form.code), current_client())
        except WrongCodeError as error:
            page.fail(form.code, page.message(error))
            form.code.data = ""
        except NoPendingEnrolmentError as error:
            _say(error)
            return redirect(url_for("pages.account"))
        else:
            return _codes_page(codes, _("Two-factor authentication is on."))
    # The same seed again (the person may have scanned it already), with the error.
    enrolment = current_auth().pending_totp(live)
    if enrolment is None:
        _say(NoPendingEnrolmentError())
        return redirect(url_for("pages.account"))
    return _setup_page(enrolment, form, 400)


@factor_pages.post("/account/totp/disable")
@rate_limited("reauthenticate")
def disable_totp() -> ResponseReturnValue:
    """Turn TOTP off (its recovery codes go with it)."""
    live = current_session()
    if live is None:
        return page.to_login()
    live, refused = reauthenticated(live, DISABLE)
    if refused is not None:
        return refused
    try:
        current_auth().disable_totp(live, current_client())
    except ReauthenticationRequiredError:
        return ask_again(live, DISABLE)
    except FactorNotFoundError as error:
        _say(error)
    else:
        flash(_("Two-factor authentication is off."))
    return redirect(url_for("pages.account"))


@factor_pages.post("/account/recovery-codes")
@rate_limited("reauthenticate")
def regenerate_codes() -> ResponseReturnValue:
    """Make new recovery codes, shown once; the old ones stop working."""
    live = current_session()
    if live is None:
        return page.to_login()
    live, refused = reauthenticated(live, REGENERATE)
    if refused is not None:
        return refused
    try:
        codes = current_auth().regenerate_recovery_codes(live, current_client())
    except ReauthenticationRequiredError:
        return ask_again(live, REGENERATE)
    except FactorNotFoundError as error:
        _say(error)
        return redirect(url_for("pages.account"))
    return _codes_page(codes, _("New recovery codes: the old ones no longer work."))


@factor_pages.post("/account/recovery-codes/download")
def download_codes() -> ResponseReturnValue:
    """Answer the recovery codes just shown as a text file to save (the page posts them back:
    the service keeps only their digests, so it could not make this file itself)."""
    form, live = page.form(RecoveryCodesForm), current_session()
    if live is None:
        return page.to_login()
    codes = page.text(form.codes).split() if form.validate_on_submit() else []
    if not codes or len(codes) > MAX_RECOVERY_CODES:
        return page.render("error.html", 400, message=NOT_CODES)
    if not all(RECOVERY_CODE.fullmatch(code) for code in codes):
        return page.render("error.html", 400, message=NOT_CODES)
    response = make_response(_codes_file(live, codes))
    response.mimetype = "text/plain"
    response.headers["Content-Disposition"] = f'attachment; filename="{DOWNLOAD_NAME}"'
    return response


# What each sensitive action is called on the page that asks for the password again.
ENABLE = _l("Turning on two-factor authentication")
DISABLE = _l("Turning off two-factor authentication")
REGENERATE = _l("Making new recovery codes")
# USERAUTH_EMAIL_VERIFICATION=required, every factor right, the address not verified yet.
UNVERIFIED = _l("Your email address is not verified yet: open the link we just mailed to you.")
NOT_CODES = _l("These are not recovery codes: go back to your account and make new ones.")


def _logged_in(result: LoginResult | None, target: str) -> WerkzeugResponse:
    """Go on to `target` with the new session, or back to the login page if the pending login
    was dead (expired, spent, out of attempts, or the credentials changed meanwhile)."""
    if result is None or result.session_id is None:
        flash(str(LOGIN_EXPIRED), "error")
        response = redirect(url_for("pages.login", next=target))
    else:
        record_login_outcome(LoginOutcome.SUCCEEDED)
        response = redirect(target)
        set_session_cookie(response, result.session_id)
        if result.email is not None:
            remember_device(response, result.email)
    clear_challenge_cookie(response, current_auth().settings)
    return response


def _say(error: Exception) -> None:
    """Show a domain error's sentence as a notice on the next page."""
    flash(page.message(error).capitalize() + ".", "error")


def _setup_page(enrolment: TotpEnrolment, form: CodeForm, status: int) -> ResponseReturnValue:
    secret = enrolment.secret
    return page.render(
        "totp_setup.html",
        status,
        form=form,
        qr=qr_svg(enrolment.otpauth_uri, _("QR code of your account's two-factor key")),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    )


def _codes_page(codes: list[str], headline: str) -> ResponseReturnValue:
    download = RecoveryCodesForm(formdata=None)
    download.codes.data = " ".join(codes)
    return page.render("recovery_codes.html", 200, codes=codes, headline=headline, form=download)


def _codes_file(live: LiveSession, codes: list[str]) -> str:
    lines = [
        _("Recovery codes of %(email)s (%(host)s)", email=live.email, host=request.host),
        _("Each one logs you in once, in place of a code from your authenticator app."),
        "",
        *codes,
        "",
    ]
    return "\n".join(lines)
