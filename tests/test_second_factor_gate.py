"""The gate's demand for two factors (issue 24): `GET /auth/verify?aal=2` and the level header."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.second_factor import enrol, oathtool_code, password_step, sign_up_and_log_in
from userauth.auth import Auth
from userauth.settings import GateSettings
from userauth.web import create_app

AAL = "X-Auth-Request-AAL"


@pytest.fixture
def one_factor(client: FlaskClient) -> FlaskClient:
    """A session made with the password alone (AAL1)."""
    sign_up_and_log_in(client)
    return client


@pytest.fixture
def two_factors(app: Flask, one_factor: FlaskClient, clock: FakeClock) -> FlaskClient:
    """A session made with the password and a TOTP code (AAL2)."""
    secret = enrol(one_factor, clock()).secret
    clock.advance(seconds=30)
    device = app.test_client()
    password_step(device)
    done = device.post("/sessions/second-factor", data={"code": oathtool_code(secret, clock())})
    assert done.status_code == 200
    return device


class TestLevels:
    # Twice: the first answer fills the session cache, the second comes from the hot path.
    @pytest.mark.parametrize("query", ["", "?aal=1"], ids=["no-level", "aal-1"])
    def test_a_password_session_passes_at_level_1_and_says_so(
        self, one_factor: FlaskClient, query: str
    ) -> None:
        for _ in range(2):
            answer = one_factor.get("/auth/verify" + query)
            assert answer.status_code == 200
            assert answer.headers[AAL] == "1"

    def test_a_password_session_is_refused_where_two_factors_are_needed(
        self, one_factor: FlaskClient
    ) -> None:
        for _ in range(2):
            answer = one_factor.get("/auth/verify?aal=2")
            assert answer.status_code == 401
            assert AAL not in answer.headers

    def test_the_redirect_mode_sends_it_to_log_in_again(self, one_factor: FlaskClient) -> None:
        answer = one_factor.get("/auth/verify?aal=2&redirect=true")
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/auth/login")

    def test_a_two_factor_session_passes_with_level_2(self, two_factors: FlaskClient) -> None:
        for _ in range(2):
            answer = two_factors.get("/auth/verify?aal=2")
            assert answer.status_code == 200
            assert answer.headers[AAL] == "2"
            assert answer.json is not None

    def test_the_header_name_is_a_setting(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth(GateSettings(aal_header="X-Level"))
        client = create_app(auth.settings, auth).test_client()
        sign_up_and_log_in(client)
        assert client.get("/auth/verify").headers["X-Level"] == "1"

    @pytest.mark.parametrize("level", ["3", "0", "two"], ids=["three", "zero", "text"])
    def test_another_level_is_a_bad_request(self, one_factor: FlaskClient, level: str) -> None:
        answer = one_factor.get(f"/auth/verify?aal={level}")
        assert answer.status_code == 400
        assert answer.json["message"].startswith("aal ")  # type: ignore[index]

    @pytest.mark.parametrize(
        ("query", "name"),
        [
            ("aal=1&aal=2", "aal"),
            ("aal=2&aal=1", "aal"),
            ("aal=2&aal=2", "aal"),
            ("aal=2&redirect=true&redirect=false", "redirect"),
        ],
        ids=["weaker-first", "stricter-first", "same-twice", "redirect-twice"],
    )
    def test_a_repeated_parameter_is_a_bad_request(
        self, two_factors: FlaskClient, query: str, name: str
    ) -> None:
        # Twice: a cached session must not be answered by the hot path either.
        for _ in range(2):
            answer = two_factors.get(f"/auth/verify?{query}")
            assert answer.status_code == 400
            assert answer.json == {"message": f"{name} must be given once"}


class TestTurningTheSecondFactorOff:
    def test_the_session_that_turns_it_off_drops_to_level_1(
        self, two_factors: FlaskClient
    ) -> None:
        assert two_factors.get("/auth/verify?aal=2").status_code == 200  # cached now
        assert two_factors.delete("/factors/totp").status_code == 200
        for _ in range(2):
            assert two_factors.get("/auth/verify?aal=2").status_code == 401
            answer = two_factors.get("/auth/verify")
            assert answer.status_code == 200
            assert answer.headers[AAL] == "1"

    def test_its_factors_stay_as_the_history_of_how_it_was_made(
        self, two_factors: FlaskClient
    ) -> None:
        assert two_factors.delete("/factors/totp").status_code == 200
        sessions = two_factors.get("/sessions").json["sessions"]  # type: ignore[index]
        assert [item["factors"] for item in sessions] == [["pwd", "otp"]]

    def test_the_gates_redirect_then_sends_it_to_log_in(self, two_factors: FlaskClient) -> None:
        assert two_factors.delete("/factors/totp").status_code == 200
        answer = two_factors.get("/auth/verify?aal=2&redirect=true")
        assert answer.status_code == 302
        assert "aal=2" in answer.headers["Location"]
