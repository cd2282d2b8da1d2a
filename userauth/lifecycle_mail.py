"""The account lifecycle's mails: their links and their words (verification, change of
email, invitations, deletion). Plain text; the link is each message's only secret."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from userauth.settings import Settings

VERIFY_EMAIL_PATH = "/auth/verify-email"


def lifecycle_link(settings: Settings, path: str, token: str) -> str:
    """Return the link to one of userauth's own pages (`path`) carrying `token`.

    On the origin of USERAUTH_RESET_LINK (production requires it to be https://), unless
    the page's own link setting is given (USERAUTH_VERIFY_EMAIL_LINK for verification).
    """
    quoted = quote(token, safe="")
    own = settings.accounts.verify_email_link if path == VERIFY_EMAIL_PATH else None
    if own is not None:
        return own.replace("{token}", quoted)
    parts = urlsplit(settings.mail.reset_link_template)
    return urlunsplit((parts.scheme, parts.netloc, path, f"token={quoted}", ""))


def verification_message(settings: Settings, token: str, hours: int) -> tuple[str, str]:
    """Return the subject and body of the mail that asks the owner to verify the address."""
    link = lifecycle_link(settings, VERIFY_EMAIL_PATH, token)
    body = (
        "Please confirm that this email address is yours.\n\n"
        f"Open this link within {hours} hours and press the button on the page:\n\n"
        f"{link}\n\n"
        "If you did not create an account, ignore this message: nothing will change.\n"
    )
    return "Verify your email address", body
