"""The OpenID Connect provider through raw HTTP (Flask's test client): discovery, JWKS, the
code flow with PKCE, tokens, userinfo, revocation, introspection, consent, and the refusals
RFC 6749, RFC 7636, RFC 9207 and RFC 9700 ask for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from tests.conftest import FakeClock
from tests.oidc_flow import (
    REDIRECT,
    Pkce,
    RegisteredClient,
    authorize,
    client_auth,
    exchange,
    logged_in_browser,
    public_form,
    redirected_params,
    register,
)
from tests.second_factor import enrol, oathtool_code, password_step, sign_up_and_log_in
from tests.test_pages import EMAIL, csrf_token
from tests.test_pages import PASSWORD as PAGE_PASSWORD
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.settings import OidcSettings, Settings, SettingsError, WebSettings
from userauth.settings.production import production_problems
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")

ISSUER = "http://localhost"


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


@pytest.fixture
def app(auth: Auth) -> Flask:
    return create_app(auth.settings, auth)


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    return logged_in_browser(app.test_client())


@pytest.fixture
def rp(app: Flask) -> FlaskClient:
    """The relying party's back channel: no cookie of the user."""
    return app.test_client()


@pytest.fixture
def confidential(auth: Auth) -> RegisteredClient:
    return register(auth)


def code_for(
    browser: FlaskClient, client: RegisteredClient, pkce: Pkce | None = None, **params: str
) -> str:
    return redirected_params(authorize(browser, client, pkce, **params))["code"]


def tokens_for(
    browser: FlaskClient,
    rp: FlaskClient,
    client: RegisteredClient,
    pkce: Pkce | None = None,
    **params: str,
) -> dict[str, str]:
    code = code_for(browser, client, pkce, **params)
    answer = exchange(rp, client, code, pkce, **public_form(client))
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, str] = answer.get_json()
    return body


def id_token_claims(rp: FlaskClient, id_token: str) -> dict[str, object]:
    keys = KeySet.import_key_set(rp.get("/oauth2/jwks").get_json())
    decoded = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"])
    return dict(decoded.claims)


def audited(auth: Auth) -> list[str]:
    """The account's audit trail, oldest first, as event names."""
    return [entry.event for entry in reversed(Admin(auth).audit_events(email=EMAIL))]


def userinfo(rp: FlaskClient, access_token: str) -> tuple[int, dict[str, object]]:
    answer = rp.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code, answer.get_json(silent=True) or {}


def introspect(rp: FlaskClient, client: RegisteredClient, token: str) -> dict[str, object]:
    answer = rp.post("/oauth2/introspect", data={"token": token}, headers=client_auth(client))
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, object] = answer.get_json()
    return body


def refresh(rp: FlaskClient, client: RegisteredClient, token: str) -> tuple[int, dict[str, str]]:
    answer = rp.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token, **public_form(client)},
        headers=client_auth(client),
    )
    return answer.status_code, answer.get_json()


class TestDiscovery:
    def test_the_metadata_names_every_endpoint_under_the_issuer(self, rp: FlaskClient) -> None:
        metadata = rp.get("/.well-known/openid-configuration").get_json()
        assert metadata["issuer"] == ISSUER
        for name in ("authorization", "token", "userinfo", "revocation", "introspection"):
            assert metadata[f"{name}_endpoint"].startswith(ISSUER + "/oauth2/")
        assert metadata["jwks_uri"] == ISSUER + "/oauth2/jwks"
        assert metadata["response_types_supported"] == ["code"]
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["authorization_response_iss_parameter_supported"] is True

    def test_the_jwks_publishes_an_rs256_and_an_es256_key_without_private_parts(
        self, rp: FlaskClient
    ) -> None:
        keys = rp.get("/oauth2/jwks").get_json()["keys"]
        assert sorted(key["alg"] for key in keys) == ["ES256", "RS256"]
        assert all("d" not in key and "p" not in key for key in keys)

    def test_the_private_keys_are_sealed_at_rest(self, auth: Auth, rp: FlaskClient) -> None:
        rp.get("/oauth2/jwks")
        stored = auth.db.signing_keys()
        assert len(stored) == 2
        for key in stored:
            assert '"d"' not in key.sealed_jwk
            assert '"d"' in auth.box.open(key.sealed_jwk)


class TestAuthorization:
    def test_a_logged_in_user_goes_back_with_a_code_the_state_and_the_issuer(
        self, browser: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        params = redirected_params(authorize(browser, confidential))
        assert set(params) == {"code", "state", "iss"}
        assert audited(auth)[-1] == "oidc_authorized"
        assert (params["state"], params["iss"]) == ("the-state", ISSUER)

    def test_without_a_session_the_browser_goes_to_the_login_page_and_comes_back(
        self, app: Flask, confidential: RegisteredClient
    ) -> None:
        answer = authorize(app.test_client(), confidential)
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query)["next"][0].startswith("/oauth2/authorize?")

    @pytest.mark.parametrize(
        "redirect_uri",
        [
            REDIRECT + "/more",
            REDIRECT + "?next=https://evil.example",
            REDIRECT + "/",
            "https://evil.example/callback",
            "https://rp.example.com/callbac",
        ],
        ids=["longer-path", "added-query", "trailing-slash", "other-host", "prefix"],
    )
    def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
        self, browser: FlaskClient, confidential: RegisteredClient, redirect_uri: str
    ) -> None:
        answer = authorize(browser, confidential, redirect_uri=redirect_uri)
        assert answer.status_code == 400
        assert "Location" not in answer.headers
        assert "text/html" in answer.headers["Content-Type"]

    def test_an_unknown_client_gets_an_error_page(self, browser: FlaskClient) -> None:
        answer = authorize(browser, RegisteredClient("no-such-client", None))
        assert answer.status_code == 400
        assert "Location" not in answer.headers

    def test_a_missing_redirect_uri_gets_an_error_page(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        answer = browser.get(
            "/oauth2/authorize",
            query_string={"response_type": "code", "client_id": confidential.client_id},
        )
        assert answer.status_code == 400
        assert "Location" not in answer.headers

    @pytest.mark.parametrize(
        ("params", "error"),
        [
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"response_type": "code id_token"}, "unsupported_response_type"),
            ({"scope": "openid admin"}, "invalid_scope"),
        ],
        ids=["implicit", "hybrid", "unknown-scope"],
    )
    def test_a_refused_request_goes_back_with_an_error_the_state_and_the_issuer(
        self,
        browser: FlaskClient,
        confidential: RegisteredClient,
        params: dict[str, str],
        error: str,
    ) -> None:
        answer = redirected_params(authorize(browser, confidential, **params))
        assert answer["error"] == error
        assert (answer["state"], answer["iss"]) == ("the-state", ISSUER)
        assert "code" not in answer

    def test_a_nonce_seen_before_is_refused_as_a_replay(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        redirected_params(authorize(browser, confidential, nonce="once"))
        answer = redirected_params(authorize(browser, confidential, nonce="once"))
        assert answer["error"] == "invalid_request"

    def test_a_public_client_must_send_a_pkce_challenge(
        self, browser: FlaskClient, auth: Auth
    ) -> None:
        public = register(auth, public=True)
        answer = redirected_params(authorize(browser, public))
        assert answer["error"] == "invalid_request"

    def test_a_plain_pkce_challenge_is_refused(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        pkce = Pkce.new()
        answer = authorize(
            browser,
            confidential,
            code_challenge=pkce.verifier,
            code_challenge_method="plain",
        )
        assert redirected_params(answer)["error"] == "invalid_request"

    def test_prompt_none_without_a_session_answers_login_required(
        self, app: Flask, confidential: RegisteredClient
    ) -> None:
        answer = redirected_params(authorize(app.test_client(), confidential, prompt="none"))
        assert answer["error"] == "login_required"

    def test_two_factors_asked_by_acr_values_send_a_one_factor_session_to_the_login(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        answer = authorize(browser, confidential, acr_values="aal2")
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query)["aal"] == ["2"]

    def test_an_authentication_older_than_max_age_with_prompt_none_answers_login_required(
        self, browser: FlaskClient, confidential: RegisteredClient, clock: FakeClock
    ) -> None:
        clock.advance(minutes=10)
        answer = authorize(browser, confidential, max_age="60", prompt="none")
        assert redirected_params(answer)["error"] == "login_required"


class TestCodeExchange:
    def test_the_code_gives_an_id_token_with_the_logins_claims(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential, nonce="the-nonce")
        claims = id_token_claims(rp, body["id_token"])
        assert claims["iss"] == ISSUER
        assert claims["aud"] == confidential.client_id
        assert claims["nonce"] == "the-nonce"
        assert claims["amr"] == ["pwd"]
        assert claims["acr"] == "aal1"
        assert (claims["email"], claims["email_verified"]) == (EMAIL, False)
        assert claims["sub"] != EMAIL
        assert len(str(claims["sub"])) >= 16
        assert int(str(claims["exp"])) > int(str(claims["iat"])) >= int(str(claims["auth_time"]))
        assert body["token_type"] == "Bearer"

    def test_the_subject_is_the_same_on_every_login(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        first = id_token_claims(rp, tokens_for(browser, rp, confidential)["id_token"])
        second = id_token_claims(rp, tokens_for(browser, rp, confidential)["id_token"])
        assert first["sub"] == second["sub"]

    def test_a_public_client_exchanges_its_code_with_the_pkce_verifier(
        self, browser: FlaskClient, rp: FlaskClient, auth: Auth
    ) -> None:
        public = register(auth, public=True)
        body = tokens_for(browser, rp, public, Pkce.new())
        assert "id_token" in body

    def test_a_code_used_twice_is_refused_and_revokes_what_the_first_use_issued(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        code = code_for(browser, confidential)
        first = exchange(rp, confidential, code).get_json()
        again = exchange(rp, confidential, code)
        assert (again.status_code, again.get_json()["error"]) == (400, "invalid_grant")
        assert userinfo(rp, first["access_token"])[0] == 401
        assert refresh(rp, confidential, first["refresh_token"])[0] == 400
        assert "oidc_code_reused" in audited(auth)

    def test_an_expired_code_is_refused(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        confidential: RegisteredClient,
        clock: FakeClock,
    ) -> None:
        code = code_for(browser, confidential)
        clock.advance(seconds=61)
        answer = exchange(rp, confidential, code)
        assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_grant")

    def test_another_clients_code_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        other = register(auth)
        answer = exchange(rp, other, code_for(browser, confidential))
        assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_grant")

    def test_another_redirect_uri_than_the_codes_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        code = code_for(browser, confidential)
        answer = exchange(rp, confidential, code, redirect_uri=REDIRECT + "/other")
        assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_grant")

    @pytest.mark.parametrize(
        ("verifier", "error"),
        [(None, "invalid_request"), ("w" * 43, "invalid_grant")],
        ids=["missing-verifier", "wrong-verifier"],
    )
    def test_the_pkce_verifier_must_match_the_challenge(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        auth: Auth,
        verifier: str | None,
        error: str,
    ) -> None:
        public = register(auth, public=True)
        code = code_for(browser, public, Pkce.new())
        extra = {} if verifier is None else {"code_verifier": verifier}
        answer = exchange(rp, public, code, **public_form(public), **extra)
        assert (answer.status_code, answer.get_json()["error"]) == (400, error)

    def test_a_verifier_without_a_challenge_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        code = code_for(browser, confidential)
        answer = exchange(rp, confidential, code, code_verifier="v" * 43)
        assert answer.status_code == 400

    def test_a_wrong_client_secret_is_refused_with_an_rfc6749_body(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        code = code_for(browser, confidential)
        wrong = RegisteredClient(confidential.client_id, "not-the-secret")
        answer = exchange(rp, wrong, code)
        assert answer.status_code == 401
        assert answer.get_json()["error"] == "invalid_client"
        assert "error_description" in answer.get_json()
        assert answer.headers["Cache-Control"] == "no-store"

    def test_the_password_grant_is_not_served(
        self, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        answer = rp.post(
            "/oauth2/token",
            data={"grant_type": "password", "username": EMAIL, "password": "x"},
            headers=client_auth(confidential),
        )
        assert (answer.status_code, answer.get_json()["error"]) == (400, "unsupported_grant_type")


class TestRefresh:
    def test_a_refresh_gives_new_tokens_and_the_used_one_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        first = tokens_for(browser, rp, confidential)
        status, second = refresh(rp, confidential, first["refresh_token"])
        assert status == 200
        assert second["refresh_token"] != first["refresh_token"]
        assert userinfo(rp, second["access_token"])[0] == 200

    def test_a_reused_refresh_token_revokes_its_whole_family(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        first = tokens_for(browser, rp, confidential)
        _, second = refresh(rp, confidential, first["refresh_token"])
        status, body = refresh(rp, confidential, first["refresh_token"])
        assert (status, body["error"]) == (400, "invalid_grant")
        assert refresh(rp, confidential, second["refresh_token"])[0] == 400
        assert userinfo(rp, second["access_token"])[0] == 401
        assert "oidc_refresh_token_reused" in audited(auth)

    def test_another_clients_refresh_token_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        first = tokens_for(browser, rp, confidential)
        assert refresh(rp, register(auth), first["refresh_token"])[0] == 400

    def test_a_wrong_client_secret_is_401_and_leaves_the_refresh_token_unspent(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        first = tokens_for(browser, rp, confidential)
        wrong = RegisteredClient(confidential.client_id, "not-the-secret")
        assert refresh(rp, wrong, first["refresh_token"])[0] == 401
        assert refresh(rp, confidential, first["refresh_token"])[0] == 200

    def test_a_public_client_refreshes_with_its_client_id_alone(
        self, browser: FlaskClient, rp: FlaskClient, auth: Auth
    ) -> None:
        public = register(auth, public=True)
        first = tokens_for(browser, rp, public, Pkce.new())
        status, second = refresh(rp, public, first["refresh_token"])
        assert status == 200
        assert userinfo(rp, second["access_token"])[0] == 200

    def test_after_a_secret_rotation_only_the_new_secret_refreshes(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        first = tokens_for(browser, rp, confidential)
        new_secret = auth.oidc.clients.rotate_secret(confidential.client_id)
        assert refresh(rp, confidential, first["refresh_token"])[0] == 401
        rotated = RegisteredClient(confidential.client_id, new_secret)
        assert refresh(rp, rotated, first["refresh_token"])[0] == 200


class TestUserinfo:
    def test_the_access_token_gives_the_subject_and_the_email(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        status, claims = userinfo(rp, body["access_token"])
        assert status == 200
        assert claims["sub"] == id_token_claims(rp, body["id_token"])["sub"]
        assert (claims["email"], claims["email_verified"]) == (EMAIL, False)

    @pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
    def test_no_valid_bearer_token_is_401(self, rp: FlaskClient, header: str | None) -> None:
        headers = {} if header is None else {"Authorization": header}
        answer = rp.get("/oauth2/userinfo", headers=headers)
        assert answer.status_code == 401
        assert answer.get_json()["error"] in {
            "missing_authorization",
            "invalid_token",
            "unsupported_token_type",
        }

    def test_an_expired_access_token_is_refused(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        confidential: RegisteredClient,
        clock: FakeClock,
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        clock.advance(hours=1, seconds=1)
        assert userinfo(rp, body["access_token"])[0] == 401


class TestRevocation:
    def test_a_revoked_access_token_stops_working_at_once(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        answer = rp.post(
            "/oauth2/revoke",
            data={"token": body["access_token"]},
            headers=client_auth(confidential),
        )
        assert answer.status_code == 200
        assert userinfo(rp, body["access_token"])[0] == 401
        assert introspect(rp, confidential, body["access_token"]) == {"active": False}

    def test_a_revoked_refresh_token_revokes_its_family(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        rp.post(
            "/oauth2/revoke",
            data={"token": body["refresh_token"], "token_type_hint": "refresh_token"},
            headers=client_auth(confidential),
        )
        assert refresh(rp, confidential, body["refresh_token"])[0] == 400
        assert userinfo(rp, body["access_token"])[0] == 401

    def test_an_unknown_token_is_answered_200(
        self, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        answer = rp.post(
            "/oauth2/revoke", data={"token": "nope"}, headers=client_auth(confidential)
        )
        assert answer.status_code == 200


class TestIntrospection:
    def test_an_active_token_is_described(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        described = introspect(rp, confidential, body["access_token"])
        assert described["active"] is True
        assert described["client_id"] == confidential.client_id
        assert described["scope"] == "openid email"
        assert described["iss"] == ISSUER

    def test_introspection_without_client_authentication_is_401(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        answer = rp.post("/oauth2/introspect", data={"token": body["access_token"]})
        assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_client")

    def test_a_public_client_cannot_introspect(
        self, browser: FlaskClient, rp: FlaskClient, auth: Auth
    ) -> None:
        public = register(auth, public=True)
        body = tokens_for(browser, rp, public, Pkce.new())
        answer = rp.post(
            "/oauth2/introspect", data={"token": body["access_token"], **public_form(public)}
        )
        assert answer.status_code in (400, 401)
        assert answer.get_json()["error"] == "invalid_client"

    def test_another_clients_token_is_inactive(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        assert introspect(rp, register(auth), body["access_token"]) == {"active": False}


class TestConsent:
    @pytest.fixture
    def third_party(self, auth: Auth) -> RegisteredClient:
        return register(auth, first_party=False)

    def allow(self, browser: FlaskClient, client: RegisteredClient, choice: str) -> dict[str, str]:
        page = authorize(browser, client)
        assert page.status_code == 200
        assert "Allow Grafana?" in page.get_data(as_text=True)
        action = urlsplit(page.request.url)
        path = f"{action.path}?{action.query}"
        answer = browser.post(
            path, data={"csrf_token": csrf_token(browser, path), "consent": choice}
        )
        return redirected_params(answer)

    def test_a_third_party_client_is_let_in_once_the_user_allows_it(
        self, browser: FlaskClient, third_party: RegisteredClient
    ) -> None:
        assert "code" in self.allow(browser, third_party, "allow")

    def test_the_consent_is_remembered_for_the_client_and_scope(
        self, browser: FlaskClient, third_party: RegisteredClient
    ) -> None:
        self.allow(browser, third_party, "allow")
        assert "code" in redirected_params(authorize(browser, third_party))

    def test_a_denial_goes_back_as_access_denied(
        self, browser: FlaskClient, third_party: RegisteredClient
    ) -> None:
        assert self.allow(browser, third_party, "deny")["error"] == "access_denied"

    def test_a_consent_form_without_its_csrf_token_is_refused(
        self, browser: FlaskClient, third_party: RegisteredClient
    ) -> None:
        page = authorize(browser, third_party)
        action = urlsplit(page.request.url)
        answer = browser.post(f"{action.path}?{action.query}", data={"consent": "allow"})
        assert answer.status_code == 400
        assert "Location" not in answer.headers

    def test_prompt_none_without_consent_answers_consent_required(
        self, browser: FlaskClient, third_party: RegisteredClient
    ) -> None:
        answer = redirected_params(authorize(browser, third_party, prompt="none"))
        assert answer["error"] == "consent_required"


class TestClientRemoval:
    def test_a_removed_clients_tokens_die_with_it(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        auth.oidc.clients.remove(confidential.client_id)
        assert userinfo(rp, body["access_token"])[0] == 401

    def test_a_rotated_secret_replaces_the_old_one(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient, auth: Auth
    ) -> None:
        new_secret = auth.oidc.clients.rotate_secret(confidential.client_id)
        code = code_for(browser, confidential)
        assert exchange(rp, confidential, code).status_code == 401
        rotated = RegisteredClient(confidential.client_id, new_secret)
        assert exchange(rp, rotated, code).status_code == 200


class TestAccountPage:
    def test_a_consented_app_is_listed_and_revoking_it_ends_its_tokens(
        self, browser: FlaskClient, rp: FlaskClient, auth: Auth
    ) -> None:
        third_party = register(auth, first_party=False)
        TestConsent().allow(browser, third_party, "allow")
        body = tokens_for(browser, rp, third_party)
        account = browser.get("/auth/account").get_data(as_text=True)
        assert "Apps with access" in account
        assert "Grafana" in account
        path = f"/auth/account/apps/{third_party.client_id}/revoke"
        answer = browser.post(path, data={"csrf_token": csrf_token(browser, "/auth/account")})
        assert answer.status_code == 302
        assert userinfo(rp, body["access_token"])[0] == 401
        assert "Allow Grafana?" in authorize(browser, third_party).get_data(as_text=True)

    def test_a_first_party_app_holding_a_token_is_listed_too(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        assert "No app logs in with your account." in browser.get("/auth/account").text
        tokens_for(browser, rp, confidential)
        assert "Grafana" in browser.get("/auth/account").get_data(as_text=True)

    def test_revoking_without_the_csrf_token_is_refused(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        answer = browser.post(f"/auth/account/apps/{confidential.client_id}/revoke")
        assert answer.status_code == 400


def unsigned_token(header: dict[str, str], claims: dict[str, object]) -> str:
    """Build a JWT by hand: a header and claims, base64url-encoded, no signature yet."""
    parts = [json.dumps(part).encode() for part in (header, claims)]
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts)


class TestRpLogout:
    BACK = "https://rp.example.com/logged-out"

    @pytest.fixture
    def client_with_logout(self, auth: Auth) -> RegisteredClient:
        added = auth.oidc.clients.add(
            "Grafana", [REDIRECT], first_party=True, post_logout_redirect_uris=[self.BACK]
        )
        return RegisteredClient(added.client_id, added.client_secret)

    def logged_in(self, browser: FlaskClient) -> bool:
        return browser.get("/profile").status_code == 200

    def test_a_valid_hint_ends_the_session_and_goes_back_to_the_registered_uri(
        self, browser: FlaskClient, rp: FlaskClient, client_with_logout: RegisteredClient
    ) -> None:
        hint = tokens_for(browser, rp, client_with_logout)["id_token"]
        answer = browser.get(
            "/oauth2/logout",
            query_string={
                "id_token_hint": hint,
                "post_logout_redirect_uri": self.BACK,
                "state": "s1",
            },
        )
        assert answer.status_code == 302
        assert answer.headers["Location"] == self.BACK + "?state=s1"
        assert not self.logged_in(browser)

    def test_an_unregistered_post_logout_uri_is_never_redirected_to(
        self, browser: FlaskClient, rp: FlaskClient, client_with_logout: RegisteredClient
    ) -> None:
        hint = tokens_for(browser, rp, client_with_logout)["id_token"]
        answer = browser.get(
            "/oauth2/logout",
            query_string={
                "id_token_hint": hint,
                "post_logout_redirect_uri": "https://evil.example/",
            },
        )
        assert answer.status_code == 200
        assert "Location" not in answer.headers
        assert not self.logged_in(browser)

    def test_without_a_hint_the_user_confirms_before_the_session_ends(
        self, browser: FlaskClient
    ) -> None:
        page = browser.get("/oauth2/logout")
        assert page.status_code == 200
        assert self.logged_in(browser)
        token = csrf_token(browser, "/oauth2/logout")
        assert browser.post("/oauth2/logout", data={"csrf_token": token}).status_code == 200
        assert not self.logged_in(browser)

    def test_a_confirmation_without_its_csrf_token_is_refused(self, browser: FlaskClient) -> None:
        assert browser.post("/oauth2/logout").status_code == 400
        assert self.logged_in(browser)

    @pytest.mark.parametrize("forgery", ["alg-none", "hs256-with-the-public-key"])
    def test_a_forged_hint_is_refused_and_the_session_stays(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        client_with_logout: RegisteredClient,
        forgery: str,
    ) -> None:
        real = id_token_claims(rp, tokens_for(browser, rp, client_with_logout)["id_token"])
        if forgery == "alg-none":
            hint = unsigned_token({"alg": "none", "typ": "JWT"}, real) + "."
        else:
            public = next(
                k for k in rp.get("/oauth2/jwks").get_json()["keys"] if k["kty"] == "RSA"
            )
            pem = RSAKey.import_key(public).as_pem(private=False)
            body = unsigned_token({"alg": "HS256", "kid": public["kid"]}, real)
            mac = hmac.new(pem, body.encode(), hashlib.sha256).digest()
            hint = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        answer = browser.get(
            "/oauth2/logout",
            query_string={"id_token_hint": hint, "post_logout_redirect_uri": self.BACK},
        )
        assert answer.status_code == 400
        assert "Location" not in answer.headers
        assert self.logged_in(browser)


class TestKeyRotation:
    """`keys rotate` publishes before signing, and keeps old keys until their tokens expire:
    a client that caches the JWKS never meets a kid it cannot find."""

    def kid_of(self, id_token: str) -> str:
        header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
        return str(header["kid"])

    def test_a_client_caching_the_jwks_verifies_every_token_across_a_rotation(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        confidential: RegisteredClient,
        auth: Auth,
        clock: FakeClock,
    ) -> None:
        cached = KeySet.import_key_set(rp.get("/oauth2/jwks").get_json())
        before = tokens_for(browser, rp, confidential)["id_token"]
        new_kids = auth.oidc.keys.rotate(timedelta(hours=1))
        clock.advance(minutes=10)
        during = tokens_for(browser, rp, confidential)["id_token"]
        for token in (before, during):
            jwt.decode(token, cached, algorithms=["RS256"])
        assert self.kid_of(during) == self.kid_of(before)
        clock.advance(minutes=20)
        cached = KeySet.import_key_set(rp.get("/oauth2/jwks").get_json())
        clock.advance(minutes=31)
        # An hour on, the session has idled out: log in again (the page login's API twin).
        browser.post("/sessions", data={"email": EMAIL, "password": PAGE_PASSWORD})
        after = tokens_for(browser, rp, confidential)["id_token"]
        assert self.kid_of(after) in new_kids
        jwt.decode(after, cached, algorithms=["RS256"])
        published = {key["kid"] for key in rp.get("/oauth2/jwks").get_json()["keys"]}
        assert self.kid_of(before) in published
        clock.advance(hours=1, minutes=1)
        published = {key["kid"] for key in rp.get("/oauth2/jwks").get_json()["keys"]}
        assert self.kid_of(before) not in published
        assert set(new_kids) <= published


class TestTwoFactors:
    def test_acr_values_aal2_gives_an_id_token_of_two_factors_after_the_second_step(
        self, app: Flask, rp: FlaskClient, confidential: RegisteredClient, clock: FakeClock
    ) -> None:
        browser = app.test_client()
        sign_up_and_log_in(browser)
        enrolled = enrol(browser, clock())
        to_login = authorize(browser, confidential, acr_values="aal2")
        assert parse_qs(urlsplit(to_login.headers["Location"]).query)["aal"] == ["2"]
        password_step(browser)
        clock.advance(seconds=30)
        code = oathtool_code(enrolled.secret, clock())
        assert browser.post("/sessions/second-factor", data={"code": code}).status_code == 200
        body = tokens_for(browser, rp, confidential, acr_values="aal2")
        claims = id_token_claims(rp, body["id_token"])
        assert claims["acr"] == "aal2"
        amr = claims["amr"]
        assert isinstance(amr, list)
        assert sorted(amr) == ["otp", "pwd"]


class TestLoginPageForAClient:
    """Browsers apply the login form's CSP `form-action` to the redirects after it: the
    client's registered redirect URI must be allowed there, and only it (Apache's test in
    tests/browser/test_oidc_apache.py is what a real browser makes of it)."""

    def form_action(self, browser: FlaskClient, next_target: str) -> str:
        page = browser.get("/auth/login", query_string={"next": next_target})
        policy = page.headers["Content-Security-Policy"]
        return next(part for part in policy.split("; ") if part.startswith("form-action"))

    def test_a_registered_redirect_uri_s_origin_is_allowed(
        self, app: Flask, confidential: RegisteredClient
    ) -> None:
        target = f"/oauth2/authorize?client_id={confidential.client_id}&redirect_uri={REDIRECT}"
        assert self.form_action(app.test_client(), target) == (
            "form-action 'self' https://rp.example.com"
        )

    @pytest.mark.parametrize(
        "redirect_uri", ["https://evil.example/callback", REDIRECT + "/more"], ids=["host", "path"]
    )
    def test_an_unregistered_one_is_not(
        self, app: Flask, confidential: RegisteredClient, redirect_uri: str
    ) -> None:
        target = (
            f"/oauth2/authorize?client_id={confidential.client_id}&redirect_uri={redirect_uri}"
        )
        assert self.form_action(app.test_client(), target) == "form-action 'self'"


class TestEs256:
    def test_a_client_registered_for_es256_gets_id_tokens_signed_with_the_ec_key(
        self, browser: FlaskClient, rp: FlaskClient, auth: Auth
    ) -> None:
        added = auth.oidc.clients.add("Gitea", [REDIRECT], first_party=True, id_token_alg="ES256")
        client = RegisteredClient(added.client_id, added.client_secret)
        id_token = tokens_for(browser, rp, client)["id_token"]
        keys = KeySet.import_key_set(rp.get("/oauth2/jwks").get_json())
        decoded = jwt.decode(id_token, keys, algorithms=["ES256"])
        assert decoded.header["alg"] == "ES256"
        assert decoded.claims["aud"] == client.client_id
        with pytest.raises(JoseError):
            jwt.decode(id_token, keys, algorithms=["RS256"])


class TestWhereItIsServed:
    def test_with_the_hosted_pages_off_there_is_no_provider_to_log_in_with(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(WebSettings(pages_enabled=False))
        client = create_app(auth.settings, auth).test_client()
        assert client.get("/.well-known/openid-configuration").status_code == 404
        assert client.get("/oauth2/authorize").status_code == 404


class TestIssuerSetting:
    def test_the_issuer_is_read_without_its_trailing_slash(self) -> None:
        settings = Settings.from_env({"USERAUTH_OIDC_ISSUER": "https://auth.example.com/"})
        assert settings.oidc.issuer == "https://auth.example.com"

    @pytest.mark.parametrize(
        "value",
        ["auth.example.com", "ftp://auth.example.com", "https://auth.example.com/?x=1"],
        ids=["no-scheme", "not-http", "query"],
    )
    def test_anything_but_an_http_url_without_query_is_refused(self, value: str) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_OIDC_ISSUER"):
            Settings.from_env({"USERAUTH_OIDC_ISSUER": value})

    def test_production_refuses_an_http_issuer(self) -> None:
        settings = Settings(env="production", oidc=OidcSettings(issuer="http://auth.example.com"))
        assert any("USERAUTH_OIDC_ISSUER" in problem for problem in production_problems(settings))

    def test_the_configured_issuer_is_what_discovery_and_tokens_say(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(OidcSettings(issuer="https://auth.example.com"))
        client = create_app(auth.settings, auth).test_client()
        metadata = client.get("/.well-known/openid-configuration").get_json()
        assert metadata["issuer"] == "https://auth.example.com"
        assert metadata["token_endpoint"] == "https://auth.example.com/oauth2/token"
