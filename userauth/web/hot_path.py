"""The session checks' hot path: `GET /profile` and the gate answered from the session cache.

With a forward-auth gate, every request of every app behind userauth asks it "who is this?".
When this process's session cache answers for the session alone (session_cache.py: a live
entry the broadcast vouches for; an idle-clock write due goes to the worker's writer thread,
idle_clock.py), the answer needs nothing from Flask: this WSGI layer writes it directly, byte
for byte what the Flask route would answer (tests compare the two). Everything else — no
cookie or several, a miss, a write due with no writer thread, a query string, a cross-origin
request (CORS), any other route — goes to Flask unchanged. It sits inside the request log and
metrics, so a hot answer is logged and counted like any other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userauth.auth import Auth
from userauth.sessions import LiveSession
from userauth.web.cookie_header import cookie_values
from userauth.web.gate import identity_answer
from userauth.web.observability import record_route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PROFILE = "/profile"
GATE = "/auth/verify"
# The gate's query strings answered here, and the assurance level each asks for.
_LEVELS = {"aal=1": 1, "aal=2": 2}
# Sessions whose answers are kept at once, per app (a few hundred bytes each).
_MAX_ANSWERS = 4096


@dataclass(frozen=True)
class _Answers:
    """A cached session's `GET /profile` and gate answers: body and headers each."""

    live: LiveSession
    profile: tuple[bytes, list[tuple[str, str]]]
    gate: tuple[bytes, list[tuple[str, str]]]


class HotPath:
    """WSGI middleware: answer a cached session's `GET /profile` or gate check itself."""

    def __init__(
        self, wsgi_app: WSGIApplication, auth: Auth, security_headers: Sequence[tuple[str, str]]
    ) -> None:
        self._wsgi_app = wsgi_app
        self._sessions = auth.sessions
        self._cookie_name = auth.settings.session_cookie_name
        self._gate = auth.settings.gate
        self._security_headers = list(security_headers)
        # Each cached session's two answers, made on its first hit: the cache hands out the
        # same LiveSession object until the session changes (a touch, a new login), so a
        # hit is a dict look-up. Keyed by the object's id, the object kept beside its
        # answers (so its id is not reused while it is here) and compared by identity.
        self._answers: dict[int, _Answers] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        live = self._cached_session(environ)
        if live is None:
            return self._wsgi_app(environ, start_response)
        answers = self._answers.get(id(live))
        if answers is None or answers.live is not live:
            answers = self._answer(live)
        path = environ["PATH_INFO"]
        body, headers = answers.profile if path == PROFILE else answers.gate
        # A copy: whoever wraps start_response may add headers to the list it is given.
        start_response("200 OK", list(headers))
        record_route(environ, path, "GET", path)
        return [body]

    def _answer(self, live: LiveSession) -> _Answers:
        """Make and keep a session's answers (at most _MAX_ANSWERS sessions' at a time)."""
        identity = identity_answer(live, self._gate)
        answers = _Answers(
            live,
            self._response(_json({"email": live.email}), []),
            self._response(_json(identity.body), identity.headers),
        )
        if len(self._answers) >= _MAX_ANSWERS:
            self._answers.clear()  # sessions whose answers are dropped are made again
        self._answers[id(live)] = answers
        return answers

    def _response(
        self, body: bytes, headers: list[tuple[str, str]]
    ) -> tuple[bytes, list[tuple[str, str]]]:
        return body, [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers,
            *self._security_headers,
        ]

    def _cached_session(self, environ: WSGIEnvironment) -> LiveSession | None:
        """Return the session the cache answers for, when this request may be answered here."""
        path = environ.get("PATH_INFO")
        query = environ.get("QUERY_STRING")
        if (
            path not in (PROFILE, GATE)
            or environ.get("REQUEST_METHOD") != "GET"
            # The gate's level demands are answered here; any other query goes to Flask.
            or (query and (path != GATE or query not in _LEVELS))
            # CORS answers carry headers only Flask-CORS writes.
            or "HTTP_ORIGIN" in environ
        ):
            return None
        cookie = environ.get("HTTP_COOKIE")
        if not cookie:
            return None
        session_ids = cookie_values(cookie, self._cookie_name)
        # Several copies (cookie tossing): Flask answers that there is no session, and clears them.
        if len(session_ids) != 1:
            return None
        live = self._sessions.cached(session_ids[0])
        # A session below the level asked: Flask answers it (401, or 302 in redirect mode).
        if live is not None and query and live.aal < _LEVELS[query]:
            return None
        return live


# As Flask's jsonify outside debug: compact, keys sorted, ASCII. One encoder for every answer
# (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def _json(value: dict[str, object]) -> bytes:
    # One trailing newline, as jsonify.
    return (_ENCODER.encode(value) + "\n").encode()
