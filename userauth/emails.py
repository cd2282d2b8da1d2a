"""Emails: the syntax check, and the normalised form that is stored and looked up."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from userauth.errors import InvalidEmailError

MAX_EMAIL_LENGTH = 250


def normalize(email: str) -> str:
    """Return the email as stored: trimmed, its domain lower-cased.

    Raises:
        InvalidEmailError: it is not a syntactically valid address (no DNS lookup).
    """
    candidate = email.strip()
    if not candidate:
        raise InvalidEmailError("email is required")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(f"email must be at most {MAX_EMAIL_LENGTH} characters long")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmailError(f"email is not valid: {error}") from None
    return checked.normalized


def loose_normalize(email: str) -> str:
    """Normalise an email for look-up without rejecting it (a bad one just matches nothing)."""
    try:
        return normalize(email)
    except InvalidEmailError:
        return email.strip()


def lookup_key(email: str) -> str:
    """Return the case-insensitive key of an account's email (for per-account rate limits)."""
    return loose_normalize(email).lower()
