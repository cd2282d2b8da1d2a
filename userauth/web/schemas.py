"""The API's declarations: request fields, answers and error answers, as marshmallow schemas.

APIFlask reads them twice: to validate each request's input and to write the OpenAPI
document served at GET /openapi.json (and shown at /docs). Field errors are short phrases
("is required") that web/errors.py prefixes with the field's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.types import ResponsesType
from apiflask.validators import Length, OneOf
from marshmallow import EXCLUDE, ValidationError, pre_load

from userauth.emails import MAX_EMAIL_LENGTH
from userauth.web.devices import DEVICE_COOKIE

# Longer text is refused before it reaches the domain, by the API and the pages' forms alike.
MAX_FIELD_LENGTH = 4096
# The name of the session cookie's security scheme (the cookie is web/session.py's).
SESSION_COOKIE_SCHEME = "sessionCookie"
# Where a route's `input` is read from: a form or a JSON object alike (APIFlask's location).
BODY = "json_or_form"


def _utf8(value: str) -> None:
    """Refuse text that UTF-8 cannot encode: JSON's escapes can make lone surrogates.

    Raises:
        ValidationError: for a lone surrogate (password hashing and the database would fail).
    """
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValidationError("is not valid text") from None


def _field(description: str, *, max_length: int = MAX_FIELD_LENGTH, **metadata: Any) -> String:
    """A required, non-empty text field of at most `max_length` characters."""
    return String(
        required=True,
        validate=[
            Length(min=1, error="is required"),
            Length(max=max_length, error="is too long"),
            _utf8,
        ],
        error_messages={
            "required": "is required",
            "null": "is required",
            "invalid": "is not text",
        },
        metadata={"description": description, **metadata},
    )


class _Body(Schema):
    """A request body of text fields, sent as a form or as a JSON object."""

    class Meta:
        # Fields the route does not read are ignored, as they always were for forms.
        unknown = EXCLUDE

    error_messages = {"type": "the body must be a form or a JSON object"}  # noqa: RUF012


class Registration(_Body):
    email = _field("The account's email address.", max_length=MAX_EMAIL_LENGTH, format="email")
    password = _field("The new password.")
    invitation = String(
        validate=[Length(max=256, error="is too long"), _utf8],
        metadata={
            "description": "The token of an invitation's link (`userauth user invite`): "
            "needed when USERAUTH_SIGNUP is `invite`; the account's address is then verified."
        },
    )


class Credentials(_Body):
    email = _field("The account's email.")
    password = _field("Its password.")


class ResetRequest(_Body):
    email = _field("The account's email.")


class Reset(_Body):
    email = _field("The account's email.")
    reset_token = _field("The token from POST /reset_password.")
    new_password = _field("The new password.")


class PasswordChange(_Body):
    # Optional for an account made with a passkey alone, which sets its first password;
    # every other account must give it (the route answers 400 "password is required").
    password = String(
        validate=[
            Length(min=1, error="is required"),
            Length(max=MAX_FIELD_LENGTH, error="is too long"),
            _utf8,
        ],
        error_messages={"null": "is required", "invalid": "is not text"},
        metadata={"description": "The current password (left out: the account has none)."},
    )
    new_password = _field("The new password.")


class Error(Schema):
    """The body of every error answer."""

    message = String(required=True)


class Message(Schema):
    message = String(required=True)


class EmailAndMessage(Schema):
    email = String(required=True)
    message = String(required=True)


class Profile(Schema):
    email = String(required=True)


class ResetIssued(Schema):
    email = String(required=True)
    reset_token = String(metadata={"description": "Development only; production emails it."})
    message = String(metadata={"description": "Production only: the token went by email."})


class SessionView(Schema):
    id = String(
        required=True,
        metadata={"description": "The session's public id, for DELETE /sessions/{id}; random."},
    )
    created_at = DateTime(required=True)
    last_used_at = DateTime(required=True)
    expires_at = DateTime(required=True)
    user_agent = String(required=True, metadata={"description": "As the client sent it."})
    device = String(
        required=True,
        metadata={"description": 'The browser and system it names: "Chrome on Linux".'},
    )
    client_address = String(required=True)
    current = Boolean(required=True, metadata={"description": "This is the request's session."})
    factors = List(
        String(),
        required=True,
        metadata={"description": 'How it was made, RFC 8176 amr values: ["pwd"], ["pwd", "otp"].'},
    )
    authenticated_at = DateTime(
        required=True,
        metadata={
            "description": "When its user last authenticated (logged in or re-authenticated)."
        },
    )


class SessionList(Schema):
    sessions = List(Nested(SessionView), required=True, metadata={"description": "Newest first."})


class Identity(Schema):
    id = Integer(
        required=True,
        metadata={"description": "The user's id: key accounts on it (it never changes)."},
    )
    email = String(
        required=True,
        metadata={
            "description": "The email the account signed up with. Not verified: anyone can "
            "sign up with any address, so never grant access on it; key on `id`."
        },
    )


class GateQuery(Schema):
    redirect = Boolean(
        load_default=False,
        metadata={"description": "true: answer 302 to the login page instead of 401."},
    )
    aal = Integer(
        load_default=1,
        validate=OneOf([1, 2], error="must be 1 or 2"),
        metadata={
            "description": "The assurance level the session must have (NIST SP 800-63B): 2 "
            "needs a second factor; a session below it is answered as no session."
        },
    )

    @pre_load
    def refuse_repeated(self, data: Any, **_: Any) -> Any:
        """Refuse a parameter given twice (`aal=1&aal=2`): webargs would read the first.

        Which copy a proxy in front forwards, or an app means, is anyone's guess, and a
        guess could let a one-factor session through a gate asking two (parameter
        pollution; OWASP WSTG-INPV-04): 400 names the parameter.
        """
        # webargs hands query strings over as a MultiDictProxy of the request's MultiDict.
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = sorted(name for name in self.fields if len(getlist(name)) > 1)
            if repeated:
                raise ValidationError({name: ["must be given once"] for name in repeated})
        return data


class Status(Schema):
    status = String(required=True, validate=OneOf(["ok"]))


class Unavailable(Schema):
    message = String(required=True)
    down = List(String(validate=OneOf(["database", "redis"])), required=True)


def responses(answers: Mapping[int, str | Mapping[str, Any]]) -> ResponsesType:
    """Return a route's answers besides its success, for `doc(responses=...)`.

    A string is the description of an error answer with the Error body; a mapping is the
    answer's OpenAPI object (schema classes allowed), which APIFlask merges as it is.
    """
    # APIFlask's ResponsesType is narrower than what its doc() documents and accepts.
    return cast("ResponsesType", dict(answers))


def json_answer(description: str, schema: type[Schema]) -> dict[str, Any]:
    """Return a documented JSON answer (for `doc(responses=...)`)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


TOO_LARGE = "The body is larger than the server accepts."
# Every route that reads a body (web/bodies.py).
UNSUPPORTED_BODY = {
    **json_answer("The body is neither a form nor JSON, or not in UTF-8, or compressed.", Error),
    "headers": {
        "Accept": {"description": "The media types a body may have.", "schema": {"type": "string"}}
    },
}
BROWSER_TO_PAGES = {
    "description": "A browser (Accept ranks text/html above application/json) with the hosted "
    "pages on: redirect to /auth/, the login or account page.",
    "headers": {"Location": {"schema": {"type": "string"}}},
}
# Every state-changing route: a browser's cross-site request from an origin not allowed.
CROSS_SITE_ONLY = (
    "A browser's request from another site's page (Sec-Fetch-Site, else Origin, else Referer) "
    "whose origin USERAUTH_CORS_ORIGINS does not list."
)
CROSS_SITE = " Or: " + CROSS_SITE_ONLY[0].lower() + CROSS_SITE_ONLY[1:]
NO_SESSION = "No live session has the session cookie (or the request carries it twice)."
RATE_LIMITED = {
    **json_answer("Too many attempts; retry after the given number of seconds.", Error),
    "headers": {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}},
}
# Every route that reads or writes the database answers 503 while it cannot (web/errors.py).
UNAVAILABLE = {
    **json_answer("The database is unavailable; retry after the given number of seconds.", Error),
    "headers": {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}},
}
# The errors a rate-limited route that reads a body answers besides its own, after them.
BODY_ERRORS: Mapping[int, str | Mapping[str, Any]] = {
    413: TOO_LARGE,
    415: UNSUPPORTED_BODY,
    429: RATE_LIMITED,
    503: UNAVAILABLE,
}
# Every sensitive action's 401 (reauthentication.py's window).
RECENT = "Re-authentication required: the session's last authentication is too old."
# The name of /metrics' optional bearer token's security scheme (USERAUTH_METRICS_TOKEN).
METRICS_TOKEN_SCHEME = "metricsToken"  # noqa: S105 - a scheme's name, not a token
SET_COOKIE = {
    "Set-Cookie": {
        "description": "The session cookie (named in the sessionCookie security scheme): "
        "<name>=<session id>; HttpOnly; SameSite=Lax; Path=/"
        # Kept at logout: this device's own failed-login budget (userauth/web/devices.py).
        f", and {DEVICE_COOKIE}=<device entries>; HttpOnly; SameSite=Lax; Path=/",
        "schema": {"type": "string"},
    }
}


def security_schemes(cookie_name: str) -> dict[str, Any]:
    """Return the document's security schemes: /metrics' bearer token, and the session
    cookie under its name."""
    return {
        METRICS_TOKEN_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "USERAUTH_METRICS_TOKEN, when it is set; /metrics is open otherwise.",
        },
        SESSION_COOKIE_SCHEME: {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name,
            "description": "The session id set by POST /sessions.",
        },
    }
