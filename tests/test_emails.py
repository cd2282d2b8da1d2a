"""Emails: stored trimmed with the domain lower-cased; unique and found by one key everywhere."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.test_cli import userauth
from userauth import emails
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.emails import normalize

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


# The HTTP answers to a malformed email are a validation table of the web surface, refused
# before the store (docs/development.md): SQLite only. The store's refusal runs on both.
WEB_SURFACE = pytest.mark.databases("sqlite")


class TestMalformedEmail:
    @WEB_SURFACE
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

    @WEB_SURFACE
    @MALFORMED
    def test_logging_in_with_a_malformed_email_is_401(
        self, client: FlaskClient, email: str
    ) -> None:
        response = client.post("/sessions", data={"email": email, "password": PASSWORD})

        assert response.status_code == 401

    @WEB_SURFACE
    @MALFORMED
    def test_asking_a_reset_for_a_malformed_email_is_403(
        self, client: FlaskClient, email: str
    ) -> None:
        assert client.post("/reset_password", data={"email": email}).status_code == 403

    @WEB_SURFACE
    def test_a_missing_email_is_400_email_is_required(self, client: FlaskClient) -> None:
        response = client.post("/users", data={"password": PASSWORD})

        assert response.status_code == 400
        assert message_of(response.get_json()) == "email is required"


# Two spellings of one address under the email key (emails.lookup_key): the first is
# registered, the second must find that account everywhere, and never make a second one.
SAME_ADDRESS = pytest.mark.parametrize(
    ("registered", "other"),
    [
        ("σας@example.com", "ΣΑΣ@example.com"),
        ("ΣΑΣ@example.com", "σας@example.com"),
        ("straße@example.com", "STRASSE@example.com"),
        ("bob@example.com", "ＢＯＢ@example.com"),
        ("İrem@example.com", "i\u0307rem@example.com"),
        ("Irène@example.com", "IRE\u0300NE@example.com"),
        ("ǅemal@example.com", "DŽEMAL@example.com"),
    ],
    ids=[
        "greek-final-sigma",
        "greek-capitals-first",
        "eszett-and-ss",
        "fullwidth-letters",
        "turkish-dotted-capital-i",
        "combining-grave-accent",
        "titlecase-digraph",
    ],
)
# Addresses that look alike but are not the same: each is an account of its own.
DISTINCT_ADDRESSES = pytest.mark.parametrize(
    ("first", "second"),
    [
        ("irmak@example.com", "ırmak@example.com"),
        ("resume@example.com", "résumé@example.com"),
        ("bob@example.com", "bob@example.org"),
    ],
    ids=["dotless-i", "accents", "other-domain"],
)


def sign_up(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    return client.post("/users", data={"email": email, "password": password}).status_code


class TestTheEmailKey:
    @SAME_ADDRESS
    def test_two_spellings_of_one_address_have_one_key(self, registered: str, other: str) -> None:
        # The per-account rate limits key their counters by it (userauth/web/limits.py).
        assert emails.lookup_key(registered) == emails.lookup_key(other)

    @DISTINCT_ADDRESSES
    def test_addresses_that_only_look_alike_have_their_own_keys(
        self, first: str, second: str
    ) -> None:
        assert emails.lookup_key(first) != emails.lookup_key(second)

    def test_an_email_whose_key_is_over_250_characters_is_refused(self, auth: Auth) -> None:
        # U+FDFA is one character, and eighteen under NFKC.
        email = "\ufdfa" * 14 + "@example.com"
        with pytest.raises(ValueError, match="at most 250 characters"):
            auth.register_user(email, PASSWORD)


class TestSignUpUnderTheKey:
    @SAME_ADDRESS
    def test_the_other_spelling_is_taken_in_development(
        self, client: FlaskClient, auth: Auth, registered: str, other: str
    ) -> None:
        assert sign_up(client, registered) == 200

        second = client.post("/users", data={"email": other, "password": "another password"})

        assert (second.status_code, second.get_json()) == (
            400,
            {"message": "email already registered"},
        )
        assert Admin(auth).list_users().total == 1

    @DISTINCT_ADDRESSES
    def test_an_address_that_only_looks_alike_signs_up(
        self, client: FlaskClient, first: str, second: str
    ) -> None:
        assert sign_up(client, first) == 200
        assert sign_up(client, second) == 200


class TestLoginUnderTheKey:
    @SAME_ADDRESS
    def test_either_spelling_logs_in_to_the_one_account(
        self, client: FlaskClient, registered: str, other: str
    ) -> None:
        sign_up(client, registered)
        stored = normalize(registered)

        for spelling in (registered, other):
            login = client.post("/sessions", data={"email": spelling, "password": PASSWORD})
            assert login.status_code == 200, spelling
            assert client.get("/profile").get_json() == {"email": stored}


class TestResetUnderTheKey:
    @SAME_ADDRESS
    def test_the_other_spelling_asks_and_uses_the_accounts_reset_token(
        self, client: FlaskClient, auth: Auth, registered: str, other: str
    ) -> None:
        sign_up(client, registered)

        asked = client.post("/reset_password", data={"email": other})
        assert asked.status_code == 200
        reset = {"email": registered, "reset_token": asked.get_json()["reset_token"]}
        done = client.put("/reset_password", data={**reset, "new_password": "t4rt1fl3tt3"})

        assert done.status_code == 200
        assert auth.valid_login(other, "t4rt1fl3tt3")


class TestAdministrationUnderTheKey:
    @SAME_ADDRESS
    def test_user_disable_with_the_other_spelling_disables_the_one_account(
        self, database_url: str, auth: Auth, registered: str, other: str
    ) -> None:
        auth.register_user(registered, PASSWORD)

        result = userauth("user", "disable", other, database_url=database_url)

        assert result.returncode == 0, result.stderr
        assert not auth.valid_login(registered, PASSWORD)
        assert Admin(auth).show_user(registered).disabled_at is not None

    @SAME_ADDRESS
    def test_user_list_search_finds_the_account_by_the_other_spelling(
        self, auth: Auth, registered: str, other: str
    ) -> None:
        auth.register_user(registered, PASSWORD)
        auth.register_user("someone.else@example.com", PASSWORD)

        found = Admin(auth).list_users(search=other.partition("@")[0])

        assert [user.email for user in found.users] == [normalize(registered)]

    @SAME_ADDRESS
    def test_audit_list_finds_a_deleted_accounts_events_by_the_other_spelling(
        self, auth: Auth, registered: str, other: str
    ) -> None:
        auth.register_user(registered, PASSWORD)
        auth.create_session(registered)
        Admin(auth).delete_user(registered)

        events = Admin(auth).audit_events(email=other)

        assert [event.event for event in events] == ["admin_user_deleted", "login"]
        assert {event.email for event in events} == {normalize(registered)}


class TestTheStoreKeepsTheKey:
    def test_update_user_gives_a_new_email_its_key(self, auth: Auth) -> None:
        user = auth.register_user("first@example.com", PASSWORD)

        auth.db.update_user(user.id, email="ΣΑΣ@example.com")

        assert auth.valid_login("σας@example.com", PASSWORD)
        assert not auth.valid_login("first@example.com", PASSWORD)
        with pytest.raises(ValueError, match="already exists"):
            auth.register_user("σας@example.com", PASSWORD)

    def test_update_user_refuses_a_key_apart_from_its_email(self, auth: Auth) -> None:
        user = auth.register_user("bob@example.com", PASSWORD)

        with pytest.raises(ValueError, match="email_key"):
            auth.db.update_user(user.id, email_key="alice@example.com")
        assert auth.valid_login("bob@example.com", PASSWORD)

    def test_add_user_refuses_another_spelling_of_a_stored_email(self, auth: Auth) -> None:
        auth.db.add_user("σας@example.com", "hash one")

        with pytest.raises(ValueError, match="already exists"):
            auth.db.add_user("ΣΑΣ@example.com", "hash two")
