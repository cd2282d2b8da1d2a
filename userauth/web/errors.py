"""The one table that maps domain errors to HTTP statuses and JSON bodies.

Input that fails its declaration (userauth/web/schemas.py) is answered here too: a 400 whose
message names the first field at fault; and a database outage (userauth/db/outages.py) is a
503 with Retry-After, logged in one line, where a genuine bug stays a 500 with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import Response, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.db.outages import outage_cause
from userauth.errors import (
    AuthError,
    EmailNotVerifiedError,
    EmailTakenError,
    FactorAlreadyEnabledError,
    FactorNotFoundError,
    InvalidEmailError,
    InvalidSessionError,
    InvalidTokenError,
    LastCredentialError,
    LoginChallengeError,
    NoPendingEnrolmentError,
    PasskeyLoginError,
    PasskeyNotFoundError,
    PasskeyRegistrationError,
    PasswordPolicyError,
    ReauthenticationRequiredError,
    SessionNotFoundError,
    SignupClosedError,
    TooManyCodesError,
    UnknownEmailError,
    UnreadableSecretError,
    WrongCodeError,
    WrongPasswordError,
)

logger = logging.getLogger(__name__)


class LoginFailedError(AuthError):
    """The email and password do not match an enabled account."""

    def __init__(self) -> None:
        super().__init__("wrong email or password")


class EnrolmentCodeError(AuthError):
    """A wrong code confirming an enrolment (PUT /factors/totp): a bad request, not a login."""

    def __init__(self) -> None:
        super().__init__("wrong code")


# status, and the message when the contract fixes one (else str(error) is shown).
ERROR_TABLE: dict[type[AuthError], tuple[int, str | None]] = {
    InvalidEmailError: (400, None),
    PasswordPolicyError: (400, None),
    EmailTakenError: (400, "email already registered"),
    LoginFailedError: (401, None),
    InvalidSessionError: (403, None),
    UnknownEmailError: (403, "email not registered"),
    InvalidTokenError: (403, None),
    WrongPasswordError: (403, None),
    SessionNotFoundError: (404, None),
    # Second factors (web/factor_routes.py).
    EnrolmentCodeError: (400, None),
    LoginChallengeError: (401, None),
    WrongCodeError: (401, None),
    ReauthenticationRequiredError: (401, None),
    TooManyCodesError: (429, None),
    FactorNotFoundError: (404, None),
    FactorAlreadyEnabledError: (409, None),
    NoPendingEnrolmentError: (409, None),
    # The account's lifecycle (web/lifecycle_routes.py).
    EmailNotVerifiedError: (403, None),
    SignupClosedError: (403, None),
    # Passkeys (web/passkey_routes.py).
    PasskeyRegistrationError: (400, None),
    PasskeyLoginError: (401, None),
    PasskeyNotFoundError: (404, None),
    LastCredentialError: (409, None),
}

# A database outage: clients are asked to come back, as PostgreSQL restarts in seconds.
UNAVAILABLE = (503, "the service is temporarily unavailable; retry later")
RETRY_AFTER_SECONDS = 5


def message_response(status: int, message: str) -> tuple[Response, int]:
    """Return the JSON error body every failure uses: {"message": ...}."""
    return jsonify(message=message), status


def _domain_error(error: AuthError) -> tuple[Response, int]:
    if isinstance(error, UnreadableSecretError):
        return _keys_missing()
    for kind in type(error).__mro__:
        if kind in ERROR_TABLE:
            status, fixed = ERROR_TABLE[kind]
            return message_response(status, fixed or str(error))
    logger.exception("unmapped domain error", exc_info=error)
    return message_response(500, "internal error")


def _http_error(error: HTTPException) -> WerkzeugResponse | tuple[Response, int]:
    if error.code is None or error.code < 400:
        return error.get_response()
    response, status = message_response(error.code, error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response, status


def _input_error(error: HTTPError) -> tuple[Response, int]:
    """Answer a request whose input fails its declared schema (APIFlask's validation)."""
    return message_response(error.status_code, _first_problem(error.detail) or str(error.message))


def _first_problem(detail: Any) -> str | None:
    """Return "<field> <problem>" for the first field webargs reports, e.g. "email is required".

    `detail` is {location: {field: [problem, ...]}}; a problem with the body as a whole is
    reported under "_schema" and is returned as it is.
    """
    if not isinstance(detail, Mapping):
        return None
    for fields in detail.values():
        if not isinstance(fields, Mapping):
            continue
        for name, problems in fields.items():
            problem = problems[0] if isinstance(problems, list) and problems else problems
            return str(problem) if name == "_schema" else f"{name} {problem}"
    return None


def unexpected_error(error: Exception) -> tuple[Response, int]:
    """Answer an error no handler expected: 503 for a database outage, else 500 (JSON)."""
    return _unexpected_error(error)


def _unexpected_error(error: Exception) -> tuple[Response, int]:
    if isinstance(error, UnreadableSecretError):
        return _keys_missing()
    cause = outage_cause(error)
    if cause is not None:
        return _unavailable(error, cause)
    logger.exception("unhandled error", exc_info=error)
    return message_response(500, "internal error")


def _keys_missing() -> tuple[Response, int]:
    """Answer 503 for a stored secret no configured key opens: the operator must add the key.

    Not the client's fault and not a bug: a configuration error the operator fixes by putting
    the key that sealed it back into USERAUTH_ENCRYPTION_KEYS (never a 500, never a lockout
    that looks like a wrong code).
    """
    logger.error(
        "a stored secret cannot be decrypted: USERAUTH_ENCRYPTION_KEYS lacks the key that "
        "encrypted it (add it after the current one, then run `userauth keys reencrypt`)"
    )
    status, message = UNAVAILABLE
    response, _ = message_response(status, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def _unavailable(error: Exception, cause: str) -> tuple[Response, int]:
    """Answer a database outage 503, logging its cause in one line (no traceback).

    The cause is fixed text and the error only its type: a driver's message can quote the
    URL's password or a bound value (a hash, a token digest).
    """
    logger.warning(
        f"database unavailable: {cause}", extra={"cause": cause, "error": type(error).__name__}
    )
    status, message = UNAVAILABLE
    response, _ = message_response(status, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def register_error_handlers(app: APIFlask) -> None:
    """Answer every error, expected or not, with a JSON body."""
    app.error_processor(_input_error)
    app.register_error_handler(AuthError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
