"""The mail outbox: jobs run after the answer, bounded, and drained when the process stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from userauth.mail import Outbox


class TestOutbox:
    def test_a_full_queue_drops_new_jobs_and_logs_it(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        started, release = threading.Event(), threading.Event()
        ran: list[int] = []

        def blocking() -> None:
            started.set()
            release.wait(5)

        outbox = Outbox(capacity=1)
        outbox.submit(blocking)
        started.wait(5)
        outbox.submit(lambda: ran.append(1))  # waits in the queue
        outbox.submit(lambda: ran.append(2))  # the queue is full: dropped
        release.set()
        outbox.join()

        assert ran == [1]
        assert "outbox full" in caplog.text

    def test_a_stopping_process_runs_the_jobs_still_queued(self, tmp_path: Path) -> None:
        marker = tmp_path / "sent"
        program = textwrap.dedent(
            f"""
            import time
            from pathlib import Path
            from userauth.mail import Outbox

            def send():
                time.sleep(0.5)
                Path({str(marker)!r}).write_text("sent")

            Outbox().submit(send)
            """
        )
        subprocess.run([sys.executable, "-c", program], check=True, timeout=30)
        assert marker.read_text() == "sent"
