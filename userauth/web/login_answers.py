"""The answers of a login's later steps, shared by the password, code and passkey routes.

A right password on an account with a second factor answers 401 with the login_challenge
cookie (web/login_challenge.py); a login completed against that cookie, by a code or a
passkey, answers with the session cookie and drops the challenge.
"""

from __future__ import annotations

from flask import Response, jsonify

from userauth.auth import LoginResult
from userauth.web.context import current_auth
from userauth.web.devices import remember_device
from userauth.web.login_challenge import clear_challenge_cookie, set_challenge_cookie
from userauth.web.session import set_session_cookie


def second_factor_required(result: LoginResult) -> Response:
    """Answer a right password that needs a second factor: 401, the factors, the cookie."""
    response = jsonify(message="second factor required", factors=list(result.factors))
    response.status_code = 401
    if result.challenge is not None:
        set_challenge_cookie(response, result.challenge, current_auth().settings)
    return response


def login_completed(email: str, session_id: str) -> Response:
    """Answer a login completed with the login_challenge cookie: the session cookie, the
    challenge dropped, and the device remembered (its own failed-login budget)."""
    response = jsonify(email=email, message="logged in")
    set_session_cookie(response, session_id)
    clear_challenge_cookie(response, current_auth().settings)
    remember_device(response, email)
    return response
