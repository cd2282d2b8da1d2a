"""Passwords: the bcrypt cost and its upgrade, exact comparison, the 72-byte rule, change."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import bcrypt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from userauth import tokens
from userauth.auth import Auth
from userauth.settings import SecuritySettings, Settings
from userauth.web import create_app

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"

# Each is longer than bcrypt's 72 bytes; some are 72 characters or fewer.
OVER_LONG = pytest.mark.parametrize(
    "password",
    ["x" * 73, "x" * 71 + "é", "é" * 37, "😀" * 19, "x" * 200],
    ids=["73-ascii", "72-chars-73-bytes", "37-chars-74-bytes", "19-emoji-76-bytes", "200-ascii"],
)


def stored_hash(auth: Auth, email: str = EMAIL) -> bytes:
    hashed: bytes = auth.db.find_user_by(email=email).hashed_password
    return hashed


def log_in(client: FlaskClient, password: str = PASSWORD, email: str = EMAIL) -> int:
    """POST /sessions and return the status."""
    response = client.post("/sessions", data={"email": email, "password": password})
    return response.status_code


def change(client: FlaskClient, current: str, new: str) -> tuple[int, str]:
    """PUT /profile/password and return the status and the message."""
    response = client.put("/profile/password", data={"password": current, "new_password": new})
    body = response.get_json()
    assert isinstance(body, dict)
    return response.status_code, str(body.get("message"))


class TestBcryptCost:
    def test_the_default_cost_is_12(self) -> None:
        assert Settings().security.bcrypt_rounds == 12
        assert Settings.from_env({}).security.bcrypt_rounds == 12

    def test_the_cost_is_read_from_the_environment(self) -> None:
        assert Settings.from_env({"USERAUTH_BCRYPT_ROUNDS": "5"}).security.bcrypt_rounds == 5

    def test_registration_hashes_at_the_configured_cost(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(SecuritySettings(bcrypt_rounds=5))

        auth.register_user(EMAIL, PASSWORD)

        assert stored_hash(auth).startswith(b"$2b$05$")


class TestCostUpgrade:
    def test_a_lower_cost_hash_is_upgraded_at_the_next_successful_login(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        make_auth(SecuritySettings(bcrypt_rounds=4)).register_user(EMAIL, PASSWORD)
        stronger = make_auth(SecuritySettings(bcrypt_rounds=5))
        assert stored_hash(stronger).startswith(b"$2b$04$")

        assert stronger.valid_login(EMAIL, PASSWORD)

        assert stored_hash(stronger).startswith(b"$2b$05$")

    def test_the_upgraded_hash_accepts_the_password_and_only_it(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        make_auth(SecuritySettings(bcrypt_rounds=4)).register_user(EMAIL, PASSWORD)
        stronger = make_auth(SecuritySettings(bcrypt_rounds=5))
        stronger.valid_login(EMAIL, PASSWORD)

        assert stronger.valid_login(EMAIL, PASSWORD)
        assert not stronger.valid_login(EMAIL, NEW_PASSWORD)

    def test_a_failed_login_does_not_upgrade_the_hash(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        weaker = make_auth(SecuritySettings(bcrypt_rounds=4))
        weaker.register_user(EMAIL, PASSWORD)
        before = stored_hash(weaker)
        stronger = make_auth(SecuritySettings(bcrypt_rounds=5))

        assert not stronger.valid_login(EMAIL, NEW_PASSWORD)

        assert stored_hash(stronger) == before

    def test_a_higher_cost_hash_is_not_downgraded(self, make_auth: Callable[..., Auth]) -> None:
        make_auth(SecuritySettings(bcrypt_rounds=5)).register_user(EMAIL, PASSWORD)
        weaker = make_auth(SecuritySettings(bcrypt_rounds=4))

        assert weaker.valid_login(EMAIL, PASSWORD)

        assert stored_hash(weaker).startswith(b"$2b$05$")

    def test_a_login_over_http_upgrades_the_hash(self, make_auth: Callable[..., Auth]) -> None:
        make_auth(SecuritySettings(bcrypt_rounds=4)).register_user(EMAIL, PASSWORD)
        stronger = make_auth(SecuritySettings(bcrypt_rounds=5))
        client = create_app(stronger.settings, stronger).test_client()

        assert log_in(client) == 200

        assert stored_hash(stronger).startswith(b"$2b$05$")
        assert client.get("/profile").status_code == 200


class TestComparedAsGiven:
    @pytest.mark.parametrize(
        ("registered", "attempt"),
        [
            (" pw", "pw"),
            ("pw", " pw"),
            ("pw ", "pw"),
            ("pw", "pw\n"),
            ("\tpw", "pw"),
            ("Pw", "pw"),
        ],
        ids=[
            "leading-space-dropped",
            "leading-space-added",
            "trailing-space-dropped",
            "newline-added",
            "tab-dropped",
            "case-changed",
        ],
    )
    def test_a_password_differing_in_whitespace_or_case_is_wrong(
        self, auth: Auth, registered: str, attempt: str
    ) -> None:
        auth.register_user(EMAIL, registered)

        assert not auth.valid_login(EMAIL, attempt)
        assert auth.valid_login(EMAIL, registered)

    def test_surrounding_spaces_are_kept_over_http(self, client: FlaskClient) -> None:
        response = client.post("/users", data={"email": EMAIL, "password": " pw "})
        assert response.status_code == 200

        assert log_in(client, "pw") == 401
        assert log_in(client, " pw") == 401
        assert log_in(client, " pw ") == 200


class TestMaxBytes:
    @OVER_LONG
    def test_registration_refuses_a_password_over_72_bytes(
        self, auth: Auth, password: str
    ) -> None:
        with pytest.raises(ValueError, match="72 bytes"):
            auth.register_user(EMAIL, password)

        auth.register_user(EMAIL, PASSWORD)  # nothing was stored for the email

    @OVER_LONG
    def test_registration_over_http_refuses_a_password_over_72_bytes_with_400(
        self, client: FlaskClient, password: str
    ) -> None:
        response = client.post("/users", data={"email": EMAIL, "password": password})

        assert response.status_code == 400
        body = response.get_json()
        assert isinstance(body, dict)
        assert "72 bytes" in body["message"]

    @pytest.mark.parametrize(
        "password", ["x" * 72, "x" * 70 + "é", "😀" * 18], ids=["72-ascii", "71-chars", "18-emoji"]
    )
    def test_a_password_of_exactly_72_bytes_is_accepted(self, auth: Auth, password: str) -> None:
        auth.register_user(EMAIL, password)

        assert auth.valid_login(EMAIL, password)

    def test_a_longer_password_sharing_the_first_72_bytes_does_not_log_in(
        self, auth: Auth, client: FlaskClient
    ) -> None:
        registered = "p" * 72
        auth.register_user(EMAIL, registered)

        assert not auth.valid_login(EMAIL, registered + "q")
        assert log_in(client, registered + "q") == 401
        assert log_in(client, registered) == 200

    @OVER_LONG
    def test_a_reset_refuses_a_password_over_72_bytes(self, auth: Auth, password: str) -> None:
        auth.register_user(EMAIL, PASSWORD)
        token = auth.get_reset_password_token(EMAIL)

        with pytest.raises(ValueError, match="72 bytes"):
            auth.update_password(token, password)
        assert auth.valid_login(EMAIL, PASSWORD)

    @OVER_LONG
    def test_a_reset_over_http_refuses_a_password_over_72_bytes_with_400(
        self, auth: Auth, client: FlaskClient, password: str
    ) -> None:
        auth.register_user(EMAIL, PASSWORD)
        token = auth.get_reset_password_token(EMAIL)

        response = client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": password},
        )

        assert response.status_code == 400
        assert log_in(client) == 200

    @OVER_LONG
    def test_a_change_refuses_a_password_over_72_bytes(self, auth: Auth, password: str) -> None:
        auth.register_user(EMAIL, PASSWORD)
        session_id = auth.create_session(EMAIL)

        with pytest.raises(ValueError, match="72 bytes"):
            auth.change_password(auth.require_session(session_id), PASSWORD, password)
        assert auth.valid_login(EMAIL, PASSWORD)


class TestChangePassword:
    @pytest.fixture
    def devices(self, auth: Auth, app: Flask) -> tuple[FlaskClient, FlaskClient]:
        """The user logged in on a laptop and a phone."""
        auth.register_user(EMAIL, PASSWORD)
        laptop, phone = app.test_client(), app.test_client()
        assert log_in(laptop) == 200
        assert log_in(phone) == 200
        return laptop, phone

    def test_a_change_sets_the_new_password(
        self, devices: tuple[FlaskClient, FlaskClient], auth: Auth
    ) -> None:
        laptop, _ = devices

        assert change(laptop, PASSWORD, NEW_PASSWORD) == (200, "Password updated")

        assert auth.valid_login(EMAIL, NEW_PASSWORD)
        assert not auth.valid_login(EMAIL, PASSWORD)

    def test_a_change_keeps_the_current_session_and_ends_the_others(
        self, devices: tuple[FlaskClient, FlaskClient]
    ) -> None:
        laptop, phone = devices

        change(laptop, PASSWORD, NEW_PASSWORD)

        assert laptop.get("/profile").status_code == 200
        assert phone.get("/profile").status_code == 403

    def test_a_change_records_the_kept_session_as_the_newest(
        self, devices: tuple[FlaskClient, FlaskClient], auth: Auth
    ) -> None:
        laptop, _ = devices  # the phone logged in last
        cookie = laptop.get_cookie("session_id")
        assert cookie is not None

        change(laptop, PASSWORD, NEW_PASSWORD)

        assert auth.db.find_user_by(email=EMAIL).session_id == tokens.digest(cookie.value)

    def test_a_wrong_current_password_is_403_and_changes_nothing(
        self, devices: tuple[FlaskClient, FlaskClient], auth: Auth
    ) -> None:
        laptop, phone = devices

        status, _ = change(laptop, "not my password", NEW_PASSWORD)

        assert status == 403
        assert auth.valid_login(EMAIL, PASSWORD)
        assert phone.get("/profile").status_code == 200

    @OVER_LONG
    def test_a_new_password_over_72_bytes_is_400_and_changes_nothing(
        self, devices: tuple[FlaskClient, FlaskClient], auth: Auth, password: str
    ) -> None:
        laptop, phone = devices

        status, message = change(laptop, PASSWORD, password)

        assert status == 400
        assert "72 bytes" in message
        assert auth.valid_login(EMAIL, PASSWORD)
        assert phone.get("/profile").status_code == 200

    @pytest.mark.parametrize(
        "form",
        [
            {"new_password": NEW_PASSWORD},
            {"password": PASSWORD},
            {"password": "", "new_password": ""},
        ],
        ids=["no-current", "no-new", "both-empty"],
    )
    def test_a_missing_field_is_400(
        self, devices: tuple[FlaskClient, FlaskClient], form: dict[str, str]
    ) -> None:
        laptop, _ = devices

        assert laptop.put("/profile/password", data=form).status_code == 400

    def test_a_change_without_a_session_is_403(self, auth: Auth, client: FlaskClient) -> None:
        auth.register_user(EMAIL, PASSWORD)

        status, _ = change(client, PASSWORD, NEW_PASSWORD)

        assert status == 403
        assert auth.valid_login(EMAIL, PASSWORD)

    def test_a_change_voids_a_pending_reset_token(
        self, devices: tuple[FlaskClient, FlaskClient], auth: Auth
    ) -> None:
        laptop, _ = devices
        token = auth.get_reset_password_token(EMAIL)

        change(laptop, PASSWORD, NEW_PASSWORD)

        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.update_password(token, "third password")


class TestDevelopmentPolicy:
    def test_development_accepts_the_contracts_example_passwords(
        self, client: FlaskClient
    ) -> None:
        email = "guillaume@holberton.io"
        registered = client.post("/users", data={"email": email, "password": "b4l0u"})
        assert registered.status_code == 200
        token = client.post("/reset_password", data={"email": email}).get_json()["reset_token"]

        updated = client.put(
            "/reset_password",
            data={"email": email, "reset_token": token, "new_password": "t4rt1fl3tt3"},
        )

        assert updated.status_code == 200
        assert log_in(client, "t4rt1fl3tt3", email) == 200

    def test_an_empty_password_is_refused(self, auth: Auth) -> None:
        with pytest.raises(ValueError, match="password is required"):
            auth.register_user(EMAIL, "")


# "café-pass" with é as one code point (NFC), and as e + U+0301 COMBINING ACUTE ACCENT (NFD).
COMPOSED = "caf\u00e9-pass"
DECOMPOSED = "cafe\u0301-pass"


class TestUnicodeNormalisation:
    """NIST SP 800-63B 5.1.1.2: passwords are NFKC-normalised before hashing."""

    @pytest.mark.parametrize(
        ("registered", "typed"),
        [
            (COMPOSED, DECOMPOSED),
            (DECOMPOSED, COMPOSED),
            ("\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", "password"),
        ],
        ids=["composed-then-decomposed", "decomposed-then-composed", "fullwidth-then-ascii"],
    )
    def test_the_same_password_in_another_unicode_form_logs_in(
        self, auth: Auth, registered: str, typed: str
    ) -> None:
        auth.register_user(EMAIL, registered)
        assert auth.login(EMAIL, typed).succeeded

    def test_a_different_password_is_still_refused(self, auth: Auth) -> None:
        auth.register_user(EMAIL, COMPOSED)
        assert not auth.valid_login(EMAIL, "cafe-pass")

    def test_an_account_hashed_before_normalisation_logs_in_and_is_rehashed(
        self, auth: Auth
    ) -> None:
        user = auth.register_user(EMAIL, PASSWORD)
        # As stored before this change: bcrypt of the raw (decomposed) form.
        legacy = bcrypt.hashpw(DECOMPOSED.encode(), bcrypt.gensalt(4))
        auth.db.update_user(user.id, hashed_password=legacy)

        assert auth.login(EMAIL, DECOMPOSED).succeeded

        assert stored_hash(auth) != legacy
        assert bcrypt.checkpw(
            unicodedata.normalize("NFKC", DECOMPOSED).encode(), stored_hash(auth)
        )
        assert auth.valid_login(EMAIL, COMPOSED)

    def test_a_reset_stores_the_normalised_form(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        auth.update_password(auth.get_reset_password_token(EMAIL), DECOMPOSED)
        assert bcrypt.checkpw(COMPOSED.encode(), stored_hash(auth))
