"""What every hosted page does with its request and answer, for pages.py and factor_pages.py.

Its form from the posted fields only, its template with the site's context, a field's error
next to the field, the `next` target kept on the allowed hosts, the way back to the login page.
"""

from __future__ import annotations

from typing import TypeVar

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import Field

from userauth.web.context import current_auth
from userauth.web.languages import page_language
from userauth.web.redirects import safe_target
from userauth.web.sentences import translated

FormType = TypeVar("FormType", bound=FlaskForm)


def form(form_class: type[FormType]) -> FormType:
    """Build a page's form from the posted form fields only (never JSON or files)."""
    built: FormType = form_class(formdata=request.form if request.method == "POST" else None)
    return built


def render(template: str, status: int, **context: object) -> ResponseReturnValue:
    """Render `userauth/<template>` with the site's context, answered with `status`."""
    return render_template(f"userauth/{template}", **site(), **context), status


def site() -> dict[str, object]:
    """Return what every template is given: the site's name, the page's language."""
    return {"site_name": "userauth", "language": page_language()}


def status() -> int:
    """200 for a form shown, 400 for one sent back with errors."""
    return 400 if request.method == "POST" else 200


def next_target() -> str:
    """Return the request's `next` when it is allowed (a path here or an allowed host), else
    the account page."""
    target = request.values.get("next")
    hosts = current_auth().settings.gate.redirect_hosts
    return safe_target(target, hosts, fallback=url_for("pages.account"))


def to_login() -> WerkzeugResponse:
    """Send the visitor to the login page, coming back here after it."""
    # A POST-only action's URL would be a 405 after the login: come back to the account page.
    back = request.full_path.rstrip("?") if request.method == "GET" else url_for("pages.account")
    return redirect(url_for("pages.login", next=back))


def text(field: Field) -> str:
    """Return a validated text field's value (present and non-empty once validated)."""
    return str(field.data or "")


def fail(field: Field, message: str) -> None:
    """Show `message` next to the field, as its first error."""
    field.errors = [message, *field.errors]


def message(error: Exception) -> str:
    """Return a domain error's sentence in the page's language (its class name when it has
    none)."""
    return translated(str(error)) or type(error).__name__
