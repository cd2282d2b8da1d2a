"""The provider's records: who logged in, the codes, tokens and consents, over the store.

Every code and token is stored as its digest (SPEC.md C2). A code is spent once: its second
use revokes what the first issued (RFC 6749 4.1.2). A refresh token is spent once: its
second use revokes its whole family (RFC 9700 4.14.2).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from userauth import tokens
from userauth.audit import Audit
from userauth.clock import as_utc
from userauth.db import DB, HeldToken, LiveSession
from userauth.db.oidc import StoredConsent
from userauth.db.oidc_tokens import StoredCode, StoredToken
from userauth.errors import AuthError
from userauth.secret_box import SecretBox
from userauth.settings import OidcSettings

if TYPE_CHECKING:
    from userauth.oidc.clients import Clients
    from userauth.oidc.keys import SigningKeys

# Authorization codes live 60 s (RFC 6749 4.1.2 recommends at most 10 minutes).
CODE_LIFETIME = timedelta(seconds=60)
# The `acr` values: the NIST SP 800-63B authenticator assurance level the login reached.
ACR_BY_LEVEL = {1: "aal1", 2: "aal2"}
# The scopes this provider knows (OpenID Connect Core 5.4); `profile` is accepted (clients
# ask for it by default) but adds no claim: accounts have no name.
SCOPES = ("openid", "email", "profile", "offline_access")


class ClientError(AuthError, ValueError):
    """A client registration is refused (a bad URI), or names no client."""


class SpentGrantError(AuthError):
    """A code or refresh token used a second time: what it issued is revoked."""


@dataclass(frozen=True)
class EndUser:
    """Who a code or token speaks for, and how they logged in (OpenID Connect Core 2)."""

    user_id: int
    # The public id of the session (sessions.public_id): the tokens die with it.
    session_public_id: str
    amr: tuple[str, ...]
    acr: str
    auth_time: datetime
    # The account's email when the grant already read it (the account is enabled), else None.
    email: str | None = None
    # The account's subject when the grant already read it, else None.
    subject: str | None = None

    @classmethod
    def of_session(cls, live: LiveSession) -> EndUser:
        """Return the end user of a live device session (the gate's session: single sign-on)."""
        return cls(
            user_id=live.user_id,
            session_public_id=live.public_id,
            amr=live.amr,
            acr=ACR_BY_LEVEL.get(live.aal, "aal1"),
            auth_time=live.authenticated_at or live.last_used_at,
        )

    @classmethod
    def of_row(cls, row: StoredCode | StoredToken) -> EndUser:
        amr = tuple(row.amr.split())
        return cls(row.user_id, row.session_public_id, amr, row.acr, row.auth_time)


class Provider:
    """Codes, tokens, consents and subjects, with the clients and the signing keys."""

    def __init__(
        self,
        db: DB,
        box: SecretBox,
        clock: Callable[[], datetime],
        settings: OidcSettings,
        audit: Audit,
    ) -> None:
        self._db = db
        self._audit = audit
        self._box = box
        self._clock = clock
        self.settings = settings

    # Authlib and joserfc (with OpenSSL) load on the provider's first use, not in every
    # worker: a deployment without clients keeps its workers' memory (docs/performance.md).
    @functools.cached_property
    def clients(self) -> Clients:
        """The registered relying parties."""
        from userauth.oidc.clients import Clients

        return Clients(self._db, self._clock)

    @functools.cached_property
    def keys(self) -> SigningKeys:
        """The signing keys and the JWKS."""
        from userauth.oidc.keys import SigningKeys

        lifetime = max(self.settings.id_token_lifetime, self.settings.access_token_lifetime)
        return SigningKeys(self._db, self._box, self._clock, lifetime)

    def now(self) -> datetime:
        return self._clock()

    def subject(self, user_id: int) -> str:
        """Return the account's stable `sub`: random, never the email (made on first need)."""
        return self._db.subject_of(user_id, secrets.token_urlsafe(16))

    def email(self, user_id: int) -> str | None:
        """Return the email of an enabled account, or None (disabled or deleted)."""
        return self._db.enabled_email(user_id)

    def save_code(
        self, code: str, client_id: str, user: EndUser, request: Mapping[str, Any]
    ) -> None:
        """Store a code for the client, bound to its redirect URI, scope, nonce and PKCE."""
        now = self._clock()
        self._db.save_code(
            {
                "code_digest": tokens.digest(code),
                "client_id": client_id,
                "user_id": user.user_id,
                "session_public_id": user.session_public_id,
                "amr": " ".join(user.amr),
                "acr": user.acr,
                "auth_time": user.auth_time,
                "expires_at": now + CODE_LIFETIME,
                **request,
            }
        )

    def nonce_was_used(self, client_id: str, nonce: str) -> bool:
        return self._db.nonce_was_used(client_id, nonce)

    def find_code(self, code: str, client_id: str) -> StoredCode | None:
        """Return the client's live unspent code; a spent one revokes what it issued.

        RFC 6749 4.1.2: a code used more than once is refused, and the tokens issued from it
        SHOULD be revoked (someone else holds it).
        """
        if not code or len(code) > 128:
            return None
        stored = self._db.code(tokens.digest(code))
        if stored is None or stored.client_id != client_id:
            return None
        if stored.used_at is not None:
            self._db.revoke_issued_from_code(stored.code_digest, self._clock())
            self._audit.record("oidc_code_reused", stored.user_id)
            return None
        if as_utc(stored.expires_at) <= self._clock():
            return None
        return stored

    def issue_from_code(self, code: StoredCode, token: Mapping[str, Any], issuer: str) -> None:
        """Spend the code and store its tokens (one new family).

        Raises:
            SpentGrantError: the code was spent meanwhile (by a racing request).
        """
        row = self._token_row(token, EndUser.of_row(code), code.client_id, secrets.token_hex(16))
        row |= {"code_digest": code.code_digest, "issuer": issuer}
        if not self._db.issue_from_code(code.code_digest, row, self._clock()):
            self._db.revoke_issued_from_code(code.code_digest, self._clock())
            raise SpentGrantError("the code was already used, or its session has ended")

    def find_token(self, kind: str, token: str) -> HeldToken | None:
        """Return the issuance of an `access` or `refresh` token (live or not) with its
        client and account, or None."""
        if not token or len(token) > 128:
            return None
        return self._db.held_token(kind, tokens.digest(token))

    def rotate(self, old: StoredToken, token: Mapping[str, Any]) -> None:
        """Spend a refresh token and store its successor in the same family.

        Raises:
            SpentGrantError: it was already spent or revoked: the family is revoked
                (RFC 9700 4.14.2, refresh token rotation's reuse detection).
        """
        row = self._token_row(token, EndUser.of_row(old), old.client_id, old.family)
        row |= {"code_digest": old.code_digest, "issuer": old.issuer}
        if not self._db.rotate_refresh(old.id, row, self._clock()):
            self.refresh_token_reused(old)
            raise SpentGrantError("the refresh token was already used")

    def revoke_family(self, family: str) -> None:
        """Revoke every token of a family (one login's grant)."""
        self._db.revoke_tokens(self._clock(), family=family)

    def refresh_token_reused(self, stored: StoredToken) -> None:
        """Revoke the family of a refresh token used a second time, and record it
        (RFC 9700 4.14.2: it was stolen or replayed)."""
        self.revoke_family(stored.family)
        self._audit.record("oidc_refresh_token_reused", stored.user_id)

    def revoke(self, stored: StoredToken) -> None:
        """Revoke one issuance: its access and refresh tokens."""
        self._db.revoke_tokens(self._clock(), token_id=stored.id)

    def is_live(self, stored: StoredToken, kind: str) -> bool:
        """Tell whether the access (or refresh) token of an issuance can still be used."""
        if stored.revoked_at is not None:
            return False
        expires = stored.expires_at if kind == "access" else stored.refresh_expires_at
        if kind == "refresh" and stored.refresh_used_at is not None:
            return False
        return expires is not None and as_utc(expires) > self._clock()

    def consented_scope(self, user_id: int, client_id: str) -> str | None:
        return self._db.consented_scope(user_id, client_id)

    def grant_consent(self, user_id: int, client_id: str, scope: str) -> None:
        self._db.grant_consent(user_id, client_id, scope, self._clock())

    def apps(self, user_id: int) -> list[StoredConsent]:
        """Return the apps with access to the account: those the user consented to, then
        those holding a live token without a consent (first-party), newest first each."""
        consented = list(self._db.consents(user_id))
        known = {app.client_id for app in consented}
        connected = self._db.connected_clients(user_id, self._clock())
        return consented + [app for app in connected if app.client_id not in known]

    def withdraw_consent(self, user_id: int, client_id: str) -> bool:
        """Forget a consent and revoke that app's tokens for the user; tell whether the app
        had either."""
        return self._db.withdraw_consent(user_id, client_id, self._clock())

    def _token_row(
        self, token: Mapping[str, Any], user: EndUser, client_id: str, family: str
    ) -> dict[str, Any]:
        now = self._clock()
        refresh = token.get("refresh_token")
        return {
            "client_id": client_id,
            "user_id": user.user_id,
            "session_public_id": user.session_public_id,
            "access_digest": tokens.digest(token["access_token"]),
            "refresh_digest": None if refresh is None else tokens.digest(refresh),
            "family": family,
            "scope": token.get("scope") or "",
            "amr": " ".join(user.amr),
            "acr": user.acr,
            "auth_time": user.auth_time,
            "issued_at": now,
            "expires_at": now + timedelta(seconds=int(token["expires_in"])),
            "refresh_expires_at": None
            if refresh is None
            else now + self.settings.refresh_token_lifetime,
        }
