"""The facade: one object that wires the domain modules and names every account operation.

It holds no rule of its own: accounts.py, credentials.py, sessions.py, resets.py,
one_time.py and audit.py do, and front ends (the web API, the admin CLI, metrics) call them
through here. The original design's method names (register_user, valid_login,
create_session, ...) stay as thin aliases.

This module builds the object; the operations it names live beside it, by concern:
auth_signups.py, auth_sessions.py, auth_passwords.py and auth_factors.py, which Auth inherits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from userauth import factors, mail_failures, passwords, secret_box
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.auth_factors import SecondFactorOperations
from userauth.auth_passwords import PasswordOperations
from userauth.auth_sessions import SessionOperations
from userauth.auth_signups import SignUpOperations
from userauth.clock import utcnow
from userauth.credentials import Credentials, LoginOutcome, LoginResult
from userauth.db import DB
from userauth.email_change import EmailChanges
from userauth.enrolment import Enrolment, FactorList, TotpEnrolment
from userauth.invitations import Invitations
from userauth.janitor import Janitor, standard_kinds
from userauth.leaving import Leaving
from userauth.login_transactions import LoginTransactions
from userauth.mail import Mailer, SmtpMailer
from userauth.notices import Notices
from userauth.oidc.backchannel import BackchannelLogout
from userauth.oidc.provider import Provider
from userauth.one_time import OneTimeSecrets
from userauth.outbox import Outbox
from userauth.passkeys import Passkeys
from userauth.reauthentication import Reauthentication
from userauth.resets import ResetRequest, Resets
from userauth.second_factors import SecondFactors
from userauth.secret_box import SecretBox
from userauth.sessions import SessionPolicy, Sessions, SessionView
from userauth.settings import Settings
from userauth.verification import EmailVerification

if TYPE_CHECKING:  # the ceremonies import py_webauthn: built on first use (below)
    from userauth.passkey_logins import PasskeyLogins
    from userauth.passkey_reauthentication import PasskeyReauthentication
    from userauth.passkey_registrations import PasskeyRegistrations
    from userauth.passkey_signups import PasskeySignUps

__all__ = [
    "NO_CLIENT",
    "Auth",
    "Client",
    "FactorList",
    "LoginOutcome",
    "LoginResult",
    "ResetRequest",
    "SessionView",
    "TotpEnrolment",
]


class Auth(SignUpOperations, SessionOperations, PasswordOperations, SecondFactorOperations):
    """Every account operation, over one DB and one Settings. Building one does no I/O."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        mailer: Mailer | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        # The process's bcrypt pool follows the settings of the Auth it serves (hashing.py).
        passwords.use_hashing_threads(settings.server.hashing_threads)
        # The mail outbox is the domain's: any front end gets the same answers in production.
        self._outbox = Outbox(db, settings.mail.retry_delay)
        self._outbox.explain_failures(mail_failures.explainer(settings))
        policy = SessionPolicy(
            settings.security.session_idle_timeout, settings.security.session_lifetime
        )
        self.audit = Audit(db, clock)
        self.accounts = Accounts(db, settings, self._outbox, mailer)
        self.sessions = Sessions(
            db, policy, clock, cache_capacity=settings.security.session_cache_size
        )
        self.secrets = OneTimeSecrets(db, clock)
        self.verification = EmailVerification(
            db, settings, self.accounts, self.secrets, self.audit, self._outbox, mailer, clock
        )
        self._wire_factors(clock, mailer)
        self.invitations = Invitations(
            db, settings, self.accounts, self.secrets, self.audit, clock
        )
        self.email_changes = EmailChanges(
            db,
            settings,
            self.accounts,
            self.secrets,
            self.reauthentication,
            self.audit,
            self.notices,
            self._outbox,
            mailer,
            clock,
        )
        self.leaving = Leaving(
            db,
            settings,
            self.sessions,
            self.enrolment,
            self.reauthentication,
            self.audit,
            self.notices,
            clock,
        )
        self.credentials = Credentials(
            db,
            settings,
            self.accounts,
            self.sessions,
            self.audit,
            self.login_transactions,
            self.second_factors,
            self.verification,
        )
        self.resets = Resets(
            db,
            settings,
            self.accounts,
            self.credentials,
            self.enrolment,
            self.secrets,
            self.audit,
            self._outbox,
            mailer,
        )
        self.janitor = Janitor(
            db,
            standard_kinds(db, policy, settings.janitor.audit_retention),
            batch_size=settings.janitor.batch_size,
            interval=settings.janitor.interval,
            clock=clock,
        )

    def _wire_factors(self, clock: Callable[[], datetime], mailer: Mailer | None) -> None:
        """Build the second factors, the login transactions and what they need."""
        settings, db = self._settings, self._db
        self.box = SecretBox(
            secret_box.keys_for(settings.factors.encryption_keys, settings.database.url)
        )
        self.notices = notices = Notices(self._outbox, mailer, settings)
        registered = factors.build(factors.FactorContext(db, self.box, clock))
        self.second_factors = SecondFactors(
            db, registered, self.audit, notices, clock, settings.factors.code_failures
        )
        self.login_transactions = LoginTransactions(
            db, self.sessions, self.second_factors, self.audit, clock, self.verification
        )
        self.reauthentication = Reauthentication(
            self.sessions, self.second_factors, self.audit, settings.factors.reauth_window
        )
        # The OpenID Connect provider: its signing keys are sealed in the same box.
        self.oidc = Provider(db, self.box, clock, settings.oidc, self.audit)
        self.oidc_logout = BackchannelLogout(db, self.oidc, self._outbox, clock)
        self.enrolment = Enrolment(
            db,
            self.box,
            self.reauthentication,
            self.audit,
            notices,
            clock,
        )
        self.passkeys = Passkeys(db, self.reauthentication, self.audit, clock)

    # The WebAuthn ceremonies are built (and py_webauthn, cbor2 and pyOpenSSL imported, about
    # 7 MB of RSS) on a worker's first ceremony only: a worker that serves none never loads
    # them (issue 24's cap on a worker's RSS; tests/test_footprint.py).

    @functools.cached_property
    def passkey_registrations(self) -> PasskeyRegistrations:
        """Registering passkeys on logged-in accounts (passkey_registrations.py)."""
        from userauth.passkey_registrations import PasskeyRegistrations

        return PasskeyRegistrations(
            self._db, self.passkeys, self.reauthentication, self.audit, self._clock
        )

    @functools.cached_property
    def passkey_logins(self) -> PasskeyLogins:
        """Logging in with a passkey, alone or as a second factor (passkey_logins.py)."""
        from userauth.passkey_logins import PasskeyLogins

        return PasskeyLogins(
            self._db,
            self.sessions,
            self.login_transactions,
            self.verification,
            self.audit,
            self._clock,
        )

    @functools.cached_property
    def passkey_reauthentication(self) -> PasskeyReauthentication:
        """Re-authenticating a session with a passkey (passkey_reauthentication.py)."""
        from userauth.passkey_reauthentication import PasskeyReauthentication

        return PasskeyReauthentication(
            self._db, self.sessions, self.passkey_logins, self.audit, self._clock
        )

    @functools.cached_property
    def passkey_signups(self) -> PasskeySignUps:
        """Signing up with a passkey alone (passkey_signups.py)."""
        from userauth.passkey_signups import PasskeySignUps

        return PasskeySignUps(
            self._db,
            self.accounts,
            self.sessions,
            self.verification,
            self._outbox,
            self.audit,
            self._clock,
            production=self._settings.is_production,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Auth:
        """Build the Auth a server runs: its database, and SMTP mail when a host is set."""
        mailer = SmtpMailer(settings) if settings.mail.smtp_host else None
        db = DB(
            settings.database.url,
            echo=settings.database.sql_echo,
            sqlite_busy_timeout_ms=settings.database.sqlite_busy_timeout_ms,
        )
        return cls(db, settings, mailer=mailer)

    @property
    def settings(self) -> Settings:
        """The settings this Auth applies."""
        return self._settings

    @property
    def db(self) -> DB:
        """The store (its engine serves readiness probes and migrations)."""
        return self._db

    @property
    def outbox(self) -> Outbox:
        """The durable queue that sends this Auth's mail (the server starts its sender)."""
        return self._outbox

    def record_event(
        self, event: str, user_id: int | None, client: Client = NO_CLIENT, email: str | None = None
    ) -> None:
        """Append an audit event (Audit.record)."""
        self.audit.record(event, user_id, client, email)
