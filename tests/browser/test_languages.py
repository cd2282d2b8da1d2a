"""The pages in French in a real browser (issue 26, item 5): Chromium set to fr-FR sends its
Accept-Language; sign-up, the verification mail's link and its button, then the login, all in
French. Debian's Chromium, driven by Playwright, through nginx."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import Stack, screenshot
from tests.browser.test_lifecycle import wait_for_link
from tests.browser.test_pages import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]


@pytest.fixture
def french_page(browser: Browser) -> Iterator[Page]:
    """A browser whose language is French (France): it asks for fr-FR, then fr."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 900, "height": 760}, locale="fr-FR"
    )
    yield context.new_page()
    context.close()


class TestFrenchReader:
    def test_signs_up_verifies_the_address_and_logs_in_in_french(
        self, french_page: Page, stack: Stack
    ) -> None:
        page = french_page
        page.goto(stack.url("/auth/signup"))
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page).to_have_title(re.compile("^Créer un compte"))
        page.get_by_label("Adresse e-mail").fill("amelie@example.com")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        screenshot(page, "signup-fr")
        page.get_by_role("button", name="Créer le compte").click()
        expect(page.get_by_role("status")).to_contain_text("Votre compte est prêt")

        path = wait_for_link(stack.mail, "amelie@example.com", "Vérifiez votre adresse e-mail")
        page.goto(stack.url(path))
        page.get_by_role("button", name="Vérifier mon adresse e-mail").click()
        expect(page.get_by_role("status")).to_contain_text("Votre adresse e-mail est vérifiée")

        page.get_by_label("Adresse e-mail").fill("amelie@example.com")
        page.get_by_label("Mot de passe").fill("not the password")
        page.get_by_role("button", name="Se connecter", exact=True).click()
        expect(page.locator("#password-error")).to_have_text(
            "adresse e-mail ou mot de passe erroné"
        )
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter", exact=True).click()
        expect(page).to_have_url(re.compile(r"/auth/account$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte")
        expect(page.get_by_text("Cette adresse est vérifiée.")).to_be_visible()
