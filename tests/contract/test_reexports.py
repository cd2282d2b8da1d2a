"""The four root modules are thin re-exports: each contract name is the package's object.

This is the one contract file that imports `userauth`, to check the identities.
"""

from __future__ import annotations

from flask import Flask

import auth
import db
import user
import userauth.auth
import userauth.db
import userauth.models


class TestUserModule:
    def test_user_is_the_packages_model(self) -> None:
        assert user.User is userauth.models.User

    def test_base_is_the_packages_base(self) -> None:
        assert user.Base is userauth.models.Base


class TestDbModule:
    def test_db_is_the_packages_db(self) -> None:
        assert db.DB is userauth.db.DB


class TestAuthModule:
    def test_auth_is_the_packages_auth(self) -> None:
        assert auth.Auth is userauth.auth.Auth

    def test_hash_password_is_the_packages(self) -> None:
        assert auth._hash_password is userauth.auth._hash_password

    def test_generate_uuid_is_the_packages(self) -> None:
        assert auth._generate_uuid is userauth.auth._generate_uuid


class TestAppModule:
    def test_app_is_a_flask_app(self, contract_app: Flask) -> None:
        import app

        assert isinstance(app.app, Flask)
        assert app.app is contract_app

    def test_auth_is_an_auth_of_the_package(self, contract_app: Flask) -> None:
        import app

        assert isinstance(app.AUTH, userauth.auth.Auth)
        assert isinstance(app.AUTH._db, userauth.db.DB)
