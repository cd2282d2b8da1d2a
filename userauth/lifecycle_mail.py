"""The account lifecycle's mails: their links, and their words from the mail templates
(mail_templates.py: text and HTML). The link is each message's only secret."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from userauth.mail_templates import N_, MailMessage, render
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


def verification_message(
    settings: Settings, token: str, hours: int, accept_language: str = ""
) -> MailMessage:
    """Return the mail that asks the owner to verify the address (`verify_email`), in the
    asker's language (mail_templates.language_of)."""
    link = lifecycle_link(settings, VERIFY_EMAIL_PATH, token)
    subject = N_("Verify your email address")
    return render(settings, "verify_email", subject, accept_language, link=link, hours=hours)


def email_change_message(
    settings: Settings, token: str, hours: int, accept_language: str = ""
) -> MailMessage:
    """Return the mail to the new address of a change of email: the link that applies it."""
    link = lifecycle_link(settings, CONFIRM_EMAIL_PATH, token)
    subject = N_("Confirm your new email address")
    return render(settings, "email_change", subject, accept_language, link=link, hours=hours)


def email_taken_notice(settings: Settings, accept_language: str = "") -> MailMessage:
    """Return the notice to an account's owner when another account asked for its address."""
    return render(
        settings, "email_taken", N_("Your email address is already in use"), accept_language
    )


def invitation_message(settings: Settings, link: str, days: int) -> MailMessage:
    """Return the mail that invites an address to sign up (asked from the CLI: in
    USERAUTH_LANGUAGE, else English)."""
    subject = N_("You are invited to create an account")
    return render(settings, "invitation", subject, link=link, days=days)
