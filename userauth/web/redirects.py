"""Redirect targets: the one check that a `next` URL stays on this site or an allowed host.

OWASP Unvalidated Redirects and Forwards Cheat Sheet: validate against an allow-list, never a
deny-list. Browsers are lenient where a parser is not (a backslash counts as a slash, tabs
and newlines are dropped, `https:evil.example` means `https://evil.example`), so anything a
browser could read two ways is refused rather than normalised.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote, urlsplit

# Longer targets are refused: nobody needs them, and they bloat every redirect.
MAX_TARGET_LENGTH = 2048
# Percent-decoding rounds checked: each decoded form must be safe too (double encoding).
DECODING_ROUNDS = 3
# Host names as DNS writes them (IDNs in punycode); anything else is refused.
HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def safe_target(target: str | None, allowed_hosts: Collection[str], fallback: str = "/") -> str:
    """Return `target` if it stays on this site or goes to an allowed host, else `fallback`.

    `target` may be a path on this site (`/account?tab=sessions`) or an absolute `http(s)`
    URL whose host is allowed: `app.example.com` allows that host, `.example.com` every
    subdomain of example.com (and example.com itself).
    """
    if not target or len(target) > MAX_TARGET_LENGTH:
        return fallback
    forms = [target]
    for _ in range(DECODING_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    # The target itself must be plain visible ASCII; its decoded forms may hold spaces or
    # other text, but nothing a browser would drop or turn into a slash.
    if not all("!" <= char <= "~" for char in target):
        return fallback
    if all(_is_safe(form, allowed_hosts) for form in forms):
        return target
    return fallback


def host_is_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    """Tell whether a lower-case host name matches the allow-list (see `safe_target`)."""
    for allowed in allowed_hosts:
        allowed = allowed.lower()
        if allowed.startswith("."):
            if host == allowed[1:] or host.endswith(allowed):
                return True
        elif host == allowed:
            return True
    return False


def _is_safe(form: str, allowed_hosts: Collection[str]) -> bool:
    # Browsers drop tabs and newlines and read a backslash as a slash: refuse all three.
    if "\\" in form or any(char < " " or char == "\x7f" for char in form):
        return False
    if form != form.strip():
        return False
    if form.startswith("/") and not form.startswith("//"):
        return True
    try:
        parts = urlsplit(form)
        host, port = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range or not a number
        return False
    if port == 0:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or host is None:
        return False
    # `https://allowed.example@evil.example` goes to evil.example: no user info at all.
    if "@" in parts.netloc or not set(host) <= HOST_CHARACTERS:
        return False
    return host_is_allowed(host, allowed_hosts)
