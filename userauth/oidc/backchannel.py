"""Back-channel logout (OpenID Back-Channel Logout 1.0): tell clients a session ended.

A session ends by having its row deleted, whatever ended it (logout, revocation, a password
change or reset, a factor or passkey added or removed, an administrator, the account's
deletion): the store tells this module after each commit that changed a user's sessions
(`DB.on_commit`), so no path can forget to. The tokens issued from the ended sessions are
revoked, and each client with a `backchannel_logout_uri` that such a session logged into gets
a signed logout token naming the account (`sub`) and the session (`sid`, its public id), 2.4,
POSTed by the durable outbox, which retries with backoff: a client that is down gets it when
it is back.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode

from userauth.audit import NO_CLIENT, Client
from userauth.db import DB
from userauth.db.oidc_tokens import EndedLogin
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
        db.on_commit(self._committed)

    def sessions_ended(self, user_id: int, client: Client = NO_CLIENT) -> int:
        """Revoke the tokens of the user's ended sessions and queue a logout token for each
        (client, session) that asked for them; return how many were queued.

        The revocation and the jobs commit together (`DB.atomically`): tokens are never
        marked revoked without their clients' jobs, which would leave nothing for a later
        sweep to find. The tokens are refused from the moment their session ends anyway (the
        store checks the session on each use); this marks them revoked and tells the clients.
        A cheap read first skips the transaction when there is nothing to sweep: it runs after
        the session change committed, so it sees every token issued before it (a token issued
        later finds no session: `_spend_and_issue`).
        """
        if not self._db.has_orphaned_logins(user_id):
            return 0

        def sweep() -> int:
            return self._queue(self._db.end_orphaned_logins(user_id, self._clock()), client)

        return self._db.atomically(sweep)

    def _committed(self, user_ids: set[int], deleted: Sequence[EndedLogin]) -> None:
        # Each account's sweep on its own: one that fails (logged) leaves the others queued.
        for user_id in sorted(user_ids):
            try:
                self.sessions_ended(user_id)
            except Exception:
                logger.exception("back-channel logout sweep failed for user %d", user_id)
        self._queue(deleted, NO_CLIENT)

    def _queue(self, logins: Sequence[EndedLogin], client: Client) -> int:
        # The jobs name no account (user_id None): the payload carries `sub` and `sid`, and an
        # account's deletion, which deletes its own mail jobs, must not take them along.
        queued = 0
        for login in logins:
            if login.backchannel_logout_uri is None or login.subject is None:
                continue
            payload = {
                "client_id": login.client_id,
                "iss": login.issuer,
                "sub": login.subject,
                "sid": login.session_public_id,
            }
            self._outbox.enqueue(KIND, "", client, payload=json.dumps(payload))
            queued += 1
        return queued

    def logout_token(self, issuer: str, client_id: str, subject: str, sid: str) -> str:
        """Return a signed logout token (Back-Channel Logout 1.0 2.4): `sub` and `sid`, the
        event, no nonce."""
        from joserfc import jwt

        now = self._clock()
        key = self._provider.keys.signing_key("RS256")
        claims = {
            "iss": issuer,
            "aud": client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "jti": secrets.token_urlsafe(16),
            "sub": subject,
            "sid": sid,
            "events": {EVENT: {}},
        }
        header = {"alg": "RS256", "kid": str(key.kid), "typ": "logout+jwt"}
        return jwt.encode(header, claims, key, algorithms=["RS256"])

    def _deliver(self, job: MailJob) -> None:
        data = json.loads(job.payload or "{}")
        client = self._provider.clients.find(str(data.get("client_id", "")))
        uri = None if client is None else client.stored.backchannel_logout_uri
        if client is None or uri is None:
            return  # the client was removed, or no longer asks: nothing to tell
        subject = data.get("sub")
        if subject is None and job.user_id is not None:  # queued before `sub` travelled
            subject = self._provider.subject(job.user_id)
        if subject is None:
            return
        token = self.logout_token(
            str(data["iss"]), client.client_id, str(subject), str(data.get("sid", ""))
        )
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
