"""Emails: stored trimmed with the domain lower-cased, unique and found case-insensitively."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from userauth.auth import Auth

PASSWORD = "b4l0u"

MALFORMED = pytest.mark.parametrize(
    "email",
    [
        "plainaddress",
        "@example.com",
        "bob@",
        "bob@@example.com",
        "bob @example.com",
        "bob@example",
        "bob@example..com",
        ".bob@example.com",
        "bob.@example.com",
        "Bob <bob@example.com>",
        "bob@exa mple.com",
        "   ",
        "b" * 250 + "@example.com",
    ],
    ids=[
        "no-at-sign",
        "no-local-part",
        "no-domain",
        "two-at-signs",
        "space-in-local-part",
        "domain-without-dot",
        "double-dot",
        "leading-dot",
        "dot-before-at",
        "display-name",
        "space-in-domain",
        "only-spaces",
        "too-long",
    ],
)


def message_of(response_json: object) -> str:
    assert isinstance(response_json, dict)
    return str(response_json["message"])


class TestStoredEmail:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("bob@example.com", "bob@example.com"),
            ("  bob@example.com  ", "bob@example.com"),
            ("bob@Example.COM", "bob@example.com"),
            ("Bob@Example.COM ", "Bob@example.com"),
            ("\tBob.Smith@EXAMPLE.org\n", "Bob.Smith@example.org"),
        ],
        ids=[
            "already-normal",
            "surrounding-spaces",
            "domain-capitals",
            "local-part-case-kept",
            "tab-and-newline",
        ],
    )
    def test_the_email_is_stored_trimmed_with_its_domain_lower_cased(
        self, auth: Auth, given: str, stored: str
    ) -> None:
        user = auth.register_user(given, PASSWORD)

        assert user.email == stored
        assert auth.db.find_user_by(id=user.id).email == stored

    def test_the_profile_shows_the_stored_email(self, client: FlaskClient) -> None:
        client.post("/users", data={"email": " Bob@Example.COM ", "password": PASSWORD})
        client.post("/sessions", data={"email": "bob@example.com", "password": PASSWORD})

        assert client.get("/profile").get_json() == {"email": "Bob@example.com"}


class TestUniqueEmail:
    @pytest.mark.parametrize(
        "second",
        ["Bob@Example.COM", "BOB@EXAMPLE.COM", " bob@example.com", "bob@EXAMPLE.com \t"],
        ids=["mixed-case", "upper-case", "leading-space", "domain-case-and-spaces"],
    )
    def test_an_email_differing_only_in_case_or_spaces_is_taken(
        self, auth: Auth, second: str
    ) -> None:
        auth.register_user("bob@example.com", PASSWORD)

        with pytest.raises(ValueError, match="already exists"):
            auth.register_user(second, "another password")
        assert auth.valid_login("bob@example.com", PASSWORD)

    def test_registering_bob_in_capitals_after_bob_is_400_email_already_registered(
        self, client: FlaskClient
    ) -> None:
        first = client.post("/users", data={"email": "bob@example.com", "password": PASSWORD})
        assert first.status_code == 200

        second = client.post("/users", data={"email": "Bob@Example.COM", "password": PASSWORD})

        assert second.status_code == 400
        assert second.get_json() == {"message": "email already registered"}

    def test_a_non_ascii_email_is_unique_case_insensitively(self, auth: Auth) -> None:
        auth.register_user("Ünal@example.com", PASSWORD)

        with pytest.raises(ValueError, match="already exists"):
            auth.register_user("ünal@example.com", "another password")


class TestLoginEmail:
    @pytest.mark.parametrize(
        "attempt",
        ["bob@example.com", "Bob@Example.COM ", "BOB@EXAMPLE.COM", "  bob@EXAMPLE.com"],
        ids=["lower-case", "as-registered", "upper-case", "spaces-and-capitals"],
    )
    def test_an_email_logs_in_whatever_its_case_and_surrounding_spaces(
        self, auth: Auth, attempt: str
    ) -> None:
        auth.register_user("Bob@Example.COM ", PASSWORD)

        assert auth.valid_login(attempt, PASSWORD)
        assert auth.create_session(attempt) is not None

    def test_bob_registered_in_capitals_logs_in_over_http_as_lower_case_bob(
        self, client: FlaskClient
    ) -> None:
        client.post("/users", data={"email": "Bob@Example.COM ", "password": PASSWORD})

        response = client.post(
            "/sessions", data={"email": "bob@example.com", "password": PASSWORD}
        )

        assert response.status_code == 200
        assert client.get("/profile").status_code == 200

    def test_a_reset_token_is_issued_and_used_whatever_the_case(
        self, auth: Auth, client: FlaskClient
    ) -> None:
        auth.register_user("Bob@Example.COM", PASSWORD)
        token = auth.get_reset_password_token("BOB@example.com")

        response = client.put(
            "/reset_password",
            data={"email": "bob@EXAMPLE.COM", "reset_token": token, "new_password": "t4rt1fl3tt3"},
        )

        assert response.status_code == 200
        assert auth.valid_login("bob@example.com", "t4rt1fl3tt3")

    def test_a_non_ascii_email_logs_in_as_registered(self, auth: Auth) -> None:
        auth.register_user("Ünal@example.com", PASSWORD)

        assert auth.valid_login("Ünal@example.com", PASSWORD)

    def test_another_email_does_not_log_in(self, auth: Auth) -> None:
        auth.register_user("bob@example.com", PASSWORD)

        assert not auth.valid_login("bob@example.org", PASSWORD)
        assert not auth.valid_login("bobby@example.com", PASSWORD)


class TestMalformedEmail:
    @MALFORMED
    def test_registration_with_a_malformed_email_is_400_with_a_clear_message(
        self, client: FlaskClient, email: str
    ) -> None:
        response = client.post("/users", data={"email": email, "password": PASSWORD})

        assert response.status_code == 400
        message = message_of(response.get_json())
        assert "email" in message
        assert message != "email already registered"

    @MALFORMED
    def test_registering_a_malformed_email_raises_value_error_and_stores_nothing(
        self, auth: Auth, email: str
    ) -> None:
        with pytest.raises(ValueError, match="email"):
            auth.register_user(email, PASSWORD)
        assert not auth.valid_login(email, PASSWORD)

    @MALFORMED
    def test_logging_in_with_a_malformed_email_is_401(
        self, client: FlaskClient, email: str
    ) -> None:
        response = client.post("/sessions", data={"email": email, "password": PASSWORD})

        assert response.status_code == 401

    @MALFORMED
    def test_asking_a_reset_for_a_malformed_email_is_403(
        self, client: FlaskClient, email: str
    ) -> None:
        assert client.post("/reset_password", data={"email": email}).status_code == 403

    def test_a_missing_email_is_400_email_is_required(self, client: FlaskClient) -> None:
        response = client.post("/users", data={"password": PASSWORD})

        assert response.status_code == 400
        assert message_of(response.get_json()) == "email is required"
