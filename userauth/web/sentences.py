"""The domain's sentences as the pages show them: in the reader's language.

The domain (and the JSON API, whose messages are the design's contract) speaks English; a
page shows the same sentence from the catalogue. A sentence with a value in it (a length, an
address) is matched by its pattern; one not known here is shown as the domain said it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# Each domain sentence, marked for the catalogue.
KNOWN = {
    "current password is wrong": _l("current password is wrong"),
    "wrong code": _l("wrong code"),
    "email is required": _l("email is required"),
    "no account with this email": _l("no account with this email"),
    "password is required": _l("password is required"),
    "password must not be the email address": _l("password must not be the email address"),
    "password is too common; choose one that is harder to guess": _l(
        "password is too common; choose one that is harder to guess"
    ),
    "too many attempts; try again later": _l("too many attempts; try again later"),
    "login expired; log in again": _l("login expired; log in again"),
    "two-factor authentication is already enabled": _l(
        "two-factor authentication is already enabled"
    ),
    "two-factor authentication is not enabled": _l("two-factor authentication is not enabled"),
    "no two-factor enrolment to confirm; start one first": _l(
        "no two-factor enrolment to confirm; start one first"
    ),
}

# The sentences with a value in them: the pattern, and the sentence given the match.
PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"password must be at least (\d+) characters long"),
        lambda m: _("password must be at least %(count)s characters long", count=m[1]),
    ),
    (
        re.compile(r"password must be at most (\d+) bytes long"),
        lambda m: _("password must be at most %(count)s bytes long", count=m[1]),
    ),
    (
        re.compile(r"email must be at most (\d+) characters long"),
        lambda m: _("email must be at most %(count)s characters long", count=m[1]),
    ),
    (
        re.compile(r"User (.+) already exists"),
        lambda m: _("User %(email)s already exists", email=m[1]),
    ),
    # The reason is email-validator's own sentence, in English.
    (
        re.compile(r"email is not valid: (.+)", re.DOTALL),
        lambda m: _("email is not valid: %(reason)s", reason=m[1]),
    ),
)


def translated(sentence: str) -> str:
    """Return the domain's `sentence` in the page's language (as it is, when unknown)."""
    known = KNOWN.get(sentence)
    if known is not None:
        return str(known)
    for pattern, shown in PATTERNS:
        match = pattern.fullmatch(sentence)
        if match is not None:
            return shown(match)
    return sentence
