"""Device cookies: a device that has logged into an account keeps trying while strangers can't.

OWASP "Slow Down Online Guessing Attacks with Device Cookies", for NIST SP 800-63B 5.2.2 (limit
failed attempts without letting an attacker lock the owner out). Each successful login leaves
the browser or API client a cookie entry bound to that account: a random nonce and its
HMAC-SHA-256 over the account's look-up key, never the email. A login attempt that carries a
valid entry for the account it names counts against that entry's own failure budget
(USERAUTH_RATELIMIT_DEVICE_FAILURES, userauth/web/limits.py) instead of the account's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.emails import lookup_key
from userauth.settings import Settings
from userauth.tokens import digest
from userauth.web.cookie_header import cookie_values

DEVICE_COOKIE = "userauth_device"
# Renewed at each login; browsers cap a cookie's life at 400 days (RFC 6265bis, Max-Age).
DEVICE_COOKIE_LIFETIME = timedelta(days=365)
# Accounts one device is remembered for (a shared computer, a second account): the oldest
# entry goes first.
MAX_ACCOUNTS_PER_DEVICE = 5
# Copies of the cookie read from one request (a planted one, the person's own): a bound on
# the work an attacker's header can cause.
MAX_COPIES = 4
_PRESENTED_ENTRIES = MAX_ACCOUNTS_PER_DEVICE * MAX_COPIES
# nonce (16 random bytes) "." signature (32 bytes), both base64url without padding.
_ENTRY = re.compile(r"([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")
_SEPARATOR = "~"
# Domain separation: the same secret also signs the pages' forms (Flask's session).
_PURPOSE = b"userauth device cookie v1"
_EXTENSION = "userauth.devices"


class DeviceCookies:
    """Issue and check the device cookie entries of one app, under one signing key."""

    def __init__(self, secret: str, *, secure: bool) -> None:
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
        self._secure = secure

    def device_id(self, email: str, cookie: str | None) -> str | None:
        """Return the id of the entry in `cookie` bound to this email's account, or None.

        The id (the SHA-256 of the entry's nonce, hex) names the device's counters: it holds
        no secret. A forged or altered entry, or another account's, gives None.
        """
        account = lookup_key(email)
        for nonce, signature in _entries(cookie, _PRESENTED_ENTRIES):
            if hmac.compare_digest(signature, self._signature(account, nonce)):
                return digest(nonce)
        return None

    def remember(self, response: WerkzeugResponse, email: str, cookie: str | None) -> None:
        """Set a fresh entry for this email's account in the cookie, keeping the others."""
        account = lookup_key(email)
        others = [
            (nonce, signature)
            for nonce, signature in _entries(cookie, _PRESENTED_ENTRIES)
            if not hmac.compare_digest(signature, self._signature(account, nonce))
        ]
        # A new nonce at each login (OWASP: "issue new device cookie"): a copied cookie
        # stops counting as the owner's device once the owner logs in again.
        nonce = _encode(secrets.token_bytes(16))
        entries = [(nonce, self._signature(account, nonce)), *others]
        response.set_cookie(
            DEVICE_COOKIE,
            _SEPARATOR.join(f"{n}.{s}" for n, s in entries[:MAX_ACCOUNTS_PER_DEVICE]),
            max_age=int(DEVICE_COOKIE_LIFETIME.total_seconds()),
            # Host-only, for this service's own login routes; script never needs it.
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="Lax",
        )

    def _signature(self, account: str, nonce: str) -> str:
        message = f"{account}\0{nonce}".encode("utf-8", errors="surrogatepass")
        return _encode(hmac.new(self._key, message, hashlib.sha256).digest())


def install_device_cookies(app: Flask, settings: Settings) -> None:
    """Give the app its device cookies, signed with USERAUTH_SECRET_KEY.

    Settings built in code without a key (tests) get one drawn for this app alone;
    production refuses to start without one (settings/production.py).
    """
    secret = settings.security.secret_key or secrets.token_urlsafe(32)
    app.extensions[_EXTENSION] = DeviceCookies(secret, secure=settings.cookies.secure)


def presented_device(email: str) -> str | None:
    """Return the id of the request's device cookie entry for this email's account, or None.

    Checked once per request (the rate limits ask for each of their windows).
    """
    checked: dict[str, str | None] = g.setdefault("userauth_devices", {})
    if email not in checked:
        checked[email] = _devices().device_id(email, _presented())
    return checked[email]


def remember_device(response: WerkzeugResponse, email: str) -> None:
    """After a successful login, leave this device a cookie entry for the account.

    Logging out keeps it: it says the device has logged in here before, not that it is now.
    """
    _devices().remember(response, email, _presented())


def _presented() -> str:
    """Return the entries of every copy of the device cookie the request carries, as one.

    Every copy, read as the browser sent it (cookie_header.py): a sibling subdomain can plant
    a copy that is sent first (cookie tossing), and reading only that one would hide the
    owner's own entry and hand the owner back to the account's budget, shared with strangers.
    """
    copies = cookie_values(request.environ.get("HTTP_COOKIE"), DEVICE_COOKIE)
    # Each copy's own entries (a planted copy full of junk must not crowd out the real one),
    # from a bounded number of copies.
    return _SEPARATOR.join(
        _SEPARATOR.join(f"{nonce}.{signature}" for nonce, signature in _entries(copy))
        for copy in copies[:MAX_COPIES]
    )


def _devices() -> DeviceCookies:
    devices: DeviceCookies = current_app.extensions[_EXTENSION]
    return devices


def _entries(
    cookie: str | None, limit: int = MAX_ACCOUNTS_PER_DEVICE
) -> Iterator[tuple[str, str]]:
    """Yield the well-formed (nonce, signature) entries of a cookie, at most `limit`."""
    parts = (cookie or "").split(_SEPARATOR, limit)[:limit]
    for part in parts:
        matched = _ENTRY.fullmatch(part)
        if matched is not None:
            yield matched.group(1), matched.group(2)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
