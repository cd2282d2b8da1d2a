"""Issue 11 item 4: a body is a form or a JSON object with the same fields, checked against
the route's declaration; bad input is a 400 {"message": ...} naming the field at fault."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import ServerProcess
from tests.route_table import BODY_METHODS, BODY_ROUTES, routes_of

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = pytest.mark.databases("sqlite")

PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"


def send(
    client: FlaskClient, method: str, path: str, fields: dict[str, Any], *, as_json: bool
) -> TestResponse:
    if as_json:
        return client.open(path, method=method, json=fields)
    return client.open(path, method=method, data=fields)


def contract_scenario(client: FlaskClient, email: str, *, as_json: bool) -> list[tuple[int, str]]:
    """Run SPEC.md B's flow with bodies of one kind; return each answer's status and body,
    with the email and the token written as placeholders."""
    account = {"email": email, "password": PASSWORD}
    answers = [
        send(client, "POST", "/users", account, as_json=as_json),
        send(client, "POST", "/sessions", account, as_json=as_json),
        client.get("/profile"),
    ]
    reset = send(client, "POST", "/reset_password", {"email": email}, as_json=as_json)
    token = reset.get_json()["reset_token"]
    change = {"email": email, "reset_token": token, "new_password": NEW_PASSWORD}
    answers += [
        reset,
        send(client, "PUT", "/reset_password", change, as_json=as_json),
        send(client, "POST", "/sessions", {**account, "password": NEW_PASSWORD}, as_json=as_json),
    ]
    return [
        (answer.status_code, answer.text.replace(email, "<email>").replace(token, "<token>"))
        for answer in answers
    ]


class TestJsonBodies:
    def test_the_contract_scenario_answers_alike_with_json_and_with_forms(
        self, app: Flask
    ) -> None:
        with_forms = contract_scenario(app.test_client(), "bob@example.com", as_json=False)
        with_json = contract_scenario(app.test_client(), "ada@example.com", as_json=True)
        assert [status for status, _ in with_forms] == [200] * 6
        assert with_json == with_forms

    def test_a_json_login_sets_the_session_cookie(self, client: FlaskClient) -> None:
        account = {"email": "bob@example.com", "password": PASSWORD}
        client.post("/users", json=account)
        assert client.post("/sessions", json=account).status_code == 200
        assert client.get("/profile").get_json() == {"email": "bob@example.com"}

    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
    def test_fields_a_route_does_not_read_are_ignored(
        self, client: FlaskClient, as_json: bool
    ) -> None:
        account = {"email": "bob@example.com", "password": PASSWORD, "remember": "yes"}
        assert send(client, "POST", "/users", account, as_json=as_json).status_code == 200


@dataclass(frozen=True)
class Bad:
    """A bad body for POST /sessions and the message its 400 answer must have."""

    message: str
    json: Any = None
    form: dict[str, str] | None = None
    raw: str | None = None


TOO_LONG = "x" * 4097
BAD_BODIES = {
    "no-body": Bad("email is required"),
    "json-missing-email": Bad("email is required", json={"password": PASSWORD}),
    "json-missing-password": Bad("password is required", json={"email": "a@example.com"}),
    "json-empty-email": Bad("email is required", json={"email": "", "password": PASSWORD}),
    "json-null-email": Bad("email is required", json={"email": None, "password": PASSWORD}),
    "json-number-password": Bad("password is not text", json={"email": "a@b.c", "password": 7}),
    "json-too-long": Bad("email is too long", json={"email": TOO_LONG, "password": PASSWORD}),
    "json-lone-surrogate": Bad(
        "password is not valid text", raw='{"email": "a@b.c", "password": "\\ud800"}'
    ),
    "json-array": Bad("the body must be a form or a JSON object", json=["a@example.com"]),
    "json-string": Bad("the body must be a form or a JSON object", json="a@example.com"),
    "form-missing-password": Bad("password is required", form={"email": "a@example.com"}),
    "form-empty-email": Bad("email is required", form={"email": "", "password": PASSWORD}),
    "form-too-long": Bad("password is too long", form={"email": "a@b.c", "password": TOO_LONG}),
}


class TestBadBodies:
    @pytest.mark.parametrize("bad", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
    def test_a_bad_body_is_a_400_naming_the_field(self, client: FlaskClient, bad: Bad) -> None:
        if bad.raw is not None:
            response = client.post("/sessions", data=bad.raw, content_type="application/json")
        elif bad.json is not None:
            response = client.post("/sessions", json=bad.json)
        else:
            response = client.post("/sessions", data=bad.form)
        assert (response.status_code, response.get_json()) == (400, {"message": bad.message})

    def test_malformed_json_is_a_json_400(self, client: FlaskClient) -> None:
        response = client.post("/sessions", data="{not json", content_type="application/json")
        assert response.status_code == 400
        assert list(response.get_json()) == ["message"]


MULTIPART_BOUNDARY = "b0undary"


def multipart(fields: dict[str, bytes]) -> bytes:
    """A multipart/form-data body of these fields, their bytes as given."""
    parts = [
        f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{MULTIPART_BOUNDARY}--\r\n".encode()


@dataclass(frozen=True)
class Body:
    """A request body as sent: its bytes, Content-Type and other headers."""

    data: bytes
    content_type: str | None
    headers: tuple[tuple[str, str], ...] = ()


def post_body(client: FlaskClient, method: str, path: str, body: Body) -> TestResponse:
    headers = dict(body.headers)
    if body.content_type is not None:
        headers["Content-Type"] = body.content_type
    return client.open(path, method=method, data=body.data, headers=headers)


FORM_TYPE = "application/x-www-form-urlencoded"
NOT_UTF8_EMAIL = b"\xff\xfe@example.com"
# Each is refused with 415; the email each would register is in ACCOUNTS_NOT_MADE.
UNSUPPORTED_BODIES = {
    "multipart": Body(
        multipart({"email": NOT_UTF8_EMAIL, "password": PASSWORD.encode()}),
        f"multipart/form-data; boundary={MULTIPART_BOUNDARY}",
    ),
    "multipart-utf-8": Body(
        multipart({"email": b"mia@example.com", "password": PASSWORD.encode()}),
        f"multipart/form-data; boundary={MULTIPART_BOUNDARY}",
    ),
    "text-plain": Body(b"email=tia%40example.com&password=b4l0u", "text/plain"),
    "no-content-type": Body(b"email=noa%40example.com&password=b4l0u", None),
    "xml": Body(b"<email>xia@example.com</email>", "application/xml"),
    "text-json": Body(b'{"email": "tej@example.com", "password": "b4l0u"}', "text/json"),
    "json-in-utf-16": Body(
        '{"email": "uta@example.com", "password": "b4l0u"}'.encode("utf-16"), "application/json"
    ),
    "json-in-utf-32": Body(
        '{"email": "uti@example.com", "password": "b4l0u"}'.encode("utf-32"), "application/json"
    ),
    "json-latin-1-bytes": Body(
        '{"email": "zoé@example.com", "password": "b4l0u"}'.encode("latin-1"), "application/json"
    ),
    "json-charset-utf-16": Body(
        b'{"email": "jcu@example.com", "password": "b4l0u"}', "application/json; charset=utf-16"
    ),
    "form-charset-latin-1": Body(
        b"email=caf%C3%A9%40example.com&password=b4l0u", f"{FORM_TYPE}; charset=iso-8859-1"
    ),
    "form-charset-latin-1-escapes": Body(
        b"email=l%E9a%40example.com&password=b4l0u", f"{FORM_TYPE}; charset=latin-1"
    ),
    "gzip-form": Body(
        gzip.compress(b"email=gus%40example.com&password=b4l0u"),
        FORM_TYPE,
        (("Content-Encoding", "gzip"),),
    ),
}
ACCOUNTS_NOT_MADE = [
    "\ufffd\ufffd@example.com",
    "mia@example.com",
    "tia@example.com",
    "noa@example.com",
    "uta@example.com",
    "uti@example.com",
    "zoé@example.com",
    "jcu@example.com",
    "café@example.com",
    "léa@example.com",
    "gus@example.com",
]
ACCEPTED = "application/x-www-form-urlencoded or application/json"


class TestBodyTypes:
    """Issue 21 item 10: a body other than a UTF-8 form or JSON object is refused, 415."""

    @pytest.mark.parametrize(
        "body", list(UNSUPPORTED_BODIES.values()), ids=list(UNSUPPORTED_BODIES)
    )
    def test_an_unsupported_body_is_a_415_naming_the_accepted_types(
        self, client: FlaskClient, body: Body
    ) -> None:
        response = post_body(client, "POST", "/users", body)

        assert response.status_code == 415
        assert ACCEPTED in response.get_json()["message"]
        assert response.headers["Accept"] == "application/x-www-form-urlencoded, application/json"

    def test_no_account_is_made_from_any_of_them(self, client: FlaskClient) -> None:
        for body in UNSUPPORTED_BODIES.values():
            post_body(client, "POST", "/users", body)

        for email in ACCOUNTS_NOT_MADE:
            login = client.post("/sessions", json={"email": email, "password": PASSWORD})
            assert login.status_code == 401, email

    @pytest.mark.parametrize("body", ["multipart", "text-plain", "json-in-utf-16"])
    @pytest.mark.parametrize("route", list(BODY_ROUTES.values()), ids=list(BODY_ROUTES))
    def test_every_route_and_page_that_reads_a_body_refuses_it(
        self, client: FlaskClient, route: tuple[str, str], body: str
    ) -> None:
        method, path = route

        response = post_body(client, method, path, UNSUPPORTED_BODIES[body])

        assert response.status_code == 415
        assert ACCEPTED in response.text

    def test_the_table_names_every_route_that_reads_a_body(self, app: Flask) -> None:
        assert routes_of(app, BODY_METHODS) == set(BODY_ROUTES.values())

    @pytest.mark.parametrize(
        "body",
        [
            Body(b"email=ann%40example.com&password=b4l0u", f"{FORM_TYPE}; charset=UTF-8"),
            Body(b"email=ann%40example.com&password=b4l0u", f"{FORM_TYPE};charset=utf8"),
            Body(b'{"email": "ann@example.com", "password": "b4l0u"}', "application/json"),
            Body(
                b'{"email": "ann@example.com", "password": "b4l0u"}',
                "application/json; charset=utf-8",
            ),
            Body(
                b"email=ann%40example.com&password=b4l0u",
                FORM_TYPE,
                (("Content-Encoding", "identity"),),
            ),
        ],
        ids=["form-utf-8", "form-utf8", "json", "json-utf-8", "form-identity-coding"],
    )
    def test_a_utf_8_form_or_json_body_is_taken(self, client: FlaskClient, body: Body) -> None:
        assert post_body(client, "POST", "/users", body).status_code == 200

    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [("POST", "/sessions", 400), ("DELETE", "/sessions", 403), ("POST", "/auth/logout", 400)],
        ids=["api-login", "api-logout", "page-logout"],
    )
    def test_a_request_without_a_body_is_not_affected(
        self, client: FlaskClient, method: str, path: str, status: int
    ) -> None:
        # A Content-Type alone, with no body, is what some clients send: no 415 for it.
        empty = Body(b"", "text/plain")

        assert post_body(client, method, path, empty).status_code == status

    def test_a_body_sent_to_a_route_that_reads_none_is_ignored_as_before(
        self, client: FlaskClient
    ) -> None:
        answer = post_body(client, "DELETE", "/sessions", UNSUPPORTED_BODIES["text-plain"])

        assert answer.status_code == 403

    @pytest.mark.slow
    def test_a_served_route_refuses_multipart_and_a_chunked_text_body(
        self, start_server: Callable[..., ServerProcess]
    ) -> None:
        server = start_server()
        multipart_body = UNSUPPORTED_BODIES["multipart"]

        sent = requests.post(
            f"{server.url}/users",
            data=multipart_body.data,
            headers={"Content-Type": str(multipart_body.content_type)},
            timeout=10,
        )
        chunked = requests.post(
            f"{server.url}/users",
            data=iter([b"email=chu%40example.com", b"&password=b4l0u"]),
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )

        assert (sent.status_code, chunked.status_code) == (415, 415)
        assert chunked.request.headers["Transfer-Encoding"] == "chunked"
