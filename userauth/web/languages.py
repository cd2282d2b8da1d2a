"""The pages' language: Flask-Babel wired to USERAUTH_LANGUAGE, else Accept-Language.

Flask-Babel asks for the locale only when a page or a flashed notice is translated, once per
request: the gate, the hot path and the JSON API (whose messages stay English, the design's
contract) never negotiate.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, get_locale

from userauth import languages
from userauth.settings import Settings


def install_languages(app: Flask, settings: Settings) -> None:
    """Translate the pages with the built-in catalogues and the operator's (which win)."""
    templates_dir = settings.web.templates_dir
    shipped = languages.available(templates_dir)
    forced = settings.web.language

    def select() -> str:
        return forced or languages.negotiate(request.headers.get("Accept-Language"), shipped)

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        languages.translation_directories(templates_dir)
    )
    # One Babel per app: its catalogue cache belongs to this app's folders.
    Babel(app, default_locale=languages.SOURCE, locale_selector=select)


def page_language() -> str:
    """Return the language of the page being rendered (`fr`), for `<html lang>`."""
    locale = get_locale()
    return languages.SOURCE if locale is None else str(locale).replace("_", "-")


def accept_language() -> str:
    """Return the request's Accept-Language as sent ("" without one), for mail it queues."""
    return request.headers.get("Accept-Language", "")
