"""Issue 11 item 4: a body is a form or a JSON object with the same fields, checked against
the route's declaration; bad input is a 400 {"message": ...} naming the field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

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
