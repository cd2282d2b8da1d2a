"""Preflight: each server answers its scenarios' requests correctly once, before it is measured.

A benchmark of wrong answers measures nothing: userauth's session, gate, login, sign-up and
reset requests, and each peer's seeded session, missing session and own login, are checked
first.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

from bench.peer_apps import Peer, PeerError
from bench.seed import Seeded
from bench.servers import Server


def _call(
    server: Server,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    cookie: str | None = None,
) -> tuple[int, dict[str, object]]:
    data = urlencode(form).encode() if form is not None else None
    # S310: the URL is our own server's, on loopback, always http.
    request = urllib.request.Request(server.url + path, data=data, method=method)  # noqa: S310
    if cookie is not None:
        request.add_header("Cookie", f"session_id={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def preflight_userauth(
    server: Server, seeded: Seeded, password: str, *, full: bool = True
) -> None:
    """Check that each of userauth's scenarios succeeds once, the gate's included.

    Raises:
        RuntimeError: naming the request that failed.
    """
    checks: list[tuple[str, tuple[int, dict[str, object]], dict[str, object]]] = [
        (
            "GET /profile",
            _call(server, "GET", "/profile", cookie=seeded.profile_sessions[0]),
            {"email": seeded.profile_emails[0]},
        ),
        (
            "GET /auth/verify",
            _call(server, "GET", "/auth/verify", cookie=seeded.profile_sessions[0]),
            {"email": seeded.profile_emails[0]},
        ),
    ]
    if full:
        login = {"email": seeded.login_emails[0], "password": password}
        checks.append(("POST /sessions", _call(server, "POST", "/sessions", login), {}))
        new = {
            "email": f"preflight-{uuid.uuid4().hex[:8]}@bench.example.com",
            "password": password,
        }
        checks.append(("POST /users", _call(server, "POST", "/users", new), {}))
        email = seeded.reset_emails[0]
        issued = _call(server, "POST", "/reset_password", {"email": email})
        checks.append(("POST /reset_password", issued, {"email": email}))
        spend = {
            "email": email,
            "reset_token": str(issued[1].get("reset_token")),
            "new_password": password,
        }
        checks.append(("PUT /reset_password", _call(server, "PUT", "/reset_password", spend), {}))
        checks.append(
            (
                "GET /sessions",
                _call(server, "GET", "/sessions", cookie=seeded.profile_sessions[0]),
                {},
            )
        )
    for name, (status, body), expected in checks:
        if status != 200 or any(body.get(key) != value for key, value in expected.items()):
            raise RuntimeError(f"{server.name}: preflight {name} answered {status} {body}")
    if full:
        status, page, _ = _request(server, "GET", "/auth/login")
        if status != 200 or b"<form" not in page:
            raise RuntimeError(f"{server.name}: preflight GET /auth/login answered {status}")


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _request(
    server: Server,
    method: str,
    path: str,
    *,
    cookie: str | None = None,
    body: str | None = None,
    content_type: str | None = None,
) -> tuple[int, bytes, str | None]:
    """Send one request as wrk does (no User-Agent, no redirects followed).

    Returns the status, the body and the `name=value` pairs of its Set-Cookies, if any.
    """
    headers = {"Accept": JSON}
    if cookie is not None:
        headers["Cookie"] = cookie
    if content_type is not None:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        # Every cookie set (Django's login sets csrftoken beside sessionid), as a browser
        # would send them back.
        set_cookies = response.headers.get_all("Set-Cookie") or []
    finally:
        connection.close()
    cookies = "; ".join(header.split(";", 1)[0] for header in set_cookies)
    return response.status, data, cookies or None


def log_in(peer: Peer, server: Server, email: str, password: str) -> str | None:
    """Log in through the peer's own login endpoint; return its session cookie, or None."""
    email_field, password_field = peer.login_fields
    if not peer.login_csrf:
        form = urlencode({email_field: email, password_field: password})
        _, _, cookie = _request(server, "POST", peer.login_path, body=form, content_type=FORM)
        return cookie
    status, body, csrf_cookie = _request(server, "GET", peer.login_path)
    if status != 200:
        return None
    token = json.loads(body)["response"]["csrf_token"]
    credentials = {email_field: email, password_field: password, "csrf_token": token}
    _, _, cookie = _request(
        server,
        "POST",
        peer.login_path,
        cookie=csrf_cookie,
        body=json.dumps(credentials),
        content_type=JSON,
    )
    return cookie


def preflight_peer(
    peer: Peer, server: Server, sessions: list[tuple[str, str]], email: str, password: str
) -> None:
    """Check the peer before measuring it: seeded and fresh sessions answer, no cookie doesn't.

    Raises:
        PeerError: naming the check that failed.
    """
    cookie, expected = sessions[0]
    status, body, _ = _request(server, "GET", "/profile", cookie=cookie)
    if status != 200 or json.loads(body).get("email") != expected:
        raise PeerError(f"{server.name}: GET /profile with a seeded session: {status} {body!r}")
    status, _, _ = _request(server, "GET", "/profile")
    if status == 200:
        raise PeerError(f"{server.name}: GET /profile without a session answered 200")
    fresh = log_in(peer, server, email, password)
    status, body, _ = _request(server, "GET", "/profile", cookie=fresh)
    if fresh is None or status != 200 or json.loads(body).get("email") != email:
        raise PeerError(f"{server.name}: login of {email} then GET /profile: {status} {body!r}")
