"""GET /openapi.json describes exactly the app's routes (issue 5), from the routes' own
declarations, which also validate their input (issue 11); /docs shows it, offline."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from userauth.auth import Auth
from userauth.settings import RateLimitSettings, ServerSettings
from userauth.web import create_app
from userauth.web.limits import declared_group

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = pytest.mark.databases("sqlite")

README = Path(__file__).resolve().parent.parent / "README.md"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# The documentation's own routes: the document and the page that shows it.
DOCUMENTATION_BLUEPRINTS = ("openapi", "docs_assets")
# Rate-limited routes (issue 5): each documents its 429 answer with a Retry-After header.
LIMITED = [("/users", "post"), ("/sessions", "post"), ("/reset_password", "post")]
LIMITED += [("/reset_password", "put"), ("/profile/password", "put")]
# The second factor's (issue 24).
LIMITED += [("/sessions/second-factor", "post"), ("/sessions/reauthenticate", "post")]
LIMITED += [("/factors/totp", "put")]
# The account's lifecycle (issue 26).
LIMITED += [("/email/verification", "put"), ("/profile/email", "put"), ("/email/change", "put")]
LIMITED += [("/email/verification", "post")]
# Passkeys' (issue 25).
LIMITED += [("/passkeys/registration", "post"), ("/sessions/passkey/options", "post")]
LIMITED += [("/sessions/passkey", "post"), ("/users/passkey/options", "post")]
LIMITED += [("/users/passkey", "post")]
# Re-authenticating with a passkey (issue 25, hostile review item 4).
LIMITED += [("/sessions/reauthenticate/passkey", "post")]
# The routes that read a body (issue 21 item 10): each documents its 415. Two limited routes
# read none: the passkey login's options, and a session's request for a verification link.
BODYLESS = {("/sessions/passkey/options", "post"), ("/email/verification", "post")}
BODY_ROUTES = [route for route in LIMITED if route not in BODYLESS]
# The OIDC authorization endpoint's re-authentication (prompt=login, max_age; issue 27).
LIMITED += [("/oauth2/authorize", "get"), ("/oauth2/authorize", "post")]
# The OpenID Connect provider's (issue 27): RFC 6749's error bodies, not `{"message"}`.
OIDC_ROUTES = {
    ("/.well-known/openid-configuration", "get"),
    ("/oauth2/jwks", "get"),
    ("/oauth2/authorize", "get"),
    ("/oauth2/authorize", "post"),
    ("/oauth2/token", "post"),
    ("/oauth2/userinfo", "get"),
    ("/oauth2/userinfo", "post"),
    ("/oauth2/revoke", "post"),
    ("/oauth2/introspect", "post"),
    ("/oauth2/logout", "get"),
    ("/oauth2/logout", "post"),
}


def served_routes(app: Flask) -> set[tuple[str, str]]:
    """(path, method) of every URL rule but the documentation's, in OpenAPI's path syntax."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(DOCUMENTATION_BLUEPRINTS):
            continue
        blueprint = app.blueprints.get(rule.endpoint.partition(".")[0])
        if blueprint is not None and not getattr(blueprint, "enable_openapi", True):
            continue  # HTML pages, not the API
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods or () if m not in IGNORED_METHODS}
    return routes


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def schema(document: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    """The schema of a media type object, its $ref to the components followed."""
    found: dict[str, Any] = media["schema"]
    if "$ref" in found:
        found = document["components"]["schemas"][found["$ref"].rsplit("/", 1)[-1]]
    return found


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


class TestDocument:
    def test_is_openapi_3_1(self, document: dict[str, Any]) -> None:
        assert document["openapi"].startswith("3.1.")

    def test_describes_exactly_the_apps_routes(self, document: dict[str, Any], app: Flask) -> None:
        assert set(operations(document)) == served_routes(app)

    def test_includes_the_operations_routes(self, document: dict[str, Any]) -> None:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert "get" in document["paths"][path]

    def test_names_each_path_of_the_readmes_api_table_as_the_readme_does(
        self, document: dict[str, Any]
    ) -> None:
        table = README.read_text().split("## HTTP API", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| `([A-Z]+) (/[^`]*)` \|", table, flags=re.MULTILINE)
        assert len(rows) >= 10
        for method, path in rows:
            template = re.sub(r"<([^<>]+)>", r"{\1}", path)
            assert method.lower() in document["paths"].get(template, {}), (method, path)

    def test_cites_no_file_that_is_not_shipped(self, client: FlaskClient) -> None:
        text = client.get("/openapi.json").get_data(as_text=True)
        assert re.findall(r"[\w/.-]+\.md\b", text) == []

    def test_every_path_parameter_is_declared(self, document: dict[str, Any]) -> None:
        for (path, _), operation in operations(document).items():
            in_path = set(re.findall(r"{([^}]+)}", path))
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, path

    @pytest.mark.parametrize("content_type", [FORM, JSON])
    def test_body_fields_match_what_the_routes_read(
        self, document: dict[str, Any], content_type: str
    ) -> None:
        forms = {
            route: set(
                schema(document, op["requestBody"]["content"][content_type]).get("required", [])
            )
            for route, op in operations(document).items()
            if "requestBody" in op
        }
        assert forms == {
            ("/users", "post"): {"email", "password"},
            ("/sessions", "post"): {"email", "password"},
            ("/reset_password", "post"): {"email"},
            ("/reset_password", "put"): {"email", "reset_token", "new_password"},
            # `password` is left out by an account made with a passkey alone (issue 25).
            ("/profile/password", "put"): {"new_password"},
            ("/sessions/second-factor", "post"): {"code"},
            ("/factors/totp", "put"): {"code"},
            ("/email/verification", "put"): {"token"},
            ("/profile/email", "put"): {"new_email"},
            ("/email/change", "put"): {"token"},
            # The password or a code: either, so neither is required by itself.
            ("/sessions/reauthenticate", "post"): set(),
            ("/passkeys/registration", "post"): {"credential"},
            ("/passkeys/{passkey_id}", "patch"): {"name"},
            ("/sessions/passkey", "post"): {"credential"},
            ("/users/passkey/options", "post"): {"email"},
            ("/users/passkey", "post"): {"credential"},
            ("/sessions/reauthenticate/passkey", "post"): {"credential"},
        }

    def test_session_cookie_is_a_security_scheme(self, document: dict[str, Any]) -> None:
        scheme = document["components"]["securitySchemes"]["sessionCookie"]
        assert scheme == {**scheme, "type": "apiKey", "in": "cookie", "name": "session_id"}
        secured = {
            route
            for route, op in operations(document).items()
            if {"sessionCookie": []} in op.get("security", [])
        }
        assert secured == {
            ("/sessions", "delete"),
            ("/sessions", "get"),
            ("/sessions/{id}", "delete"),
            ("/profile", "get"),
            ("/profile/password", "put"),
            ("/auth/verify", "get"),
            ("/sessions/reauthenticate", "post"),
            ("/factors", "get"),
            ("/factors/totp", "post"),
            ("/factors/totp", "put"),
            ("/factors/totp", "delete"),
            ("/factors/recovery-codes", "post"),
            ("/me", "get"),
            ("/email/verification", "post"),
            ("/profile/email", "put"),
            ("/account", "delete"),
            ("/account/export", "get"),
            ("/passkeys/registration/options", "post"),
            ("/passkeys/registration", "post"),
            ("/passkeys", "get"),
            ("/passkeys/{passkey_id}", "patch"),
            ("/passkeys/{passkey_id}", "delete"),
            ("/sessions/reauthenticate/passkey/options", "post"),
            ("/sessions/reauthenticate/passkey", "post"),
        }

    def test_metrics_document_their_optional_bearer_token(self, document: dict[str, Any]) -> None:
        scheme = document["components"]["securitySchemes"]["metricsToken"]
        assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
        metrics = document["paths"]["/metrics"]["get"]
        assert metrics["security"] == [{"metricsToken": []}]
        assert "401" in metrics["responses"]

    def test_login_sets_the_session_cookie(self, document: dict[str, Any]) -> None:
        answer = document["paths"]["/sessions"]["post"]["responses"]["200"]
        assert "Set-Cookie" in answer["headers"]

    def test_every_error_answer_has_the_message_body(self, document: dict[str, Any]) -> None:
        for route, op in operations(document).items():
            for status, answer in op["responses"].items():
                if int(status) >= 400 and route not in OIDC_ROUTES:
                    body = schema(document, answer["content"][JSON])
                    assert "message" in body["required"], (route, status)
                    assert body["properties"]["message"] == {"type": "string"}, (route, status)

    def test_the_oidc_routes_are_served_and_their_json_errors_are_rfc_6749s(
        self, document: dict[str, Any], app: Flask
    ) -> None:
        assert served_routes(app) >= OIDC_ROUTES
        for route in OIDC_ROUTES:
            for status, answer in document["paths"][route[0]][route[1]]["responses"].items():
                # An outage's 503 is the service's own `{"message"}`, as on every route, and
                # so is a rate limit's 429 (the authorization endpoint's re-authentication).
                if (
                    400 <= int(status) < 500
                    and status != "429"
                    and JSON in answer.get("content", {})
                ):
                    body = schema(document, answer["content"][JSON])
                    assert body["required"] == ["error"], (route, status)

    def test_every_route_that_reads_a_body_documents_415(self, document: dict[str, Any]) -> None:
        with_body = {route for route, op in operations(document).items() if "requestBody" in op}
        documented = {
            route for route, op in operations(document).items() if "415" in op["responses"]
        }
        assert documented == with_body
        for route in with_body:
            answer = operations(document)[route]["responses"]["415"]
            assert "Accept" in answer["headers"], route

    def test_no_answer_is_a_422(self, document: dict[str, Any]) -> None:
        # Bad input is the README's 400 {"message": ...}, not the validation library's 422.
        statuses = {status for op in operations(document).values() for status in op["responses"]}
        assert "422" not in statuses
        assert "400" in statuses

    @pytest.mark.parametrize(("path", "method"), LIMITED, ids=[f"{m} {p}" for p, m in LIMITED])
    def test_rate_limited_routes_document_429(
        self, document: dict[str, Any], path: str, method: str
    ) -> None:
        answer = document["paths"][path][method]["responses"]["429"]
        assert answer["headers"]["Retry-After"]["required"] is True
        assert "message" in schema(document, answer["content"][JSON])["required"]

    def test_every_route_that_declares_limits_documents_429(
        self, document: dict[str, Any], app: Flask
    ) -> None:
        declared = {
            (path, method)
            for path, method in served_routes(app)
            if declared_group(app.view_functions[endpoint_of(app, path, method)]) is not None
        }
        assert declared == set(LIMITED)
        documented = {
            route for route, op in operations(document).items() if "429" in op["responses"]
        }
        assert documented == declared


def endpoint_of(app: Flask, path: str, method: str) -> str:
    """The endpoint that serves (path, method), path in OpenAPI's syntax."""
    for rule in app.url_map.iter_rules():
        if re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule) == path and method.upper() in (
            rule.methods or ()
        ):
            endpoint: str = rule.endpoint
            return endpoint
    raise LookupError((path, method))


class TestDocumentedAnswers:
    """The answers the app really gives are among those the document lists."""

    @pytest.mark.parametrize(
        ("method", "path", "form"),
        [
            ("post", "/users", {"email": "a@example.com"}),
            ("post", "/sessions", {"email": "a@example.com", "password": "wrong"}),
            ("delete", "/sessions", None),
            ("get", "/profile", None),
            ("get", "/sessions", None),
            ("delete", "/sessions/3", None),
            ("post", "/reset_password", {"email": "nobody@example.com"}),
            ("put", "/reset_password", {"email": "a@example.com"}),
            ("put", "/profile/password", {"password": "x", "new_password": "y"}),
            ("get", "/readyz", None),
        ],
        ids=lambda value: value if isinstance(value, str) else "",
    )
    def test_failure_status_is_documented(
        self,
        client: FlaskClient,
        document: dict[str, Any],
        method: str,
        path: str,
        form: dict[str, str] | None,
    ) -> None:
        response = client.open(path, method=method.upper(), data=form)
        template = "/sessions/{id}" if path.startswith("/sessions/") else path
        assert str(response.status_code) in document["paths"][template][method]["responses"]

    @pytest.mark.parametrize(
        ("path", "method"), BODY_ROUTES, ids=[f"{m} {p}" for p, m in BODY_ROUTES]
    )
    def test_an_unsupported_body_is_a_documented_415(
        self, client: FlaskClient, document: dict[str, Any], path: str, method: str
    ) -> None:
        response = client.open(
            path, method=method.upper(), data=b"email=a", content_type="text/plain"
        )
        assert response.status_code == 415
        assert "415" in document["paths"][path][method]["responses"]

    # Every limited route reads a body but the BODYLESS ones (answered without one).
    @pytest.mark.parametrize(
        ("path", "method"), BODY_ROUTES, ids=[f"{m} {p}" for p, m in BODY_ROUTES]
    )
    def test_limited_routes_answer_when_rate_limits_are_off(
        self, make_auth: Callable[..., Auth], document: dict[str, Any], path: str, method: str
    ) -> None:
        # Found by scripts/schemathesis: with limits off, every limited route answered 500.
        auth = make_auth(RateLimitSettings(enabled=False))
        client = create_app(auth.settings, auth).test_client()
        response = client.open(path, method=method.upper(), data={})
        assert response.status_code == 400


class TestGateIdentity:
    def test_the_gate_says_its_email_is_no_proof_of_ownership_and_to_key_on_the_id(
        self, document: dict[str, Any]
    ) -> None:
        # Issue 21, item 12: anyone can sign up with any address, so an app that granted
        # access on the email header would hand `boss@corp.example` to whoever typed it.
        answer = operations(document)[("/auth/verify", "get")]["responses"]["200"]
        identity = schema(document, answer["content"]["application/json"])
        assert "not verified" in identity["properties"]["email"]["description"].lower()
        assert "key accounts on" in identity["properties"]["id"]["description"].lower()


class TestServers:
    """The document's servers never come from a request (issue 21, item 6).

    APIFlask's default writes the first request's URL root into `servers` and caches the
    document: a request with a forged Host would make /docs' "Try it out" send every later
    reader's credentials to that host.
    """

    @pytest.mark.parametrize(
        ("forged", "name"),
        [
            ("evil.example", "evil.example"),
            ("evil.example:8443", "evil.example"),
            ("127.0.0.9:9", "127.0.0.9"),
            ("[2001:db8::1]:1", "2001:db8::1"),
        ],
        ids=["host", "host-and-port", "ipv4", "ipv6"],
    )
    def test_a_forged_host_never_reaches_the_document(
        self, client: FlaskClient, forged: str, name: str
    ) -> None:
        first = client.get("/openapi.json", headers={"Host": forged})
        later = client.get("/openapi.json", headers={"Host": "userauth.example"})
        for answer in (first, later):
            assert answer.status_code == 200
            assert name not in answer.get_data(as_text=True)

    def test_the_server_is_this_site_relative(self, document: dict[str, Any]) -> None:
        assert document["servers"] == [{"url": "/"}]

    def test_behind_a_trusted_proxy_the_forwarded_host_is_not_used_either(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(ServerSettings(trusted_proxies=1))
        client = create_app(auth.settings, auth).test_client()
        forwarded = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
        client.get("/openapi.json", headers=forwarded)
        answer = client.get("/openapi.json")
        assert "evil.example" not in answer.get_data(as_text=True)


class TestDocsPage:
    """/docs shows the document with Swagger UI, every file of which the app serves itself."""

    def test_the_page_loads_nothing_from_another_host(self, client: FlaskClient) -> None:
        response = client.get("/docs")
        assert response.status_code == 200
        page = response.text
        assert "/openapi.json" in page
        loaded = re.findall(r'(?:src|href)="([^"]*)"', page)
        assert loaded
        assert [url for url in loaded if "//" in url] == []

    def test_every_script_and_stylesheet_of_the_page_is_served(self, client: FlaskClient) -> None:
        page = client.get("/docs").text
        assets = re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', page)
        assert len(assets) == 3
        for asset in assets:
            response = client.get(f"/{asset}")
            assert response.status_code == 200, asset
            assert len(response.data) > 1000, asset
            assert response.mimetype in {"text/css", "text/javascript"}, asset

    def test_an_unknown_asset_is_a_json_404(self, client: FlaskClient) -> None:
        response = client.get("/docs/assets/evil.js")
        assert (response.status_code, list(response.get_json())) == (404, ["message"])
