"""`userauth client …` and `userauth keys rotate`, run as processes on the test database."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.test_cli import userauth
from userauth import tokens
from userauth.auth import Auth
from userauth.secret_box import new_key
from userauth.settings import FactorSettings

Run = Callable[..., subprocess.CompletedProcess[str]]
REDIRECT = "https://grafana.example.com/login/generic_oauth"


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


@pytest.fixture
def run(database_url: str, auth: Auth) -> Run:
    def run_on_database(*args: str) -> subprocess.CompletedProcess[str]:
        return userauth(*args, database_url=database_url)

    return run_on_database


def printed(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


class TestClientAdd:
    def test_a_confidential_client_gets_a_secret_shown_once_and_stored_as_a_digest(
        self, run: Run, auth: Auth
    ) -> None:
        shown = printed(run("client", "add", "Grafana", "--redirect-uri", REDIRECT))
        client = auth.oidc.clients.find(shown["client_id"])
        assert client is not None
        assert client.stored.secret_digest == tokens.digest(shown["client_secret"])
        assert client.check_client_secret(shown["client_secret"])
        assert shown["client_secret"] not in run("client", "show", shown["client_id"]).stdout

    def test_a_public_client_gets_no_secret(self, run: Run, auth: Auth) -> None:
        shown = printed(run("client", "add", "CLI", "--redirect-uri", REDIRECT, "--public"))
        assert "client_secret" not in shown
        client = auth.oidc.clients.find(shown["client_id"])
        assert client is not None
        assert client.is_public

    def test_every_option_is_stored(self, run: Run, auth: Auth) -> None:
        shown = printed(
            run(
                "client",
                "add",
                "Gitea",
                "--redirect-uri",
                REDIRECT,
                "--redirect-uri",
                REDIRECT + "2",
                "--post-logout-redirect-uri",
                "https://git.example.com/",
                "--backchannel-logout-uri",
                "https://git.example.com/logout",
                "--first-party",
                "--id-token-alg",
                "ES256",
            )
        )
        client = auth.oidc.clients.find(shown["client_id"])
        assert client is not None
        assert client.redirect_uris == [REDIRECT, REDIRECT + "2"]
        assert client.client_metadata["post_logout_redirect_uris"] == ["https://git.example.com/"]
        assert client.stored.backchannel_logout_uri == "https://git.example.com/logout"
        assert client.stored.first_party
        assert client.stored.id_token_signed_response_alg == "ES256"

    @pytest.mark.parametrize(
        "uri",
        ["/relative", "ftp://x.example.com/cb", "https://x.example.com/cb#frag", "not a uri"],
    )
    def test_a_bad_redirect_uri_is_a_usage_error(self, run: Run, uri: str) -> None:
        result = run("client", "add", "Bad", "--redirect-uri", uri)
        assert result.returncode == 2
        assert "must be an absolute http(s) URI" in result.stderr


class TestClientAdministration:
    def test_list_shows_each_client(self, run: Run) -> None:
        first = printed(run("client", "add", "Grafana", "--redirect-uri", REDIRECT))
        second = printed(run("client", "add", "App", "--redirect-uri", REDIRECT, "--public"))
        lines = run("client", "list").stdout.splitlines()
        assert [line.split()[:2] for line in lines] == [
            [first["client_id"], "confidential"],
            [second["client_id"], "public"],
        ]

    def test_rotate_secret_replaces_the_secret(self, run: Run, auth: Auth) -> None:
        shown = printed(run("client", "add", "Grafana", "--redirect-uri", REDIRECT))
        rotated = printed(run("client", "rotate-secret", shown["client_id"]))
        client = auth.oidc.clients.find(shown["client_id"])
        assert client is not None
        assert client.check_client_secret(rotated["client_secret"])
        assert not client.check_client_secret(shown["client_secret"])

    def test_remove_forgets_the_client(self, run: Run, auth: Auth) -> None:
        shown = printed(run("client", "add", "Grafana", "--redirect-uri", REDIRECT))
        assert run("client", "remove", shown["client_id"]).returncode == 0
        assert auth.oidc.clients.find(shown["client_id"]) is None

    @pytest.mark.parametrize("command", ["show", "rotate-secret", "remove"])
    def test_an_unknown_client_is_a_usage_error(self, run: Run, command: str) -> None:
        result = run("client", command, "no-such-client")
        assert result.returncode == 2
        assert "no-such-client" in result.stderr


class TestKeysRotate:
    def test_rotation_publishes_new_keys_that_do_not_sign_yet(self, run: Run, auth: Auth) -> None:
        before = {key["kid"] for key in auth.oidc.keys.jwks()["keys"]}
        signing = auth.oidc.keys.signing_key("RS256").kid
        result = run("keys", "rotate", "--publish-for", "3600")
        assert result.returncode == 0, result.stderr
        after = {key["kid"] for key in auth.oidc.keys.jwks()["keys"]}
        assert before < after
        assert len(after - before) == 2
        assert auth.oidc.keys.signing_key("RS256").kid == signing


class TestKeysReencrypt:
    def test_reencrypt_moves_the_signing_keys_to_the_first_key(
        self, make_auth: Callable[..., Auth], database_url: str
    ) -> None:
        old, new = new_key(), new_key()
        published = make_auth(FactorSettings(encryption_keys=(old,))).oidc.keys.jwks()
        done = userauth(
            "keys",
            "reencrypt",
            database_url=database_url,
            env={"USERAUTH_ENCRYPTION_KEYS": f"{new},{old}"},
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Re-encrypted 2 secret(s) with the first key.\n"
        only_new = make_auth(FactorSettings(encryption_keys=(new,))).oidc.keys
        assert only_new.jwks() == published
        assert only_new.signing_key("ES256").kid in {key["kid"] for key in published["keys"]}
