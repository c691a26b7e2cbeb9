"""Benchmark: what one round trip to PostgreSQL and to Redis costs, in CPU on both sides, against the bare
round trip of each (libpq's own exec, redis-py's PING) in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/roundtrip.py [--trips 5000]

A message makes some thirty round trips (bench/instructions.py counts them per step). Each wakes the
server and then the client again: a cost that an instruction count of one process does not see, and that on
a virtual machine is mostly the kernel's and the hypervisor's. Prints, per round trip, this process's CPU, the
server process's CPU (PostgreSQL's backend, Redis: read from /proc, so both run on this machine), and the
wall time, for:
  libpq exec     SELECT 1 through psycopg's pgconn.exec_ (no Python layers: the baseline)
  psycopg        SELECT 1 on a reused psycopg cursor
  Django         SELECT 1 on a new Django cursor, as the ORM runs each statement
  Django+param   SELECT %s with one parameter (server-side binding, as the project's settings)
  Redis PING     redis-py's PING on the process's shared client (the baseline for Redis)
  Redis SET      a SET of a 100-byte value
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _measure(trip: Callable[[], object], server_pid: int, trips: int) -> tuple[float, float, float]:
    """(client CPU, server CPU, wall) a round trip, in microseconds."""
    from bench.e2e import cpu_seconds  # the server's CPU as e2e reads each process's (/proc/<pid>/stat)

    for _ in range(min(trips, 500)):
        trip()
    cpu, server, wall = time.process_time(), cpu_seconds([server_pid]), time.perf_counter()
    for _ in range(trips):
        trip()
    cpu, server, wall = time.process_time() - cpu, cpu_seconds([server_pid]) - server, time.perf_counter() - wall
    return cpu * 1e6 / trips, server * 1e6 / trips, wall * 1e6 / trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trips", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from sufrahbot.heartbeat import redis_client

    if not settings.REDIS_URL:
        sys.exit("REDIS_URL is not set")
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        backend = cursor.execute("SELECT pg_backend_pid()").fetchone()[0]
    cursor = raw.cursor()

    def django_trip() -> None:
        with connection.cursor() as django_cursor:
            django_cursor.execute("SELECT 1")

    def django_param_trip() -> None:
        with connection.cursor() as django_cursor:
            django_cursor.execute("SELECT %s", [1])

    client = redis_client(settings.REDIS_URL)
    redis_server = int(client.info("server")["process_id"])
    value = "x" * 100
    cases = [
        ("libpq exec", lambda: raw.pgconn.exec_(b"SELECT 1"), backend, "pg"),
        ("psycopg", lambda: cursor.execute("SELECT 1"), backend, "pg"),
        ("Django", django_trip, backend, "pg"),
        ("Django+param", django_param_trip, backend, "pg"),
        ("Redis PING", client.ping, redis_server, "redis"),
        ("Redis SET", lambda: client.set("sufrah:bench:roundtrip", value), redis_server, "redis"),
    ]
    print(f"one round trip, {args.trips} of each (microseconds; ratios to the bare round trip of its server):")
    print(f"  {'':14} {'client CPU':>10} {'server CPU':>10} {'wall':>8}   both CPUs")
    baselines: dict[str, float] = {}
    for name, trip, server_pid, kind in cases:
        mine, theirs, wall = _measure(trip, server_pid, args.trips)
        both = mine + theirs
        baselines.setdefault(kind, both)
        print(f"  {name:14} {mine:10.1f} {theirs:10.1f} {wall:8.1f}   {both:6.1f} ({both / baselines[kind]:.2f} x)")
    client.delete("sufrah:bench:roundtrip")


if __name__ == "__main__":
    main()
