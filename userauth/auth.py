"""The facade: one object that wires the domain modules and names every account operation.

It holds no rule of its own: accounts.py, credentials.py, sessions.py, resets.py,
one_time.py and audit.py do, and front ends (the web API, the admin CLI, metrics) call them
through here. The original design's method names (register_user, valid_login,
create_session, ...) stay as thin aliases.
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
from userauth.clock import utcnow
from userauth.credentials import Credentials, LoginOutcome, LoginResult
from userauth.db import DB, LiveSession
from userauth.email_change import EmailChanges
from userauth.enrolment import Enrolment, FactorList, TotpEnrolment
from userauth.errors import EmailTakenError, InvalidSessionError
from userauth.invitations import Invitations
from userauth.janitor import Janitor, standard_kinds
from userauth.leaving import Leaving
from userauth.login_transactions import LoginTransactions
from userauth.mail import Mailer, SmtpMailer
from userauth.models import User
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


class Auth(SecondFactorOperations):
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
            sessions_ended=self.oidc_logout.sessions_ended,
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
            self._db, self.sessions, self.login_transactions, self.audit, self._clock
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

    # Sign-up and login.

    def sign_up(
        self,
        email: str,
        password: str,
        client: Client = NO_CLIENT,
        invitation: str | None = None,
    ) -> User | None:
        """Register, answering a taken email as the environment allows (Accounts.sign_up);
        return the new account, or None for a taken email in production. With an
        `invitation` (invitations.py), the account's address is verified.

        Raises:
            EmailTakenError: the email has an account, in development only.
            InvalidEmailError, PasswordPolicyError: the email or password is refused.
            SignupClosedError: USERAUTH_SIGNUP refuses a sign-up without an invitation.
            InvalidLinkError: the invitation is not live, or is another address's.
        """
        self.invitations.check_open(invitation)
        if invitation:
            return self._sign_up_invited(invitation, email, password, client)
        user = self.accounts.sign_up(email, password, client)
        if user is not None:
            self.audit.record("user_registered", user.id, client, user.email)
            self.verification.on_sign_up(user, client)
        return user

    def _sign_up_invited(
        self, invitation: str, email: str, password: str, client: Client
    ) -> User | None:
        try:
            user = self.invitations.sign_up(invitation, email, password, client)
        except EmailTakenError:
            if self._settings.is_production:
                return None  # as a taken email's sign-up answers (SPEC.md C3)
            raise
        self.audit.record("user_registered", user.id, client, user.email)
        return user

    def sign_up_and_log_in(
        self,
        email: str,
        password: str,
        client: Client = NO_CLIENT,
        invitation: str | None = None,
    ) -> str | None:
        """Register (as `sign_up`), then start a session in development; return its id.

        None in production, for a new email and a taken one alike: logging in only the new
        ones would tell whoever signs up which emails are registered (OWASP Authentication
        cheat sheet: account creation must not enumerate accounts).

        Raises:
            EmailTakenError: the email has an account, in development only.
            InvalidEmailError, PasswordPolicyError: the email or password is refused.
            SignupClosedError, InvalidLinkError: as `sign_up`.
        """
        user = self.sign_up(email, password, client, invitation)
        if user is None or self._settings.is_production:
            return None
        if self.verification.refuses(user, client):
            return None
        session_id = self.sessions.start(user, client=client)
        if session_id is not None:
            self.audit.record("login", user.id, client, user.email)
        return session_id

    def register_user(self, email: str, password: str) -> User:
        """Create an account and return it (Accounts.register)."""
        return self.accounts.register(email, password)

    def login(self, email: str, password: str, client: Client = NO_CLIENT) -> LoginResult:
        """Log in: one look-up, one password check, a session (Credentials.login)."""
        return self.credentials.login(email, password, client)

    def valid_login(self, email: str, password: str, client: Client = NO_CLIENT) -> bool:
        """Tell whether the email and password belong to an enabled account."""
        return self.credentials.check(email, password, client) is not None

    # Device sessions.

    def create_session(self, email: str, client: Client = NO_CLIENT) -> str | None:
        """Start a session for the enabled account with this email, without a password check;
        None for an unknown or disabled email (the original design's create_session)."""
        user = self.accounts.find(email)
        if user is None:
            return None
        session_id = self.sessions.start(user, client=client)
        if session_id is not None:
            self.audit.record("login", user.id, client)
        return session_id

    def resolve_session(self, session_id: str | None) -> LiveSession | None:
        """Return the live session with this id, or None (Sessions.resolve)."""
        return self.sessions.resolve(session_id)

    def require_session(self, session_id: str | None) -> LiveSession:
        """Return the live session with this id.

        Raises:
            InvalidSessionError: no live session has this id.
        """
        live = self.sessions.resolve(session_id)
        if live is None:
            raise InvalidSessionError
        return live

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user of a live session, or None."""
        live = self.sessions.resolve(session_id)
        return None if live is None else live.user

    def end_session(self, live: LiveSession, client: Client = NO_CLIENT) -> None:
        """End only this session (a logout on one device)."""
        self.sessions.end(live)
        self.audit.record("logout", live.user_id, client)
        self.oidc_logout.sessions_ended(live.user_id, client)

    def end_other_sessions(self, live: LiveSession, client: Client = NO_CLIENT) -> int:
        """End every other session of the session's user ("log out everywhere else")."""
        ended = self.sessions.end_others(live)
        self.audit.record("other_sessions_revoked", live.user_id, client)
        self.oidc_logout.sessions_ended(live.user_id, client)
        return ended

    def list_sessions(self, live: LiveSession) -> list[SessionView]:
        """Return the live sessions of the session's user, newest first."""
        return self.sessions.list(live)

    def revoke_session(self, live: LiveSession, target: str, client: Client = NO_CLIENT) -> None:
        """End one of the session user's sessions, named by its public id (Sessions.revoke).

        Raises:
            SessionNotFoundError: the target is none of the user's sessions.
        """
        self.sessions.revoke(live, target)
        self.audit.record("session_revoked", live.user_id, client)
        self.oidc_logout.sessions_ended(live.user_id, client)

    def destroy_session(self, user_id: int) -> None:
        """End every session of the user."""
        self.sessions.end_all(user_id)
        self.oidc_logout.sessions_ended(user_id)

    # Passwords.

    def request_password_reset(self, email: str, client: Client = NO_CLIENT) -> ResetRequest:
        """Start a reset as the environment allows (Resets.request).

        Raises:
            UnknownEmailError: no enabled account has this email, in development only.
        """
        return self.resets.request(email, client)

    def get_reset_password_token(self, email: str, client: Client = NO_CLIENT) -> str:
        """Issue a reset token and return it (Resets.issue).

        Raises:
            UnknownEmailError: no enabled account has this email (a ValueError).
        """
        return self.resets.issue(email, client)

    def update_password(self, reset_token: str, password: str, client: Client = NO_CLIENT) -> None:
        """Set a new password with a reset token (Resets.reset).

        Raises:
            InvalidTokenError: the token is not live (a ValueError).
            PasswordPolicyError: the new password breaks the policy.
        """
        user_id = self.resets.reset(None, reset_token, password, client)
        self.oidc_logout.sessions_ended(user_id, client)

    def reset_link_is_live(self, reset_token: str | None) -> bool:
        """Tell whether a reset token would set a password now, without spending it."""
        return self.resets.is_live(reset_token)

    def reset_password(
        self, email: str, reset_token: str, password: str, client: Client = NO_CLIENT
    ) -> None:
        """Like update_password, but the token must also belong to this email.

        Raises:
            InvalidTokenError: the token is not a live token of this email's account.
            PasswordPolicyError: the new password breaks the policy.
        """
        user_id = self.resets.reset(email, reset_token, password, client)
        self.oidc_logout.sessions_ended(user_id, client)

    def change_password(
        self, live: LiveSession, current: str, new: str, client: Client = NO_CLIENT
    ) -> None:
        """Change the password of a logged-in user (Credentials.change).

        Raises:
            WrongPasswordError: the current password does not match.
            PasswordPolicyError: the new password breaks the policy.
        """
        self.credentials.change(live, current, new, client)
        self.oidc_logout.sessions_ended(live.user_id, client)

    def set_password(self, live: LiveSession, new: str, client: Client = NO_CLIENT) -> None:
        """Give a password to an account made with a passkey alone (Credentials.set_first).

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            WrongPasswordError: the account has a password already.
            PasswordPolicyError: the new password breaks the policy.
        """
        self.reauthentication.require_recent(live)
        self.credentials.set_first(live, new, client)

    def record_event(
        self, event: str, user_id: int | None, client: Client = NO_CLIENT, email: str | None = None
    ) -> None:
        """Append an audit event (Audit.record)."""
        self.audit.record(event, user_id, client, email)
