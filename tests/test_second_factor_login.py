"""Logging in with a second factor (issue 24): the pending login, TOTP, recovery codes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.conftest import GENEROUS_LIMITS, FakeClock
from tests.second_factor import (
    EMAIL,
    PASSWORD,
    Enrolled,
    enrol,
    oathtool_code,
    password_step,
    sign_up_and_log_in,
)
from tests.storage import everything_stored
from tests.test_observability import metric_value
from userauth.auth import Auth
from userauth.settings import FactorSettings, RateLimitSettings
from userauth.web import create_app

CHALLENGE = "login_challenge"


@pytest.fixture
def enrolled(client: FlaskClient, clock: FakeClock) -> Enrolled:
    sign_up_and_log_in(client)
    account = enrol(client, clock())
    client.delete("/sessions")
    # The confirming code's time step is spent: the tests log in with the next one.
    clock.advance(seconds=30)
    return account


def second_step(client: FlaskClient, code: str) -> tuple[int, dict[str, object]]:
    answer = client.post("/sessions/second-factor", data={"code": code})
    return answer.status_code, answer.json  # type: ignore[return-value]


class TestEndToEnd:
    def test_enrol_log_out_and_log_in_with_a_code_from_oathtool(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        device = app.test_client()
        answer = device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})

        assert answer.status_code == 401
        assert answer.json == {
            "message": "second factor required",
            "factors": ["totp", "recovery_code"],
        }
        [challenge] = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(CHALLENGE)]
        assert "HttpOnly" in challenge
        assert "Max-Age=300" in challenge
        assert device.get_cookie("session_id") is None

        status, body = second_step(device, oathtool_code(enrolled.secret, clock()))
        assert (status, body) == (200, {"email": EMAIL, "message": "logged in"})
        assert device.get_cookie("session_id") is not None
        assert device.get_cookie(CHALLENGE) is None
        [current] = [s for s in device.get("/sessions").json["sessions"] if s["current"]]  # type: ignore[index]
        assert current["factors"] == ["pwd", "otp"]
        assert current["authenticated_at"] == clock().isoformat()
        gate = device.get("/auth/verify?aal=2")
        assert gate.status_code == 200
        assert gate.headers["X-Auth-Request-AAL"] == "2"


class TestCodes:
    def test_a_code_accepted_once_is_refused_again(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        code = oathtool_code(enrolled.secret, clock())
        first, second = app.test_client(), app.test_client()
        password_step(first)
        password_step(second)

        assert second_step(first, code)[0] == 200
        assert second_step(second, code) == (401, {"message": "wrong code"})

    def test_a_code_replayed_through_two_workers_at_once_is_accepted_once(
        self, make_auth: Callable[..., Auth], enrolled: Enrolled, clock: FakeClock
    ) -> None:
        workers = [make_auth(GENEROUS_LIMITS) for _ in range(2)]
        devices = [create_app(auth.settings, auth).test_client() for auth in workers] * 4
        devices = [device.application.test_client() for device in devices]
        for device in devices:
            password_step(device)
        code = oathtool_code(enrolled.secret, clock())
        start = threading.Barrier(len(devices))

        def submit(device: FlaskClient) -> int:
            start.wait()
            return second_step(device, code)[0]

        with ThreadPoolExecutor(len(devices)) as pool:
            statuses = list(pool.map(submit, devices))
        assert sorted(statuses) == [200] + [401] * (len(devices) - 1)

    def test_a_code_of_the_step_before_or_after_is_accepted_but_not_two_steps_off(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        clock.advance(minutes=10)
        device = app.test_client()
        password_step(device)
        two_steps_ago = clock() - timedelta(seconds=60)
        assert second_step(device, oathtool_code(enrolled.secret, two_steps_ago))[0] == 401
        one_step_ago = clock() - timedelta(seconds=30)
        assert second_step(device, oathtool_code(enrolled.secret, one_step_ago))[0] == 200

    def test_a_recovery_code_logs_in_once_with_an_audit_event(
        self, app: Flask, auth: Auth, enrolled: Enrolled
    ) -> None:
        code = enrolled.recovery_codes[0]
        first, second = app.test_client(), app.test_client()
        password_step(first)
        password_step(second)

        assert second_step(first, code)[0] == 200
        assert second_step(second, code) == (401, {"message": "wrong code"})
        assert first.get("/factors").json["recovery_codes_left"] == 9  # type: ignore[index]
        events = [event.event for event in auth.db.list_audit_events(limit=50)]
        assert events.count("recovery_code_used") == 1

    def test_recovery_codes_are_ten_distinct_codes_of_at_least_50_bits(
        self, enrolled: Enrolled
    ) -> None:
        codes = enrolled.recovery_codes
        assert len(set(codes)) == 10
        # Base32: 5 bits a character, dashes aside.
        assert all(len(code.replace("-", "")) * 5 >= 50 for code in codes)

    def test_no_seed_or_code_is_stored_readable(self, enrolled: Enrolled, engine: Engine) -> None:
        stored = everything_stored(engine, expected_table="factors")
        assert enrolled.secret not in stored
        assert not any(code.replace("-", "") in stored for code in enrolled.recovery_codes)
        assert not any(code in stored for code in enrolled.recovery_codes)


class TestPendingLogins:
    def test_five_wrong_codes_end_the_pending_login(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        device = app.test_client()
        password_step(device)
        for _ in range(5):
            assert second_step(device, "000000") == (401, {"message": "wrong code"})
        right = oathtool_code(enrolled.secret, clock())
        assert second_step(device, right) == (401, {"message": "login expired; log in again"})

    def test_a_pending_login_expires_after_five_minutes(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        device = app.test_client()
        password_step(device)
        clock.advance(minutes=5)
        right = oathtool_code(enrolled.secret, clock())
        assert second_step(device, right) == (401, {"message": "login expired; log in again"})

    def test_the_janitor_prunes_a_pending_login_once_it_expired(
        self, app: Flask, auth: Auth, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        password_step(app.test_client())
        before = auth.janitor.run_once()
        clock.advance(minutes=5)
        after = auth.janitor.run_once()
        assert before is not None
        assert after is not None
        assert (before["pending_logins"], after["pending_logins"]) == (0, 1)

    def test_a_pending_login_completes_once(
        self, app: Flask, enrolled: Enrolled, clock: FakeClock
    ) -> None:
        device, thief = app.test_client(), app.test_client()
        password_step(device)
        challenge = device.get_cookie(CHALLENGE)
        assert challenge is not None
        assert second_step(device, oathtool_code(enrolled.secret, clock()))[0] == 200
        thief.set_cookie(CHALLENGE, challenge.value)
        clock.advance(seconds=30)
        late = second_step(thief, oathtool_code(enrolled.secret, clock()))
        assert late == (401, {"message": "login expired; log in again"})

    def test_two_devices_logging_in_at_once_keep_their_own_pending_logins(
        self, app: Flask, enrolled: Enrolled
    ) -> None:
        phone, laptop = app.test_client(), app.test_client()
        password_step(phone)
        password_step(laptop)
        assert second_step(phone, enrolled.recovery_codes[0])[0] == 200
        assert second_step(laptop, enrolled.recovery_codes[1])[0] == 200

    def test_without_the_cookie_there_is_nothing_to_complete(
        self, app: Flask, enrolled: Enrolled
    ) -> None:
        status, body = second_step(app.test_client(), enrolled.recovery_codes[0])
        assert (status, body) == (401, {"message": "login expired; log in again"})

    def test_a_pending_login_made_before_a_credential_change_is_refused(
        self, app: Flask, client: FlaskClient, enrolled: Enrolled
    ) -> None:
        device = app.test_client()
        password_step(device)
        owner = app.test_client()
        password_step(owner)
        assert second_step(owner, enrolled.recovery_codes[0])[0] == 200
        owner.post("/factors/recovery-codes")

        status, body = second_step(device, enrolled.recovery_codes[1])
        assert (status, body) == (401, {"message": "login expired; log in again"})

    def test_two_completions_of_one_pending_login_at_once_spend_one_code(
        self, make_auth: Callable[..., Auth], enrolled: Enrolled
    ) -> None:
        workers = [make_auth(GENEROUS_LIMITS) for _ in "ab"]
        apps = [create_app(auth.settings, auth) for auth in workers]
        owner = workers[0].accounts.find_any(EMAIL)
        assert owner is not None
        codes = iter(enrolled.recovery_codes)
        for round_ in range(4):
            device = apps[0].test_client()
            password_step(device)
            challenge = device.get_cookie(CHALLENGE)
            assert challenge is not None
            twins = [app.test_client() for app in apps]
            for twin in twins:
                twin.set_cookie(CHALLENGE, challenge.value)
            start = threading.Barrier(2)

            def complete(twin: FlaskClient, code: str, start: threading.Barrier = start) -> int:
                start.wait()
                return second_step(twin, code)[0]

            with ThreadPoolExecutor(2) as pool:
                statuses = list(pool.map(complete, twins, [next(codes), next(codes)]))
            assert sorted(statuses) == [200, 401]
            # The losing request's recovery code is still there: one code per login.
            left = workers[0].db.count_recovery_codes(owner.id)
            assert left == len(enrolled.recovery_codes) - round_ - 1


class TestNotAFailedLogin:
    def test_a_right_password_needing_a_code_is_no_failure_for_the_limiter(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(RateLimitSettings(login_failures="2/minute"))
        app = create_app(auth.settings, auth)
        owner = app.test_client()
        sign_up_and_log_in(owner)
        enrol(owner, clock())
        for _ in range(4):
            assert (
                app.test_client()  # type: ignore[index]
                .post("/sessions", data={"email": EMAIL, "password": PASSWORD})
                .json["message"]
                == "second factor required"
            )

    def test_it_is_counted_as_its_own_outcome_and_audited_as_such(
        self, app: Flask, auth: Auth, enrolled: Enrolled
    ) -> None:
        device = app.test_client()
        password_step(device)
        assert metric_value(device, "userauth_logins_total", outcome="failure") is None
        assert metric_value(device, "userauth_logins_total", outcome="second_factor_required") == 1
        events = [event.event for event in auth.db.list_audit_events(limit=50)]
        assert "second_factor_required" in events
        assert "login_failed" not in events


class TestTheAccountsBudgetOfWrongCodes:
    def test_100_parallel_wrong_codes_get_exactly_the_budget_of_checks(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(FactorSettings(code_failures=10), GENEROUS_LIMITS)
        app = create_app(auth.settings, auth)
        owner = app.test_client()
        sign_up_and_log_in(owner)
        enrol(owner, clock())
        # 25 pending logins of 4 codes each: each stays under its own limit of 5.
        devices = [app.test_client() for _ in range(25)]
        for device in devices:
            password_step(device)
        attempts = [device for device in devices for _ in range(4)]
        start = threading.Barrier(len(attempts))

        def guess(device: FlaskClient) -> int:
            start.wait()
            return second_step(device, "000000")[0]

        with ThreadPoolExecutor(len(attempts)) as pool:
            statuses = list(pool.map(guess, attempts))
        assert statuses.count(401) == 10
        assert statuses.count(429) == 90

    def test_first_wrong_codes_through_two_workers_at_once_are_each_counted_once(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        # Each first attempt of a window finds no count row: they must share one, not collide.
        limit = 12
        workers = [make_auth(FactorSettings(code_failures=limit), GENEROUS_LIMITS) for _ in "ab"]
        apps = [create_app(auth.settings, auth) for auth in workers]
        owner = apps[0].test_client()
        sign_up_and_log_in(owner)
        enrolled = enrol(owner, clock())
        for _ in range(3):
            devices = [apps[index % 2].test_client() for index in range(8)]
            for device in devices:
                password_step(device)
            start = threading.Barrier(len(devices))

            def guess(device: FlaskClient, start: threading.Barrier = start) -> int:
                start.wait()
                return second_step(device, "000000")[0]

            with ThreadPoolExecutor(len(devices)) as pool:
                assert list(pool.map(guess, devices)) == [401] * 8
            # A right code (of a step not used yet) forgets the count: the next round
            # starts with no row again.
            clock.advance(seconds=30)
            device = apps[1].test_client()
            password_step(device)
            assert second_step(device, oathtool_code(enrolled.secret, clock()))[0] == 200

    def test_the_wrong_code_that_spends_it_locks_the_second_step_until_the_window_ends(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(FactorSettings(code_failures=3), GENEROUS_LIMITS)
        app = create_app(auth.settings, auth)
        owner = app.test_client()
        sign_up_and_log_in(owner)
        secret = enrol(owner, clock()).secret
        device = app.test_client()
        password_step(device)
        assert [second_step(device, "000000")[0] for _ in range(3)] == [401] * 3
        clock.advance(seconds=30)
        # Locked: even the right code is refused, unchecked, and it stays unspent.
        assert second_step(device, oathtool_code(secret, clock()))[0] == 429
        clock.advance(minutes=14, seconds=29)
        late = app.test_client()
        password_step(late)
        assert second_step(late, oathtool_code(secret, clock()))[0] == 429
        clock.advance(seconds=31)
        assert second_step(late, oathtool_code(secret, clock()))[0] == 200

    def test_the_lock_is_recorded_once_per_window(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(FactorSettings(code_failures=2), GENEROUS_LIMITS)
        app = create_app(auth.settings, auth)
        owner = app.test_client()
        sign_up_and_log_in(owner)
        enrol(owner, clock())
        for _ in range(2):  # two windows
            device = app.test_client()
            password_step(device)
            statuses = [second_step(device, "000000")[0] for _ in range(4)]
            assert statuses == [401, 401, 429, 429]
            clock.advance(minutes=15)
        events = [event.event for event in auth.db.list_audit_events(limit=100)]
        assert events.count("second_factor_locked") == 2
        assert events.count("second_factor_failed") == 4
