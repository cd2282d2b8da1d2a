"""The design's `app` module: the Flask `app`, its routes, and `python3 app.py` on :5000.

Exactly the design (docs/design.md), a reference for development and teaching, not for
deployment: the service is `userauth serve`.
"""

import sys

from flask import Flask, Response, abort, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from auth import Auth
from db import ServiceDatabaseError

app = Flask(__name__)
try:
    AUTH = Auth()
except ServiceDatabaseError as refusal:
    if __name__ != "__main__":
        raise
    sys.exit(str(refusal))


@app.errorhandler(Exception)
def unprocessable(error: Exception) -> HTTPException | tuple[Response, int]:
    """Answer 400 JSON where the design's code crashed (a 500 there): a missing field, a NUL."""
    if isinstance(error, HTTPException):
        return error
    return jsonify({"message": "the request could not be processed"}), 400


@app.route("/", methods=["GET"])
def index() -> Response:
    """GET /: the welcome message."""
    return jsonify({"message": "Bienvenue"})


@app.route("/users", methods=["POST"])
def users() -> Response | tuple[Response, int]:
    """POST /users (form email, password): register a user."""
    email = request.form.get("email")
    password = request.form.get("password")
    if email is None:
        # The design crashed here (a NULL email) and its session stayed broken for every
        # later request; the answer is the 400 of any crash, and the server keeps working.
        return jsonify({"message": "the request could not be processed"}), 400
    try:
        AUTH.register_user(email, password)
    except ValueError:
        return jsonify({"message": "email already registered"}), 400
    return jsonify({"email": email, "message": "user created"})


@app.route("/sessions", methods=["POST"])
def login() -> Response:
    """POST /sessions (form email, password): log in, set the session_id cookie."""
    email = request.form.get("email")
    password = request.form.get("password")
    if not AUTH.valid_login(email, password):
        abort(401)
    session_id = AUTH.create_session(email)
    response = jsonify({"email": email, "message": "logged in"})
    response.set_cookie("session_id", session_id)
    return response


@app.route("/sessions", methods=["DELETE"])
def logout() -> ResponseReturnValue:
    """DELETE /sessions (cookie session_id): end the session, redirect to GET /."""
    user = AUTH.get_user_from_session_id(request.cookies.get("session_id"))
    if user is None:
        abort(403)
    AUTH.destroy_session(user.id)
    return redirect("/")


@app.route("/profile", methods=["GET"])
def profile() -> Response:
    """GET /profile (cookie session_id): the email of the session's user."""
    user = AUTH.get_user_from_session_id(request.cookies.get("session_id"))
    if user is None:
        abort(403)
    return jsonify({"email": user.email})


@app.route("/reset_password", methods=["POST"])
def get_reset_password_token() -> Response:
    """POST /reset_password (form email): a reset token for that user."""
    email = request.form.get("email")
    try:
        reset_token = AUTH.get_reset_password_token(email)
    except ValueError:
        abort(403)
    return jsonify({"email": email, "reset_token": reset_token})


@app.route("/reset_password", methods=["PUT"])
def update_password() -> Response:
    """PUT /reset_password (form email, reset_token, new_password): set a new password."""
    email = request.form.get("email")
    reset_token = request.form.get("reset_token")
    new_password = request.form.get("new_password")
    try:
        AUTH.update_password(reset_token, new_password)
    except ValueError:
        abort(403)
    return jsonify({"email": email, "message": "Password updated"})


if __name__ == "__main__":
    app.run(host="0.0.0.0", port="5000")  # noqa: S104 - the design's address
