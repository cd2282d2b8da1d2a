"""The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json.

Written by hand next to the routes; tests/test_openapi.py compares its paths and methods
with the app's URL map, and scripts/schemathesis checks live answers against it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from userauth.emails import MAX_EMAIL_LENGTH
from userauth.web.routes import MAX_FIELD_LENGTH
from userauth.web.session import SESSION_COOKIE

Schema = dict[str, Any]

openapi = Blueprint("openapi", __name__)

_ERROR = {"$ref": "#/components/schemas/Error"}
_SESSION: list[dict[str, list[str]]] = [{"sessionCookie": []}]


def _text(description: str, **limits: Any) -> Schema:
    return {"type": "string", "description": description, **limits}


def _object(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _field(description: str) -> Schema:
    return _text(description, minLength=1, maxLength=MAX_FIELD_LENGTH)


_EMAIL_FIELD = _text(
    "The account's email address.", format="email", minLength=1, maxLength=MAX_EMAIL_LENGTH
)


def _form(**fields: Schema) -> Schema:
    """A required application/x-www-form-urlencoded body; every field is required."""
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _object(list(fields), **fields)}
        },
    }


def _json(description: str, schema: Schema, **extra: Any) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _error(description: str) -> Schema:
    return _json(description, _ERROR)


_BAD_FORM = _error("A field is missing, empty, too long or malformed.")
_TOO_LARGE = _error("The body is larger than the server accepts.")
_NO_SESSION = _error("No live session has the session_id cookie.")
_LIMITED = {"$ref": "#/components/responses/RateLimited"}
_MESSAGE = _object(["message"], message={"type": "string"})
_EMAIL_AND_MESSAGE = _object(
    ["email", "message"], email={"type": "string"}, message={"type": "string"}
)


def _operation(summary: str, responses: dict[str, Schema], **extra: Any) -> Schema:
    return {"summary": summary, "responses": responses, **extra}


def _account_paths() -> dict[str, Schema]:
    return {
        "/": {
            "get": _operation("Greet", {"200": _json("The greeting.", _MESSAGE)}),
        },
        "/users": {
            "post": _operation(
                "Register an account",
                {
                    "200": _json("The account exists.", _EMAIL_AND_MESSAGE),
                    "400": _error("Bad field, weak password, or the email is registered."),
                    "413": _TOO_LARGE,
                    "429": _LIMITED,
                },
                requestBody=_form(email=_EMAIL_FIELD, password=_field("The new password.")),
            ),
        },
        "/profile": {
            "get": _operation(
                "Show the signed-in account",
                {
                    "200": _json("The account.", _object(["email"], email={"type": "string"})),
                    "403": _NO_SESSION,
                },
                security=_SESSION,
            ),
        },
        "/profile/password": {
            "put": _operation(
                "Change the password, ending every other session",
                {
                    "200": _json("The password is changed.", _MESSAGE),
                    "400": _BAD_FORM,
                    "403": _error("No live session, or the current password is wrong."),
                    "413": _TOO_LARGE,
                },
                security=_SESSION,
                requestBody=_form(
                    password=_field("The current password."),
                    new_password=_field("The new password."),
                ),
            ),
        },
    }


def _session_paths() -> dict[str, Schema]:
    session_view = _object(
        [
            "id",
            "created_at",
            "last_used_at",
            "expires_at",
            "user_agent",
            "client_address",
            "current",
        ],
        id={"type": "integer"},
        created_at={"type": "string", "format": "date-time"},
        last_used_at={"type": "string", "format": "date-time"},
        expires_at={"type": "string", "format": "date-time"},
        user_agent={"type": "string"},
        client_address={"type": "string"},
        current={"type": "boolean", "description": "This is the session of the request."},
    )
    set_cookie = {
        "description": f"{SESSION_COOKIE}=<session id>; HttpOnly; SameSite=Lax; Path=/",
        "schema": {"type": "string"},
    }
    return {
        "/sessions": {
            "post": _operation(
                "Log in",
                {
                    "200": _json(
                        "Logged in; the session id is in the cookie.",
                        _EMAIL_AND_MESSAGE,
                        headers={"Set-Cookie": set_cookie},
                    ),
                    "400": _BAD_FORM,
                    "401": _error("Wrong email or password, or a disabled account."),
                    "413": _TOO_LARGE,
                    "429": _LIMITED,
                },
                requestBody=_form(
                    email=_field("The account's email."), password=_field("Its password.")
                ),
            ),
            "delete": _operation(
                "Log out this session",
                {
                    "302": {
                        "description": "The session ended; redirect to GET /.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "403": _NO_SESSION,
                },
                security=_SESSION,
            ),
            "get": _operation(
                "List the account's live sessions",
                {
                    "200": _json(
                        "Newest first.",
                        _object(["sessions"], sessions={"type": "array", "items": session_view}),
                    ),
                    "403": _NO_SESSION,
                },
                security=_SESSION,
            ),
        },
        "/sessions/{session_number}": {
            "delete": _operation(
                "Revoke one of the account's sessions",
                {
                    "200": _json("The session ended.", _MESSAGE),
                    "403": _NO_SESSION,
                    "404": _error("No such session among the account's (or not a number)."),
                },
                security=_SESSION,
                parameters=[
                    {
                        "name": "session_number",
                        "in": "path",
                        "required": True,
                        "description": "A session's id from GET /sessions.",
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
            ),
        },
    }


def _reset_paths() -> dict[str, Schema]:
    token_answer = _object(
        ["email"],
        email={"type": "string"},
        reset_token=_text("The token (development only; production emails it)."),
        message={"type": "string"},
    )
    return {
        "/reset_password": {
            "post": _operation(
                "Request a password reset token",
                {
                    "200": _json("A token was issued.", token_answer),
                    "400": _BAD_FORM,
                    "403": _error("No account has this email (development only)."),
                    "413": _TOO_LARGE,
                    "429": _LIMITED,
                },
                requestBody=_form(email=_field("The account's email.")),
            ),
            "put": _operation(
                "Set a new password with a reset token, ending every session",
                {
                    "200": _json("The password is changed.", _EMAIL_AND_MESSAGE),
                    "400": _BAD_FORM,
                    "403": _error("The token is unknown, spent, expired or another account's."),
                    "413": _TOO_LARGE,
                    "429": _LIMITED,
                },
                requestBody=_form(
                    email=_field("The account's email."),
                    reset_token=_field("The token from POST /reset_password."),
                    new_password=_field("The new password."),
                ),
            ),
        },
    }


def _operations_paths() -> dict[str, Schema]:
    status = _object(["status"], status={"type": "string", "const": "ok"})
    down = {
        "allOf": [
            _ERROR,
            _object(["down"], down={"type": "array", "items": {"enum": ["database", "redis"]}}),
        ]
    }
    return {
        "/healthz": {
            "get": _operation("Tell that the process is alive", {"200": _json("Alive.", status)})
        },
        "/readyz": {
            "get": _operation(
                "Tell whether the database (and Redis, when configured) answer",
                {"200": _json("Ready.", status), "503": _json("Something is down.", down)},
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "The Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/openapi.json": {
            "get": _operation("This document", {"200": _json("OpenAPI 3.1.", {"type": "object"})})
        },
    }


def document() -> Schema:
    """Return the OpenAPI 3.1 document of every route."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "userauth",
            "version": "1",
            "description": "User accounts, sessions and password resets. "
            'Every error answers with a JSON body {"message": ...}.',
        },
        "paths": {**_account_paths(), **_session_paths(), **_reset_paths(), **_operations_paths()},
        "components": {
            "schemas": {"Error": _object(["message"], message={"type": "string"})},
            "responses": {
                "RateLimited": {
                    "description": "Too many attempts; retry after the given number of seconds.",
                    "headers": {
                        "Retry-After": {
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    },
                    "content": {"application/json": {"schema": _ERROR}},
                }
            },
            "securitySchemes": {
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "The session id set by POST /sessions.",
                }
            },
        },
    }


@openapi.get("/openapi.json")
def openapi_json() -> Response:
    """Serve the OpenAPI document."""
    return jsonify(document())


def install_openapi(app: Flask) -> None:
    """Serve the OpenAPI document at GET /openapi.json."""
    app.register_blueprint(openapi)
