"""Re-authentication at the OpenID Connect authorization endpoint: `prompt=login` and a
`max_age` the session's last authentication exceeds make the user prove it is them again
(OpenID Connect Core 3.1.2.1: the OP MUST re-authenticate), with the hosted pages'
re-authentication form (web/reauthentication.py), which posts back to the same request.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import request
from flask_babel import lazy_gettext as _l

from userauth.sessions import LiveSession
from userauth.web.context import current_auth

# max_age is a number of seconds (OpenID Connect Core 3.1.2.1): ASCII digits only (not
# str.isdigit's "²"), and at most 10 of them (not a 5000-digit int to parse).
MAX_AGE = re.compile(r"[0-9]{1,10}")
# What the re-authentication page says the password is for.
SIGN_IN = _l("Signing in to an application")


def wants_fresh_login(live: LiveSession, prompts: set[str]) -> bool:
    """Tell whether the request asks for a login newer than the session's: `prompt=login`,
    or a `max_age` (seconds) its last authentication exceeds."""
    return "login" in prompts or too_old(live)


def too_old(live: LiveSession) -> bool:
    """Tell whether the session authenticated longer ago than the request's `max_age`."""
    max_age = request.values.get("max_age", "")
    if not MAX_AGE.fullmatch(max_age) or live.authenticated_at is None:
        return False
    age = current_auth().oidc.now() - live.authenticated_at
    return age.total_seconds() > int(max_age)


def reauthentication_posted() -> bool:
    """Tell whether this request posted the re-authentication form's password or code."""
    return request.method == "POST" and bool(
        request.form.get("reauth_password") or request.form.get("reauth_code")
    )


def satisfied_request() -> str:
    """Return this authorization request's path and query without what asked for a fresh
    login (`prompt=login`, `max_age`): where a page shown right after the re-authentication
    (the consent) posts, so that it does not ask again. The ID token's `auth_time` still
    tells the client when the user authenticated (OpenID Connect Core 2)."""
    kept = []
    for name, value in parse_qsl(urlsplit(request.full_path).query, keep_blank_values=True):
        if name == "max_age":
            continue
        if name == "prompt":
            value = " ".join(p for p in value.split() if p != "login")
            if not value:
                continue
        kept.append((name, value))
    return request.path + "?" + urlencode(kept)
