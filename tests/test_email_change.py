"""Change of email (issue 26, item 2): a link to the new address, a notice to the old, the
change applied only when the link is used, what dies with the old address, and uniqueness
under races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from tests.conftest import FakeClock
from tests.lifecycle import (
    EMAIL,
    OTHER,
    PASSWORD,
    csrf_token,
    link_in,
    mail_to,
    mails_with,
    token_mailed,
)
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.auth import Auth
from userauth.errors import EmailTakenError, InvalidTokenError
from userauth.settings import AccountSettings

pytestmark = pytest.mark.databases("sqlite")

NEW = "lea.new@example.com"
CONFIRM = "Confirm your new email address"
NOTICE = "A change of your email address was asked for"
TAKEN = "Your email address is already in use"
VERIFY = "Verify your email address"
CHANGE_SENT = {"message": "confirm the change from the new address"}


def dev_service(make_service: ServiceFactory, mail: MailSink, *sections: object) -> Service:
    return make_service("development", mail_to(mail), *sections)  # type: ignore[arg-type]


def signed_up_and_in(service: Service, email: str = EMAIL) -> None:
    service.client.post("/users", data={"email": email, "password": PASSWORD})
    answer = service.client.post("/sessions", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.json


def ask(service: Service, new: str = NEW) -> int:
    answer = service.client.put("/profile/email", data={"new_email": new})
    if answer.status_code == 202:
        assert answer.json == CHANGE_SENT
    return answer.status_code


def change_token(service: Service, mail: MailSink, new: str = NEW, count: int = 1) -> str:
    return token_mailed(service, mail, new, CONFIRM, count)


@pytest.fixture
def service(make_service: ServiceFactory, mail: MailSink) -> Service:
    """Return a development service where EMAIL has signed up and logged in."""
    logged_in = dev_service(make_service, mail)
    signed_up_and_in(logged_in)
    return logged_in


@pytest.fixture
def token(service: Service, mail: MailSink) -> str:
    """Ask to move EMAIL's account to NEW; return the token of the link mailed to NEW."""
    ask(service)
    return change_token(service, mail)


def confirm(service: Service, token: str) -> int:
    return service.client.put("/email/change", data={"token": token}).status_code


class TestAsking:
    def test_the_new_address_gets_a_link_and_the_old_one_a_notice(
        self, mail: MailSink, service: Service
    ) -> None:
        assert ask(service) == 202
        token = change_token(service, mail)
        link, _ = link_in(mails_with(mail, NEW, CONFIRM)[0])
        assert link.endswith(f"/auth/confirm-email?token={token}")
        mail.wait_for(EMAIL)
        assert len(mails_with(mail, EMAIL, NOTICE)) == 1
        # Nothing changed yet.
        assert service.client.get("/profile").json == {"email": EMAIL}

    def test_it_needs_a_session(self, make_service: ServiceFactory, mail: MailSink) -> None:
        service = dev_service(make_service, mail)
        assert ask(service) == 403

    def test_it_needs_a_recent_authentication(
        self, mail: MailSink, clock: FakeClock, service: Service
    ) -> None:
        clock.advance(minutes=11)
        answer = service.client.put("/profile/email", data={"new_email": NEW})
        assert (answer.status_code, answer.json) == (
            401,
            {"message": "re-authentication required"},
        )
        service.outbox.join()
        assert mail.to(NEW) == []

    def test_a_malformed_address_is_a_400(self, service: Service) -> None:
        assert ask(service, "not an address") == 400

    def test_a_taken_address_answers_the_same_and_changes_nothing(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail)
        service.auth.register_user(OTHER, PASSWORD)
        signed_up_and_in(service)
        assert ask(service, OTHER) == 202
        service.outbox.join()
        assert mails_with(mail, OTHER, CONFIRM) == []
        assert service.client.get("/profile").json == {"email": EMAIL}

    def test_in_production_a_taken_address_tells_its_owner(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("production", hash_rounds=4)
        service.auth.register_user(OTHER, PASSWORD)
        service.auth.register_user(EMAIL, PASSWORD)
        login = service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200
        assert ask(service, OTHER) == 202
        service.outbox.join()
        mail.wait_for(OTHER)
        assert len(mails_with(mail, OTHER, TAKEN)) == 1
        assert mails_with(mail, OTHER, CONFIRM) == []


class TestTheLink:
    def test_using_it_moves_the_account_keeps_the_session_and_verifies_the_address(
        self, mail: MailSink, service: Service
    ) -> None:
        ask(service)
        answer = service.client.put("/email/change", data={"token": change_token(service, mail)})
        assert answer.json == {"email": NEW, "message": "email changed"}
        assert service.client.get("/profile").json == {"email": NEW}
        me = service.client.get("/me").json
        assert me is not None
        assert (me["email"], me["email_verified"]) == (NEW, True)
        assert service.auth.valid_login(NEW, PASSWORD)
        assert not service.auth.valid_login(EMAIL, PASSWORD)

    def test_the_page_shows_one_button_and_only_its_post_changes(
        self, service: Service, token: str
    ) -> None:
        path = f"/auth/confirm-email?token={token}"
        shown = service.client.get(path)
        assert shown.status_code == 200
        assert shown.get_data(as_text=True).count("<button") == 1
        assert service.client.get("/profile").json == {"email": EMAIL}
        form = {"csrf_token": csrf_token(service.client, path), "token": token}
        assert service.client.post("/auth/confirm-email", data=form).status_code == 302
        assert service.client.get("/profile").json == {"email": NEW}

    def test_it_works_once(self, service: Service, token: str) -> None:
        assert (confirm(service, token), confirm(service, token)) == (200, 403)

    def test_it_dies_after_24_hours(self, clock: FakeClock, service: Service, token: str) -> None:
        clock.advance(hours=24, seconds=1)
        assert confirm(service, token) == 403

    def test_a_link_for_an_address_the_account_left_changes_nothing(
        self, mail: MailSink, service: Service
    ) -> None:
        ask(service)
        first = change_token(service, mail)
        ask(service, "third@example.com")
        second = change_token(service, mail, "third@example.com")
        assert confirm(service, second) == 200
        assert confirm(service, first) == 403
        assert service.client.get("/profile").json == {"email": "third@example.com"}

    def test_a_link_opened_while_logged_in_as_another_user_changes_only_its_account(
        self, service: Service, token: str
    ) -> None:
        other = service.app.test_client()
        signed_up_and_in(Service(service.app, service.auth, other), OTHER)
        path = f"/auth/confirm-email?token={token}"
        form = {"csrf_token": csrf_token(other, path), "token": token}
        other.post("/auth/confirm-email", data=form)
        assert other.get("/profile").json == {"email": OTHER}
        assert service.client.get("/profile").json == {"email": NEW}


class TestWhatDiesWithTheOldAddress:
    def test_a_reset_token_of_the_old_address_cannot_be_replayed(
        self, mail: MailSink, service: Service
    ) -> None:
        reset = service.client.post("/reset_password", data={"email": EMAIL}).json
        assert reset is not None
        ask(service)
        assert confirm(service, change_token(service, mail)) == 200
        for email in (EMAIL, NEW):
            replay = service.client.put(
                "/reset_password",
                data={"email": email, "reset_token": reset["reset_token"], "new_password": "x!"},
            )
            assert replay.status_code == 403, email
        assert service.auth.valid_login(NEW, PASSWORD)

    def test_a_verification_link_of_the_old_address_dies(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, AccountSettings(email_verification="optional"))
        signed_up_and_in(service)
        service.outbox.join()
        [verification] = mails_with(mail, EMAIL, VERIFY)
        ask(service)
        assert confirm(service, change_token(service, mail)) == 200
        answer = service.client.put(
            "/email/verification", data={"token": link_in(verification)[1]}
        )
        assert answer.status_code == 403

    @pytest.mark.databases("sqlite", "postgres")
    def test_no_token_is_stored_in_clear(
        self, engine: Engine, service: Service, token: str
    ) -> None:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM one_time_secrets")).all()
        assert token not in repr(rows)


@pytest.mark.databases("sqlite", "postgres")
class TestUniqueness:
    ROUNDS = 5

    def test_two_changes_and_a_sign_up_of_one_address_leave_it_to_one_account(
        self, make_service: ServiceFactory, mail: MailSink, engine: Engine
    ) -> None:
        service = dev_service(make_service, mail)
        auth = service.auth
        for round_ in range(self.ROUNDS):
            target = f"target{round_}@example.com"
            tokens = [self._pending_change(service, mail, n, round_, target) for n in range(2)]
            outcomes = self._race(auth, tokens, target)
            assert outcomes.count(True) == 1, outcomes
            with engine.connect() as connection:
                holders = connection.execute(
                    text("SELECT COUNT(*) FROM users WHERE email_key = :key"), {"key": target}
                ).scalar_one()
            assert holders == 1

    @staticmethod
    def _pending_change(service: Service, mail: MailSink, n: int, round_: int, target: str) -> str:
        email = f"racer{n}.{round_}@example.com"
        client = service.app.test_client()
        signed_up_and_in(Service(service.app, service.auth, client), email)
        answer = client.put("/profile/email", data={"new_email": target})
        assert answer.status_code == 202
        return change_token(service, mail, target, count=n + 1)

    @staticmethod
    def _race(auth: Auth, tokens: list[str], target: str) -> list[bool]:
        start = threading.Barrier(3)

        def change(token: str) -> bool:
            start.wait()
            try:
                auth.email_changes.confirm(token)
            except InvalidTokenError:
                return False
            return True

        def sign_up() -> bool:
            start.wait()
            try:
                auth.sign_up(target, PASSWORD)
            except EmailTakenError:
                return False
            return True

        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(change, token) for token in tokens]
            futures.append(pool.submit(sign_up))
            return [future.result(timeout=60) for future in futures]
