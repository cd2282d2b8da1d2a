"""The translation catalogues (userauth/translations/): every message the pages and mails
mark is in the French catalogue, translated, with the same placeholders, and the committed
.mo is the compiled .po. A new string without its translation fails here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "userauth" / "translations"
# The keywords README's `pybabel extract` names: flask_babel's lazy_gettext is imported as _l.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "N_": None}


def extracted() -> set[str]:
    """Return the ids of the messages marked in userauth/, as pybabel extract finds them."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]

    def within_package(path: str) -> bool:
        relative = os.path.relpath(path, ROOT)
        return relative == "." or relative.split(os.sep)[0] == "userauth"

    found = extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=within_package
    )
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in found:
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def catalogue(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def ids_of(messages: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in messages if m.id}


def messages_of(messages: Catalog) -> dict[object, object]:
    """Return each message's id and translation (plural forms as tuples, however read)."""

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {plain(m.id): plain(m.string) for m in messages if m.id}


@pytest.fixture(scope="module")
def marked() -> set[str]:
    return extracted()


class TestFrenchCatalogue:
    def test_every_marked_message_is_in_the_catalogue(self, marked: set[str]) -> None:
        assert len(marked) > 150  # the pages and mails, not an empty extraction
        assert marked - ids_of(catalogue("fr")) == set()

    def test_the_catalogue_holds_no_message_nothing_marks(self, marked: set[str]) -> None:
        assert ids_of(catalogue("fr")) - marked == set()

    def test_every_message_is_translated_and_none_is_fuzzy(self) -> None:
        french = catalogue("fr")
        assert not french.fuzzy
        for message in french:
            if not message.id:
                continue
            assert not message.fuzzy, message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings), message.id

    def test_each_translation_keeps_the_placeholders_of_its_message(self) -> None:
        problems = [
            (message.id, [str(error) for error in errors])
            for message, errors in catalogue("fr").check()
        ]
        assert problems == []

    def test_the_committed_mo_is_the_compiled_po(self) -> None:
        with (TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
            compiled = read_mo(mo)
        assert messages_of(compiled) == messages_of(catalogue("fr"))


class TestTemplate:
    def test_the_pot_lists_every_marked_message(self, marked: set[str]) -> None:
        with (TRANSLATIONS / "messages.pot").open("rb") as pot:
            assert ids_of(read_po(pot)) == marked
