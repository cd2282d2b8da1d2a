"""Administering second factors (issue 24): `userauth user reset-factors`, the encryption
keys of the seeds (`userauth keys`), and development's own key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.second_factor import (
    EMAIL,
    PASSWORD,
    Enrolled,
    enrol,
    oathtool_code,
    password_step,
    sign_up_and_log_in,
)
from tests.test_cli import userauth
from userauth.auth import Auth
from userauth.secret_box import new_key
from userauth.settings import FactorSettings
from userauth.web import create_app


def client_of(auth: Auth) -> FlaskClient:
    return create_app(auth.settings, auth).test_client()


def enrolled_account(client: FlaskClient, clock: FakeClock) -> Enrolled:
    sign_up_and_log_in(client)
    account = enrol(client, clock())
    clock.advance(seconds=30)
    return account


def logs_in_with_a_code(client: FlaskClient, secret: str, clock: FakeClock) -> bool:
    password_step(client)
    code = oathtool_code(secret, clock())
    return client.post("/sessions/second-factor", data={"code": code}).status_code == 200


class TestResetFactors:
    def test_it_removes_the_second_factor_and_ends_the_sessions(
        self, client: FlaskClient, auth: Auth, clock: FakeClock, database_url: str
    ) -> None:
        enrolled_account(client, clock)

        done = userauth("user", "reset-factors", EMAIL, database_url=database_url)

        assert done.returncode == 0, done.stderr
        assert done.stdout == f"Removed the second factors of {EMAIL}; its sessions ended.\n"
        assert client.get("/profile").status_code == 403
        login = client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200
        events = [event.event for event in auth.db.list_audit_events(limit=50)]
        assert "second_factors_reset" in events

    def test_an_unknown_email_is_a_usage_error(self, auth: Auth, database_url: str) -> None:
        done = userauth("user", "reset-factors", "nobody@example.com", database_url=database_url)
        assert done.returncode == 2
        assert "email not registered" in done.stderr or "no account" in done.stderr


class TestEncryptionKeys:
    def test_reencrypt_moves_every_seed_to_the_first_key(
        self, make_auth: Callable[..., Auth], clock: FakeClock, database_url: str
    ) -> None:
        old, new = new_key(), new_key()
        account = enrolled_account(
            client_of(make_auth(FactorSettings(encryption_keys=(old,)))), clock
        )

        done = userauth(
            "keys",
            "reencrypt",
            database_url=database_url,
            env={"USERAUTH_ENCRYPTION_KEYS": f"{new},{old}"},
        )

        assert done.returncode == 0, done.stderr
        assert done.stdout == "Re-encrypted 1 secret(s) with the first key.\n"
        only_new = client_of(make_auth(FactorSettings(encryption_keys=(new,))))
        assert logs_in_with_a_code(only_new, account.secret, clock)

    def test_reencrypt_without_the_old_key_fails_and_says_so(
        self, make_auth: Callable[..., Auth], clock: FakeClock, database_url: str
    ) -> None:
        enrolled_account(client_of(make_auth(FactorSettings(encryption_keys=(new_key(),)))), clock)
        done = userauth(
            "keys",
            "reencrypt",
            database_url=database_url,
            env={"USERAUTH_ENCRYPTION_KEYS": new_key()},
        )
        assert done.returncode == 1
        assert "USERAUTH_ENCRYPTION_KEYS" in done.stderr

    def test_a_seed_no_configured_key_opens_is_a_503_naming_the_setting(
        self,
        make_auth: Callable[..., Auth],
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        account = enrolled_account(
            client_of(make_auth(FactorSettings(encryption_keys=(new_key(),)))), clock
        )
        wrong_key = client_of(make_auth(FactorSettings(encryption_keys=(new_key(),))))
        password_step(wrong_key)
        code = oathtool_code(account.secret, clock())
        answer = wrong_key.post("/sessions/second-factor", data={"code": code})
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert "USERAUTH_ENCRYPTION_KEYS" in caplog.text
        assert account.secret not in caplog.text

    def test_generate_prints_a_key_the_settings_accept(self) -> None:
        done = userauth("keys", "generate")
        key = done.stdout.strip()
        check = userauth("keys", "reencrypt", env={"USERAUTH_ENCRYPTION_KEYS": key})
        assert "must be Fernet keys" not in check.stderr

    @pytest.mark.parametrize("value", ["short", "a,b"], ids=["not-a-key", "two-non-keys"])
    def test_a_malformed_key_is_refused_at_start(self, value: str) -> None:
        done = userauth("keys", "reencrypt", env={"USERAUTH_ENCRYPTION_KEYS": value})
        assert done.returncode != 0
        assert "USERAUTH_ENCRYPTION_KEYS must be Fernet keys" in done.stderr

    def test_development_without_a_key_keeps_reading_seeds_after_a_restart(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        account = enrolled_account(client_of(make_auth()), clock)
        restarted = client_of(make_auth())
        assert logs_in_with_a_code(restarted, account.secret, clock)
