"""The durable mail outbox: jobs in the database, retried with backoff, sent once by one of
several workers, kept across a stop, counted in /metrics and logged without a secret."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlalchemy import Engine, text

from tests.conftest import FakeClock, ServerProcess
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.audit import NO_CLIENT, Client
from userauth.clock import utcnow
from userauth.db import DB
from userauth.outbox import MAX_BACKOFF, MailJob, Outbox, backoff

EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
RETRY = timedelta(seconds=0.2)


@pytest.fixture
def down_sink() -> Iterator[MailSink]:
    """A sink that does not listen yet: mail to it fails until the test starts it."""
    sink = MailSink()
    yield sink
    sink.close()


MakeDownService = Callable[..., Service]


@pytest.fixture
def make_down_service(
    database_url: str, clock: FakeClock, down_sink: MailSink
) -> Iterator[MakeDownService]:
    """Build production apps that mail to `down_sink` (or `port`), retrying after a delay."""
    factory = ServiceFactory(database_url, clock, down_sink)

    def build(retry_delay: timedelta, port: int | None = None) -> Service:
        mail = replace(down_sink.production_mail(), retry_delay=retry_delay)
        return factory("production", mail if port is None else replace(mail, smtp_port=port))

    yield build
    factory.close()


def request_reset(service: Service, email: str = EMAIL) -> None:
    response = service.client.post("/reset_password", data={"email": email})
    assert response.status_code == 200
    service.outbox.join()


def outbox_lines(caplog: pytest.LogCaptureFixture, timeout: float = 10) -> list[str]:
    """Wait until the outbox has logged a line; return its lines (maybe none, past timeout).

    The sender logs a failure just after it postpones the job, and a postponed job is all
    that join() waits for: on a busy machine, join() can return before the line is written.
    """
    deadline = time.monotonic() + timeout
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "userauth.outbox"]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def metric(service: Service, name: str) -> float:
    body = service.client.get("/metrics").get_data(as_text=True)
    found = re.search(rf"^{name} (\S+)$", body, re.MULTILINE)
    assert found is not None, f"{name} not in /metrics"
    return float(found.group(1))


class TestRetries:
    def test_a_mail_the_smtp_server_refused_is_sent_once_it_is_back(
        self, make_down_service: MakeDownService, down_sink: MailSink
    ) -> None:
        service = make_down_service(RETRY)
        service.auth.register_user(EMAIL, PASSWORD)
        request_reset(service)
        assert metric(service, "userauth_mail_failures_total") >= 1
        assert service.outbox.pending() == 1

        with down_sink.serving():
            [mail] = down_sink.wait_for(EMAIL)
            service.outbox.join()

        assert "reset?token=" in mail.body
        assert service.outbox.pending() == 0

    def test_a_failed_send_is_logged_in_one_line_without_the_token_or_the_email(
        self, make_down_service: MakeDownService, caplog: pytest.LogCaptureFixture
    ) -> None:
        service = make_down_service(RETRY)
        service.auth.register_user(EMAIL, PASSWORD)
        with caplog.at_level(logging.WARNING, logger="userauth.outbox"):
            request_reset(service)
            [line] = outbox_lines(caplog)[:1]
        assert "failed on attempt 1" in line
        assert "ConnectionRefusedError" in line
        assert "\n" not in line
        assert EMAIL not in line
        assert "token" not in line

    def test_the_wait_between_attempts_doubles_up_to_an_hour(self) -> None:
        waits = [backoff(attempt, timedelta(seconds=30)) for attempt in (1, 2, 3, 20)]
        assert waits == [
            timedelta(seconds=30),
            timedelta(seconds=60),
            timedelta(seconds=120),
            MAX_BACKOFF,
        ]


class TestMetrics:
    def test_failed_sends_and_waiting_mail_show_in_metrics(
        self, make_down_service: MakeDownService
    ) -> None:
        service = make_down_service(timedelta(hours=1))
        service.auth.register_user(EMAIL, PASSWORD)
        assert metric(service, "userauth_mail_failures_total") == 0

        request_reset(service)

        assert metric(service, "userauth_mail_failures_total") == 1
        assert metric(service, "userauth_mail_pending") == 1

    def test_the_oldest_waiting_mail_shows_how_long_mail_has_been_stuck(
        self, make_down_service: MakeDownService, down_sink: MailSink
    ) -> None:
        service = make_down_service(RETRY)
        service.auth.register_user(EMAIL, PASSWORD)
        assert metric(service, "userauth_mail_oldest_pending_seconds") == 0

        request_reset(service)
        stuck = metric(service, "userauth_mail_oldest_pending_seconds")
        later = metric(service, "userauth_mail_oldest_pending_seconds")
        with down_sink.serving():
            down_sink.wait_for(EMAIL)
            service.outbox.join()
            delivered = metric(service, "userauth_mail_oldest_pending_seconds")

        assert 0 < stuck <= later
        assert delivered == 0


class TestMetricsRevealNoRegisteredEmail:
    """Issue 21, item 9: with the mail server down, a request about a registered email and
    one about an email without an account move /metrics alike (one failed send, one mail
    pending), so a scrape cannot tell which emails have accounts."""

    @pytest.mark.parametrize(
        ("path", "other_email"),
        [("/reset_password", "nobody@example.com"), ("/users", "newcomer@example.com")],
        ids=["reset-request", "sign-up"],
    )
    def test_a_registered_email_and_another_move_the_mail_metrics_alike(
        self, make_down_service: MakeDownService, path: str, other_email: str
    ) -> None:
        service = make_down_service(timedelta(hours=1))
        service.auth.register_user(EMAIL, PASSWORD)
        moves = []
        for email in (other_email, EMAIL):
            before = mail_metrics(service)
            answer = service.client.post(path, data={"email": email, "password": PASSWORD})
            assert answer.status_code == 200
            service.outbox.join()
            after = mail_metrics(service)
            moves.append(tuple(b - a for a, b in zip(before, after, strict=True)))

        assert moves[0] == moves[1] == (1, 1)


class TestJobsWithNothingToSendSucceed:
    """The probe of a job with nothing to send is a whole, polite conversation: with a mail
    server that accepts, it leaves nothing pending and counts no failure (found by a newcomer:
    MAIL FROM before EHLO was refused, and such jobs retried for hours)."""

    @pytest.mark.parametrize(
        ("path", "email"),
        [("/reset_password", "nobody@example.com"), ("/users", "newcomer@example.com")],
        ids=["reset-of-an-unknown-email", "sign-up-of-a-new-email"],
    )
    def test_the_job_is_done_at_once_and_sends_nothing(
        self, make_service: ServiceFactory, mail: MailSink, path: str, email: str
    ) -> None:
        service = make_service()
        answer = service.client.post(path, data={"email": email, "password": PASSWORD})
        assert answer.status_code == 200
        service.outbox.join()

        assert mail_metrics(service) == (0, 0)
        assert service.outbox.pending() == 0
        assert mail.messages == []


class TestMetricsRevealNoRegisteredEmailToARefusingServer:
    """A server that refuses the recipient (relaying denied, no such mailbox) refuses the
    job of an unknown email too: its probe goes through MAIL FROM and RCPT TO (found by
    review: a probe of NOOP alone moved /metrics for registered emails only)."""

    def test_a_registered_email_and_an_unknown_one_are_refused_alike(
        self, make_down_service: MakeDownService
    ) -> None:
        # Imported here: tests.test_mail_failures imports this module's helpers.
        from tests.test_mail_failures import Refusing, smtp_server

        with smtp_server(Refusing(recipient=True)) as port:
            service = make_down_service(timedelta(hours=1), port)
            service.auth.register_user(EMAIL, PASSWORD)
            moves = []
            for email in ("nobody@example.com", EMAIL):
                before = mail_metrics(service)
                answer = service.client.post("/reset_password", data={"email": email})
                assert answer.status_code == 200
                service.outbox.join()
                after = mail_metrics(service)
                moves.append(tuple(b - a for a, b in zip(before, after, strict=True)))

        assert moves[0] == moves[1] == (1, 1)


def mail_metrics(service: Service) -> tuple[float, float]:
    """Return (failed sends, mail pending) as /metrics shows them."""
    return (
        metric(service, "userauth_mail_failures_total"),
        metric(service, "userauth_mail_pending"),
    )


class TestAtRest:
    def test_a_queued_reset_holds_the_email_and_no_token(
        self, make_down_service: MakeDownService, engine: Engine
    ) -> None:
        service = make_down_service(timedelta(hours=1))
        service.auth.register_user(EMAIL, PASSWORD)
        request_reset(service)

        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM mail_jobs")).mappings().all()
            [secret] = connection.execute(text("SELECT digest FROM one_time_secrets")).all()
        [row] = rows
        assert row["email"] == EMAIL
        assert row["kind"] == "password_reset"
        # The token of the failed attempt exists only as a digest, in one_time_secrets.
        assert secret.digest not in {str(value) for value in row.values()}
        assert set(row) == {
            "id",
            "kind",
            "email",
            "client_address",
            "user_agent",
            "attempts",
            "due_at",
            "claimed_until",
            "created_at",
            # The account and what the mail needs (issue 24): none for a reset.
            "user_id",
            "payload",
            # The asker's languages, so the mail is written in one of them (issue 26).
            "accept_language",
        }
        assert (row["user_id"], row["payload"]) == (None, None)


class TestSeveralWorkers:
    def test_each_mail_is_sent_once_by_one_of_several_workers(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        workers = [make_service() for _ in range(3)]
        emails = [f"user{n}@example.com" for n in range(24)]
        for email in emails:
            workers[0].auth.register_user(email, PASSWORD)
        for n, email in enumerate(emails):
            workers[n % 3].auth.request_password_reset(email)
        for worker in workers:
            worker.outbox.start()
        for worker in workers:
            worker.outbox.join()

        assert sorted(to for m in mail.messages for to in m.recipients) == sorted(emails)

    def test_a_claimed_job_is_not_claimed_again_while_its_lease_runs(
        self, make_service: ServiceFactory
    ) -> None:
        db = make_service().auth.db
        now = utcnow()
        db.enqueue_mail("password_reset", EMAIL, "", "", now)

        first = db.claim_mail(now, now + timedelta(minutes=1))
        second = db.claim_mail(now, now + timedelta(minutes=1))
        after_the_lease = db.claim_mail(now + timedelta(minutes=2), now + timedelta(minutes=3))

        assert first is not None
        assert first.attempt == 1
        assert second is None
        assert after_the_lease is not None
        assert after_the_lease.attempt == 2
        # Done with it, as a sender would be: a job left under a live lease is due and
        # unclaimable, so the factory's closing join() would wait its whole 30 s for it.
        db.finish_mail(after_the_lease.id)


class TestStop:
    def test_a_mail_waiting_when_its_worker_stops_is_sent_by_the_next_one(
        self, make_down_service: MakeDownService, down_sink: MailSink
    ) -> None:
        first = make_down_service(RETRY)
        first.auth.register_user(EMAIL, PASSWORD)
        request_reset(first)
        first.outbox.stop(0)
        assert first.outbox.pending() == 1

        with down_sink.serving():
            second = make_down_service(RETRY)
            second.outbox.start()
            assert len(down_sink.wait_for(EMAIL)) == 1

    def test_a_stopping_worker_sends_the_mail_that_is_due(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service()
        service.auth.register_user(EMAIL, PASSWORD)
        service.auth.request_password_reset(EMAIL, NO_CLIENT)
        # Within the pause the sender waits for, before it would have sent anything.
        service.outbox.stop(10)

        assert len(mail.to(EMAIL)) == 1

    @pytest.mark.slow
    def test_a_server_stopped_with_a_mail_pending_sends_it_after_a_restart(
        self, start_server: Callable[..., ServerProcess], down_sink: MailSink
    ) -> None:
        env = {**down_sink.production_env(), "USERAUTH_MAIL_RETRY_SECONDS": "1"}
        server = start_server(**env)
        requests.post(
            server.url + "/users", data={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        answer = requests.post(server.url + "/reset_password", data={"email": EMAIL}, timeout=10)
        assert answer.status_code == 200
        deadline = time.monotonic() + 15
        while (
            "userauth_mail_failures_total 0.0"
            in requests.get(server.url + "/metrics", timeout=10).text
        ):
            assert time.monotonic() < deadline, "the first send was never tried"
            time.sleep(0.1)
        output = server.stop()
        assert "failed on attempt 1" in output

        with down_sink.serving():
            server.start()
            assert len(down_sink.wait_for(EMAIL, timeout=30)) == 1

    @pytest.mark.slow
    def test_a_mail_queued_just_before_sigterm_goes_out_as_the_server_stops(
        self, start_server: Callable[..., ServerProcess], mail: MailSink
    ) -> None:
        server = start_server(**mail.production_env())
        requests.post(
            server.url + "/users", data={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        answer = requests.post(server.url + "/reset_password", data={"email": EMAIL}, timeout=10)
        assert answer.status_code == 200
        # At once: the sender waits for a pause in requests before it sends, so the mail is
        # still queued when the worker is told to stop, and its stopping sends it.
        output = server.stop()
        assert server.exit_status == 0, output
        resets = [m for m in mail.to(EMAIL) if m.message["Subject"] == "Reset your password"]
        assert len(resets) == 1, output


class TestTheAskersLanguage:
    @pytest.mark.parametrize(
        ("accept_language", "payload"),
        [("fr-FR,fr;q=0.9", '{"to": "x"}'), ("fr", None), ("", "kind"), ("", None)],
        ids=["with-payload", "language-only", "payload-only", "neither"],
    )
    def test_a_job_gives_its_handler_the_askers_language_and_its_payload_unchanged(
        self, make_db: Callable[[], DB], accept_language: str, payload: str | None
    ) -> None:
        outbox = Outbox(make_db(), RETRY)
        seen: list[MailJob] = []
        outbox.handle("probe", seen.append)
        asker = Client(address="192.0.2.1", user_agent="UA", accept_language=accept_language)
        outbox.enqueue("probe", EMAIL, asker, payload=payload)
        outbox.join()
        outbox.stop(0)
        [job] = seen
        assert job.client == asker
        assert job.payload == payload
