"""Back-channel logout (OpenID Back-Channel Logout 1.0): tell clients a session ended.

When a session ends (logout, revocation, password change, reset, an administrator), the
tokens issued from it are revoked, and each client with a `backchannel_logout_uri` that the
session logged into gets a signed logout token (2.4), POSTed by the durable outbox, which
retries with backoff: a client that is down gets it when it is back.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from userauth.audit import NO_CLIENT, Client
from userauth.db import DB
from userauth.oidc.provider import Provider
from userauth.outbox import MailJob, Outbox

logger = logging.getLogger(__name__)

KIND = "oidc_backchannel_logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A logout token is short-lived (Back-Channel Logout 2.4 recommends a few minutes).
TOKEN_LIFETIME = timedelta(minutes=2)
TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    """A client's back-channel logout URI did not accept the token (the outbox retries)."""


class BackchannelLogout:
    """Queue and deliver logout tokens through the outbox."""

    def __init__(
        self, db: DB, provider: Provider, outbox: Outbox, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._provider = provider
        self._outbox = outbox
        self._clock = clock
        outbox.handle(KIND, self._deliver)

    def sessions_ended(self, user_id: int, client: Client = NO_CLIENT) -> int:
        """Revoke the tokens of the user's ended sessions and queue a logout token for each
        client that asked for them; return how many were queued.

        The tokens are refused from the moment their session ends anyway (the store checks
        the session on each use); this marks them revoked and tells the clients."""
        queued = 0
        for login in self._db.end_orphaned_logins(user_id, self._clock()):
            if login.backchannel_logout_uri is None:
                continue
            payload = json.dumps({"client_id": login.client_id, "iss": login.issuer})
            self._outbox.enqueue(KIND, "", client, user_id=login.user_id, payload=payload)
            queued += 1
        return queued

    def logout_token(self, issuer: str, client_id: str, user_id: int) -> str:
        """Return a signed logout token (Back-Channel Logout 1.0 2.4): no nonce, the event."""
        from joserfc import jwt

        now = self._clock()
        key = self._provider.keys.signing_key("RS256")
        claims = {
            "iss": issuer,
            "aud": client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "jti": secrets.token_urlsafe(16),
            "sub": self._provider.subject(user_id),
            "events": {EVENT: {}},
        }
        header = {"alg": "RS256", "kid": str(key.kid), "typ": "logout+jwt"}
        return jwt.encode(header, claims, key, algorithms=["RS256"])

    def _deliver(self, job: MailJob) -> None:
        data = json.loads(job.payload or "{}")
        client = self._provider.clients.find(str(data.get("client_id", "")))
        uri = None if client is None else client.stored.backchannel_logout_uri
        if client is None or uri is None or job.user_id is None:
            return  # the client was removed, or no longer asks: nothing to tell
        token = self.logout_token(str(data["iss"]), client.client_id, job.user_id)
        body = urlencode({"logout_token": token}).encode("ascii")
        request = urllib.request.Request(  # noqa: S310 - an http(s) URI, checked when registered
            uri, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                status = answer.status
        except OSError as error:  # HTTPError (4xx/5xx) included: retried later
            raise DeliveryError(type(error).__name__) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"status {status}")
