"""Mails as people expect them (issue 26, item 5, first half): every mail multipart, text and
HTML, from templates an operator overrides in USERAUTH_TEMPLATES_DIR, with the link in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lifecycle import EMAIL, PASSWORD, link_in, mail_to, mails_with
from tests.smtp import MailSink, ServiceFactory
from userauth.mail_templates import MailTemplates
from userauth.settings import AccountSettings, WebSettings

pytestmark = pytest.mark.databases("sqlite")

VERIFY = "Verify your email address"
OPTIONAL = AccountSettings(email_verification="optional")


def html_of(message: object) -> str:
    part = message.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    assert part is not None
    content: str = part.get_content()
    return content


class TestMultipart:
    def test_a_verification_mail_has_the_link_in_its_text_and_its_html(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("development", mail_to(mail), OPTIONAL)
        service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        service.outbox.join()
        mail.wait_for(EMAIL)
        [received] = mails_with(mail, EMAIL, VERIFY)
        assert received.message.get_content_type() == "multipart/alternative"
        link, _ = link_in(received)
        assert f'href="{link}"' in html_of(received.message)
        assert "If you did not create an account" in html_of(received.message)

    def test_a_reset_mail_keeps_its_words_and_gains_an_html_part(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("production", hash_rounds=4)
        service.auth.register_user(EMAIL, PASSWORD)
        service.client.post("/reset_password", data={"email": EMAIL})
        service.outbox.join()
        [received] = mail.wait_for(EMAIL)
        link, _ = link_in(received)
        # Lines end as SMTP sends them (CRLF, RFC 5321 2.3.8); the words are the same.
        assert received.body.replace("\r\n", "\n") == (
            "Someone asked to reset the password of your account.\n\n"
            "To choose a new password, open this link within 30 minutes:\n\n"
            f"{link}\n\n"
            "If it was not you, ignore this message: your password has not changed.\n"
        )
        assert f'href="{link}"' in html_of(received.message)


class TestOverrides:
    def test_an_operators_template_replaces_the_built_in_one(
        self, make_service: ServiceFactory, mail: MailSink, tmp_path: Path
    ) -> None:
        folder = tmp_path / "userauth" / "mail"
        folder.mkdir(parents=True)
        (folder / "verify_email.txt").write_text("Hello from ACME. Verify: {{ link }}\n")
        service = make_service(
            "development", mail_to(mail), OPTIONAL, WebSettings(templates_dir=str(tmp_path))
        )
        service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        service.outbox.join()
        mail.wait_for(EMAIL)
        [received] = mails_with(mail, EMAIL, VERIFY)
        link, _ = link_in(received)
        assert received.body.replace("\r\n", "\n") == f"Hello from ACME. Verify: {link}\n"
        # The HTML part not overridden stays the built-in one.
        assert "Verify my email address" in html_of(received.message)

    def test_html_escapes_what_it_is_given_and_text_keeps_it(self) -> None:
        link = 'https://example.com/x?a=1&b="<script>"'
        message = MailTemplates(None).render("invitation", "Invited", link=link, days=7)
        assert link in message.text
        assert "<script>" not in message.html
        assert "&lt;script&gt;" in message.html


# Each built-in mail, the values it is given, and its first sentence in English and French.
MAILS: dict[str, tuple[dict[str, object], str]] = {
    "reset": ({"link": "https://x.example/r?token=t", "minutes": 30}, "Someone asked to reset"),
    "account_exists": ({"forgot_link": "https://x.example/f"}, "Someone tried to create"),
    "verify_email": ({"link": "https://x.example/v?token=t", "hours": 24}, "Please confirm"),
    "email_change": (
        {"link": "https://x.example/c?token=t", "hours": 24},
        "Someone asked to move",
    ),
    "email_taken": ({}, "Someone asked to move another"),
    "invitation": ({"link": "https://x.example/s?invitation=t", "days": 7}, "You are invited"),
}


class TestInFrench:
    @pytest.mark.parametrize("name", sorted(MAILS))
    def test_every_built_in_mail_is_written_in_french_in_both_parts(self, name: str) -> None:
        values, english = MAILS[name]
        message = MailTemplates(None).render(name, "Reset your password", "fr", **values)
        assert message.subject == "Réinitialisez votre mot de passe"
        assert '<html lang="fr">' in message.html
        for part in (message.text, message.html):
            assert english not in part
            assert "ignorez ce message" in part
        for value in values.values():
            assert str(value) in message.text

    def test_english_is_the_default(self) -> None:
        message = MailTemplates(None).render("email_taken", "Your email address is already in use")
        assert '<html lang="en">' in message.html
        assert message.text.startswith("Someone asked to move another account")
