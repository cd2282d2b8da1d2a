"""A disabled account is treated like an unknown email in every flow (issue 11, 8c)."""

from __future__ import annotations

import pytest

from tests.smtp import MailSink, Service, ServiceFactory
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.errors import InvalidTokenError, UnknownEmailError

EMAIL = "eve@example.com"
PASSWORD = "violet-kettle-orbit-42"
NEW_PASSWORD = "amber-lantern-quiet-17"


def disable(auth: Auth, email: str = EMAIL) -> None:
    """Disable the account as `userauth user disable` does."""
    Admin(auth).disable_user(email)


@pytest.fixture
def disabled(auth: Auth) -> Auth:
    """An Auth where eve@example.com registered, then was disabled."""
    auth.register_user(EMAIL, PASSWORD)
    disable(auth)
    return auth


class TestTheDomain:
    def test_login_fails(self, disabled: Auth) -> None:
        assert not disabled.login(EMAIL, PASSWORD).succeeded
        assert not disabled.valid_login(EMAIL, PASSWORD)

    def test_no_session_is_created(self, disabled: Auth) -> None:
        assert disabled.create_session(EMAIL) is None

    def test_a_reset_token_is_refused_as_for_an_unknown_email(self, disabled: Auth) -> None:
        with pytest.raises(UnknownEmailError):
            disabled.get_reset_password_token(EMAIL)

    def test_a_token_issued_before_the_account_was_disabled_is_void(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        token = auth.get_reset_password_token(EMAIL)
        disable(auth)
        with pytest.raises(InvalidTokenError):
            auth.reset_password(EMAIL, token, NEW_PASSWORD)
        with pytest.raises(InvalidTokenError):
            auth.update_password(token, NEW_PASSWORD)

    def test_a_token_issued_before_is_void_even_once_enabled_again(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        token = auth.get_reset_password_token(EMAIL)
        disable(auth)
        Admin(auth).enable_user(EMAIL)
        with pytest.raises(InvalidTokenError):
            auth.update_password(token, NEW_PASSWORD)

    def test_an_administrator_still_finds_it(self, disabled: Auth) -> None:
        details = Admin(disabled).show_user(EMAIL)
        assert details.disabled_at is not None


class TestTheApi:
    def test_login_is_401(self, client_of_disabled: Service) -> None:
        response = client_of_disabled.client.post(
            "/sessions", data={"email": EMAIL, "password": PASSWORD}
        )
        assert response.status_code == 401

    def test_a_reset_request_is_403_in_development(self, client_of_disabled: Service) -> None:
        response = client_of_disabled.client.post("/reset_password", data={"email": EMAIL})
        assert response.status_code == 403
        assert response.get_json() == {"message": "email not registered"}

    def test_a_reset_with_a_token_issued_before_is_403(self, make_service: ServiceFactory) -> None:
        service = make_service("development")
        service.auth.register_user(EMAIL, PASSWORD)
        answer = service.client.post("/reset_password", data={"email": EMAIL})
        token = answer.get_json()["reset_token"]
        disable(service.auth)

        response = service.client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD},
        )

        assert response.status_code == 403
        assert not service.auth.valid_login(EMAIL, NEW_PASSWORD)


@pytest.fixture
def client_of_disabled(make_service: ServiceFactory) -> Service:
    service = make_service("development")
    service.auth.register_user(EMAIL, PASSWORD)
    disable(service.auth)
    return service


class TestProduction:
    def test_a_reset_request_mails_nothing(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("production")
        service.auth.register_user(EMAIL, PASSWORD)
        disable(service.auth)

        response = service.client.post("/reset_password", data={"email": EMAIL})
        service.outbox.join()

        assert response.status_code == 200
        assert mail.to(EMAIL) == []
