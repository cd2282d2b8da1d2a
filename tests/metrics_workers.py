"""Two worker processes count requests, then a third process scrapes /metrics; print the sum.

`python -m tests.metrics_workers fork|spawn REQUESTS` prepares the shared metrics directory
as `userauth serve` does, starts two workers with that start method (forked from this
process, or spawned afresh and importing everything again), lets each answer REQUESTS
`GET /healthz` in an app of its own, then prints what a new app's /metrics reports for that
route. DATABASE_URL names the database. Run as a process of its own: prometheus_client must
not be imported before the directory is prepared, which is why the app is imported late.
"""

from __future__ import annotations

import multiprocessing
import sys

from userauth.metrics_directory import prepare_multiprocess_metrics


def _answer(requests: int) -> None:
    from userauth.settings import Settings
    from userauth.web import create_app

    client = create_app(Settings.from_env()).test_client()
    for _ in range(requests):
        if client.get("/healthz").status_code != 200:
            raise SystemExit("/healthz failed")


def _scrape() -> float:
    from prometheus_client.parser import text_string_to_metric_families

    from userauth.settings import Settings
    from userauth.web import create_app

    text = create_app(Settings.from_env()).test_client().get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "userauth_http_requests_total"
                and sample.labels.get("route") == "/healthz"
            ):
                return sample.value
    return 0.0


def main() -> None:
    start_method, requests = sys.argv[1], int(sys.argv[2])
    prepare_multiprocess_metrics()
    from userauth import migrations
    from userauth.settings import Settings

    migrations.ensure_current(Settings.from_env().database.url, auto_migrate=True)
    multiprocessing.set_start_method(start_method)
    workers = [multiprocessing.Process(target=_answer, args=(requests,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a worker failed with exit code {worker.exitcode}")
    print(_scrape())


if __name__ == "__main__":
    main()
