"""Peer: Flask-Security (formerly Flask-Security-Too) in its quick-start setup, one JSON route.

Written from Flask-Security's Quick Start, "Basic SQLAlchemy Application"
(https://flask-security.readthedocs.io/en/stable/quickstart.html): Flask-SQLAlchemy, the
fsqla_v3 model mixins, SQLAlchemyUserDatastore, `@auth_required()`. Semantics: Flask's
signed session cookie carries the user's fs_uniquifier; each request loads the user by it.
Revocable per user (changing fs_uniquifier ends every session of that user), not per
session. The one change from its defaults: SECURITY_PASSWORD_HASH = "bcrypt" (cost 12,
passlib's default rounds) instead of argon2, so every contender pays the same hash.

Served by the benchmark under gunicorn gthread (`gunicorn peer_flask_security:app`), with
DATABASE_URL (and PEER_SCHEMA on PostgreSQL). `python peer_flask_security.py seed USERS
SESSIONS OUT` writes the accounts and the Cookie header of SESSIONS logged-in users.
"""

from __future__ import annotations

import os
import sys

from flask import Flask, Response, jsonify
from flask_security import (
    Security,
    SQLAlchemyUserDatastore,
    auth_required,
    current_user,
    hash_password,
    login_user,
)
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy
from peer_common import engine_options, seed_main, session_cookie

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("PEER_SECRET_KEY", "bench-peer-secret-key")
app.config["SECURITY_PASSWORD_SALT"] = os.environ.get(
    "PEER_PASSWORD_SALT", "146585145368132386173505678016728509634"
)
app.config["SECURITY_PASSWORD_HASH"] = "bcrypt"
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
# The quick start's engine option (a pool check before each checkout), plus the schema.
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **engine_options()}

db = SQLAlchemy(app)
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
    pass


class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
    pass


user_datastore = SQLAlchemyUserDatastore(db, User, Role)
app.security = Security(app, user_datastore)  # type: ignore[attr-defined]


@app.get("/")
def index() -> Response:
    return jsonify(message="ok")


@app.get("/profile")
@auth_required()
def profile() -> Response:
    return jsonify(email=current_user.email)


def seed(users: int, sessions: int, password: str) -> list[tuple[str, str]]:
    """Create the tables and `users` accounts; log the first `sessions` in with login_user."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        hashed = hash_password(password)  # one hash for all: seeding pays no bcrypt per user
        for n in range(1, users + 1):
            user_datastore.create_user(email=f"user{n}@bench.example.com", password=hashed)
        db.session.commit()
        accounts = db.session.scalars(db.select(User).order_by(User.id).limit(sessions)).all()
        return [(session_cookie(app, login_user, user), user.email) for user in accounts]


if __name__ == "__main__":
    sys.exit(seed_main(seed))
