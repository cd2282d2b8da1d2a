"""Peer: Flask-Login + Flask-SQLAlchemy, as their docs set them up, with one protected JSON route.

Written from Flask-Login's "Configuring your Application" and "How it Works"
(https://flask-login.readthedocs.io/en/latest/) and Flask-SQLAlchemy's Quick Start
(https://flask-sqlalchemy.readthedocs.io/en/stable/quickstart/). Semantics: the user id sits
in Flask's signed session cookie; each request loads the user from the database
(`user_loader`). A session cannot be revoked: logout only drops the client's copy, so a copied
cookie stays valid until the secret key changes. Passwords: bcrypt at cost 12.

Served by the benchmark under gunicorn gthread (`gunicorn peer_flask_login:app`), with
DATABASE_URL (and PEER_SCHEMA on PostgreSQL) in the environment. `python peer_flask_login.py
seed USERS SESSIONS OUT` writes the accounts and the Cookie header of SESSIONS logged-in users.
"""

from __future__ import annotations

import os
import sys

import bcrypt
from flask import Flask, Response, jsonify, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from peer_common import engine_options, seed_main, session_cookie
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BCRYPT_ROUNDS = 12


class Base(DeclarativeBase):
    pass


app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("PEER_SECRET_KEY", "bench-peer-secret-key")
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options()
db = SQLAlchemy(app, model_class=Base)
login_manager = LoginManager(app)


class User(db.Model, UserMixin):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@app.get("/")
def index() -> Response:
    return jsonify(message="ok")


@app.post("/login")
def login() -> tuple[Response, int] | Response:
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None or not bcrypt.checkpw(password.encode(), user.password_hash.encode()):
        return jsonify(message="invalid credentials"), 401
    login_user(user)
    return jsonify(email=user.email)


@app.get("/profile")
@login_required
def profile() -> Response:
    return jsonify(email=current_user.email)


def seed(users: int, sessions: int, password: str) -> list[tuple[str, str]]:
    """Create the tables and `users` accounts; log the first `sessions` in with login_user."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.execute(
            db.insert(User),
            [
                {"id": n, "email": f"user{n}@bench.example.com", "password_hash": hashed}
                for n in range(1, users + 1)
            ],
        )
        db.session.commit()
        accounts = db.session.scalars(db.select(User).order_by(User.id).limit(sessions)).all()
        return [(session_cookie(app, login_user, user), user.email) for user in accounts]


if __name__ == "__main__":
    sys.exit(seed_main(seed))
