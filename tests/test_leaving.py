"""Leaving (issue 26, item 4): DELETE /account removes the account and every row of it, its
audit events keep a keyed digest of the address, the gate refuses its sessions at once
(caches included); GET /account/export answers everything stored but secrets."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from tests.conftest import FakeClock
from tests.lifecycle import EMAIL, PASSWORD, mail_to, mails_with
from tests.second_factor import enrol
from tests.smtp import MailSink, Service, ServiceFactory
from tests.test_session_cache import DELIVERY, email_of, eventually, warm
from userauth.auth import Auth
from userauth.leaving import DIGEST_PREFIX

pytestmark = pytest.mark.databases("sqlite")

DELETED = "Your account was deleted"
# Tables that hold rows of a user, by their user_id column.
USER_TABLES = [
    "sessions",
    "one_time_secrets",
    "factors",
    "recovery_codes",
    "pending_logins",
    "code_failures",
    "passkeys",
    "passkey_handles",
    "webauthn_challenges",
    "disabled_users",
    "mail_jobs",
]


def dev_service(make_service: ServiceFactory, mail: MailSink) -> Service:
    return make_service("development", mail_to(mail))


def signed_up_and_in(service: Service) -> int:
    service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
    answer = service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 200, answer.json
    user = service.auth.accounts.find(EMAIL)
    assert user is not None
    return user.id


def rows_of(engine: Engine, user_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        counts = {
            table: connection.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE user_id = :id"),  # noqa: S608
                {"id": user_id},
            ).scalar_one()
            for table in USER_TABLES
        }
        counts["users"] = connection.execute(
            text("SELECT COUNT(*) FROM users WHERE id = :id"), {"id": user_id}
        ).scalar_one()
    return counts


class TestDeleting:
    def test_it_needs_a_session(self, make_service: ServiceFactory, mail: MailSink) -> None:
        service = dev_service(make_service, mail)
        assert service.client.delete("/account").status_code == 403

    def test_it_needs_a_recent_authentication(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = dev_service(make_service, mail)
        signed_up_and_in(service)
        clock.advance(minutes=11)
        answer = service.client.delete("/account")
        assert (answer.status_code, answer.json) == (
            401,
            {"message": "re-authentication required"},
        )
        assert service.client.get("/profile").json == {"email": EMAIL}

    @pytest.mark.databases("sqlite", "postgres")
    def test_every_row_of_the_account_goes_and_its_sessions_are_refused_at_once(
        self, make_service: ServiceFactory, mail: MailSink, engine: Engine, clock: FakeClock
    ) -> None:
        service = dev_service(make_service, mail)
        user_id = signed_up_and_in(service)
        enrol(service.client, clock())
        service.client.post("/reset_password", data={"email": EMAIL})
        assert service.client.get("/auth/verify").status_code == 200
        assert rows_of(engine, user_id)["factors"] == 1

        answer = service.client.delete("/account")

        assert answer.json == {"message": "account deleted"}
        assert service.client.get("/auth/verify").status_code == 401
        assert service.client.get("/profile").status_code == 403
        assert set(rows_of(engine, user_id).values()) == {0}
        login = service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 401

    def test_another_servers_cache_refuses_the_session_at_once(
        self, auth: Auth, make_auth: Callable[..., Auth]
    ) -> None:
        other = make_auth()
        auth.register_user(EMAIL, PASSWORD)
        result = auth.login(EMAIL, PASSWORD)
        assert result.session_id is not None
        warm(other, result.session_id)
        auth.leaving.delete(auth.require_session(result.session_id))
        assert eventually(lambda: email_of(other, result.session_id or "") is None, DELIVERY)

    @pytest.mark.databases("sqlite", "postgres")
    def test_audit_events_stay_with_a_digest_in_place_of_the_address(
        self, make_service: ServiceFactory, mail: MailSink, engine: Engine
    ) -> None:
        service = dev_service(make_service, mail)
        user_id = signed_up_and_in(service)
        with engine.connect() as connection:
            before = connection.execute(
                text("SELECT COUNT(*) FROM audit_events WHERE user_id = :id"), {"id": user_id}
            ).scalar_one()

        service.client.delete("/account")

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT event, user_id, email, email_key FROM audit_events")
            ).all()
        assert EMAIL not in repr(rows)
        kept = [
            row for row in rows if row.email is not None and row.email.startswith(DIGEST_PREFIX)
        ]
        assert len(kept) == before + 1  # and the deletion itself
        assert {row.user_id for row in kept} == {None}
        assert {row.email for row in kept} == {kept[0].email_key}
        assert "account_deleted" in {row.event for row in kept}

    def test_a_notice_goes_to_the_address_and_it_may_sign_up_again(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail)
        signed_up_and_in(service)
        service.client.delete("/account")
        service.outbox.join()
        mail.wait_for(EMAIL)
        assert len(mails_with(mail, EMAIL, DELETED)) == 1
        again = service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        assert again.status_code == 200


class TestExport:
    def test_it_needs_a_recent_authentication(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = dev_service(make_service, mail)
        signed_up_and_in(service)
        assert service.app.test_client().get("/account/export").status_code == 403
        clock.advance(minutes=11)
        assert service.client.get("/account/export").status_code == 401

    def test_it_holds_everything_stored_but_secrets(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = dev_service(make_service, mail)
        user_id = signed_up_and_in(service)
        enrolled = enrol(service.client, clock())
        reset = service.client.post("/reset_password", data={"email": EMAIL}).json
        assert reset is not None

        answer = service.client.get("/account/export")

        assert answer.status_code == 200
        document = answer.json
        assert document is not None
        assert document["profile"]["id"] == user_id
        assert document["profile"]["email"] == EMAIL
        assert [factor["type"] for factor in document["factors"]] == ["totp"]
        assert document["recovery_codes_left"] == 10
        assert len(document["sessions"]) == 1
        assert "id" not in document["sessions"][0]
        events = {event["event"] for event in document["audit_events"]}
        assert {"user_registered", "login", "reset_requested"} <= events
        whole = json.dumps(document)
        session_id = service.client.get_cookie("session_id")
        assert session_id is not None
        user = service.auth.accounts.find(EMAIL)
        assert user is not None
        for secret in (
            enrolled.secret,
            *enrolled.recovery_codes,
            reset["reset_token"],
            session_id.value,
            user.hashed_password.decode(),
            PASSWORD,
        ):
            assert secret not in whole
