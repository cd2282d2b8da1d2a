"""Price each layer of userauth's request handling in process, by instructions or by CPU time.

For each route Flask serves in full (`GET /`, `GET /sessions` with a session, the login
page) and the gate (`GET /auth/verify` with a session, answered before Flask by the hot
path), the whole app is measured beside copies of it built without one layer each, on one
SQLite database with the rate limits on (production's setting). A layer's cost is the
whole app's cost per request minus that of the copy without it. Taking a layer out is this
measurement's doing only (it edits the copy's hook lists); the product never runs without one.

`python -m bench.layers [--requests N] [--whole]` counts instructions under valgrind's callgrind
(installed on the machine): each scenario's N requests run inside `operator.call`, which
callgrind collects and dumps alone (`--toggle-collect`, `--dump-after`), so start-up and
warm-up are not counted and other processes' load changes nothing; the garbage collector is
paused while a scenario is counted (a collection would land in one scenario at random). `python -m
bench.overhead --layers` times the same scenarios in CPU time instead: quicker, noisier.
"""

from __future__ import annotations

import argparse
import gc
import logging
import operator
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from userauth import migrations
from userauth.settings import DatabaseSettings, RateLimitSettings, SecuritySettings, Settings
from userauth.web import create_app
from userauth.web.context import auth_of
from userauth.web.request_hooks import request_hooks
from userauth.web.security_headers import SecurityHeaders

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

Editor = Callable[[Flask], None]


@dataclass(frozen=True)
class Layer:
    """A layer: how to build an app without it, and what to hold while timing that app."""

    name: str
    edit: Editor | None = None
    rate_limits: bool = True
    context: Callable[[], AbstractContextManager[object]] = nullcontext


def _drop_hooks(*names: str) -> Editor:
    """Make an editor that removes the request hooks whose name contains one of `names`."""

    def edit(app: Flask) -> None:
        _filter(app.before_request_funcs, names)
        _filter(app.after_request_funcs, names)
        _filter(app.teardown_request_funcs, names)
        # The app's own steps, which its three Flask hooks run (userauth/web/request_hooks.py).
        steps = request_hooks(app)
        lists: list[list[Any]] = [steps.before_steps, steps.after_steps, steps.teardown_steps]
        for found in lists:
            found[:] = [step for step in found if not _named(step, names)]

    return edit


def _filter(registry: Any, names: tuple[str, ...]) -> None:
    for key, hooks in registry.items():
        registry[key] = [hook for hook in hooks if not _named(hook, names)]


def _named(hook: Any, names: tuple[str, ...]) -> bool:
    target = getattr(hook, "func", hook)  # functools.partial
    label = f"{getattr(target, '__qualname__', '')} {getattr(target, '__name__', '')}"
    return any(name in label for name in names)


def _no_metrics(app: Flask) -> None:
    observer = app.wsgi_app
    observer._metrics = _NoMetrics()  # type: ignore[attr-defined]


def _no_security_headers(app: Flask) -> None:
    layer: Any = app.wsgi_app
    while not isinstance(layer._wsgi_app, SecurityHeaders):
        layer = layer._wsgi_app  # the WSGI wrappers create_app stacked, outermost first
    layer._wsgi_app = layer._wsgi_app._wsgi_app


class _NoMetrics:
    def observe(self, *args: object) -> None:
        pass


@contextmanager
def _access_log_off() -> Iterator[object]:
    log = logging.getLogger("userauth.access")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield None
    finally:
        log.setLevel(level)


LAYERS = [
    Layer("whole app"),
    Layer("access log", context=_access_log_off),
    Layer("metrics", edit=_no_metrics),
    Layer("rate limits (on -> off)", rate_limits=False),
    Layer(
        "Flask-Limiter hooks",
        edit=_drop_hooks("_check_request_limit", "release_context", "settle", "confined"),
    ),
    Layer("security headers", edit=_no_security_headers),
    Layer("CSRF hooks (Flask-WTF)", edit=_drop_hooks("csrf_protect", "_check_csrf")),
    Layer("cross-site and body checks", edit=_drop_hooks("_refuse_")),
    Layer("cookie tossing check", edit=_drop_hooks("_drop_tossed_cookies")),
    Layer("route naming (teardown)", edit=_drop_hooks("_remember_route")),
    Layer("page CSP header", edit=_drop_hooks("_content_security_policy")),
]


def build(folder: Path, layer: Layer) -> WSGIApplication:
    """Build the app without `layer` on the shared database in `folder`."""
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{folder / 'bench.db'}"),
        security=SecuritySettings(bcrypt_rounds=4),
        rate_limits=RateLimitSettings(enabled=layer.rate_limits),
    )
    migrations.ensure_current(settings.database.url, auto_migrate=False)
    app = create_app(settings)
    # As a served worker: idle clocks written off the request path, so that the gate is
    # answered by the hot path whenever its session's clock comes due.
    auth_of(app).sessions.write_idle_clocks_in_background()
    if layer.edit is not None:
        layer.edit(app)
    return app


# The C function of `operator.call` in libpython: nothing on a request's path calls it.
_COLLECTED = "_operator_call"
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def _inner(requests: int, *, whole_only: bool) -> None:
    """Run each scenario's requests inside operator.call, in bench.overhead's order."""
    from bench import overhead  # the scenarios, built as overhead builds them

    with tempfile.TemporaryDirectory(prefix="userauth-layers-") as folder:
        sys.stderr = open(Path(folder) / "stderr.log", "w", buffering=1)  # noqa: SIM115
        found = overhead.layered_scenarios(Path(folder), whole_only=whole_only)
        for scenario in found:
            overhead.time_round(scenario, max(5, requests // 2))  # warm, not collected
        for scenario in found:

            def run(scenario: overhead.Scenario = scenario) -> None:
                with scenario.context():
                    for _ in range(requests):
                        overhead.call(scenario)

            # A collection landing in one scenario's few requests would be counted as its
            # cost: none runs while one is counted.
            gc.collect()
            gc.disable()
            try:
                operator.call(run)
            finally:
                gc.enable()
        print("\n".join(scenario.name for scenario in found), file=sys.__stdout__)


def count(requests: int, *, whole_only: bool = False) -> dict[str, float]:
    """Return each scenario's instructions per request, counted by callgrind."""
    with tempfile.TemporaryDirectory(prefix="userauth-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={_COLLECTED}",
            f"--dump-after={_COLLECTED}",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.layers",
            "--inner",
            f"--requests={requests}",
            *(["--whole"] if whole_only else []),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
        names = [name for name in done.stdout.splitlines() if name]
        dumps = sorted(Path(folder).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        totals = [int(_TOTALS.findall(dump.read_text())[-1]) for dump in dumps]
    if len(totals) != len(names):
        raise SystemExit(f"{len(totals)} callgrind dumps for {len(names)} scenarios")
    return {name: total / requests for name, total in zip(names, totals, strict=True)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per scenario")
    parser.add_argument(
        "--whole", action="store_true", help="count the whole app only, no copy without a layer"
    )
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.inner:
        _inner(options.requests, whole_only=options.whole)
        return
    from bench import overhead

    results = count(options.requests, whole_only=options.whole)
    print(f"instructions per request (callgrind, {options.requests} requests per scenario);")
    overhead.print_layers(results, unit="k instructions", scale=1e-3)


if __name__ == "__main__":
    main()
