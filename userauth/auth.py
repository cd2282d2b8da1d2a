"""Account rules: registration, login, device sessions, password reset and change.

No Flask here: the web layer calls these methods and maps their exceptions to HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from userauth import emails, passwords, tokens
from userauth.db import DB, LiveSession
from userauth.errors import (
    EmailTakenError,
    InvalidSessionError,
    InvalidTokenError,
    SessionNotFoundError,
    UnknownEmailError,
    WrongPasswordError,
)
from userauth.mail import Mailer, SmtpMailer, reset_message, signup_notice
from userauth.models import AuditEvent, DeviceSession, User
from userauth.settings import Settings

MAX_USER_AGENT_LENGTH = 512
MAX_ADDRESS_LENGTH = 64
MAX_ROW_ID = 2**31 - 1


def _printable(text: str) -> str:
    return "".join(character for character in text if character.isprintable())


@dataclass(frozen=True)
class Client:
    """Who is asking: recorded on sessions and audit events."""

    address: str = ""
    user_agent: str = ""

    def __post_init__(self) -> None:
        # Headers are client-controlled: drop control characters (PostgreSQL refuses NUL)
        # and cap the lengths to the columns'.
        object.__setattr__(self, "address", _printable(self.address)[:MAX_ADDRESS_LENGTH])
        object.__setattr__(self, "user_agent", _printable(self.user_agent)[:MAX_USER_AGENT_LENGTH])


NO_CLIENT = Client()


@dataclass(frozen=True)
class SessionView:
    """What a user may see of one of their sessions: never its id."""

    id: int
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    client_address: str
    current: bool


def _hash_password(password: str, rounds: int = 12) -> bytes:
    """Return a salted bcrypt hash of the password (the contract's helper)."""
    return passwords.hash_password(password, rounds)


def _generate_uuid() -> str:
    """Return the string form of a new uuid4 (the contract's helper)."""
    return tokens.new_token()


class Auth:
    """The account rules, over a DB."""

    def __init__(
        self,
        db: DB | None = None,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = tokens.utcnow,
        mailer: Mailer | None = None,
    ) -> None:
        self._settings = settings if settings is not None else Settings.from_env()
        self._db = (
            db if db is not None else DB(self._settings.database_url, echo=self._settings.sql_echo)
        )
        self._clock = clock
        self._mailer = mailer
        self._policy = tokens.SessionPolicy(
            idle_timeout=self._settings.session_idle_timeout,
            lifetime=self._settings.session_lifetime,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Auth:
        """Build the Auth a server runs: its database, and SMTP mail when a host is set."""
        mailer = SmtpMailer(settings) if settings.smtp_host else None
        return cls(settings=settings, mailer=mailer)

    @property
    def settings(self) -> Settings:
        """The settings this Auth applies."""
        return self._settings

    # Registration and login.

    def register_user(self, email: str, password: str) -> User:
        """Create an account and return it.

        Raises:
            EmailTakenError: the email already has an account (a ValueError).
            InvalidEmailError: the email is malformed.
            PasswordPolicyError: the password breaks the policy.
        """
        normalized = emails.normalize(email)
        passwords.check_policy(password, email=normalized, strict=self._settings.is_production)
        hashed = passwords.hash_password(password, self._settings.bcrypt_rounds)
        # No look-up first: the unique index decides, so concurrent sign-ups cannot both win.
        try:
            return self._db.add_user(normalized, hashed)
        except EmailTakenError:
            raise EmailTakenError(email) from None

    def valid_login(self, email: str, password: str, client: Client = NO_CLIENT) -> bool:
        """Tell whether the email and password belong to an enabled account."""
        user = self._find_user(email)
        if user is None:
            passwords.burn_verify_time(self._settings.bcrypt_rounds)
            self.record_event("login_failed", None, client)
            return False
        if not passwords.verify(password, user.hashed_password) or self._db.is_disabled(user.id):
            self.record_event("login_failed", user.id, client)
            return False
        if passwords.needs_rehash(user.hashed_password, self._settings.bcrypt_rounds):
            upgraded = passwords.hash_password(password, self._settings.bcrypt_rounds)
            self._db.upgrade_password_hash(user.id, user.hashed_password, upgraded)
        return True

    # Device sessions.

    def create_session(self, email: str, client: Client = NO_CLIENT) -> str | None:
        """Start a new device session for the account; None if no account or it is disabled."""
        user = self._find_user(email)
        if user is None or self._db.is_disabled(user.id):
            return None
        session_id = tokens.new_token()
        now = self._clock()
        self._db.add_session(
            DeviceSession(
                user_id=user.id,
                id_digest=tokens.digest(session_id),
                created_at=now,
                last_used_at=now,
                expires_at=self._policy.expires_at(now),
                user_agent=client.user_agent,
                client_address=client.address,
            ),
            idle_since=now - self._policy.idle_timeout,
        )
        self.record_event("login", user.id, client)
        return session_id

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user of a live session, or None."""
        live = self._live_session(session_id)
        return None if live is None else live.user

    def session_email(self, session_id: str | None) -> str | None:
        """Return the email of a live session's user, or None (the profile's cheap check)."""
        live = self._live_session(session_id)
        return None if live is None else live.email

    def destroy_session(self, user_id: int) -> None:
        """End every session of the user."""
        self._db.delete_sessions(user_id)

    def end_session(self, session_id: str | None, client: Client = NO_CLIENT) -> None:
        """End only this session (a logout on one device).

        Raises:
            InvalidSessionError: no live session has this id.
        """
        live = self._require_session(session_id)
        self._db.delete_session(live.user_id, live.id)
        self.record_event("logout", live.user_id, client)

    def list_sessions(self, session_id: str | None) -> list[SessionView]:
        """Return the caller's sessions, newest first, marking the current one.

        Raises:
            InvalidSessionError: no live session has this id.
        """
        live = self._require_session(session_id)
        now = self._clock()
        return [
            SessionView(
                id=row.id,
                created_at=tokens.as_utc(row.created_at),
                last_used_at=tokens.as_utc(row.last_used_at),
                expires_at=tokens.as_utc(row.expires_at),
                user_agent=row.user_agent,
                client_address=row.client_address,
                current=row.id == live.id,
            )
            for row in self._db.list_sessions(live.user_id)
            if self._policy.is_live(row.last_used_at, row.expires_at, now)
        ]

    def revoke_session(
        self, session_id: str | None, target: int, client: Client = NO_CLIENT
    ) -> None:
        """End one of the caller's sessions, chosen by its listed id.

        Raises:
            InvalidSessionError: no live session has this id.
            SessionNotFoundError: the target is not one of the caller's sessions.
        """
        live = self._require_session(session_id)
        # Row ids are 32-bit integers on PostgreSQL; a larger number names no session.
        if not 0 < target <= MAX_ROW_ID or not self._db.delete_session(live.user_id, target):
            raise SessionNotFoundError
        self.record_event("session_revoked", live.user_id, client)

    # Passwords.

    def get_reset_password_token(self, email: str, client: Client = NO_CLIENT) -> str:
        """Issue a reset token for the account, replacing any older one; return it.

        Raises:
            UnknownEmailError: no account has this email (a ValueError).
        """
        user = self._find_user(email)
        if user is None:
            raise UnknownEmailError(email)
        token = tokens.new_token()
        expires = self._clock() + self._settings.reset_token_lifetime
        self._db.set_reset_token(user.id, tokens.digest(token), expires)
        self.record_event("reset_requested", user.id, client)
        return token

    def send_password_reset(self, email: str, client: Client = NO_CLIENT) -> None:
        """Mail a reset link to the account's owner; do nothing if no account has this email.

        The caller answers the same way in both cases, so the reset flow does not reveal
        which emails are registered (production, SPEC.md C3).
        """
        user = self._find_user(email)
        if user is None:
            self.record_event("reset_requested", None, client)
            return
        token = self.get_reset_password_token(user.email, client)
        minutes = int(self._settings.reset_token_lifetime.total_seconds() // 60)
        subject, body = reset_message(self._settings, token, minutes)
        self._require_mailer().send(user.email, subject, body)

    def notify_account_exists(self, email: str) -> None:
        """Tell the owner of an email that someone tried to register it again."""
        user = self._find_user(email)
        if user is not None:
            subject, body = signup_notice(self._settings)
            self._require_mailer().send(user.email, subject, body)

    def update_password(self, reset_token: str, password: str, client: Client = NO_CLIENT) -> None:
        """Set a new password with a reset token; the token is spent, every session ends.

        Raises:
            InvalidTokenError: the token is unknown, spent or expired (a ValueError).
            PasswordPolicyError: the new password breaks the policy.
        """
        user = self._user_of_reset_token(reset_token)
        self._spend_reset_token(user, reset_token, password)
        self.record_event("password_reset", user.id, client)

    def reset_password(
        self, email: str, reset_token: str, password: str, client: Client = NO_CLIENT
    ) -> None:
        """Like update_password, but the token must also belong to this email.

        Raises:
            InvalidTokenError: the token is not a live token of this email's account.
            PasswordPolicyError: the new password breaks the policy.
        """
        user = self._user_of_reset_token(reset_token)
        if user.email.lower() != emails.lookup_key(email):
            raise InvalidTokenError
        self._spend_reset_token(user, reset_token, password)
        self.record_event("password_reset", user.id, client)

    def change_password(
        self, session_id: str | None, current: str, new: str, client: Client = NO_CLIENT
    ) -> None:
        """Change the password of a logged-in user; other sessions end, this one stays.

        Raises:
            InvalidSessionError: no live session has this id.
            WrongPasswordError: the current password does not match.
            PasswordPolicyError: the new password breaks the policy.
        """
        live = self._require_session(session_id)
        if not passwords.verify(current, live.user.hashed_password):
            raise WrongPasswordError
        self._set_password(live.user, new, keep_session=live.id)
        self.record_event("password_changed", live.user_id, client)

    # Internals.

    def _find_user(self, email: str | None) -> User | None:
        # No stored email holds a NUL, and PostgreSQL refuses one in a query parameter.
        if not email or "\x00" in email:
            return None
        return self._db.find_user_by_email(emails.loose_normalize(email))

    def _live_session(self, session_id: str | None) -> LiveSession | None:
        if not tokens.looks_like_token(session_id):
            return None
        live = self._db.find_live_session(tokens.digest(session_id))
        now = self._clock()
        if live is None or not self._policy.is_live(live.last_used_at, live.expires_at, now):
            return None
        if self._policy.needs_touch(live.last_used_at, now):
            self._db.touch_session(live.id, now)
        return live

    def _require_session(self, session_id: str | None) -> LiveSession:
        live = self._live_session(session_id)
        if live is None:
            raise InvalidSessionError
        return live

    def _user_of_reset_token(self, reset_token: str | None) -> User:
        if not tokens.looks_like_token(reset_token):
            raise InvalidTokenError
        found = self._db.find_reset(tokens.digest(reset_token))
        if found is None:
            raise InvalidTokenError
        user, expires = found
        if expires is None or self._clock() >= tokens.as_utc(expires):
            raise InvalidTokenError
        return user

    def _set_password(self, user: User, password: str, *, keep_session: int | None) -> None:
        self._db.replace_password(
            user.id, self._new_hash(user, password), keep_session=keep_session
        )

    def _spend_reset_token(self, user: User, reset_token: str, password: str) -> None:
        hashed = self._new_hash(user, password)
        # Conditional on the token still being there: of two concurrent uses, one wins.
        if not self._db.replace_password(user.id, hashed, reset_token=tokens.digest(reset_token)):
            raise InvalidTokenError

    def _new_hash(self, user: User, password: str) -> bytes:
        passwords.check_policy(password, email=user.email, strict=self._settings.is_production)
        return passwords.hash_password(password, self._settings.bcrypt_rounds)

    def _require_mailer(self) -> Mailer:
        if self._mailer is None:
            raise RuntimeError("this Auth has no mailer: set USERAUTH_SMTP_HOST")
        return self._mailer

    def record_event(self, event: str, user_id: int | None, client: Client = NO_CLIENT) -> None:
        """Append an audit event (it never holds a password, token or session id)."""
        self._db.add_audit_event(
            AuditEvent(
                user_id=user_id,
                event=event,
                client_address=client.address,
                user_agent=client.user_agent,
                created_at=self._clock(),
            )
        )
