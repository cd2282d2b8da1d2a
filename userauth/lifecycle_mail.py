"""The account lifecycle's mails: their links and their words (verification, change of
email, invitations, deletion). Plain text; the link is each message's only secret."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from userauth.settings import Settings

VERIFY_EMAIL_PATH = "/auth/verify-email"
CONFIRM_EMAIL_PATH = "/auth/confirm-email"
SIGNUP_PATH = "/auth/signup"


def lifecycle_link(settings: Settings, path: str, token: str, *, name: str = "token") -> str:
    """Return the link to one of userauth's own pages (`path`) carrying `token`.

    On the origin of USERAUTH_RESET_LINK (production requires it to be https://), unless
    the page's own link setting is given (USERAUTH_VERIFY_EMAIL_LINK for verification).
    """
    quoted = quote(token, safe="")
    own = settings.accounts.verify_email_link if path == VERIFY_EMAIL_PATH else None
    if own is not None:
        return own.replace("{token}", quoted)
    parts = urlsplit(settings.mail.reset_link_template)
    return urlunsplit((parts.scheme, parts.netloc, path, f"{name}={quoted}", ""))


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


def email_change_message(settings: Settings, token: str, hours: int) -> tuple[str, str]:
    """Return the mail to the new address of a change of email: the link that applies it."""
    link = lifecycle_link(settings, CONFIRM_EMAIL_PATH, token)
    body = (
        "Someone asked to move an account to this email address.\n\n"
        f"If it was you, open this link within {hours} hours and press the button on the "
        f"page:\n\n{link}\n\n"
        "If it was not you, ignore this message: nothing will change.\n"
    )
    return "Confirm your new email address", body


def email_taken_notice() -> tuple[str, str]:
    """Return the notice to an account's owner when another account asked for its address."""
    body = (
        "Someone asked to move another account to this email address, which already has "
        "an account. Nothing changed.\n\n"
        "If it was you, log in to this account instead. If it was not you, ignore this "
        "message.\n"
    )
    return "Your email address is already in use", body


def invitation_message(link: str, days: int) -> tuple[str, str]:
    """Return the mail that invites an address to sign up."""
    body = (
        "You are invited to create an account with this email address.\n\n"
        f"Open this link within {days} days and choose a password:\n\n{link}\n\n"
        "If you do not want an account, ignore this message.\n"
    )
    return "You are invited to create an account", body
