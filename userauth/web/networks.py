"""Client addresses as the per-address rate limits count them: an IPv6 client is its /64.

A host picks its own IPv6 address within its /64 (RFC 4291 2.5.1; SLAAC with temporary
addresses, RFC 8981, changes it by itself), and one customer usually gets a /56 or a /48
(RIPE-690): counted per address, one machine could rotate through 2**64 fresh budgets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, IPv6Network

from flask_limiter.util import get_remote_address
from limits import parse_many

from userauth.settings import IPV6_CLIENT_PREFIX

# Each bucket wider than /64 gets the per-address limit times this for every 4 bits it spans
# beyond the /64: a /56 four times, a /48 sixteen times (docs/security.md, "Rate limits").
_GROWTH_PER_4_BITS = 2
# The key of every client address that does not parse as an IP address.
UNPARSED_CLIENT = "unparsed"


def client_key(address: str) -> str:
    """Return what a per-address limit counts `address` under.

    An IPv4 address as is; an IPv6 address as its /64 network (`2001:db8:1:3::/64`); an
    IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as its IPv4 address. A port some proxies
    write (`192.0.2.1:5678`, `[2001:db8::1]:443`) is dropped; what still cannot be parsed is
    counted in one bucket shared by all such clients: it has a limit, and no request fails.
    """
    parsed = _parse(address)
    if parsed is None:
        # One shared bucket: keyed under its own text, a proxy that forwarded something
        # unexpected (a port, a name) would give every connection a fresh budget.
        return UNPARSED_CLIENT
    if isinstance(parsed, IPv4Address):
        return str(parsed)
    return str(IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))


def network_key(address: str, prefix: int) -> str | None:
    """Return the /prefix network of an IPv6 `address`, or None for any other address."""
    parsed = _parse(address)
    if not isinstance(parsed, IPv6Address):
        return None
    return str(IPv6Network((parsed, prefix), strict=False))


def client_of_request() -> str:
    """Key a per-address limit by the request's client (its address, after ProxyFix)."""
    return client_key(get_remote_address())


def network_of_request(prefix: int) -> Callable[[], str]:
    """Make the key of a /prefix bucket: the request's IPv6 network (see `not_ipv6`)."""

    def key() -> str:
        return network_key(get_remote_address(), prefix) or ""

    return key


def not_ipv6() -> bool:
    """Tell whether the request's client is not IPv6: the wider buckets leave it alone."""
    return network_key(get_remote_address(), IPV6_CLIENT_PREFIX) is None


def widened(limits: str, prefix: int) -> str:
    """Return per-address `limits` (`10/minute;50/hour`) scaled for a /prefix bucket.

    A /56 gets 4 times each count, a /48 16 times (twice per 4 bits wider than /64): room
    for the many clients of one site, while one machine rotating addresses meets it.
    """
    factor = _GROWTH_PER_4_BITS ** ((IPV6_CLIENT_PREFIX - prefix) // 4)
    return ";".join(
        f"{item.amount * factor} per {item.multiples} {item.GRANULARITY.name}"
        for item in parse_many(limits)
    )


def _parse(address: str) -> IPv4Address | IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(_without_port(address.strip()))
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        # The same IPv4 client, seen through a dual-stack socket: one budget, not two.
        return parsed.ipv4_mapped
    return parsed


def _without_port(address: str) -> str:
    """Return the address without a port: `[v6]:port` or `[v6]` as v6, `v4:port` as v4."""
    if address.startswith("["):
        host, bracket, _rest = address[1:].partition("]")
        return host if bracket else address
    host, colon, port = address.partition(":")
    # One colon and digits after it: IPv4 with a port (an IPv6 address has two colons or more).
    if colon and port.isdigit() and ":" not in port:
        return host
    return address
