"""Prometheus's multiprocess files (PROMETHEUS_MULTIPROC_DIR) named by host and pid, not pid alone.

docker-compose gives every container the one metrics volume, and in each container's own pid namespace the
process numbers start again at 1: the web and a worker (or two replicas of one) would both write
counter_7.db, each over the other's samples. The container's hostname tells them apart. Chosen before any
metric exists (django-prometheus makes its own at import), so it runs when the sufrahbot package loads."""

from __future__ import annotations

import os
import re
import socket

from prometheus_client import values

_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def process_identifier() -> str:
    """Distinct for every process alive on the volume at once (prometheus_client's one rule). It is read at
    every sample update, which is how a forked child (Celery's prefork pool) gets files of its own."""
    return f"{_HOST}-{os.getpid()}"


def files_key_by_host() -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        values.ValueClass = values.MultiProcessValue(process_identifier)
