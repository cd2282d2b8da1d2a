"""Security notices of second factors (issue 24): mailed to the owner through the outbox,
with the records that must never show a secret in their repr."""

from __future__ import annotations

from tests.conftest import FakeClock
from tests.second_factor import (
    EMAIL,
    PASSWORD,
    enrol,
    oathtool_code,
    password_step,
    sign_up_and_log_in,
)
from tests.smtp import MailSink, ServiceFactory
from userauth.admin import Admin
from userauth.auth import NO_CLIENT, Auth
from userauth.settings import FactorSettings, MailSettings


def mail_to(mail: MailSink) -> MailSettings:
    """Development's mail settings, sending to the test's SMTP sink."""
    return MailSettings(smtp_host="127.0.0.1", smtp_port=mail.port, smtp_tls="none")


def subjects(mail: MailSink, count: int) -> list[str]:
    return [str(message.message["Subject"]) for message in mail.wait_for(EMAIL, count)]


class TestNotices:
    def test_a_locked_second_step_mails_its_owner_once(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = make_service("development", mail_to(mail), FactorSettings(code_failures=2))
        sign_up_and_log_in(service.client)
        enrol(service.client, clock())
        device = service.app.test_client()
        password_step(device)

        statuses = [
            device.post("/sessions/second-factor", data={"code": "000000"}).status_code
            for _ in range(4)
        ]

        assert statuses == [401, 401, 429, 429]
        service.outbox.join()
        assert subjects(mail, 1) == ["Wrong two-factor codes: your password may be known"]
        assert len(mail.to(EMAIL)) == 1

    def test_using_a_recovery_code_mails_its_owner(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = make_service("development", mail_to(mail))
        sign_up_and_log_in(service.client)
        codes = enrol(service.client, clock()).recovery_codes
        service.client.delete("/sessions")
        password_step(service.client)

        answer = service.client.post("/sessions/second-factor", data={"code": codes[0]})

        assert answer.status_code == 200
        service.outbox.join()
        assert "A recovery code was used" in subjects(mail, 1)
        notice = [m for m in mail.to(EMAIL) if "recovery code" in str(m.message["Subject"])]
        assert codes[0] not in notice[0].body

    def test_an_administrators_reset_mails_its_owner(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = make_service("development", mail_to(mail))
        sign_up_and_log_in(service.client)
        enrol(service.client, clock())

        assert Admin(service.auth).reset_factors(EMAIL)

        service.outbox.join()
        assert "Your two-factor authentication was removed" in subjects(mail, 1)


class TestRecordsHideTheirSecrets:
    def test_no_seed_challenge_or_hash_shows_in_a_repr(self, auth: Auth, clock: FakeClock) -> None:
        auth.register_user(EMAIL, PASSWORD)
        session_id = auth.login(EMAIL, PASSWORD).session_id
        live = auth.require_session(session_id)
        begun = auth.begin_totp(live)
        auth.confirm_totp(live, oathtool_code(begun.secret, clock()), NO_CLIENT)
        [stored] = auth.db.factors_of(live.user_id)
        pending = auth.login(EMAIL, PASSWORD)

        shown = " ".join(repr(record) for record in (live, begun, stored, pending))

        assert begun.secret not in shown
        assert stored.secret is not None
        assert stored.secret not in shown
        assert pending.challenge is not None
        assert pending.challenge not in shown
        assert live.hashed_password.decode() not in shown
