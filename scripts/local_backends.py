"""Print `export` lines for the local PostgreSQL and Redis that answer, for scripts/test.

A variable already set is kept as it is; an unset one gets the default local address when a
server answers there within two seconds. Nothing else is printed: the shell evals the output.

PostgreSQL's URL names `postgres`, the database every cluster has: the tests only connect there
to create (and drop) databases of their own (tests/run_databases.py), so a server without a
`test` database is still found, not skipped.
"""

from __future__ import annotations

import os
import shlex

import psycopg
import redis

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def postgres_answers(url: str) -> bool:
    """Tell whether PostgreSQL accepts a connection at this SQLAlchemy URL."""
    try:
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    """Tell whether Redis answers PING at this URL."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def main() -> None:
    found = {
        "TEST_DATABASE_URL": (POSTGRES_URL, postgres_answers),
        "TEST_REDIS_URL": (REDIS_URL, redis_answers),
    }
    for variable, (url, answers) in found.items():
        if not os.environ.get(variable) and answers(url):
            print(f"export {variable}={shlex.quote(url)}")


if __name__ == "__main__":
    main()
