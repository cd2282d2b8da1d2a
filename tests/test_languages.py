"""The pages and mails in the reader's language (issue 26, item 5): USERAUTH_LANGUAGE, else
Accept-Language among the shipped languages (English, French), else English; the JSON API
stays English."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.lifecycle import EMAIL, PASSWORD, link_in, mail_to, mails_with
from tests.oidc_flow import authorize, logged_in_browser, register
from tests.second_factor import enrol
from tests.smtp import MailSink, ReceivedMail, Service, ServiceFactory
from tests.test_pages import sign_up, submit
from userauth.auth import Auth
from userauth.mail import SmtpMailer
from userauth.settings import AccountSettings, SettingsError, WebSettings
from userauth.settings.reader import EnvironmentReader
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")

FRENCH = "fr-FR,fr;q=0.9,en;q=0.5"
LANG = re.compile(r'<html lang="([^"]+)">')


def french(client: FlaskClient) -> FlaskClient:
    """Have every request of this client say it reads French first, as a French browser."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = FRENCH
    return client


def shown(answer: TestResponse) -> str:
    return html.unescape(answer.get_data(as_text=True))


def language(answer: TestResponse) -> str:
    found = LANG.search(answer.get_data(as_text=True))
    assert found is not None, answer.get_data(as_text=True)
    return found.group(1)


@pytest.fixture
def app_client(make_auth: Callable[..., Auth]) -> Callable[..., FlaskClient]:
    def build(*sections: object) -> FlaskClient:
        auth = make_auth(*sections)
        return create_app(auth.settings, auth).test_client()

    return build


class TestPagesInFrench:
    @pytest.mark.parametrize(
        ("path", "sentence"),
        [
            ("/auth/login", "Mot de passe oublié ?"),
            ("/auth/signup", "Créer le compte"),
            ("/auth/forgot", "Envoyer le lien"),
            (
                "/auth/reset?token=dead",
                "Ce lien est invalide ou a expiré : demandez-en un nouveau.",
            ),
            ("/auth/verify-email?token=dead", "depuis la page de votre compte"),
            ("/auth/confirm-email?token=dead", "Confirmez votre nouvelle adresse e-mail"),
        ],
        ids=["login", "signup", "forgot", "reset", "verify-email", "confirm-email"],
    )
    def test_a_french_reader_gets_the_page_in_french(
        self, app_client: Callable[..., FlaskClient], path: str, sentence: str
    ) -> None:
        answer = french(app_client()).get(path)
        assert language(answer) == "fr"
        assert sentence in shown(answer)

    def test_the_account_page_is_in_french(self, app_client: Callable[..., FlaskClient]) -> None:
        client = french(app_client())
        sign_up(client)
        page = shown(client.get("/auth/account"))
        for sentence in ("Votre compte", "Connecté en tant que", "Double authentification"):
            assert sentence in page
        assert "Log out" not in page

    def test_a_field_error_is_in_french_next_to_its_field(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        client = french(app_client())
        answer = submit(client, "/auth/login", "/auth/login", email=EMAIL, password="wrong")
        assert answer.status_code == 401
        assert (
            '<p class="field-error" id="password-error">adresse e-mail ou mot de passe erroné</p>'
            in shown(answer)
        )

    def test_a_missing_field_is_said_in_french(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        answer = submit(french(app_client()), "/auth/forgot", "/auth/forgot", email="")
        assert "l'adresse e-mail est obligatoire" in shown(answer)

    def test_a_flashed_notice_is_in_french(self, app_client: Callable[..., FlaskClient]) -> None:
        client = french(app_client())
        sign_up(client)
        answer = submit(client, "/auth/logout", "/auth/account")
        assert "Vous êtes déconnecté." in shown(client.get(answer.headers["Location"]))

    def test_the_second_step_and_the_setup_pages_are_in_french(
        self, app_client: Callable[..., FlaskClient], clock: FakeClock
    ) -> None:
        client = french(app_client())
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        setup = submit(client, "/auth/account/totp", "/auth/account")
        assert "Scannez ce code" in shown(setup)
        enrol(client, clock())
        # Another browser, with no session: the password, then the code's page.
        other = french(client.application.test_client())
        login = submit(other, "/auth/login", "/auth/login", email=EMAIL, password=PASSWORD)
        assert login.status_code == 302
        second = other.get(login.headers["Location"])
        assert "Saisissez le code à 6 chiffres" in shown(second)
        assert language(second) == "fr"

    def test_the_consent_page_is_in_french(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth()
        browser = logged_in_browser(french(create_app(auth.settings, auth).test_client()))
        page = authorize(browser, register(auth, first_party=False))
        assert page.status_code == 200
        assert "Autoriser Grafana ?" in shown(page)
        assert "avec votre adresse e-mail" in shown(page)


class TestChoosingTheLanguage:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("fr", "fr"),
            ("fr-CA", "fr"),
            ("en;q=0.5, fr;q=0.9", "fr"),
            ("fr;q=0.4, en;q=0.8", "en"),
            ("de, it;q=0.9", "en"),
            ("de, fr;q=0.3", "fr"),
            ("", "en"),
            ("*", "en"),
            ("fr;q=0, en", "en"),
        ],
        ids=[
            "fr",
            "regional",
            "q-values-fr",
            "q-values-en",
            "unknown",
            "fallback",
            "none",
            "any",
            "refused",
        ],
    )
    def test_accept_language_picks_among_the_shipped_languages(
        self, app_client: Callable[..., FlaskClient], header: str, expected: str
    ) -> None:
        answer = app_client().get("/auth/login", headers={"Accept-Language": header})
        assert language(answer) == expected
        assert ("Se connecter" in shown(answer)) is (expected == "fr")

    def test_the_setting_forces_its_language_whatever_the_header(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        client = app_client(WebSettings(language="fr"))
        answer = client.get("/auth/login", headers={"Accept-Language": "en-US,en"})
        assert language(answer) == "fr"
        assert "Mot de passe oublié ?" in shown(answer)

    def test_the_setting_can_force_english_for_a_french_reader(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        answer = french(app_client(WebSettings(language="en"))).get("/auth/login")
        assert language(answer) == "en"
        assert "Forgot your password?" in shown(answer)

    def test_the_setting_is_read_from_the_environment(self) -> None:
        read = WebSettings.read(EnvironmentReader({"USERAUTH_LANGUAGE": "fr"}))
        assert read.language == "fr"

    def test_a_language_without_a_catalogue_stops_start_up(self) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_LANGUAGE must be one of en, fr"):
            WebSettings.read(EnvironmentReader({"USERAUTH_LANGUAGE": "de"}))


def write_catalogue(
    folder: Path, language: str, messages: dict[str, str], named: str | None = None
) -> None:
    """Compile `messages` as the operator's catalogue of `language` (pybabel compile's .mo),
    in the folder `named` (the language's own name unless given)."""
    compiled = Catalog(locale=language)
    for message, translation in messages.items():
        compiled.add(message, translation)
    target = folder / "translations" / (named or language) / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as mo:
        write_mo(mo, compiled)


class TestOperatorsLanguages:
    def test_a_catalogue_in_the_templates_folder_adds_a_language(
        self, app_client: Callable[..., FlaskClient], tmp_path: Path
    ) -> None:
        write_catalogue(tmp_path, "de", {"Log in": "Anmelden"})
        read = WebSettings.read(
            EnvironmentReader({"USERAUTH_TEMPLATES_DIR": str(tmp_path), "USERAUTH_LANGUAGE": "de"})
        )
        assert read.language == "de"
        client = app_client(WebSettings(templates_dir=str(tmp_path)))
        answer = client.get("/auth/login", headers={"Accept-Language": "de-DE, fr;q=0.5"})
        assert language(answer) == "de"
        assert "<h1>Anmelden</h1>" in shown(answer)

    def test_the_operators_french_messages_win_over_the_built_in_ones(
        self, app_client: Callable[..., FlaskClient], tmp_path: Path
    ) -> None:
        write_catalogue(tmp_path, "fr", {"Log in": "Connexion"})
        answer = french(app_client(WebSettings(templates_dir=str(tmp_path)))).get("/auth/login")
        assert "<h1>Connexion</h1>" in shown(answer)
        assert "Mot de passe oublié ?" in shown(answer)  # the rest stays built in

    @pytest.mark.parametrize("folder", ["pt-BR", "xx"], ids=["hyphenated", "unknown"])
    def test_a_folder_babel_cannot_read_is_skipped_and_pages_stay_served(
        self, app_client: Callable[..., FlaskClient], tmp_path: Path, folder: str
    ) -> None:
        write_catalogue(tmp_path, "pt", {"Log in": "Entrar"}, named=folder)
        client = app_client(WebSettings(templates_dir=str(tmp_path)))

        answer = client.get("/auth/login", headers={"Accept-Language": folder})

        assert answer.status_code == 200
        assert language(answer) == "en"
        with pytest.raises(SettingsError, match="USERAUTH_LANGUAGE must be one of en, fr"):
            WebSettings.read(
                EnvironmentReader(
                    {"USERAUTH_TEMPLATES_DIR": str(tmp_path), "USERAUTH_LANGUAGE": folder}
                )
            )


class TestSecurityOfTranslatedPages:
    def test_a_french_form_without_its_csrf_token_is_refused_in_french(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        answer = french(app_client()).post(
            "/auth/login", data={"email": EMAIL, "password": PASSWORD}
        )
        assert answer.status_code == 400
        assert "Ce formulaire a expiré" in shown(answer)

    def test_a_french_page_has_the_same_content_security_policy(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        client = app_client()
        english = client.get("/auth/signup").headers["Content-Security-Policy"]
        in_french = french(client).get("/auth/signup").headers["Content-Security-Policy"]
        assert in_french == english
        assert "script-src 'self'" in in_french

    def test_a_value_in_a_translated_sentence_is_escaped(
        self, app_client: Callable[..., FlaskClient]
    ) -> None:
        client = french(app_client())
        # An email the domain accepts may hold an apostrophe or an ampersand, never markup.
        sign_up(client, "o'brien&co@example.com")
        page = client.get("/auth/account").get_data(as_text=True)
        assert "Connecté en tant que <strong>o&#39;brien&amp;co@example.com</strong>." in page


class TestJsonApiStaysEnglish:
    @pytest.mark.parametrize(
        ("method", "path", "fields", "status", "message"),
        [
            ("post", "/sessions", {"email": EMAIL, "password": "wrong"}, 401, None),
            ("post", "/users", {"email": "nobody", "password": PASSWORD}, 400, None),
            ("get", "/profile", {}, 403, None),
        ],
        ids=["login", "sign-up", "profile"],
    )
    def test_a_french_reader_gets_the_same_json(
        self,
        app_client: Callable[..., FlaskClient],
        method: str,
        path: str,
        fields: dict[str, str],
        status: int,
        message: str | None,
    ) -> None:
        client = app_client()
        english = getattr(client, method)(path, data=fields)
        in_french = getattr(client, method)(path, data=fields, headers={"Accept-Language": "fr"})
        assert in_french.status_code == english.status_code == status
        assert in_french.get_json() == english.get_json()
        if message is not None:
            assert in_french.get_json() == {"message": message}


def verification_service(
    make_service: ServiceFactory, mail: MailSink, *sections: object
) -> Service:
    return make_service(
        "development",
        mail_to(mail),
        AccountSettings(email_verification="optional"),
        *sections,  # type: ignore[arg-type]
    )


def parts(message: ReceivedMail) -> tuple[str, str]:
    text = message.message.get_body(preferencelist=("plain",))
    rich = message.message.get_body(preferencelist=("html",))
    assert text is not None
    assert rich is not None
    return text.get_content(), rich.get_content()


class TestMailsInTheAskersLanguage:
    def test_a_sign_up_from_a_french_reader_is_verified_by_a_french_mail(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = verification_service(make_service, mail)
        answer = service.client.post(
            "/users",
            data={"email": EMAIL, "password": PASSWORD},
            headers={"Accept-Language": FRENCH},
        )
        assert answer.status_code == 200
        service.outbox.join()
        [message] = mails_with(mail, EMAIL, "Vérifiez votre adresse e-mail")
        text, rich = parts(message)
        assert "Veuillez confirmer que cette adresse e-mail est la vôtre." in text
        assert "Si vous n'avez pas créé de compte" in text
        assert '<html lang="fr">' in rich
        assert "Vérifier mon adresse e-mail</a>" in rich
        assert "Ou copiez ce lien dans votre navigateur" in rich
        link_in(message)  # the link is there, whatever the language

    def test_a_change_of_email_from_the_french_page_mails_both_addresses_in_french(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = verification_service(make_service, mail)
        service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        client = french(service.client)
        answer = submit(
            client,
            "/auth/account/email",
            "/auth/account",
            new_email="lea.new@example.com",
            email_password=PASSWORD,
        )
        assert answer.status_code == 302
        assert "Un lien est en route vers lea.new@example.com" in shown(
            client.get(answer.headers["Location"])
        )
        service.outbox.join()
        mail.wait_for("lea.new@example.com")
        [link] = mails_with(mail, "lea.new@example.com", "Confirmez votre nouvelle adresse e-mail")
        text, rich = parts(link)
        assert "ouvrez ce lien dans les 24 heures" in text
        assert "Utiliser cette adresse e-mail</a>" in rich
        [notice] = mails_with(mail, EMAIL, "Un changement de votre adresse e-mail a été demandé")
        text, rich = parts(notice)
        assert "Quelqu'un connecté à votre compte" in text
        assert "Quelqu'un connecté à votre compte" in html.unescape(rich)

    def test_a_reader_of_english_gets_english_mail(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = verification_service(make_service, mail)
        service.client.post(
            "/users",
            data={"email": EMAIL, "password": PASSWORD},
            headers={"Accept-Language": "de"},
        )
        service.outbox.join()
        [message] = mails_with(mail, EMAIL, "Verify your email address")
        assert '<html lang="en">' in parts(message)[1]

    def test_the_setting_forces_the_mails_language(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = verification_service(make_service, mail, WebSettings(language="fr"))
        service.client.post(
            "/users",
            data={"email": EMAIL, "password": PASSWORD},
            headers={"Accept-Language": "en"},
        )
        service.outbox.join()
        assert len(mails_with(mail, EMAIL, "Vérifiez votre adresse e-mail")) == 1

    @pytest.mark.parametrize(
        ("language", "subject"),
        [
            (None, "You are invited to create an account"),
            ("fr", "Vous êtes invité à créer un compte"),
        ],
        ids=["default", "setting"],
    )
    def test_an_invitation_from_the_cli_is_in_the_settings_language(
        self, make_service: ServiceFactory, mail: MailSink, language: str | None, subject: str
    ) -> None:
        service = verification_service(make_service, mail, WebSettings(language=language))
        service.auth.invitations.invite("new@example.com", SmtpMailer(service.auth.settings))
        mail.wait_for("new@example.com")
        [message] = mails_with(mail, "new@example.com", subject)
        assert "/auth/signup?invitation=" in message.body
