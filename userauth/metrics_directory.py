"""Shared metrics: the directory where every worker of one server keeps its metric files.

A server runs several worker processes and a scrape reaches one of them. In
prometheus_client's multiprocess mode each worker writes its counts to files of its own in
one directory, and a scrape sums every file there, those of workers that have since exited
included: /metrics then counts the requests of the whole server, whichever worker answers.

prometheus_client decides whether values go to files when it is imported, from
PROMETHEUS_MULTIPROC_DIR, and a forked worker inherits that decision from the server's
process. So the variable is set here, before anything imports prometheus_client, and by
environment rather than by argument, so that workers started afresh (spawned) read it too.
This module must therefore import nothing that imports prometheus_client.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_metrics() -> Path:
    """Give this server's workers a new, empty, private metrics directory, and return it.

    Sets PROMETHEUS_MULTIPROC_DIR for this process and every worker it forks or spawns, and
    removes the directory when this process exits. A value already set is replaced: a
    directory that outlived an earlier run, or that another server uses too, would add its
    counts to this server's.

    Raises:
        RuntimeError: prometheus_client is already imported in this process, so workers
            forked from it would count alone; call this first.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError(
            "prepare_multiprocess_metrics() must run before prometheus_client is imported: "
            "it chooses where metric values live at import"
        )
    # mkdtemp makes it with mode 0700: request counts are this server's business only.
    directory = Path(tempfile.mkdtemp(prefix="userauth-metrics-"))
    os.environ[MULTIPROC_DIR_VARIABLE] = str(directory)
    atexit.register(_remove, directory, os.getpid())
    return directory


def _remove(directory: Path, owner: int) -> None:
    # A forked worker inherits this handler and runs it when it exits (gunicorn's do): the
    # directory belongs to the server, which still needs it, not to the worker.
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)
