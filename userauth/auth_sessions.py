"""The Auth facade's device-session operations, apart so each part stays short.

Auth inherits them; the rules are sessions.py's. What relying parties hold of an ended
session ends with it by the store's commit hook (oidc/backchannel.py), not here.
"""

from __future__ import annotations

from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.db import LiveSession
from userauth.errors import InvalidSessionError
from userauth.models import User
from userauth.sessions import Sessions, SessionView


class SessionOperations:
    """Start, find, list and end an account's device sessions."""

    accounts: Accounts
    audit: Audit
    sessions: Sessions

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

    def end_other_sessions(self, live: LiveSession, client: Client = NO_CLIENT) -> int:
        """End every other session of the session's user ("log out everywhere else")."""
        ended = self.sessions.end_others(live)
        self.audit.record("other_sessions_revoked", live.user_id, client)
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

    def destroy_session(self, user_id: int) -> None:
        """End every session of the user."""
        self.sessions.end_all(user_id)
