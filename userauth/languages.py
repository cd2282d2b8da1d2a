"""The languages pages and mails are written in: which exist, and which one a reader gets.

English is the source language (every message is written in it); each other language is a
gettext catalogue, `<folder>/<language>/LC_MESSAGES/messages.mo`, in the built-in folder
(userauth/translations/: French) or in the operator's `USERAUTH_TEMPLATES_DIR/translations/`,
whose messages win over the built-in ones. The reader's language is USERAUTH_LANGUAGE when
set, else the best of these for the request's Accept-Language (RFC 9110 12.5.4, q-values
honoured), else English.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

logger = logging.getLogger(__name__)

SOURCE = "en"
DOMAIN = "messages"
BUILT_IN = Path(__file__).resolve().parent / "translations"
# A header longer than this names no language worth reading (Werkzeug parses it all).
MAX_ACCEPT_LANGUAGE = 256


def translation_directories(templates_dir: str | None) -> tuple[str, ...]:
    """Return the catalogue folders, the built-in one first (later folders win)."""
    folders = [str(BUILT_IN)]
    if templates_dir:
        folders.append(str(Path(templates_dir) / "translations"))
    return tuple(folders)


@lru_cache(maxsize=8)
def available(templates_dir: str | None) -> tuple[str, ...]:
    """Return the languages there is a catalogue for, English first (e.g. `("en", "fr")`).

    A folder whose name Babel does not know as a locale (`pt-BR` rather than `pt_BR`, `xx`)
    is skipped with a warning: Flask-Babel could not format a page in it.
    """
    found = {SOURCE}
    for folder in translation_directories(templates_dir):
        root = Path(folder)
        if root.is_dir():
            found.update(
                entry.name
                for entry in root.iterdir()
                if (entry / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file() and _is_locale(entry)
            )
    return (SOURCE, *sorted(found - {SOURCE}))


def _is_locale(folder: Path) -> bool:
    try:
        Locale.parse(folder.name)
    except (ValueError, UnknownLocaleError):
        logger.warning(
            "translations folder %s skipped: %r is not a locale name Babel knows "
            "(language, or language_TERRITORY as in pt_BR)",
            folder,
            folder.name,
        )
        return False
    return True


def negotiate(accept_language: str | None, languages: tuple[str, ...]) -> str:
    """Return the language of `languages` the header prefers, else English.

    Tags are taken by quality (q-values, then their order); a tag names a language when it is
    the language or a region of it (RFC 4647 3.4 lookup): `de-DE, fr;q=0.5` → `de` when
    German exists, `fr-CH;q=0.9, en;q=0.5` → `fr`, `it` → `en`.
    """
    if not accept_language or len(accept_language) > MAX_ACCEPT_LANGUAGE:
        return SOURCE
    by_tag = {_tag(language): language for language in languages}
    for tag, quality in parse_accept_header(accept_language, LanguageAccept):
        if quality <= 0:
            continue
        wanted = _tag(tag)
        found = by_tag.get(wanted) or by_tag.get(wanted.split("-")[0])
        if found is not None:
            return found
    return SOURCE


def _tag(language: str) -> str:
    """`fr_CA`, `FR-ca` → `fr-ca`: Accept-Language's tags and catalogue names compared alike."""
    return language.replace("_", "-").lower()


@lru_cache(maxsize=32)
def translations(language: str, templates_dir: str | None) -> NullTranslations:
    """Return the merged catalogues of `language` (the operator's messages over the built-in
    ones); for English, or a language without a catalogue, the messages as written."""
    merged: NullTranslations = NullTranslations()
    for folder in translation_directories(templates_dir):
        catalogue = Translations.load(folder, [language], DOMAIN)
        if isinstance(catalogue, Translations):
            if isinstance(merged, Translations):
                merged.merge(catalogue)
            else:
                merged = catalogue
    return merged
