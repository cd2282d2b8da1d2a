"""Logins as transactions: a first factor starts a pending login, a second completes it.

A password that is right for an account with a second factor makes no session: it starts a
pending login, whose random challenge goes to the browser in its own short-lived HttpOnly
cookie (`login_challenge`) and only its digest is stored. Many may be pending per account
(two devices logging in at once keep their own), each expires after LIFETIME, takes at most
MAX_ATTEMPTS codes (counted before each is checked), and completes once: the session is made
in the transaction that deletes the pending login, and only while the account's credential
version is the one the password was checked under (db.change_credentials).

Completing is one transaction (DB.atomically): the attempt, the code spent (a TOTP step, a
recovery code), the session and the trail commit together. Of two requests completing one
pending login, the one that finds it gone rolls back, so it spends no code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from userauth import tokens
from userauth.audit import Audit, Client
from userauth.db import DB
from userauth.errors import (
    EmailNotVerifiedError,
    LoginChallengeError,
    TooManyCodesError,
    WrongCodeError,
)
from userauth.models import User
from userauth.second_factors import SecondFactors
from userauth.sessions import Sessions
from userauth.verification import EmailVerification

# OWASP Multifactor Authentication cheat sheet: the second step must follow the first soon.
LIFETIME = timedelta(minutes=5)
# Wrong codes a pending login takes before it is dead (the account has its own budget too).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class CompletedLogin:
    """A login completed by its second factor: the session's id, and whose it is."""

    user: User
    session_id: str = field(repr=False)


class LoginTransactions:
    """Begin and complete pending logins."""

    def __init__(
        self,
        db: DB,
        sessions: Sessions,
        second_factors: SecondFactors,
        audit: Audit,
        clock: Callable[[], datetime],
        verification: EmailVerification | None = None,
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._second = second_factors
        self._audit = audit
        self._clock = clock
        self._verification = verification

    def begin(self, user: User, amr: tuple[str, ...]) -> str:
        """Start a pending login for a user whose first factor (`amr`) was proven; return
        its challenge, the secret for the login_challenge cookie."""
        challenge = tokens.new_token()
        now = self._clock()
        self._db.add_pending_login(
            user.id, tokens.digest(challenge), amr, user.credential_version, now, now + LIFETIME
        )
        return challenge

    def complete(self, challenge: str | None, code: str, client: Client) -> CompletedLogin:
        """Prove the second factor of a pending login with a code; return the new session.

        Raises:
            LoginChallengeError: no live pending login has this challenge (unknown, expired,
                spent, out of attempts, or its account's credentials or state changed).
            TooManyCodesError: the account's budget of wrong codes is spent.
            WrongCodeError: the code is wrong (the pending login stays, one attempt less).
            EmailNotVerifiedError: the code is right, but verification is required and the
                address is not verified (a fresh link is mailed).
        """
        return self._complete(
            challenge, client, lambda user: (self._second.prove(user, code, client),)
        )

    def complete_proven(
        self, challenge: str | None, user_id: int, methods: tuple[str, ...], client: Client
    ) -> CompletedLogin:
        """Complete a pending login of `user_id` whose second factor its own ceremony proved
        (a passkey, passkey_logins.py), with the RFC 8176 `methods` it proved.

        Raises:
            LoginChallengeError: no live pending login of this account has this challenge.
        """

        def proven(user: User) -> tuple[str, ...]:
            if user.id != user_id:
                raise LoginChallengeError
            return methods

        return self._complete(challenge, client, proven)

    def _complete(
        self,
        challenge: str | None,
        client: Client,
        prove: Callable[[User], tuple[str, ...]],
    ) -> CompletedLogin:
        if not tokens.looks_like_token(challenge):
            raise LoginChallengeError
        digest = tokens.digest(challenge)
        # A wrong code commits: its attempt and its trail must stay (the budgets count it);
        # so does a refusal for want of a verified email: its trail and its fresh link.
        return self._db.atomically(
            lambda: self._claim(digest, client, prove),
            commit_on=(WrongCodeError, TooManyCodesError, EmailNotVerifiedError),
        )

    def _claim(
        self, digest: str, client: Client, prove: Callable[[User], tuple[str, ...]]
    ) -> CompletedLogin:
        claimed = self._db.claim_pending_login(digest, self._clock(), MAX_ATTEMPTS)
        if claimed is None:
            raise LoginChallengeError
        pending, user = claimed
        methods = prove(user)
        if self._verification is not None and self._verification.refuses(user, client):
            raise EmailNotVerifiedError
        amr = tuple(dict.fromkeys((*pending.amr, *methods)))
        session_id = self._sessions.start(user, client=client, amr=amr, pending=pending.id)
        if session_id is None:
            # Spent by a parallel request: the rollback gives this request's code back.
            raise LoginChallengeError
        self._audit.record("login", user.id, client, email=user.email)
        return CompletedLogin(user=user, session_id=session_id)
