"""granian's memory allocator: its options, chosen before anything imports granian.

granian's Rust code allocates through a jemalloc of its own (tikv-jemallocator, whose
environment variable carries the `_RJEM_` prefix), not through glibc's malloc or Python's.
jemalloc's defaults favour many cores: four arenas per core and a cache of freed blocks in
every thread, memory that each worker's runtime and request threads keep resident. One arena
and no thread caches hold each worker's peak RSS about 2.4 MB lower under `python -m
bench.memory --threads 64` on SQLite and PostgreSQL alike (alternating runs,
docs/performance.md "Memory per worker"), with no fewer requests served in its `GET /` and
`GET /profile` runs.

jemalloc reads its options once, at granian's first allocation, and forked workers inherit
what it read: so the variable is set before granian is imported. An operator's own value is
kept; a granian built with another allocator would ignore the variable.
"""

from __future__ import annotations

import os
import sys

GRANIAN_MALLOC_CONF_VARIABLE = "_RJEM_MALLOC_CONF"
GRANIAN_MALLOC_CONF = "narenas:1,tcache:false"


def configure_granian_allocator() -> str:
    """Give granian's jemalloc userauth's options, unless the environment sets its own.

    Sets the variable for this process and every worker it forks; returns the options in
    force.

    Raises:
        RuntimeError: granian is already imported here, so its allocator may have read its
            options; call this first.
    """
    if "granian" in sys.modules:
        raise RuntimeError(
            "configure_granian_allocator() must run before granian is imported: its "
            "allocator reads its options at its first allocation"
        )
    return os.environ.setdefault(GRANIAN_MALLOC_CONF_VARIABLE, GRANIAN_MALLOC_CONF)
