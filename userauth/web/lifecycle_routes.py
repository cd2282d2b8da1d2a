"""The account lifecycle's JSON routes: who am I, verifying the account's address, and
changing it.

Each mailed link leads to a page (web/lifecycle_pages.py), whose button posts the token;
`PUT /email/verification` and `PUT /email/change` take the same tokens from a program.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, jsonify

from userauth.web.context import current_auth, current_client
from userauth.web.lifecycle_schemas import (
    AccountExport,
    EmailChange,
    EmailChanged,
    Me,
    VerificationToken,
)
from userauth.web.limits import rate_limited
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    CROSS_SITE,
    NO_SESSION,
    RATE_LIMITED,
    RECENT,
    SESSION_COOKIE_SCHEME,
    UNAVAILABLE,
    Message,
    responses,
)
from userauth.web.session import clear_session_cookie, require_session

CHANGE_SENT = "confirm the change from the new address"
LINK_SENT = "if your email is not verified yet, a link to verify it has been sent to it"

lifecycle_api = APIBlueprint("lifecycle", __name__)


@lifecycle_api.get("/me")
@lifecycle_api.output(Me, description="The session's account.")
@lifecycle_api.doc(
    security=SESSION_COOKIE_SCHEME, responses=responses({403: NO_SESSION, 503: UNAVAILABLE})
)
def me() -> Response:
    """Show the session's account: id, email, whether it is verified, when it was made, and
    its second factors (GET /profile keeps the design's answer)."""
    live = require_session()
    auth = current_auth()
    created_at = auth.db.account_created_at(live.user_id)
    return jsonify(
        id=live.user_id,
        email=live.email,
        email_verified=live.email_verified,
        created_at=None if created_at is None else created_at.isoformat(),
        factors=[view.type for view in auth.list_factors(live).factors],
    )


@lifecycle_api.post("/email/verification")
@rate_limited("verification-mail")
@lifecycle_api.output(Message, status_code=202, description="A link is on its way.")
@lifecycle_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses({403: NO_SESSION + CROSS_SITE, 429: RATE_LIMITED, 503: UNAVAILABLE}),
)
def request_verification() -> Response:
    """Mail a fresh verification link to the session's address (none once it is verified)."""
    live = require_session()
    current_auth().verification.send_link(live.user, current_client())
    return _accepted(LINK_SENT)


@lifecycle_api.put("/email/verification")
@rate_limited("verify-email")
@lifecycle_api.input(VerificationToken, location=BODY, arg_name="body")
@lifecycle_api.output(Message, description="The token's account has a verified address.")
@lifecycle_api.doc(
    responses=responses(
        {
            403: "The link is unknown, used, expired, or its address is no longer the "
            "account's." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def verify_email(body: dict[str, str]) -> Response:
    """Spend a verification token: its account's address is verified (whoever is logged in)."""
    current_auth().verification.verify(body["token"], current_client())
    return jsonify(message="email verified")


@lifecycle_api.put("/profile/email")
@rate_limited("email-change")
@lifecycle_api.input(EmailChange, location=BODY, arg_name="body")
@lifecycle_api.output(Message, status_code=202, description="A link went to the new address.")
@lifecycle_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            400: "The new address is missing, too long or malformed.",
            401: RECENT,
            403: NO_SESSION + CROSS_SITE,
            **BODY_ERRORS,
        }
    ),
)
def change_email(body: dict[str, str]) -> Response:
    """Ask to move the account to a new address: the change applies when the link mailed to
    it is used; the current address gets a notice. A taken address answers the same."""
    current_auth().email_changes.request(require_session(), body["new_email"], current_client())
    return _accepted(CHANGE_SENT)


@lifecycle_api.put("/email/change")
@rate_limited("verify-email")
@lifecycle_api.input(VerificationToken, location=BODY, arg_name="body")
@lifecycle_api.output(EmailChanged, description="The token's account has its new address.")
@lifecycle_api.doc(
    responses=responses(
        {
            403: "The link is unknown, used, expired, the account's address changed since, "
            "or the new address was taken meanwhile." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def confirm_email_change(body: dict[str, str]) -> Response:
    """Spend a change-of-email token: its account moves to the new, verified, address."""
    user = current_auth().email_changes.confirm(body["token"], current_client())
    return jsonify(email=user.email, message="email changed")


@lifecycle_api.delete("/account")
@lifecycle_api.output(Message, description="The account and everything of it are deleted.")
@lifecycle_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses({401: RECENT, 403: NO_SESSION + CROSS_SITE, 503: UNAVAILABLE}),
)
def delete_account() -> Response:
    """Delete the account (recent authentication): its sessions, factors and pending secrets
    go; its audit events keep a keyed digest in place of the address; a notice is mailed."""
    current_auth().leaving.delete(require_session(), current_client())
    response = jsonify(message="account deleted")
    clear_session_cookie(response)
    return response


@lifecycle_api.get("/account/export")
@lifecycle_api.output(AccountExport, description="Everything stored about the account.")
@lifecycle_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses({401: RECENT, 403: NO_SESSION, 503: UNAVAILABLE}),
)
def export_account() -> Response:
    """Export what is stored about the account (recent authentication), secrets aside:
    profile, sessions (no ids), second factors, audit events (GDPR article 20)."""
    return jsonify(current_auth().leaving.export(require_session()))


def _accepted(message: str) -> Response:
    # A Response, not a (body, status) pair: APIFlask would serialise the pair's body again.
    response = jsonify(message=message)
    response.status_code = 202
    return response
