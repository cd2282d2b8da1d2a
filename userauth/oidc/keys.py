"""Signing keys: RS256 and ES256, sealed at rest, published in the JWKS, rotated safely.

RS256 is what every relying party supports (OpenID Connect Core 15.1 makes it mandatory);
ES256 is offered beside it. Private keys are sealed with secret_box (USERAUTH_ENCRYPTION_KEYS),
so a copy of the database alone signs nothing. A rotation publishes the new keys in the JWKS
`publish_for` before they sign (relying parties cache the JWKS), and keeps the old ones
published until every token they signed has expired.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from userauth.clock import as_utc
from userauth.db import DB
from userauth.db.oidc import StoredKey
from userauth.secret_box import SecretBox

ALGORITHMS = ("RS256", "ES256")
# How long the key rows behind signing are reused before they are read again (monotonic
# seconds). A rotation publishes its keys `publish_for` before they sign and keeps the old
# ones published for a token lifetime after: a worker that signs a few seconds longer with
# the old key signs what every relying party still verifies. The JWKS is always read fresh.
SIGNING_ROWS_SECONDS = 5.0
SigningKey = RSAKey | ECKey


def _generate(alg: str, kid: str) -> SigningKey:
    parameters: Any = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters)
    return ECKey.generate_key("P-256", parameters=parameters)


class SigningKeys:
    """The provider's signing keys; opened keys are kept in memory by kid (they never change)."""

    def __init__(
        self, db: DB, box: SecretBox, clock: Callable[[], datetime], token_lifetime: timedelta
    ) -> None:
        self._db = db
        self._box = box
        self._clock = clock
        self._token_lifetime = token_lifetime
        self._opened: dict[str, SigningKey] = {}
        self._lock = threading.Lock()
        self._signing_rows: tuple[float, list[StoredKey]] | None = None

    def signing_key(self, alg: str) -> SigningKey:
        """Return the key that signs with `alg` now: the newest one allowed to sign.

        Made on first need (RS256 and ES256 together), so a new deployment needs no step.

        Raises:
            UnreadableSecretError: no configured encryption key opens it.
        """
        now = self._clock()
        usable = [
            key
            for key in self._live(now, self._recent_rows())
            if key.alg == alg and as_utc(key.signs_from) <= now
        ]
        if not usable:
            self._add(now, signs_from=now, retire={})
            usable = [key for key in self._live(now) if key.alg == alg]
        return self._open(usable[-1])

    def jwks(self) -> dict[str, Any]:
        """Return the public JWKS: every key published now (RFC 7517 5)."""
        now = self._clock()
        live = self._live(now)
        if not live:
            self.signing_key(ALGORITHMS[0])
            live = self._live(now)
        key_set = KeySet([self._open(key) for key in live])
        return dict(key_set.as_dict(private=False))

    def rotate(self, publish_for: timedelta) -> list[str]:
        """Publish new RS256 and ES256 keys that sign from `publish_for` on; the current ones
        stay published until the tokens they sign by then have expired. Return the new kids."""
        now = self._clock()
        signs_from = now + publish_for
        retire_after = signs_from + self._token_lifetime
        retire = {key.kid: retire_after for key in self._live(now) if key.retire_after is None}
        return self._add(now, signs_from=signs_from, retire=retire)

    def _live(self, now: datetime, rows: Sequence[StoredKey] | None = None) -> list[StoredKey]:
        return [
            key
            for key in (self._db.signing_keys() if rows is None else rows)
            if key.retire_after is None or as_utc(key.retire_after) > now
        ]

    def _recent_rows(self) -> list[StoredKey]:
        """Return the key rows, read again when older than SIGNING_ROWS_SECONDS."""
        with self._lock:
            cached = self._signing_rows
        if cached is not None and time.monotonic() - cached[0] < SIGNING_ROWS_SECONDS:
            return cached[1]
        rows = list(self._db.signing_keys())
        with self._lock:
            self._signing_rows = (time.monotonic(), rows)
        return rows

    def _add(
        self, now: datetime, *, signs_from: datetime, retire: dict[str, datetime]
    ) -> list[str]:
        rows, kids = [], []
        for alg in ALGORITHMS:
            kid = secrets.token_urlsafe(12)
            key = _generate(alg, kid)
            rows.append(
                {
                    "kid": kid,
                    "alg": alg,
                    "sealed_jwk": self._box.seal(json.dumps(key.as_dict(private=True))),
                    "created_at": now,
                    "signs_from": signs_from,
                    "retire_after": None,
                }
            )
            kids.append(kid)
        self._db.add_signing_keys(rows, retire)
        with self._lock:
            self._signing_rows = None  # this process signs with what it just stored
        return kids

    def _open(self, stored: StoredKey) -> SigningKey:
        with self._lock:
            key = self._opened.get(stored.kid)
        if key is None:
            data = json.loads(self._box.open(stored.sealed_jwk))
            key = RSAKey.import_key(data) if stored.alg == "RS256" else ECKey.import_key(data)
            with self._lock:
                self._opened[stored.kid] = key
        return key
