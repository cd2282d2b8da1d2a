"""Who may sign up (issue 26, item 3): USERAUTH_SIGNUP open|invite|closed, and invitations
made by `userauth user invite`, whose sign-up makes an account with a verified address."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import TEST_BCRYPT_ROUNDS, FakeClock
from tests.lifecycle import EMAIL, OTHER, PASSWORD, csrf_token, link_in, mail_to
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.settings import AccountSettings

pytestmark = pytest.mark.databases("sqlite")

INVITE = AccountSettings(signup="invite")
CLOSED = AccountSettings(signup="closed")
INVITED = "You are invited to create an account"


def dev_service(make_service: ServiceFactory, mail: MailSink, *sections: object) -> Service:
    return make_service("development", mail_to(mail), *sections)  # type: ignore[arg-type]


def userauth(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "userauth", *args],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def invitation_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["invitation"][0]


def invite(service: Service, email: str = EMAIL) -> str:
    return invitation_of(service.auth.invitations.invite(email, None))


def sign_up(
    service: Service, email: str = EMAIL, invitation: str | None = None
) -> tuple[int, object]:
    data = {"email": email, "password": PASSWORD}
    if invitation is not None:
        data["invitation"] = invitation
    answer = service.client.post("/users", data=data)
    return answer.status_code, answer.json


class TestOpen:
    def test_sign_up_answers_as_the_design(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail)
        assert sign_up(service) == (200, {"email": EMAIL, "message": "user created"})

    def test_an_invitation_also_works_and_verifies_the_address(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail)
        assert sign_up(service, invitation=invite(service))[0] == 200
        user = service.auth.accounts.find(EMAIL)
        assert user is not None
        assert user.email_verified


class TestClosed:
    def test_the_api_refuses_every_sign_up(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, CLOSED)
        assert sign_up(service) == (403, {"message": "sign-up is closed"})
        assert service.auth.accounts.find(EMAIL) is None

    def test_the_page_says_so_and_shows_no_form(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, CLOSED)
        page = service.client.get("/auth/signup")
        assert page.status_code == 403
        assert "Sign-up is closed" in page.get_data(as_text=True)
        assert "<button" not in page.get_data(as_text=True)

    def test_userauth_user_create_still_makes_accounts(
        self, make_service: ServiceFactory, mail: MailSink, database_url: str
    ) -> None:
        service = dev_service(make_service, mail, CLOSED)
        done = userauth(
            database_url, "user", "create", EMAIL, "--password", PASSWORD,
            USERAUTH_SIGNUP="closed",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert service.auth.valid_login(EMAIL, PASSWORD)


class TestInvite:
    def test_a_sign_up_without_an_invitation_is_refused(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        assert sign_up(service) == (403, {"message": "sign-up needs an invitation"})

    def test_a_passkey_sign_up_is_refused_too(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        answer = service.client.post("/users/passkey/options", data={"email": EMAIL})
        assert (answer.status_code, answer.json) == (
            403,
            {"message": "sign-up needs an invitation"},
        )

    def test_the_cli_prints_a_link_without_a_mail_server_and_it_signs_up_once(
        self, make_service: ServiceFactory, mail: MailSink, database_url: str
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        done = userauth(database_url, "user", "invite", EMAIL)
        assert done.returncode == 0, done.stderr
        link = done.stdout.strip().splitlines()[-1]
        assert urlsplit(link).path == "/auth/signup"
        invitation = invitation_of(link)
        assert sign_up(service, invitation=invitation) == (
            200,
            {"email": EMAIL, "message": "user created"},
        )
        assert sign_up(service, OTHER, invitation) == (
            403,
            {"message": "invalid or expired link"},
        )

    def test_the_cli_mails_the_link_with_a_mail_server(
        self, make_service: ServiceFactory, mail: MailSink, database_url: str
    ) -> None:
        dev_service(make_service, mail, INVITE)
        done = userauth(
            database_url, "user", "invite", EMAIL,
            USERAUTH_SMTP_HOST="127.0.0.1", USERAUTH_SMTP_PORT=str(mail.port),
            USERAUTH_SMTP_TLS="none",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        [message] = mail.wait_for(EMAIL)
        assert str(message.message["Subject"]) == INVITED
        assert "/auth/signup?invitation=" in message.body

    def test_the_cli_refuses_an_address_that_has_an_account(
        self, make_service: ServiceFactory, mail: MailSink, database_url: str
    ) -> None:
        service = dev_service(make_service, mail)
        service.auth.register_user(EMAIL, PASSWORD)
        done = userauth(database_url, "user", "invite", EMAIL)
        assert done.returncode == 2
        assert f"User {EMAIL} already exists" in done.stderr

    def test_an_invitation_signs_up_only_its_own_address(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        invitation = invite(service)
        assert sign_up(service, OTHER, invitation)[0] == 403
        assert sign_up(service, EMAIL, invitation)[0] == 200

    def test_an_invitation_lives_7_days(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        invitation = invite(service)
        clock.advance(days=7, seconds=1)
        assert sign_up(service, invitation=invitation)[0] == 403

    def test_the_invited_account_is_verified(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        sign_up(service, invitation=invite(service))
        service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        me = service.client.get("/me").json
        assert me is not None
        assert me["email_verified"] is True

    def test_the_sign_up_page_carries_the_invitation(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        invitation = invite(service)
        assert service.client.get("/auth/signup").status_code == 403
        path = f"/auth/signup?invitation={invitation}"
        shown = service.client.get(path)
        assert shown.status_code == 200
        assert f'name="invitation" value="{invitation}"' in shown.get_data(as_text=True)
        answer = service.client.post(
            "/auth/signup",
            data={
                "csrf_token": csrf_token(service.client, path),
                "email": EMAIL,
                "password": PASSWORD,
                "invitation": invitation,
            },
        )
        assert answer.status_code == 302
        me = service.client.get("/me").json
        assert me is not None
        assert (me["email"], me["email_verified"]) == (EMAIL, True)

    def test_the_page_says_next_to_the_email_when_the_invitation_is_not_its(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail, INVITE)
        invitation = invite(service)
        path = f"/auth/signup?invitation={invitation}"
        answer = service.client.post(
            "/auth/signup",
            data={
                "csrf_token": csrf_token(service.client, path),
                "email": OTHER,
                "password": PASSWORD,
                "invitation": invitation,
            },
        )
        assert answer.status_code == 403
        assert 'id="email-error">This invitation is invalid' in answer.get_data(as_text=True)


class TestChangeOfEmail:
    def test_an_invitation_of_an_address_an_account_leaves_dies(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = dev_service(make_service, mail)
        invitation = invite(service)
        sign_up(service)
        service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        service.client.put("/profile/email", data={"new_email": OTHER})
        service.outbox.join()
        [confirm] = [m for m in mail.wait_for(OTHER) if "Confirm" in str(m.message["Subject"])]
        token = link_in(confirm)[1]
        assert service.client.put("/email/change", data={"token": token}).status_code == 200
        assert sign_up(service, EMAIL, invitation)[0] == 403
