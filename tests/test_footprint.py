"""What a serving process loads: only what its settings use, so each worker stays small.

`userauth serve`'s master imports the CLI and the app, checks the schema, then forks the
workers, which share everything it imported (RSS counts it in every worker). Each test runs
that path in a fresh interpreter, answers a few requests as a worker would, and reads which
heavy packages ended up imported: Alembic (with Mako and Pygments) cost each worker about
13 MB, psycopg (with libpq) and redis-py about 10 MB together, SQLAlchemy's ORM about 6 MB
(bench/memory.py measures it).
granian's own allocator gets its options before granian is imported (userauth/allocator.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from tests.conftest import redis_key_prefix
from userauth import migrations
from userauth.allocator import GRANIAN_MALLOC_CONF_VARIABLE

# The master's imports and schema check, then a worker's app and requests (bcrypt cost 4).
SERVE_AND_ANSWER = """
import json, sys
from userauth import cli, migrations, server
from userauth.settings import Settings
from userauth.web import create_app

settings = Settings.from_env()
migrations.ensure_current(settings.database.url, auto_migrate=settings.database.auto_migrate)
client = create_app(settings).test_client()
form = {"email": "footprint@example.com", "password": "a long enough password"}
answers = [
    client.get("/").status_code,
    client.post("/users", data=form).status_code,
    client.post("/sessions", data=form).status_code,
    client.get("/profile").status_code,
    client.get("/healthz").status_code,
]
heavy = ("alembic", "mako", "pygments", "psycopg", "redis", "sqlalchemy.orm", "authlib", "joserfc")
print(json.dumps({"answers": answers, "loaded": [name for name in heavy if name in sys.modules]}))
"""


def serve_and_answer(database_url: str, **env: str) -> dict[str, list[object]]:
    """Run the master's and a worker's path in a new interpreter; return what it reports."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_ANSWER],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, list[object]] = json.loads(done.stdout.splitlines()[-1])
    assert report["answers"] == [200, 200, 200, 200, 200], done.stderr
    return report


class TestAServerOnADatabaseAtTheHead:
    def test_it_never_imports_alembic(self, database_url: str) -> None:
        migrations.upgrade(database_url)
        loaded = serve_and_answer(database_url)["loaded"]
        assert not {"alembic", "mako", "pygments"} & set(loaded)

    def test_it_never_imports_the_sqlalchemy_orm(self, database_url: str) -> None:
        migrations.upgrade(database_url)
        assert "sqlalchemy.orm" not in serve_and_answer(database_url)["loaded"]

    def test_serving_no_openid_connect_request_never_imports_authlib_or_joserfc(
        self, database_url: str
    ) -> None:
        # Issue 27: the provider's libraries load on its first request (web/oidc_context.py).
        migrations.upgrade(database_url)
        assert not {"authlib", "joserfc"} & set(serve_and_answer(database_url)["loaded"])

    def test_without_redis_url_it_never_imports_redis(self, database_url: str) -> None:
        migrations.upgrade(database_url)
        assert "redis" not in serve_and_answer(database_url)["loaded"]

    def test_on_sqlite_it_never_imports_psycopg(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path}/footprint.db"
        migrations.upgrade(url)
        assert "psycopg" not in serve_and_answer(url)["loaded"]

    @pytest.mark.redis
    def test_with_redis_url_it_counts_the_limits_in_redis(self, database_url: str) -> None:
        migrations.upgrade(database_url)
        with redis_key_prefix() as (url, prefix):
            loaded = serve_and_answer(
                database_url, REDIS_URL=url, USERAUTH_RATELIMIT_KEY_PREFIX=prefix
            )["loaded"]
            counts = list(redis.Redis.from_url(url).scan_iter(f"*{prefix}*"))
        assert "redis" in loaded
        assert counts


class TestAServerOnAnEmptyDatabase:
    def test_it_creates_the_schema_at_the_head_and_answers(
        self, database_url: str, engine: Engine
    ) -> None:
        serve_and_answer(database_url)
        assert migrations.is_up_to_date(engine)


# A worker's app and the requests that need no WebAuthn ceremony, then one ceremony.
PAGES_THEN_A_CEREMONY = """
import json, sys
from userauth import migrations
from userauth.settings import Settings
from userauth.web import create_app

settings = Settings.from_env()
migrations.upgrade(settings.database.url)
client = create_app(settings).test_client()
form = {"email": "footprint@example.com", "password": "a long enough password"}
answers = [
    client.get("/auth/login").status_code,
    client.post("/users", data=form).status_code,
    client.post("/sessions", data=form).status_code,
    client.get("/profile").status_code,
    client.get("/passkeys").status_code,
    client.patch("/passkeys/1", json={"name": "Laptop"}).status_code,
    client.delete("/passkeys/1").status_code,
    client.get("/auth/account").status_code,
]
before = "webauthn" in sys.modules
answers.append(client.post("/sessions/passkey/options").status_code)
print(json.dumps({"answers": answers, "before": before, "after": "webauthn" in sys.modules}))
"""


class TestPasskeys:
    def test_a_worker_that_serves_no_ceremony_never_imports_py_webauthn(
        self, tmp_path: Path
    ) -> None:
        report = json.loads(
            fresh_interpreter(
                PAGES_THEN_A_CEREMONY, DATABASE_URL=f"sqlite:///{tmp_path}/footprint.db"
            )
        )
        assert report["answers"] == [200, 200, 200, 200, 200, 404, 404, 200, 200]
        assert report["before"] is False

    def test_its_first_ceremony_imports_py_webauthn(self, tmp_path: Path) -> None:
        report = json.loads(
            fresh_interpreter(
                PAGES_THEN_A_CEREMONY, DATABASE_URL=f"sqlite:///{tmp_path}/footprint.db"
            )
        )
        assert report["after"] is True


# A worker's login and profile, then the first list of sessions (which names the devices).
LOGIN_THEN_A_LIST_OF_SESSIONS = """
import json, sys
from userauth import migrations
from userauth.settings import Settings
from userauth.web import create_app

settings = Settings.from_env()
migrations.upgrade(settings.database.url)
client = create_app(settings).test_client()
form = {"email": "footprint@example.com", "password": "a long enough password"}
answers = [
    client.post("/users", data=form).status_code,
    client.post("/sessions", data=form, headers={"User-Agent": "Mozilla/5.0 Firefox/140.0"})
    .status_code,
    client.get("/profile").status_code,
]
before = [name for name in ("ua_parser", "yaml") if name in sys.modules]
listed = client.get("/sessions")
answers.append(listed.status_code)
print(json.dumps({
    "answers": answers,
    "before": before,
    "after": [name for name in ("ua_parser", "yaml") if name in sys.modules],
    "devices": [item["device"] for item in listed.get_json()["sessions"]],
}))
"""


class TestDeviceNames:
    def test_a_worker_that_lists_no_sessions_never_imports_ua_parser_or_yaml(
        self, tmp_path: Path
    ) -> None:
        report = json.loads(
            fresh_interpreter(
                LOGIN_THEN_A_LIST_OF_SESSIONS, DATABASE_URL=f"sqlite:///{tmp_path}/footprint.db"
            )
        )
        assert report["answers"] == [200, 200, 200, 200]
        assert report["before"] == []

    def test_its_first_list_of_sessions_names_the_devices_with_ua_parser(
        self, tmp_path: Path
    ) -> None:
        report = json.loads(
            fresh_interpreter(
                LOGIN_THEN_A_LIST_OF_SESSIONS, DATABASE_URL=f"sqlite:///{tmp_path}/footprint.db"
            )
        )
        assert "ua_parser" in report["after"]
        assert report["devices"] == ["Firefox"]


def fresh_interpreter(script: str, **env: str) -> str:
    """Run `script` in a new interpreter with `env` added; return its last line of output."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()[-1]


CONFIGURE_THEN_IMPORT = """
import os
from userauth.allocator import GRANIAN_MALLOC_CONF_VARIABLE, configure_granian_allocator
configure_granian_allocator()
import granian
print(os.environ[GRANIAN_MALLOC_CONF_VARIABLE])
"""


class TestGranianAllocator:
    @pytest.fixture(autouse=True)
    def _no_inherited_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(GRANIAN_MALLOC_CONF_VARIABLE, raising=False)

    def test_it_gets_one_arena_and_no_thread_caches(self) -> None:
        assert fresh_interpreter(CONFIGURE_THEN_IMPORT) == "narenas:1,tcache:false"

    def test_an_operators_own_options_are_kept(self) -> None:
        options = {GRANIAN_MALLOC_CONF_VARIABLE: "narenas:2"}
        assert fresh_interpreter(CONFIGURE_THEN_IMPORT, **options) == "narenas:2"

    def test_it_refuses_once_granian_is_imported(self) -> None:
        late = "import granian\n" + CONFIGURE_THEN_IMPORT
        with pytest.raises(subprocess.CalledProcessError) as refused:
            fresh_interpreter(late)
        assert "must run before granian is imported" in refused.value.stderr
