"""Redirect targets (`userauth.web.redirects`): paths and allowed hosts only, no tricks."""

from __future__ import annotations

import pytest

from userauth.web.redirects import safe_target

ALLOWED = ["app.example.com", ".example.org"]

SAFE = [
    ("/", "root"),
    ("/account", "path"),
    ("/account?tab=sessions#top", "query-and-fragment"),
    ("/a%20b", "encoded-space-in-path"),
    ("https://app.example.com/", "allowed-host"),
    ("http://app.example.com:8080/x?y=1", "allowed-host-with-port"),
    ("https://APP.example.com/", "allowed-host-upper-case"),
    ("https://example.org/", "suffix-entry-allows-the-domain"),
    ("https://docs.example.org/page", "suffix-entry-allows-a-subdomain"),
]

UNSAFE = [
    ("//evil.example", "scheme-relative"),
    ("///evil.example", "triple-slash"),
    ("/\\evil.example", "slash-backslash"),
    ("\\\\evil.example", "double-backslash"),
    ("/\t/evil.example", "tab-between-slashes"),
    ("/\n/evil.example", "newline-between-slashes"),
    (" //evil.example", "leading-space"),
    ("https://evil.example", "other-host"),
    ("https://evil.example/app.example.com", "allowed-host-in-path"),
    ("https://app.example.com.evil.example/", "allowed-host-as-prefix"),
    ("https://app.example.com@evil.example/", "allowed-host-as-user-info"),
    ("https://evil.example#@app.example.com", "allowed-host-after-fragment"),
    ("https://notexample.org/", "suffix-without-dot"),
    ("https:evil.example", "scheme-without-slashes"),
    ("http:/evil.example", "scheme-one-slash"),
    ("javascript:alert(1)", "javascript"),
    ("JavaScript:alert(1)", "javascript-mixed-case"),
    ("data:text/html,<script>alert(1)</script>", "data"),
    ("ftp://app.example.com/", "other-scheme-allowed-host"),
    ("evil.example", "bare-host"),
    ("account", "relative-without-slash"),
    ("%2F%2Fevil.example", "encoded-slashes"),
    ("/%2F%2Fevil.example", "encoded-slashes-after-slash"),
    ("/%5Cevil.example", "encoded-backslash"),
    ("/%09/evil.example", "encoded-tab"),
    ("%252F%252Fevil.example", "double-encoded-slashes"),
    ("https%3A%2F%2Fevil.example", "encoded-absolute-url"),
    ("javascript%3Aalert(1)", "encoded-javascript"),
    ("/caf\u00e9", "non-ascii"),
    ("https://[::1/", "malformed-ipv6"),
    ("https://evil.example%23.example.org/", "encoded-hash-in-host"),
    ("https://app.example.com%2F@evil.example/", "encoded-slash-before-user-info"),
    ("https://app.example.com:99999/", "port-out-of-range"),
    ("https://app.example.com:0/", "port-zero"),
    ("https://app.example.com:1e3/", "port-not-a-number"),
    ("http://app.example.com:80%2f%2fevil.example/", "encoded-slashes-in-port"),
    ("", "empty"),
    ("/" + "a" * 2048, "too-long"),
]


class TestSafeTarget:
    @pytest.mark.parametrize(("target", "case"), SAFE, ids=[case for _, case in SAFE])
    def test_paths_and_allowed_hosts_are_kept(self, target: str, case: str) -> None:
        assert safe_target(target, ALLOWED) == target

    @pytest.mark.parametrize(("target", "case"), UNSAFE, ids=[case for _, case in UNSAFE])
    def test_anything_else_becomes_the_fallback(self, target: str, case: str) -> None:
        assert safe_target(target, ALLOWED, fallback="/account") == "/account"

    def test_no_target_is_the_fallback(self) -> None:
        assert safe_target(None, ALLOWED) == "/"

    def test_without_allowed_hosts_only_paths_pass(self) -> None:
        assert safe_target("https://app.example.com/", []) == "/"
        assert safe_target("/account", []) == "/account"
