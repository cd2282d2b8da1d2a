"""The hosted pages under /auth/: sign up, log in, log out, forgot, reset, the account page.

Server-rendered forms; one script of ours adds passkeys (static/passkeys.js). Every rule and
every production policy (what an answer may reveal) is the domain's, exactly as the JSON API
gets it; this module only renders, checks each form's CSRF token (Flask-WTF), keeps `next` on
the allowed hosts and sets the cookie.
"""

from __future__ import annotations

import secrets

from apiflask import APIBlueprint
from flask import (
    Flask,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import FileSystemLoader
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.credentials import LoginOutcome
from userauth.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidTokenError,
    PasswordPolicyError,
    SessionNotFoundError,
    SignupClosedError,
    UnknownEmailError,
    WrongPasswordError,
)
from userauth.settings import Settings
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.devices import remember_device
from userauth.web.errors import UNAVAILABLE, unexpected_error
from userauth.web.factor_pages import UNVERIFIED, factor_pages, two_factors_wanted
from userauth.web.form_session import FormSessionInterface
from userauth.web.forms import (
    ActionForm,
    ConfirmPasswordForm,
    EmailChangeForm,
    ForgotForm,
    LoginForm,
    PasswordForm,
    ResetForm,
    SignupForm,
)
from userauth.web.lifecycle_pages import lifecycle_pages
from userauth.web.limits import TOO_MANY, password_proven, rate_limited
from userauth.web.login_challenge import set_challenge_cookie
from userauth.web.metrics import record_login_outcome
from userauth.web.oidc_pages import oidc_pages, return_origin
from userauth.web.sentences import translated
from userauth.web.session import clear_session_cookie, current_session, set_session_cookie

# The same sentences the API answers, so a page reveals no more than the API does.
LOGIN_FAILED = _l("wrong email or password")
RESET_SENT = _l("If this email has an account, a link to reset its password has been sent to it.")
SIGNED_UP = _l("Your account is ready: log in.")
SIGNUP_CLOSED = {
    "closed": _l("Sign-up is closed: ask the administrator for an account."),
    "invite": _l("Sign-up needs an invitation: open the link of the invitation you received."),
}
BAD_INVITATION = _l("This invitation is invalid, has expired, or is for another email address.")
BAD_LINK = _l("This link is invalid or has expired: ask for a new one.")
OUTAGE = _l("The service is unavailable for a moment: try again in a few seconds.")
FORM_EXPIRED = _l("This form expired or came from another site: go back, reload it and try again.")
# HTML pages, not the API: left out of the OpenAPI document.
pages = APIBlueprint(
    "pages",
    __name__,
    url_prefix="/auth",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
    enable_openapi=False,
)
# The second factor's pages: under /auth/ with the same CSRF check, CSP and error pages.
pages.register_blueprint(factor_pages)
# The account lifecycle's pages (verification links), likewise.
pages.register_blueprint(lifecycle_pages)
# The apps with access (OpenID Connect clients), revocable from the account page.
pages.register_blueprint(oidc_pages)
# The link production mails (USERAUTH_RESET_LINK's default) lives outside /auth/.
links = APIBlueprint("links", __name__, enable_openapi=False)
csrf = CSRFProtect()


def install_pages(app: Flask, settings: Settings) -> None:
    """Serve the pages (unless USERAUTH_PAGES is off), operator templates first."""
    if not settings.web.pages_enabled:
        return
    app.config.update(
        # Unset only for Settings built in code (tests): any key then, for this app alone.
        SECRET_KEY=settings.security.secret_key or secrets.token_urlsafe(32),
        # Flask's signed cookie holds only the forms' CSRF secret and one-shot notices.
        SESSION_COOKIE_NAME="userauth_form",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookies.secure,
        # The API takes no CSRF token (its clients are programs); the pages check theirs.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    if settings.web.templates_dir:
        app.jinja_loader = FileSystemLoader(settings.web.templates_dir)
    app.session_interface = FormSessionInterface()
    csrf.init_app(app)
    app.register_blueprint(pages)
    app.register_blueprint(links)


@pages.before_request
def _check_csrf() -> None:
    # Every state-changing request to a page needs its form's token (OWASP CSRF cheat sheet).
    if request.method == "POST":
        csrf.protect()


@pages.after_request
def _content_security_policy(response: WerkzeugResponse) -> WerkzeugResponse:
    # One script, this site's own file (passkeys.js: nothing inline, nothing from another
    # host), calling this site's API; styles from this site only, forms posting here (or to
    # a `next` host). OWASP Content Security Policy cheat sheet.
    hosts = " ".join(_csp_source(host) for host in current_auth().settings.gate.redirect_hosts)
    # A login for an OpenID Connect client ends at the client's registered redirect URI.
    hosts = f"{hosts} {return_origin() or ''}".strip()
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self'; "
        f"form-action 'self' {hosts}".rstrip()
        + "; frame-ancestors 'none'; base-uri 'none'"
    )
    # Over HTTPS, Flask-WTF also wants a same-origin Referer on each form (the app's default
    # no-referrer would refuse every form); same-origin still sends none to other sites.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@pages.errorhandler(Exception)
def _unexpected(error: Exception) -> ResponseReturnValue:
    # The same classification and log line as the API's; a person gets a page to come back to.
    if isinstance(error, HTTPException):
        return error
    answer, status = unexpected_error(error)
    if status != UNAVAILABLE[0]:
        return answer, status
    shown = render_template("userauth/error.html", message=OUTAGE, **page.site())
    return shown, status, {"Retry-After": answer.headers["Retry-After"]}


@pages.errorhandler(429)
def _too_many(_error: Exception) -> ResponseReturnValue:
    return render_template(
        "userauth/error.html", message=translated(TOO_MANY).capitalize() + ".", **page.site()
    ), 429


@pages.errorhandler(CSRFError)
def _csrf_failed(_error: CSRFError) -> ResponseReturnValue:
    return render_template("userauth/error.html", message=FORM_EXPIRED, **page.site()), 400


@pages.get("/")
def index() -> WerkzeugResponse:
    """/auth/: the account page when logged in, else the login page."""
    return redirect(url_for("pages.account" if current_session() is not None else "pages.login"))


@pages.route("/login", methods=["GET", "POST"])
@rate_limited("login")
def login() -> ResponseReturnValue:
    """Log in, then go to `next` (a path here or an allowed host) or the account page."""
    form, target = page.form(LoginForm), page.next_target()
    live = current_session()
    if live is not None and request.method == "GET":
        return two_factors_wanted(live, target) or redirect(target)
    if form.validate_on_submit():
        email = page.text(form.email)
        result = current_auth().login(email, page.text(form.password), current_client())
        record_login_outcome(result.outcome)
        if result.succeeded and result.session_id is not None:
            password_proven()
            response = redirect(target)
            set_session_cookie(response, result.session_id)
            remember_device(response, email)
            return response
        if result.outcome is LoginOutcome.EMAIL_NOT_VERIFIED:
            password_proven()
            page.fail(form.email, UNVERIFIED)
            return page.render("login.html", 403, form=form, next=target)
        if result.outcome is LoginOutcome.SECOND_FACTOR_REQUIRED and result.challenge:
            # The password was right: not a failure to count; the code comes next.
            password_proven()
            response = redirect(url_for("pages.factors.second_step", next=target))
            set_challenge_cookie(response, result.challenge, current_auth().settings)
            return response
        page.fail(form.password, LOGIN_FAILED)
        return page.render("login.html", 401, form=form, next=target)
    return page.render("login.html", page.status(), form=form, next=target)


@pages.route("/signup", methods=["GET", "POST"])
@rate_limited("register")
def signup() -> ResponseReturnValue:
    """Create an account and log in, then go to `next`; production logs in nobody here
    (Auth.sign_up_and_log_in) and sends new and taken emails alike to the login page."""
    form, target = page.form(SignupForm), page.next_target()
    # An invitation's link (userauth user invite) carries it; the form posts it back.
    invitation = request.values.get("invitation") or None
    try:
        current_auth().invitations.check_open(invitation)
    except SignupClosedError as error:
        return page.render(
            "signup.html", 403, form=form, next=target, closed=SIGNUP_CLOSED[error.mode]
        )
    if form.validate_on_submit():
        try:
            session_id = current_auth().sign_up_and_log_in(
                page.text(form.email), page.text(form.password), current_client(), invitation
            )
        except InvalidTokenError:
            page.fail(form.email, BAD_INVITATION)
            return page.render("signup.html", 403, form=form, next=target, invitation=invitation)
        except (EmailTakenError, InvalidEmailError) as error:
            page.fail(form.email, page.message(error))
        except PasswordPolicyError as error:
            page.fail(form.password, page.message(error))
        else:
            if session_id is None:
                flash(str(SIGNED_UP))
                return redirect(url_for("pages.login", next=target))
            response = redirect(target)
            set_session_cookie(response, session_id)
            return response
    return page.render("signup.html", page.status(), form=form, next=target, invitation=invitation)


@pages.route("/logout", methods=["POST"])
def logout() -> WerkzeugResponse:
    """End this device's session."""
    live = current_session()
    if live is not None:
        current_auth().end_session(live, current_client())
    flash(_("You are logged out."))
    response = redirect(url_for("pages.login"))
    clear_session_cookie(response)
    return response


@pages.route("/forgot", methods=["GET", "POST"])
@rate_limited("request-reset")
def forgot() -> ResponseReturnValue:
    """Ask for a reset link by email (development also shows it on the page)."""
    form = page.form(ForgotForm)
    if form.validate_on_submit():
        try:
            sent = current_auth().request_password_reset(page.text(form.email), current_client())
        except UnknownEmailError as error:
            page.fail(form.email, page.message(error))
        else:
            link = None if sent.token is None else url_for("pages.reset", token=sent.token)
            return page.render("forgot.html", 200, form=form, sent=RESET_SENT, reset_link=link)
    return page.render("forgot.html", page.status(), form=form, sent=None, reset_link=None)


@pages.route("/reset", methods=["GET", "POST"])
@rate_limited("reset")
def reset() -> ResponseReturnValue:
    """Choose a new password; the token from the emailed link alone names the account."""
    form = page.form(ResetForm)
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
        # Said before a new password is typed, not after. Not an oracle worth limiting: a
        # token is 122 random bits (tokens.new_token), and the check spends nothing.
        if not current_auth().reset_link_is_live(form.token.data):
            return page.render("reset.html", 400, form=form, dead_link=BAD_LINK)
    elif form.validate_on_submit():
        try:
            current_auth().update_password(
                page.text(form.token), page.text(form.new_password), current_client()
            )
        except InvalidTokenError:
            page.fail(form.token, BAD_LINK)
        except PasswordPolicyError as error:
            page.fail(form.new_password, page.message(error))
        else:
            flash(_("Your password is changed: log in with the new one."))
            return redirect(url_for("pages.login"))
    return page.render("reset.html", page.status(), form=form, dead_link=None)


@links.get("/reset_password")
def reset_link() -> WerkzeugResponse:
    """GET /reset_password?token=…: the link production mails, sent on to the reset page."""
    return redirect(url_for("pages.reset", token=request.args.get("token", "")))


@pages.route("/account", methods=["GET"])
def account() -> ResponseReturnValue:
    """The account page: its sessions (revoke any) and the password form."""
    return account_page(PasswordForm(formdata=None), 200)


@pages.route("/account/sessions/<public_id>/revoke", methods=["POST"])
def revoke(public_id: str) -> ResponseReturnValue:
    """End one of this account's other sessions."""
    live = current_session()
    if live is None:
        return page.to_login()
    try:
        current_auth().revoke_session(live, public_id, current_client())
    except SessionNotFoundError:
        flash(_("That session had already ended."), "error")
    else:
        flash(_("The session is ended."))
    return redirect(url_for("pages.account"))


@pages.route("/account/sessions/revoke-others", methods=["POST"])
def revoke_others() -> ResponseReturnValue:
    """End every session of this account but this one."""
    live = current_session()
    if live is None:
        return page.to_login()
    ended = current_auth().end_other_sessions(live, current_client())
    flash(
        _(
            "Logged out everywhere else (%(count)s session(s) ended).",
            count=ended,
        )
    )
    return redirect(url_for("pages.account"))


@pages.route("/account/password", methods=["POST"])
@rate_limited("password-change")
def change_password() -> ResponseReturnValue:
    """Change the password with the current one; the other sessions end."""
    form, live = page.form(PasswordForm), current_session()
    if live is None:
        return page.to_login()
    if form.validate_on_submit():
        try:
            current_auth().change_password(
                live, page.text(form.password), page.text(form.new_password), current_client()
            )
        except WrongPasswordError as error:
            # 403 like the API's, so the failed-attempt limit counts it the same way.
            page.fail(form.password, page.message(error))
            return account_page(form, 403)
        except PasswordPolicyError as error:
            page.fail(form.new_password, page.message(error))
        else:
            password_proven()
            flash(_("Your password is changed; your other sessions are ended."))
            return redirect(url_for("pages.account"))
    return account_page(form, 400)


def account_page(
    password_form: PasswordForm,
    status: int,
    *,
    email_form: EmailChangeForm | None = None,
    leave_form: ConfirmPasswordForm | None = None,
) -> ResponseReturnValue:
    """Render the account page, the forms given in place of blank ones (their errors shown
    next to their fields)."""
    live = current_session()
    if live is None:
        return page.to_login()
    return page.render(
        "account.html",
        status,
        email=live.email,
        email_verified=live.email_verified,
        sessions=current_auth().list_sessions(live),
        factors=current_auth().list_factors(live),
        passkeys=current_auth().passkeys.list(live.user_id),
        apps=current_auth().oidc.apps(live.user_id),
        action=page.form(ActionForm),
        password_form=password_form,
        email_form=email_form or EmailChangeForm(formdata=None),
        leave_form=leave_form or ConfirmPasswordForm(formdata=None),
    )


def _csp_source(host: str) -> str:
    """Return the form-action sources of one allowed host, as `safe_target` reads it."""
    names = [host[1:], f"*{host}"] if host.startswith(".") else [host]
    return " ".join(f"{scheme}://{name}:*" for name in names for scheme in ("https", "http"))
