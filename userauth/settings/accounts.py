"""The account lifecycle's settings: email verification, who may sign up, and the links
their mails carry (docs/account-lifecycle.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from userauth.settings.reader import EnvironmentReader

EmailVerification = Literal["off", "optional", "required"]
EMAIL_VERIFICATION_MODES = ("off", "optional", "required")
Signup = Literal["open", "invite", "closed"]
SIGNUP_MODES = ("open", "invite", "closed")


@dataclass(frozen=True)
class AccountSettings:
    """Whether addresses are verified, who may sign up, and how long their links live."""

    # off: nothing is mailed (the design's answers, development's default); optional: a
    # link is mailed at sign-up and the gate tells; required: no session until it is used.
    email_verification: EmailVerification = "off"
    # A verification or change-of-email link lives this long (then a new one is asked for).
    verification_lifetime: timedelta = timedelta(hours=24)
    # open: anyone signs up; invite: only with an invitation (userauth user invite);
    # closed: only `userauth user create` makes accounts.
    signup: Signup = "open"
    invitation_lifetime: timedelta = timedelta(days=7)
    # Where the verification link leads, with {token}; None: /auth/verify-email on the
    # reset link's origin (mail.py, lifecycle_link).
    verify_email_link: str | None = None

    @classmethod
    def read(cls, reader: EnvironmentReader, *, production: bool) -> AccountSettings:
        """Read USERAUTH_EMAIL_VERIFICATION (production's default `optional`, development's
        `off`), USERAUTH_VERIFICATION_HOURS, USERAUTH_SIGNUP, USERAUTH_INVITATION_DAYS and
        USERAUTH_VERIFY_EMAIL_LINK.

        Raises:
            SettingsError: a value that is not one of the choices, or out of range.
        """
        verification = reader.choice(
            "USERAUTH_EMAIL_VERIFICATION",
            EMAIL_VERIFICATION_MODES,
            "optional" if production else "off",
        )
        signup = reader.choice("USERAUTH_SIGNUP", SIGNUP_MODES, cls.signup)
        link = reader.optional("USERAUTH_VERIFY_EMAIL_LINK")
        if link is not None:
            link = reader.link_template("USERAUTH_VERIFY_EMAIL_LINK", link)
        return cls(
            email_verification=verification,  # type: ignore[arg-type]
            verification_lifetime=timedelta(
                hours=reader.integer("USERAUTH_VERIFICATION_HOURS", 24, minimum=1, maximum=168)
            ),
            signup=signup,  # type: ignore[arg-type]
            invitation_lifetime=timedelta(
                days=reader.integer("USERAUTH_INVITATION_DAYS", 7, minimum=1, maximum=90)
            ),
            verify_email_link=link,
        )

    @property
    def verifies_email(self) -> bool:
        """Whether sign-up mails a verification link (optional or required)."""
        return self.email_verification != "off"

    @property
    def requires_verified_email(self) -> bool:
        """Whether an unverified account is refused a session."""
        return self.email_verification == "required"
