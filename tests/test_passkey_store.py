"""Passkeys at rest (issue 25), on both databases: one account per credential, counters that
only move forward once, single-use challenges kept as digests, the last way in kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.authenticator import SoftAuthenticator
from tests.conftest import FakeClock
from tests.storage import everything_stored
from userauth.audit import NO_CLIENT
from userauth.auth import Auth
from userauth.db import LiveSession, NewPasskey
from userauth.errors import PasskeyNotFoundError
from userauth.passkey_terms import LOGIN, REGISTER, RelyingParty, new_challenge

PASSWORD = "a long enough password"
RP = RelyingParty("localhost", ("http://localhost",))


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


def logged_in(auth: Auth, email: str) -> LiveSession:
    auth.register_user(email, PASSWORD)
    result = auth.login(email, PASSWORD)
    return auth.require_session(result.session_id)


def passkey(credential_id: str = "Y3JlZA") -> NewPasskey:
    return NewPasskey(credential_id=credential_id, public_key="a2V5", name="Laptop")


class TestCredentials:
    def test_a_credential_belongs_to_one_account_only(self, auth: Auth, clock: FakeClock) -> None:
        ann, bob = logged_in(auth, "ann@example.com"), logged_in(auth, "bob@example.com")
        assert auth.db.add_passkey(
            ann.user_id, "aGFuZGxlMQ", passkey(), clock(), keep_session=ann.id
        )

        taken = auth.db.add_passkey(
            bob.user_id, "aGFuZGxlMg", passkey(), clock(), keep_session=bob.id
        )

        assert taken is False
        assert auth.db.passkeys_of(bob.user_id) == []
        assert auth.db.passkey_handle(bob.user_id) is None  # nothing of bob's was stored
        found = auth.db.passkey_by_credential("Y3JlZA")
        assert found is not None
        assert found[0].user_id == ann.user_id

    def test_of_two_logins_with_one_counter_value_one_wins(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        ann = logged_in(auth, "ann@example.com")
        auth.db.add_passkey(ann.user_id, "aGFuZGxl", passkey(), clock(), keep_session=ann.id)
        [stored] = auth.db.passkeys_of(ann.user_id)

        first = auth.db.use_passkey(stored.id, 0, 5, False, clock())
        second = auth.db.use_passkey(stored.id, 0, 5, False, clock())

        assert (first, second) == (True, False)
        assert auth.db.passkeys_of(ann.user_id)[0].sign_count == 5

    def test_the_last_passkey_of_an_account_without_a_password_stays(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        ann = logged_in(auth, "ann@example.com")
        auth.db.add_passkey(ann.user_id, "aGFuZGxl", passkey(), clock(), keep_session=ann.id)
        [stored] = auth.db.passkeys_of(ann.user_id)

        kept = auth.db.remove_passkey(
            ann.user_id, stored.id, has_password=False, keep_session=ann.id
        )
        removed = auth.db.remove_passkey(
            ann.user_id, stored.id, has_password=True, keep_session=ann.id
        )

        assert (kept, removed) == (None, True)
        assert auth.db.count_passkeys(ann.user_id) == 0


class TestHandles:
    def test_a_passkey_made_for_another_handle_than_the_accounts_is_refused(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        ann = logged_in(auth, "ann@example.com")
        assert auth.db.ensure_passkey_handle(ann.user_id, "aGFuZGxlMQ") == "aGFuZGxlMQ"

        stored = auth.db.add_passkey(
            ann.user_id, "aGFuZGxlMg", passkey(), clock(), keep_session=ann.id
        )

        assert stored is False
        assert auth.db.passkeys_of(ann.user_id) == []
        assert auth.db.passkey_handle(ann.user_id) == "aGFuZGxlMQ"

    def test_a_handle_is_stored_once_whatever_is_offered_next(self, auth: Auth) -> None:
        ann = logged_in(auth, "ann@example.com")

        first = auth.db.ensure_passkey_handle(ann.user_id, "aGFuZGxlMQ")
        second = auth.db.ensure_passkey_handle(ann.user_id, "aGFuZGxlMg")

        assert (first, second) == ("aGFuZGxlMQ", "aGFuZGxlMQ")

    def test_two_ceremonies_begun_in_parallel_before_the_first_passkey_both_log_in(
        self, auth: Auth
    ) -> None:
        ann = logged_in(auth, "ann@example.com")
        start = threading.Barrier(2)

        def begin(_: int) -> dict[str, Any]:
            start.wait()
            options: dict[str, Any] = json.loads(
                auth.passkey_registrations.registration_options(ann, RP)
            )
            return options

        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(begin, range(2)))
        authenticators = [SoftAuthenticator(), SoftAuthenticator()]
        for options, authenticator in zip(both, authenticators, strict=True):
            credential = authenticator.create(options, RP.origins[0])
            auth.passkey_registrations.register(ann, RP, credential, "Laptop", NO_CLIENT)

        for authenticator in authenticators:
            begun = auth.passkey_logins.options(RP, None)
            assertion = authenticator.get(json.loads(begun.options_json), RP.origins[0])
            done = auth.passkey_logins.login(RP, begun.cookie, assertion, NO_CLIENT)
            assert done.user.id == ann.user_id
        assert auth.db.count_passkeys(ann.user_id) == 2


class TestChallenges:
    def test_a_challenge_is_taken_once_for_its_purpose_and_binding_before_it_expires(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        now = clock()
        _, digest = new_challenge()
        later = now + timedelta(minutes=5)
        auth.db.add_webauthn_challenge(digest, LOGIN, "b" * 64, None, None, now, later)

        assert auth.db.take_webauthn_challenge(digest, REGISTER, "b" * 64, now) is None
        assert auth.db.take_webauthn_challenge(digest, LOGIN, "c" * 64, now) is None
        assert auth.db.take_webauthn_challenge(digest, LOGIN, "b" * 64, later) is None
        assert auth.db.take_webauthn_challenge(digest, LOGIN, "b" * 64, now) is not None
        assert auth.db.take_webauthn_challenge(digest, LOGIN, "b" * 64, now) is None

    def test_only_the_challenges_digest_is_stored(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        options = auth.passkey_logins.options(
            RelyingParty("localhost", ("http://localhost",)), None
        )
        challenge = json.loads(options.options_json)["challenge"]
        stored = everything_stored(engine, expected_table="webauthn_challenges")

        assert challenge not in stored
        assert options.cookie not in stored


class TestIds:
    @pytest.mark.parametrize("passkey_id", [0, 2**31, 2**40], ids=["zero", "2^31", "2^40"])
    def test_an_id_past_the_columns_range_is_no_passkey(
        self, auth: Auth, clock: FakeClock, passkey_id: int
    ) -> None:
        ann = logged_in(auth, "ann@example.com")

        with pytest.raises(PasskeyNotFoundError):
            auth.passkeys.rename(ann, passkey_id, "mine", NO_CLIENT)
        with pytest.raises(PasskeyNotFoundError):
            auth.passkeys.remove(ann, passkey_id, NO_CLIENT)
