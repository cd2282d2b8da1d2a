"""Cookie tossing: an answer to a request carrying the session cookie twice clears every copy.

A sibling subdomain (or a subdomain of this host) can plant a cookie of the session's name
with `Domain=` a parent and a longer `Path`, which the browser sends first; the session seam
then counts neither copy (session.py). This module makes the answer tell the browser to drop
them all, so the person can log in again as themselves. In production without a cookie
domain the cookie is `__Host-` prefixed and cannot be planted at all
(Settings.session_cookie_name).
"""

from __future__ import annotations

import re
from functools import partial
from ipaddress import ip_address
from urllib.parse import urlsplit

from flask import Flask, Request
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.settings import HOST_PREFIX, Settings
from userauth.web.context import auth_of
from userauth.web.cookie_header import cookie_values
from userauth.web.request_hooks import request_hooks
from userauth.web.session import sets_new_cookie

# How many of a path's segments get their Paths cleared: the deepest route has five.
MAX_CLEARED_SEGMENTS = 6
# The host names a cookie's Domain can be (and Werkzeug can write): labels of a-z, 0-9, "-".
DOMAIN_NAME = re.compile(r"[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*")


def install_cookie_tossing_checks(app: Flask) -> None:
    """Make every answer to a request with several session cookies tell the browser to drop them.

    OWASP ASVS 4.0.3 V3.4.4 (the `__Host-` prefix) prevents the planting where it can be used;
    this covers development and a configured cookie domain, where it cannot.
    """
    request_hooks(app).after(partial(_drop_tossed_cookies, auth_of(app).settings))


def _drop_tossed_cookies(
    settings: Settings, current: Request, response: WerkzeugResponse
) -> WerkzeugResponse:
    # The answer to nearly every request: a name sent once or not at all (the count of its
    # mentions is a cheap bound on its copies).
    header = current.environ.get("HTTP_COOKIE") or ""
    name = settings.session_cookie_name
    if header.count(name) < 2 or len(cookie_values(header, name)) < 2:
        return response
    # A login answer sets the person's new cookie at Path=/: that copy must survive.
    replacing = sets_new_cookie()
    if not replacing and current.is_secure:
        # W3C Clear-Site-Data: every cookie of the site, wherever it was planted. Only over
        # HTTPS: browsers honour it from secure origins only, and Chromium then drops the
        # answer's Set-Cookie too, the expiries below that plain http relies on.
        response.headers["Clear-Site-Data"] = '"cookies"'
    for path, domain in tossed_cookie_scopes(settings, current.host, current.path):
        if replacing and path == "/" and domain == settings.cookies.domain:
            continue
        # Only name, Path and Domain say which cookie an expiry replaces: no other attribute,
        # so that dozens of them stay small (a proxy's buffer for answer headers is ~4 KB).
        expiry = dump_cookie(
            settings.session_cookie_name,
            max_age=0,
            path=path,
            domain=domain,
            secure=settings.cookies.secure,
            sync_expires=False,
        )
        response.headers.add("Set-Cookie", expiry)
    return response


def tossed_cookie_scopes(settings: Settings, host: str, path: str) -> list[tuple[str, str | None]]:
    """Return the (Path, Domain) of every session cookie a browser may send to host and path.

    A cookie is replaced only by one with its name, Path and Domain (RFC 6265 5.3), and a
    request does not say which ones its cookies have: every Path matching the request's path
    (RFC 6265 5.1.4) is cleared, host-only and with each Domain a cookie sent here can have
    (the host, its parents, the configured one). A `__Host-` cookie is host-only at Path=/.
    """
    if settings.session_cookie_name.startswith(HOST_PREFIX):
        return [("/", None)]
    domains: list[str | None] = [None, *_domains_of(host)]
    configured = (settings.cookies.domain or "").lstrip(".")
    if configured and configured not in domains:
        domains.append(configured)
    return [(cookie_path, domain) for cookie_path in _paths_of(path) for domain in domains]


def _domains_of(host: str) -> list[str]:
    """Return the host's name and each parent of two labels or more (none for an address)."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # not a host name at all: the Host header is the client's
        return []
    if not DOMAIN_NAME.fullmatch(name) or _is_address(name):
        return []
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def _is_address(name: str) -> bool:
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


def _paths_of(path: str) -> list[str]:
    """Return "/", each prefix of `path` that ends before a "/" (with and without it), `path`."""
    paths = ["/"]
    slashes = [i for i, character in enumerate(path) if character == "/"]
    for slash in slashes[1:MAX_CLEARED_SEGMENTS]:
        paths += [path[:slash], path[: slash + 1]]
    paths.append(path)
    return list(dict.fromkeys(paths))
