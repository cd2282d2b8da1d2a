"""Production under its own server: an answer's time does not tell which emails are registered.

Measured against `userauth serve` as a process (granian, production settings, a real SMTP
sink), as same-run ratios of medians over interleaved pairs; the best of three rounds counts,
since a leak is systematic and shows in every round while a busy machine's noise does not.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.conftest import ServerProcess
from tests.smtp import MailSink

EMAIL = "bob@example.com"
UNKNOWN_EMAIL = "nobody@example.com"
# An account that asks to move to bob's address (taken) or to free ones.
MOVER = "ann@example.com"
PASSWORD = "violet-kettle-orbit-42"
PAIRS = 60
ROUNDS = 3
RATIO_BOUNDS = (0.85, 1.15)
# The limits would stop hundreds of requests in a row; these tests measure, not limit.
NO_LIMITS = {
    "USERAUTH_RATELIMIT_RESET": "10000/minute",
    "USERAUTH_RATELIMIT_RESET_ACCOUNT": "10000/hour",
    "USERAUTH_RATELIMIT_REGISTER": "10000/minute",
    "USERAUTH_LOG_LEVEL": "WARNING",
}

# The verification link bob's sign-up mails (USERAUTH_EMAIL_VERIFICATION=optional).
SIGN_UP_MAILS = 1

Post = Callable[[int], float]


@pytest.fixture
def server(
    start_server: Callable[..., ServerProcess], mail: MailSink
) -> Iterator[tuple[ServerProcess, requests.Session]]:
    """A production server with bob registered, and a kept-alive HTTP session to it."""
    server = start_server(**mail.production_env(), **NO_LIMITS)
    with requests.Session() as http:
        signed_up = http.post(
            server.url + "/users", data={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        assert signed_up.status_code == 200
        # Production verifies addresses by default: bob's sign-up mailed him a link.
        assert len(mail.wait_for(EMAIL, SIGN_UP_MAILS)) == SIGN_UP_MAILS
        yield server, http


def seconds_of(http: requests.Session, url: str, data: dict[str, str]) -> float:
    start = time.perf_counter()
    response = http.post(url, data=data, timeout=10)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed


def wait_until_no_mail_is_pending(server: ServerProcess, http: requests.Session) -> None:
    """Let the outbox send what the last round queued, so no round inherits its work."""
    deadline = time.monotonic() + 60
    while "userauth_mail_pending 0.0" not in http.get(server.url + "/metrics", timeout=10).text:
        assert time.monotonic() < deadline, "the outbox never emptied"
        time.sleep(0.2)


def best_ratio(
    server: ServerProcess, http: requests.Session, registered: Post, other: Post
) -> tuple[float, list[str]]:
    """Run ROUNDS rounds of PAIRS interleaved pairs; return the ratio (registered / other)
    closest to 1, and each round's medians for the failure message."""
    ratios, described = [], []
    for round_ in range(ROUNDS):
        times: tuple[list[float], list[float]] = ([], [])
        for pair in range(PAIRS):
            # ABBA order: neither kind always follows the other's background work.
            order = (
                ((0, registered), (1, other)) if pair % 2 == 0 else ((1, other), (0, registered))
            )
            for kind, post in order:
                times[kind].append(post(round_ * PAIRS + pair))
        known, unknown = statistics.median(times[0]), statistics.median(times[1])
        ratios.append(known / unknown)
        described.append(
            f"{known * 1000:.2f} ms / {unknown * 1000:.2f} ms = {known / unknown:.3f}"
        )
        wait_until_no_mail_is_pending(server, http)
    print("medians per round:", "; ".join(described))  # shown with -s: the figures
    return min(ratios, key=lambda ratio: abs(ratio - 1)), described


# Ratios of medians: measured while no other test runs (tests/workers.py). What they measure
# is the HTTP server and bcrypt, not the database (docs/development.md): SQLite only.
@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.databases("sqlite")
class TestProductionServerTiming:
    def test_a_reset_of_a_registered_email_takes_as_long_as_of_an_unknown_one(
        self, server: tuple[ServerProcess, requests.Session], mail: MailSink
    ) -> None:
        process, http = server
        url = process.url + "/reset_password"

        def registered(_: int) -> float:
            return seconds_of(http, url, {"email": EMAIL})

        def unknown(_: int) -> float:
            return seconds_of(http, url, {"email": UNKNOWN_EMAIL})

        unknown(0), registered(0)  # warm-up: first-request costs are not the email's
        ratio, rounds = best_ratio(process, http, registered, unknown)

        low, high = RATIO_BOUNDS
        assert low <= ratio <= high, "registered / unknown: " + "; ".join(rounds)
        # The work was done, after the answers: one mail per registered request.
        mails = SIGN_UP_MAILS + ROUNDS * PAIRS + 1
        assert len(mail.wait_for(EMAIL, mails)) == mails

    def test_a_sign_up_of_a_taken_email_takes_as_long_as_of_a_new_one(
        self, server: tuple[ServerProcess, requests.Session], mail: MailSink
    ) -> None:
        process, http = server
        url = process.url + "/users"

        def taken(_: int) -> float:
            return seconds_of(http, url, {"email": EMAIL, "password": PASSWORD})

        def new(n: int) -> float:
            return seconds_of(http, url, {"email": f"new{n}@example.com", "password": PASSWORD})

        taken(0), new(-1)  # warm-up
        ratio, rounds = best_ratio(process, http, taken, new)

        low, high = RATIO_BOUNDS
        assert low <= ratio <= high, "taken / new: " + "; ".join(rounds)
        mails = SIGN_UP_MAILS + ROUNDS * PAIRS + 1
        assert len(mail.wait_for(EMAIL, mails)) == mails

    def test_a_change_to_a_taken_email_takes_as_long_as_to_a_free_one(
        self, server: tuple[ServerProcess, requests.Session], mail: MailSink
    ) -> None:
        # Issue 26: PUT /profile/email answers 202 alike; its timing must not tell either.
        process, http = server
        http.post(process.url + "/users", data={"email": MOVER, "password": PASSWORD}, timeout=10)
        login = http.post(
            process.url + "/sessions", data={"email": MOVER, "password": PASSWORD}, timeout=10
        )
        assert login.status_code == 200, login.text
        # The production cookie is Secure: sent by hand over this plain-HTTP loopback.
        cookie = "; ".join(f"{c.name}={c.value}" for c in login.cookies)
        url = process.url + "/profile/email"

        def change(new_email: str) -> float:
            start = time.perf_counter()
            answer = http.put(
                url, data={"new_email": new_email}, headers={"Cookie": cookie}, timeout=10
            )
            elapsed = time.perf_counter() - start
            assert answer.status_code == 202, answer.text
            return elapsed

        def taken(_: int) -> float:
            return change(EMAIL)

        def free(n: int) -> float:
            return change(f"free{n}@example.com")

        taken(0), free(-1)  # warm-up
        ratio, rounds = best_ratio(process, http, taken, free)

        low, high = RATIO_BOUNDS
        assert low <= ratio <= high, "taken / free: " + "; ".join(rounds)
        # The work was done after the answers: bob's notice for each taken request.
        notices = [
            m for m in mail.wait_for(EMAIL, SIGN_UP_MAILS + ROUNDS * PAIRS + 1)
            if str(m.message["Subject"]) == "Your email address is already in use"
        ]  # fmt: skip
        assert len(notices) == ROUNDS * PAIRS + 1
