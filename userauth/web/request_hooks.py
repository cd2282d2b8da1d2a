"""The app's request hooks: one before, one after and one teardown hook, for every concern.

A hook per concern (the cross-site and body checks, the cookie-tossing check, the route's
name for the log, the rate limiter's) cost 10-35 k instructions per hook and request, most
of it not the check: Flask's call (`ensure_sync` asks `inspect` whether the hook is a
coroutine function) and each read through the `request` proxy (about 8 k instructions
each, against under 1 k on the request object itself; docs/performance.md, issue 23). So
each concern's module adds its step here (`request_hooks(app).before(step)`), and
`install_request_hooks` gives Flask three hooks that look the request up once, hand it to
each step and run the steps in Flask's own order: before-steps in the order added, stopping
at the first that returns an answer; after-steps and teardown-steps in reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as WerkzeugResponse

BeforeStep = Callable[[Request], ResponseReturnValue | None]
AfterStep = Callable[[Request, Any], Any]
TeardownStep = Callable[[Request, BaseException | None], None]

_EXTENSION = "userauth.request_hooks"


class RequestHooks:
    """The app's steps before a view, after it (on the answer) and at the request's end."""

    def __init__(self) -> None:
        self.before_steps: list[BeforeStep] = []
        self.after_steps: list[AfterStep] = []
        self.teardown_steps: list[TeardownStep] = []

    def before(self, step: BeforeStep) -> None:
        """Run `step` before each request's view; an answer it returns is the request's."""
        self.before_steps.append(step)

    def after(self, step: AfterStep) -> None:
        """Run `step` on each answer (it returns the answer), before the steps added earlier."""
        self.after_steps.append(step)

    def teardown(self, step: TeardownStep) -> None:
        """Run `step` as each request ends, error or not, before the steps added earlier."""
        self.teardown_steps.append(step)

    def run_before(self) -> ResponseReturnValue | None:
        """Run the before-steps in order; return the first answer one gives, else None."""
        current = _current_request()
        for step in self.before_steps:
            answer = step(current)
            if answer is not None:
                return answer
        return None

    def run_after(self, response: WerkzeugResponse) -> WerkzeugResponse:
        """Pass the answer through the after-steps, the last added first."""
        current = _current_request()
        for step in reversed(self.after_steps):
            response = step(current, response)
        return response

    def run_teardown(self, error: BaseException | None) -> None:
        """Run the teardown-steps, the last added first."""
        current = _current_request()
        for step in reversed(self.teardown_steps):
            step(current, error)


def _current_request() -> Request:
    # The object behind the proxy, as Flask's docs show ("Notes On Proxies"): read once.
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    return current


def request_hooks(app: Flask) -> RequestHooks:
    """Return the app's request hooks, made empty on the first call."""
    hooks: RequestHooks = app.extensions.setdefault(_EXTENSION, RequestHooks())
    return hooks


def install_request_hooks(app: Flask) -> None:
    """Give Flask the three hooks that run the app's steps.

    Called once, last in create_app: Flask runs after-request hooks in reverse order of
    registration, so these run before any a library registered (Flask-CORS's), as the
    steps' own hooks did.
    """
    hooks = request_hooks(app)
    app.before_request(hooks.run_before)
    app.after_request(hooks.run_after)
    app.teardown_request(hooks.run_teardown)
