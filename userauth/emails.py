"""Emails: the syntax check, the normalised form that is stored, and the key that finds it."""

from __future__ import annotations

import functools
from unicodedata import normalize as unicode_normalize

from email_validator import EmailNotValidError, validate_email

from userauth.errors import InvalidEmailError

# The longest email stored, and the longest key (users.email and users.email_key).
MAX_EMAIL_LENGTH = 250


def normalize(email: str) -> str:
    """Return the email as stored: trimmed, its domain lower-cased, in Unicode NFC.

    Raises:
        InvalidEmailError: it is not a syntactically valid address (no DNS lookup), or it or
            its key (`lookup_key`) is over MAX_EMAIL_LENGTH characters.
    """
    candidate = email.strip()
    if not candidate:
        raise InvalidEmailError("email is required")
    too_long = InvalidEmailError(f"email must be at most {MAX_EMAIL_LENGTH} characters long")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise too_long
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmailError(f"email is not valid: {error}") from None
    # Compatibility forms can expand (U+FDFA is 18 letters under NFKC): the key must fit its
    # column too, or PostgreSQL would refuse the row.
    if len(_caseless(checked.normalized)) > MAX_EMAIL_LENGTH:
        raise too_long
    return checked.normalized


def names_no_account(email: str) -> bool:
    """Tell whether no account can have this email, so a look-up need not ask the database.

    True for blanks, and for what no stored email can be: over MAX_EMAIL_LENGTH characters
    once trimmed (users.email holds 250), or holding NUL or a lone surrogate (PostgreSQL
    refuses both). Every look-up answers such an email "no account" without a query.
    """
    if not email.strip() or len(email.strip()) > MAX_EMAIL_LENGTH:
        return True
    return "\x00" in email or not _is_utf8(email)


def loose_normalize(email: str) -> str:
    """Normalise an email for look-up without rejecting it (a bad one just matches nothing)."""
    try:
        return normalize(email)
    except InvalidEmailError:
        return email.strip()


# A pure function of its argument, asked two or three times per login (the limiter, the
# device cookie, the audit trail) for one address: email_validator's checks are the cost.
@functools.lru_cache(maxsize=4096)
def lookup_key(email: str) -> str:
    """Return the key that identifies an account's email: the one rule for "the same email".

    Every look-up compares it (login, reset, sign-up uniqueness through the unique
    `users.email_key`, sessions, the admin commands, the audit trail), and so does every
    per-account rate limit. It is computed here, in Python, never by the database, whose
    lower() depends on its collation (PostgreSQL's turns "ΣΑΣ" into "σασ" where Python's
    gives "σας"). The key is the normalised email under Unicode compatibility caseless
    matching (The Unicode Standard 15.0, §3.13, D146): "ΣΑΣ", "σας" and "σασ", "STRASSE"
    and "straße", fullwidth "ＢＯＢ" and "bob", "İ" and "i̇" are each one key. RFC 8265's
    UsernameCaseMapped profile was not chosen: its toLowerCase keeps "ß" apart from "ss" and
    a final "ς" apart from "σ". The folding is locale-independent (no Turkic dotless-i rule:
    "ı" and "i" stay two keys), and stable for assigned characters across Unicode versions
    (its stability policy), so stored keys stay valid when Python's Unicode data moves on.

    The key is always valid UTF-8: a lone surrogate (JSON's "\\ud800") becomes U+FFFD, as
    a rate limit hashes the key's bytes (no account has such an email: `names_no_account`).
    """
    key = _caseless(loose_normalize(email))
    return key.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _caseless(text: str) -> str:
    """Return NFKD(casefold(NFKD(casefold(NFD(text))))) (D146), composed again as NFC."""
    once = unicode_normalize("NFKD", unicode_normalize("NFD", text).casefold())
    return unicode_normalize("NFC", unicode_normalize("NFKD", once.casefold()))
