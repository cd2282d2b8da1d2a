"""The account lifecycle's hosted pages under /auth/: the pages the verification and
change-of-email links open.

Each shows one button; only its POST (with the form's CSRF token)
spends the token, so a mail scanner that follows links verifies nothing.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from userauth.errors import InvalidTokenError
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.forms import VerifyEmailForm
from userauth.web.limits import rate_limited

BAD_LINK = "This link is invalid or has expired: ask for a new one from your account page."
VERIFIED = "Your email address is verified."
CHANGED = "Your account now uses this email address."

lifecycle_pages = APIBlueprint("lifecycle", __name__, enable_openapi=False)


@lifecycle_pages.route("/verify-email", methods=["GET", "POST"])
@rate_limited("verify-email")
def verify_email() -> ResponseReturnValue:
    """GET: the link's page, one button; POST: spend the token, whoever is logged in (the
    token names its own account: a link opened in another user's session changes nothing
    of theirs)."""
    form = page.form(VerifyEmailForm)
    verification = current_auth().verification
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
        # Said before the button is pressed; spends nothing (a token is 122 random bits).
        if not verification.is_live(form.token.data):
            return page.render("verify_email.html", 400, form=form, dead_link=BAD_LINK)
    elif form.validate_on_submit():
        try:
            verification.verify(page.text(form.token), current_client())
        except InvalidTokenError:
            page.fail(form.token, BAD_LINK)
        else:
            flash(VERIFIED)
            return redirect(url_for("pages.index"))
    return page.render("verify_email.html", page.status(), form=form, dead_link=None)


@lifecycle_pages.route("/confirm-email", methods=["GET", "POST"])
@rate_limited("verify-email")
def confirm_email() -> ResponseReturnValue:
    """GET: the change link's page, one button; POST: apply the change the token stands for
    (to the token's account, whoever is logged in)."""
    form = page.form(VerifyEmailForm)
    changes = current_auth().email_changes
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
        if not changes.is_live(form.token.data):
            return page.render("confirm_email.html", 400, form=form, dead_link=BAD_LINK)
    elif form.validate_on_submit():
        try:
            changes.confirm(page.text(form.token), current_client())
        except InvalidTokenError:
            page.fail(form.token, BAD_LINK)
        else:
            flash(CHANGED)
            return redirect(url_for("pages.index"))
    return page.render("confirm_email.html", page.status(), form=form, dead_link=None)
