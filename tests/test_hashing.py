"""Password hashing's pool: bounded per process, on low-priority threads, sized by the settings."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from userauth.hashing import HASHING_NICENESS, HashingPool, default_threads
from userauth.settings import Settings, SettingsError

# A bound on waiting for something that should happen at once (or, once, should not).
WAIT_S = 5.0
NOT_STARTED_S = 0.3


def test_no_more_than_the_pools_threads_run_at_once() -> None:
    pool = HashingPool(2)
    started = threading.Semaphore(0)
    release = threading.Event()

    def work() -> int:
        started.release()
        release.wait(WAIT_S)
        return threading.get_native_id()

    with ThreadPoolExecutor(max_workers=3) as callers:
        results = [callers.submit(pool.run, work) for _ in range(3)]
        two_started = [started.acquire(timeout=WAIT_S) for _ in range(2)]
        third_started_early = started.acquire(timeout=NOT_STARTED_S)
        release.set()
        ran_on = {result.result(timeout=WAIT_S) for result in results}
    assert two_started == [True, True]
    assert not third_started_early
    assert len(ran_on) <= 2


def test_hashing_runs_at_a_lower_priority_than_requests() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = HashingPool(1).run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert theirs == min(19, mine + HASHING_NICENESS)


def test_an_error_in_the_work_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("not a hash")

    with pytest.raises(ValueError, match="not a hash"):
        HashingPool(1).run(fail)


@pytest.mark.parametrize(
    ("cores", "workers", "threads"),
    [(2, 2, 1), (8, 2, 4), (1, 4, 1), (3, 2, 1)],
    ids=["one-core-each", "four-cores-each", "fewer-cores-than-workers", "uneven-share"],
)
def test_the_default_is_the_workers_share_of_the_cores(
    cores: int, workers: int, threads: int
) -> None:
    assert default_threads(cores, workers) == threads


def test_the_setting_sizes_the_pool() -> None:
    settings = Settings.from_env({"USERAUTH_PASSWORD_HASHING_THREADS": "3"})
    assert settings.server.hashing_threads == 3


def test_unset_the_pool_takes_the_workers_share_of_the_cores() -> None:
    settings = Settings.from_env({"USERAUTH_WORKERS": "1"})
    assert settings.server.hashing_threads == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "at least 0"), ("257", "at most 256"), ("two", "whole number")],
    ids=["negative", "too-many", "not-a-number"],
)
def test_a_bad_pool_size_is_refused(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"USERAUTH_PASSWORD_HASHING_THREADS": value})
