"""The account page's lifecycle actions (issue 26): a new verification link, a new address,
the export and the deletion, each with its CSRF token and the password next to its field."""

from __future__ import annotations

import json

import pytest

from tests.lifecycle import EMAIL, PASSWORD, csrf_token, mail_to, mails_with
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.settings import AccountSettings

pytestmark = pytest.mark.databases("sqlite")

NEW = "lea.new@example.com"


@pytest.fixture
def service(make_service: ServiceFactory, mail: MailSink) -> Service:
    built = make_service(
        "development", mail_to(mail), AccountSettings(email_verification="optional")
    )
    built.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
    answer = built.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 200
    return built


def post(service: Service, path: str, **fields: str) -> tuple[int, str]:
    token = csrf_token(service.client, "/auth/account")
    answer = service.client.post(path, data={"csrf_token": token, **fields})
    return answer.status_code, answer.get_data(as_text=True)


class TestVerification:
    def test_the_account_page_says_unverified_and_sends_a_link(
        self, service: Service, mail: MailSink
    ) -> None:
        page = service.client.get("/auth/account").get_data(as_text=True)
        assert "not verified yet" in page
        status, _ = post(service, "/auth/account/email/verification")
        assert status == 302
        service.outbox.join()
        assert len(mails_with(mail, EMAIL, "Verify your email address")) == 1


class TestChangeOfEmail:
    def test_a_wrong_password_is_said_next_to_its_field(self, service: Service) -> None:
        status, html = post(
            service, "/auth/account/email", new_email=NEW, email_password="wrong password"
        )
        assert status == 403
        assert 'id="email_password-error"' in html

    def test_a_malformed_address_is_said_next_to_its_field(self, service: Service) -> None:
        status, html = post(
            service, "/auth/account/email", new_email="nobody", email_password=PASSWORD
        )
        assert status == 400
        assert 'id="new_email-error"' in html

    def test_the_right_password_sends_the_link(self, service: Service, mail: MailSink) -> None:
        status, _ = post(service, "/auth/account/email", new_email=NEW, email_password=PASSWORD)
        assert status == 302
        service.outbox.join()
        mail.wait_for(NEW)
        assert len(mails_with(mail, NEW, "Confirm your new email address")) == 1

    def test_without_the_forms_csrf_token_nothing_happens(
        self, service: Service, mail: MailSink
    ) -> None:
        answer = service.client.post(
            "/auth/account/email", data={"new_email": NEW, "email_password": PASSWORD}
        )
        assert answer.status_code == 400
        service.outbox.join()
        assert mail.to(NEW) == []


class TestLeaving:
    def test_the_export_downloads_the_accounts_json(self, service: Service) -> None:
        token = csrf_token(service.client, "/auth/account")
        answer = service.client.post(
            "/auth/account/export", data={"csrf_token": token, "leave_password": PASSWORD}
        )
        assert answer.status_code == 200
        assert "attachment" in answer.headers["Content-Disposition"]
        assert json.loads(answer.get_data(as_text=True))["profile"]["email"] == EMAIL

    def test_a_wrong_password_deletes_nothing(self, service: Service) -> None:
        status, html = post(service, "/auth/account/delete", leave_password="wrong password")
        assert status == 403
        assert 'id="leave_password-error"' in html
        assert service.client.get("/profile").json == {"email": EMAIL}

    def test_the_right_password_deletes_the_account_and_logs_out(self, service: Service) -> None:
        status, _ = post(service, "/auth/account/delete", leave_password=PASSWORD)
        assert status == 302
        assert service.client.get("/profile").status_code == 403
        assert service.auth.accounts.find(EMAIL) is None
