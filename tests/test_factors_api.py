"""Managing second factors over HTTP (issue 24): enrol, list, regenerate, disable,
re-authentication, and the credential-change rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.second_factor import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    enrol,
    oathtool_code,
    password_step,
    sign_up_and_log_in,
)
from userauth.auth import Auth
from userauth.settings import FactorSettings
from userauth.web import create_app

REAUTH_REQUIRED = {"message": "re-authentication required"}


@pytest.fixture
def owner(client: FlaskClient) -> FlaskClient:
    sign_up_and_log_in(client)
    return client


class TestEnrolment:
    def test_a_begun_enrolment_gives_the_seed_and_its_otpauth_uri(
        self, owner: FlaskClient
    ) -> None:
        answer = owner.post("/factors/totp")
        assert answer.status_code == 200
        secret = answer.json["secret"]  # type: ignore[index]
        assert answer.json["otpauth_uri"].startswith("otpauth://totp/")  # type: ignore[index]
        assert f"secret={secret}" in answer.json["otpauth_uri"]  # type: ignore[index]
        # Pending until confirmed: the factor is not listed, the login needs no code.
        assert owner.get("/factors").json == {"factors": [], "recovery_codes_left": 0}

    def test_a_wrong_code_does_not_confirm(self, owner: FlaskClient) -> None:
        owner.post("/factors/totp")
        answer = owner.put("/factors/totp", data={"code": "000000"})
        assert (answer.status_code, answer.json) == (400, {"message": "wrong code"})

    def test_a_confirmation_without_an_enrolment_is_refused(self, owner: FlaskClient) -> None:
        answer = owner.put("/factors/totp", data={"code": "123456"})
        assert answer.status_code == 409

    def test_confirming_lists_the_factor_and_ten_recovery_codes(
        self, owner: FlaskClient, clock: FakeClock
    ) -> None:
        enrolled = enrol(owner, clock())
        assert len(enrolled.recovery_codes) == 10
        listed = owner.get("/factors").json
        assert listed["recovery_codes_left"] == 10  # type: ignore[index]
        [factor] = listed["factors"]  # type: ignore[index]
        assert factor["type"] == "totp"
        assert factor["created_at"] == clock().isoformat()

    def test_enrolling_twice_is_refused(self, owner: FlaskClient, clock: FakeClock) -> None:
        enrol(owner, clock())
        assert owner.post("/factors/totp").status_code == 409

    def test_enabling_ends_the_other_sessions_but_this_one(
        self, app: Flask, owner: FlaskClient, clock: FakeClock
    ) -> None:
        other = app.test_client()
        other.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        enrol(owner, clock())
        assert other.get("/profile").status_code == 403
        assert owner.get("/profile").status_code == 200


class TestAStaleSessionCannotFinishAnEnrolment:
    """A session left open elsewhere must not confirm a seed another session began (it
    would turn TOTP on with a seed its holder knows and lock the owner out)."""

    def test_a_stale_session_cannot_confirm_a_seed_begun_elsewhere(
        self, app: Flask, owner: FlaskClient, clock: FakeClock
    ) -> None:
        stale = app.test_client()
        stale.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        clock.advance(minutes=10, seconds=1)
        owner.post("/sessions/reauthenticate", data={"password": PASSWORD})
        secret = owner.post("/factors/totp").json["secret"]  # type: ignore[index]
        code = oathtool_code(secret, clock())
        answer = stale.put("/factors/totp", data={"code": code})
        assert (answer.status_code, answer.json) == (401, REAUTH_REQUIRED)
        assert owner.get("/factors").json == {"factors": [], "recovery_codes_left": 0}

    def test_a_begun_enrolment_dies_after_ten_minutes(
        self, owner: FlaskClient, clock: FakeClock
    ) -> None:
        secret = owner.post("/factors/totp").json["secret"]  # type: ignore[index]
        clock.advance(minutes=10, seconds=1)
        owner.post("/sessions/reauthenticate", data={"password": PASSWORD})
        answer = owner.put("/factors/totp", data={"code": oathtool_code(secret, clock())})
        assert answer.status_code == 409
        assert owner.get("/factors").json == {"factors": [], "recovery_codes_left": 0}


class TestRecoveryCodes:
    def test_each_code_carries_at_least_112_bits(
        self, owner: FlaskClient, clock: FakeClock
    ) -> None:
        # NIST SP 800-63B 5.1.2.2: under 112 bits a stored digest must be a salted KDF.
        for code in enrol(owner, clock()).recovery_codes:
            assert re.fullmatch(r"([a-z2-7]{4}-){5}[a-z2-7]{4}", code)
            assert len(code.replace("-", "")) * 5 >= 112

    def test_new_codes_kill_the_old_list(
        self, app: Flask, owner: FlaskClient, clock: FakeClock
    ) -> None:
        old = enrol(owner, clock()).recovery_codes
        new = owner.post("/factors/recovery-codes")
        assert new.status_code == 200
        assert len(set(new.json["recovery_codes"]) - set(old)) == 10  # type: ignore[index]
        device = app.test_client()
        password_step(device)
        dead = device.post("/sessions/second-factor", data={"code": old[0]})
        assert dead.status_code == 401
        alive = device.post(
            "/sessions/second-factor",
            data={"code": new.json["recovery_codes"][0]},  # type: ignore[index]
        )
        assert alive.status_code == 200

    def test_without_a_factor_there_are_none_to_regenerate(self, owner: FlaskClient) -> None:
        assert owner.post("/factors/recovery-codes").status_code == 404


class TestDisabling:
    def test_a_disabled_factor_no_longer_asks_for_a_code(
        self, app: Flask, owner: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(owner, clock())
        answer = owner.delete("/factors/totp")
        assert answer.status_code == 200
        assert owner.get("/factors").json == {"factors": [], "recovery_codes_left": 0}
        device = app.test_client()
        login = device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200

    def test_disabling_what_is_not_enabled_is_a_404(self, owner: FlaskClient) -> None:
        assert owner.delete("/factors/totp").status_code == 404


SENSITIVE = pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/factors/totp"), ("DELETE", "/factors/totp"), ("POST", "/factors/recovery-codes")],
    ids=["enrol", "disable", "regenerate-codes"],
)


class TestRecentAuthentication:
    @SENSITIVE
    def test_a_sensitive_action_needs_an_authentication_of_the_last_ten_minutes(
        self, owner: FlaskClient, clock: FakeClock, method: str, path: str
    ) -> None:
        enrol(owner, clock())
        clock.advance(minutes=10, seconds=1)
        answer = owner.open(path, method=method)
        assert (answer.status_code, answer.json) == (401, REAUTH_REQUIRED)

    @SENSITIVE
    def test_re_authenticating_with_the_password_opens_it_again(
        self, owner: FlaskClient, clock: FakeClock, method: str, path: str
    ) -> None:
        enrol(owner, clock())
        clock.advance(minutes=11)
        answer = owner.post("/sessions/reauthenticate", data={"password": PASSWORD})
        assert (answer.status_code, answer.json) == (200, {"message": "re-authenticated"})
        assert owner.open(path, method=method).status_code != 401

    def test_re_authenticating_with_a_code_refreshes_the_session(
        self, owner: FlaskClient, clock: FakeClock
    ) -> None:
        secret = enrol(owner, clock()).secret
        clock.advance(minutes=11)
        code = oathtool_code(secret, clock())
        answer = owner.post("/sessions/reauthenticate", data={"code": code})
        assert answer.status_code == 200
        [current] = [s for s in owner.get("/sessions").json["sessions"] if s["current"]]  # type: ignore[index]
        assert current["authenticated_at"] == clock().isoformat()

    @pytest.mark.parametrize(
        ("field", "value", "status"),
        [("password", "wrong password", 403), ("code", "000000", 401)],
        ids=["wrong-password", "wrong-code"],
    )
    def test_a_wrong_proof_does_not_re_authenticate(
        self, owner: FlaskClient, clock: FakeClock, field: str, value: str, status: int
    ) -> None:
        enrol(owner, clock())
        clock.advance(minutes=11)
        assert owner.post("/sessions/reauthenticate", data={field: value}).status_code == status
        assert owner.post("/factors/recovery-codes").json == REAUTH_REQUIRED

    def test_the_window_is_a_setting(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(FactorSettings(reauth_window=timedelta(minutes=1)))
        owner = create_app(auth.settings, auth).test_client()
        sign_up_and_log_in(owner)
        clock.advance(minutes=1)
        assert owner.post("/factors/totp").json == REAUTH_REQUIRED


class TestPasswordReset:
    def test_a_reset_password_still_needs_the_second_factor(
        self, app: Flask, owner: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(owner, clock())
        token = owner.post("/reset_password", data={"email": EMAIL}).json["reset_token"]  # type: ignore[index]
        reset = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
        assert owner.put("/reset_password", data=reset).status_code == 200
        device = app.test_client()
        login = device.post("/sessions", data={"email": EMAIL, "password": NEW_PASSWORD})
        assert (login.status_code, login.json["message"]) == (401, "second factor required")  # type: ignore[index]
        assert owner.get("/profile").status_code == 403  # the reset ended every session
