"""Revision 0012 gives mail jobs the asker's language (`mail_jobs.accept_language`): a job
queued before it is kept and sent as it was, in the default language, on SQLite and
PostgreSQL; a downgrade drops the column alone."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Engine, inspect

from tests.conftest import FakeClock
from tests.test_migrations import count_rows
from tests.test_outbox import EMAIL, RETRY
from userauth import migrations
from userauth.audit import Client
from userauth.db import DB
from userauth.outbox import MailJob, Outbox

JOBS_AT_0011 = sa.table(
    "mail_jobs",
    sa.column("kind", sa.String),
    sa.column("email", sa.String),
    sa.column("client_address", sa.String),
    sa.column("user_agent", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("payload", sa.Text),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def queue_at_0011(database_url: str, engine: Engine, clock: FakeClock) -> None:
    migrations.upgrade(database_url, "0011")
    with engine.begin() as connection:
        connection.execute(
            sa.insert(JOBS_AT_0011).values(
                kind="probe",
                email=EMAIL,
                client_address="192.0.2.1",
                user_agent="UA",
                attempts=0,
                payload='{"to": "x"}',
                due_at=clock(),
                created_at=clock(),
            )
        )


class TestUpgradeToTheMailLanguage:
    def test_a_job_queued_before_is_sent_as_it_was_in_the_default_language(
        self,
        database_url: str,
        engine: Engine,
        clock: FakeClock,
        make_db: Callable[[], DB],
    ) -> None:
        queue_at_0011(database_url, engine, clock)
        migrations.upgrade(database_url)
        outbox = Outbox(make_db(), RETRY)
        seen: list[MailJob] = []
        outbox.handle("probe", seen.append)

        outbox.start()
        outbox.join()
        outbox.stop(0)

        [job] = seen
        assert job.client == Client(address="192.0.2.1", user_agent="UA")
        assert job.client.accept_language == ""
        assert job.payload == '{"to": "x"}'

    def test_a_downgrade_drops_the_column_and_keeps_the_jobs(
        self, database_url: str, engine: Engine, clock: FakeClock
    ) -> None:
        queue_at_0011(database_url, engine, clock)
        migrations.upgrade(database_url)

        migrations.downgrade(database_url, "0011")

        columns = {column["name"] for column in inspect(engine).get_columns("mail_jobs")}
        assert "accept_language" not in columns
        assert count_rows(engine, "mail_jobs") == 1
