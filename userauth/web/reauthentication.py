"""Re-authentication on the pages: ask for the password or a code again, then go on.

A sensitive action needs an authentication within USERAUTH_REAUTH_MINUTES (NIST SP 800-63B
7.2, reauthentication); the domain says when it is too old. The page asking again posts to the
action's own URL with the password (or a code) beside the action's fields, so the action goes
on in the same request, with no state kept between the two and no script. An account with a
passkey is also offered it: passkeys.js proves it through the API
(POST /sessions/reauthenticate/passkey), then posts the action without a password or code.
"""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import TooManyRequests

from userauth.errors import TooManyCodesError, WrongCodeError, WrongPasswordError
from userauth.sessions import LiveSession
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.forms import ReauthenticateForm
from userauth.web.limits import password_proven


def reauthenticated(
    live: LiveSession, action: str, target: str | None = None
) -> tuple[LiveSession, ResponseReturnValue | None]:
    """Check the password or code posted with an action, if any; refresh the authentication.

    Return the session to act in (refreshed by a right password or code) and None when the
    action may go on: nothing was posted (the domain then judges whether the session's
    authentication is recent enough), or the password or code is right. Else return the page
    asking again, its error next to the field, in place of None; it posts to `target`
    (default: this request's path).

    Raises:
        TooManyRequests: the account's budget of wrong codes is spent (the 429 page).
    """
    form = page.form(ReauthenticateForm)
    password, code = form.reauth_password.data or None, form.reauth_code.data or None
    if password is None and code is None:
        return live, None
    if not form.validate():
        return live, _ask(live, action, form, 400, target)
    try:
        live = current_auth().reauthenticate(live, current_client(), password=password, code=code)
    except WrongPasswordError as error:
        # 403 like a wrong current password on the password form: the same failure count.
        page.fail(form.reauth_password, page.message(error))
        return live, _ask(live, action, form, 403, target)
    except WrongCodeError as error:
        page.fail(form.reauth_code, page.message(error))
        form.reauth_code.data = ""
        return live, _ask(live, action, form, 401, target)
    except TooManyCodesError as error:
        raise TooManyRequests from error
    # Right: the session's failed re-authentications are cleared (limits.password_proven).
    password_proven()
    return live, None


def ask_again(live: LiveSession, action: str, target: str | None = None) -> ResponseReturnValue:
    """Return the page asking for the password (or a code) before `action` goes on: 401, as
    the API's `re-authentication required`; it posts to `target` (default: this path)."""
    return _ask(live, action, ReauthenticateForm(formdata=None), 401, target)


def has_second_factor(live: LiveSession) -> bool:
    """Tell whether the session's account has a second factor (TOTP) turned on."""
    return any(factor.type == "totp" for factor in current_auth().list_factors(live).factors)


def _ask(
    live: LiveSession,
    action: str,
    form: ReauthenticateForm,
    status: int,
    target: str | None = None,
) -> ResponseReturnValue:
    return page.render(
        "reauthenticate.html",
        status,
        form=form,
        action=action,
        target=target or request.path,
        has_code=has_second_factor(live),
        has_passkey=bool(current_auth().passkeys.list(live.user_id)),
    )
