"""Passkeys over the API (issue 25), with a software authenticator written from the WebAuthn
spec in tests/authenticator.py: registering, logging in without an email, as the second
factor, and every refusal a 4xx JSON that stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.authenticator import SoftAuthenticator, b64url
from tests.conftest import FakeClock
from tests.passkeys import (
    CHALLENGE,
    ORIGIN,
    OTHER_EMAIL,
    add_passkey,
    events,
    options_of,
    passkey_login,
    refused,
    register_and_log_out,
    session_factors,
)
from tests.second_factor import EMAIL, PASSWORD, sign_up_and_log_in
from userauth.auth import Auth
from userauth.settings import Settings, SettingsError, WebAuthnSettings
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def registered(client: FlaskClient, authenticator: SoftAuthenticator) -> SoftAuthenticator:
    """EMAIL's account with one passkey on `authenticator`; the client is logged out."""
    register_and_log_out(client, authenticator)
    return authenticator


class TestRegistration:
    def test_options_require_a_discoverable_user_verified_credential_without_attestation(
        self, client: FlaskClient
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))

        assert options["rp"]["id"] == "localhost"
        assert options["user"]["name"] == EMAIL
        assert options["authenticatorSelection"]["residentKey"] == "required"
        assert options["authenticatorSelection"]["userVerification"] == "required"
        assert options["attestation"] == "none"
        assert options["excludeCredentials"] == []

    def test_the_user_handle_is_random_never_the_email_or_the_id(
        self, client: FlaskClient, app: Flask
    ) -> None:
        sign_up_and_log_in(client)
        handle = options_of(client.post("/passkeys/registration/options"))["user"]["id"]
        other = app.test_client()
        sign_up_and_log_in(other, OTHER_EMAIL)
        other_handle = options_of(other.post("/passkeys/registration/options"))["user"]["id"]

        assert len(handle) >= 40  # 32 random bytes, base64url
        assert handle != other_handle
        assert EMAIL.split("@")[0] not in handle

    def test_a_registered_passkey_is_listed_and_excluded_next_time(
        self, client: FlaskClient, authenticator: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up_and_log_in(client)
        answer = add_passkey(client, authenticator, "Laptop")

        assert answer.status_code == 200
        assert set(answer.json or {}) == {"id", "name", "created_at"}
        assert answer.json["name"] == "Laptop"  # type: ignore[index]
        listed = client.get("/passkeys").json["passkeys"]  # type: ignore[index]
        assert [(p["name"], p["backed_up"], p["last_used_at"]) for p in listed] == [
            ("Laptop", False, None)
        ]
        again = options_of(client.post("/passkeys/registration/options"))
        [credential] = authenticator.credentials
        assert [c["id"] for c in again["excludeCredentials"]] == [b64url(credential.id)]

    def test_a_challenge_is_used_once(
        self, client: FlaskClient, authenticator: SoftAuthenticator
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = authenticator.create(options, ORIGIN)
        assert (
            client.post("/passkeys/registration", json={"credential": credential}).status_code
            == 200
        )

        replay = client.post("/passkeys/registration", json={"credential": credential})

        refused(replay, 400)
        assert len(client.get("/passkeys").json["passkeys"]) == 1  # type: ignore[index]

    @pytest.mark.parametrize(
        ("origin", "rp_id"),
        [("https://evil.example", None), (ORIGIN, "evil.example")],
        ids=["wrong-origin", "wrong-rp-id"],
    )
    def test_a_response_for_another_site_is_refused_and_nothing_stored(
        self,
        client: FlaskClient,
        authenticator: SoftAuthenticator,
        origin: str,
        rp_id: str | None,
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = authenticator.create(options, origin, rp_id=rp_id)

        refused(client.post("/passkeys/registration", json={"credential": credential}), 400)
        assert client.get("/passkeys").json == {"passkeys": []}

    def test_an_expired_challenge_is_refused(
        self, client: FlaskClient, authenticator: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        clock.advance(minutes=5, seconds=1)
        credential = authenticator.create(options, ORIGIN)

        refused(client.post("/passkeys/registration", json={"credential": credential}), 400)

    def test_another_sessions_challenge_is_refused(
        self, client: FlaskClient, app: Flask, authenticator: SoftAuthenticator
    ) -> None:
        sign_up_and_log_in(client)
        other_device = app.test_client()
        other_device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        options = options_of(client.post("/passkeys/registration/options"))
        credential = authenticator.create(options, ORIGIN)

        answer = other_device.post("/passkeys/registration", json={"credential": credential})

        refused(answer, 400)

    @pytest.mark.parametrize(
        "body",
        [{}, {"credential": "x"}, {"credential": {}}, {"credential": {"response": {}}}],
        ids=["missing", "not-an-object", "empty", "no-client-data"],
    )
    def test_bad_input_is_a_400(self, client: FlaskClient, body: dict[str, Any]) -> None:
        sign_up_and_log_in(client)
        client.post("/passkeys/registration/options")

        refused(client.post("/passkeys/registration", json=body), 400)

    def test_a_name_that_is_not_text_is_a_400_and_nothing_is_stored(
        self, client: FlaskClient, authenticator: SoftAuthenticator
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = authenticator.create(options, ORIGIN)
        body = json.dumps({"credential": credential, "name": "x"}).replace('"x"', '"\\ud800"')

        answer = client.post("/passkeys/registration", data=body, content_type="application/json")

        refused(answer, 400)
        assert client.get("/passkeys").json == {"passkeys": []}

    def test_it_needs_a_session(self, client: FlaskClient) -> None:
        refused(client.post("/passkeys/registration/options"), 403)

    def test_two_ceremonies_begun_before_the_first_passkey_name_one_handle_and_both_log_in(
        self, client: FlaskClient, app: Flask
    ) -> None:
        sign_up_and_log_in(client)
        laptop, phone = SoftAuthenticator(), SoftAuthenticator()
        first = options_of(client.post("/passkeys/registration/options"))
        second = options_of(client.post("/passkeys/registration/options"))
        assert first["user"]["id"] == second["user"]["id"]

        for options, authenticator in ((first, laptop), (second, phone)):
            credential = authenticator.create(options, ORIGIN)
            answer = client.post("/passkeys/registration", json={"credential": credential})
            assert answer.status_code == 200, answer.json

        assert passkey_login(app.test_client(), laptop).status_code == 200
        assert passkey_login(app.test_client(), phone).status_code == 200

    def test_a_response_failing_verification_is_audited(
        self, client: FlaskClient, auth: Auth, authenticator: SoftAuthenticator
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = authenticator.create(options, "https://evil.example")

        refused(client.post("/passkeys/registration", json={"credential": credential}), 400)
        assert events(auth)[0] == "passkey_registration_failed"


class TestLoginWithoutAnEmail:
    def test_a_passkey_logs_in_at_aal2_with_hwk_and_user(
        self, app: Flask, registered: SoftAuthenticator
    ) -> None:
        device = app.test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        assert options["allowCredentials"] == []
        assert options["userVerification"] == "required"
        assert device.get_cookie(CHALLENGE) is not None

        assertion = registered.get(options, ORIGIN)
        answer = device.post("/sessions/passkey", json={"credential": assertion})

        assert answer.status_code == 200, answer.json
        assert answer.json == {"email": EMAIL, "message": "logged in"}
        assert device.get_cookie(CHALLENGE) is None
        assert session_factors(device) == (["hwk", "user"], 200)

    def test_a_synced_passkey_is_swk(self, client: FlaskClient, app: Flask) -> None:
        synced = SoftAuthenticator(backed_up=True, counts=False)
        sign_up_and_log_in(client)
        add_passkey(client, synced)
        device = app.test_client()

        assert passkey_login(device, synced).status_code == 200
        assert passkey_login(device, synced).status_code == 200  # a counter left at 0
        assert session_factors(device) == (["swk", "user"], 200)
        assert client.get("/passkeys").json["passkeys"][0]["backed_up"] is True  # type: ignore[index]

    @pytest.mark.parametrize(
        "tweaks",
        [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
        ids=["wrong-origin", "wrong-rp-id"],
    )
    def test_a_response_for_another_site_is_refused(
        self, app: Flask, registered: SoftAuthenticator, tweaks: dict[str, str]
    ) -> None:
        device = app.test_client()

        refused(passkey_login(device, registered, **tweaks), 401)
        assert device.get_cookie("session_id") is None

    def test_a_replayed_response_is_refused(
        self, app: Flask, registered: SoftAuthenticator
    ) -> None:
        device = app.test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        assertion = registered.get(options, ORIGIN)
        assert device.post("/sessions/passkey", json={"credential": assertion}).status_code == 200
        device.delete("/sessions")

        refused(device.post("/sessions/passkey", json={"credential": assertion}), 401)

    def test_a_challenge_from_another_browser_is_refused(
        self, app: Flask, registered: SoftAuthenticator
    ) -> None:
        victim, attacker = app.test_client(), app.test_client()
        options = options_of(victim.post("/sessions/passkey/options"))
        attacker.post("/sessions/passkey/options")
        assertion = registered.get(options, ORIGIN)

        refused(attacker.post("/sessions/passkey", json={"credential": assertion}), 401)
        assert attacker.get_cookie("session_id") is None

    def test_an_expired_challenge_is_refused(
        self, app: Flask, registered: SoftAuthenticator, clock: FakeClock
    ) -> None:
        device = app.test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        clock.advance(minutes=5, seconds=1)
        assertion = registered.get(options, ORIGIN)

        refused(device.post("/sessions/passkey", json={"credential": assertion}), 401)

    def test_a_counter_that_goes_back_is_refused_and_audited(
        self, app: Flask, auth: Auth, registered: SoftAuthenticator
    ) -> None:
        clone = registered.clone()
        assert passkey_login(app.test_client(), registered).status_code == 200
        assert passkey_login(app.test_client(), registered).status_code == 200

        refused(passkey_login(app.test_client(), clone), 401)
        assert "passkey_counter_regressed" in events(auth)

    def test_an_unknown_passkey_is_refused(
        self, app: Flask, registered: SoftAuthenticator
    ) -> None:
        stranger = SoftAuthenticator()
        stranger.create(
            {"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"}, ORIGIN
        )

        refused(passkey_login(app.test_client(), stranger), 401)


SITE = "https://auth.example.com"
CONFIGURED = WebAuthnSettings(rp_id="auth.example.com", origins=(SITE,))


class TestRelyingPartySettings:
    def test_the_configured_rp_id_and_origin_are_used_whatever_the_host(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(CONFIGURED)
        client = create_app(auth.settings, auth).test_client()
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))

        assert options["rp"]["id"] == "auth.example.com"
        credential = SoftAuthenticator().create(options, SITE)
        assert (
            client.post("/passkeys/registration", json={"credential": credential}).status_code
            == 200
        )

    def test_the_requests_own_origin_is_refused_when_another_is_configured(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(CONFIGURED)
        client = create_app(auth.settings, auth).test_client()
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = SoftAuthenticator().create(options, ORIGIN)

        refused(client.post("/passkeys/registration", json={"credential": credential}), 400)

    def test_they_are_read_from_the_environment(self) -> None:
        settings = Settings.from_env(
            {"USERAUTH_WEBAUTHN_RP_ID": "Auth.Example.com", "USERAUTH_WEBAUTHN_ORIGINS": SITE}
        )
        assert settings.webauthn == CONFIGURED

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("USERAUTH_WEBAUTHN_RP_ID", "https://auth.example.com"),
            ("USERAUTH_WEBAUTHN_RP_ID", "a.example.com,b.example.com"),
            ("USERAUTH_WEBAUTHN_RP_ID", ".example.com"),
            ("USERAUTH_WEBAUTHN_ORIGINS", "auth.example.com"),
        ],
        ids=["a-url", "two-hosts", "a-leading-dot", "an-origin-without-scheme"],
    )
    def test_a_bad_value_stops_start_up_naming_the_variable(
        self, variable: str, value: str
    ) -> None:
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: value})


def mutated(credential: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(credential))
    place = changed
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    return changed


MUTATIONS = {
    "attestation-garbage": (("response", "attestationObject"), "AAAA"),
    "attestation-not-text": (("response", "attestationObject"), 12),
    "client-data-not-json": (("response", "clientDataJSON"), "bm90IGpzb24"),
    "id-mismatch": (("id",), "AAAA"),
    "raw-id-not-base64": (("rawId",), "***"),
    "type-wrong": (("type",), "password"),
    "response-a-list": (("response",), []),
}
ASSERTION_MUTATIONS = {
    "authenticator-data-short": (("response", "authenticatorData"), "AAAA"),
    "signature-garbage": (("response", "signature"), "AAAA"),
    "user-handle-not-text": (("response", "userHandle"), 5),
    "client-data-huge-number": (("response", "clientDataJSON"), "eyJjaGFsbGVuZ2UiOjF9"),
}


class TestMalformedAnswers:
    @pytest.mark.parametrize(("path", "value"), MUTATIONS.values(), ids=list(MUTATIONS))
    def test_a_malformed_registration_is_a_4xx_never_a_500(
        self,
        client: FlaskClient,
        authenticator: SoftAuthenticator,
        path: tuple[str, ...],
        value: Any,
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = mutated(authenticator.create(options, ORIGIN), path, value)

        answer = client.post("/passkeys/registration", json={"credential": credential})

        assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)
        assert client.get("/passkeys").json == {"passkeys": []}

    def test_transports_webauthn_does_not_name_are_dropped(
        self, client: FlaskClient, authenticator: SoftAuthenticator
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        odd = ["internal", "\u0000", 7, "internal", "carrier-pigeon"]
        credential = mutated(
            authenticator.create(options, ORIGIN), ("response", "transports"), odd
        )

        assert (
            client.post("/passkeys/registration", json={"credential": credential}).status_code
            == 200
        )
        [excluded] = options_of(client.post("/passkeys/registration/options"))[
            "excludeCredentials"
        ]
        assert excluded["transports"] == ["internal"]

    @pytest.mark.parametrize(
        "transports",
        [5, None, "internal", {"internal": True}, [["internal"]]],
        ids=["a-number", "null", "text", "an-object", "nested-list"],
    )
    def test_transports_that_are_not_a_list_of_text_are_none(
        self, client: FlaskClient, authenticator: SoftAuthenticator, transports: Any
    ) -> None:
        sign_up_and_log_in(client)
        options = options_of(client.post("/passkeys/registration/options"))
        credential = mutated(
            authenticator.create(options, ORIGIN), ("response", "transports"), transports
        )

        answer = client.post("/passkeys/registration", json={"credential": credential})

        assert answer.status_code == 200, answer.get_data(as_text=True)
        [excluded] = options_of(client.post("/passkeys/registration/options"))[
            "excludeCredentials"
        ]
        assert excluded.get("transports", []) == []

    @pytest.mark.parametrize(
        ("path", "value"), ASSERTION_MUTATIONS.values(), ids=list(ASSERTION_MUTATIONS)
    )
    def test_a_malformed_login_is_a_401_never_a_500(
        self, app: Flask, registered: SoftAuthenticator, path: tuple[str, ...], value: Any
    ) -> None:
        device = app.test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        assertion = mutated(registered.get(options, ORIGIN), path, value)

        answer = device.post("/sessions/passkey", json={"credential": assertion})

        refused(answer, 401)
