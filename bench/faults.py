"""Fault figures with the real outage lengths: Redis down 30 s and PostgreSQL down 20 s under a running stack.

Runs the fault suite's cases (tests/faults: a private redis-server on a free port, real Celery workers, for
PostgreSQL a real web server and worker behind a TCP proxy that is cut) with the long outages and prints their
counts: webhooks answered during the outage (200 for Redis; 503 + Retry-After for PostgreSQL, then the
provider's retries), replies sent, replies per customer (must be exactly 1). Needs DATABASE_URL / REDIS_URL
like ./dev test.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/faults.py [--redis 30] [--postgres 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    # name: (pytest -k expression, the environment variable with the outage length, the figure line's prefix)
    "redis": ("redis_down", "FAULT_REDIS_OUTAGE_SECONDS", "redis down"),
    "postgres": ("postgres_down", "FAULT_PG_OUTAGE_SECONDS", "postgres down"),
}


def run_case(name: str, seconds: float) -> bool:
    expression, variable, prefix = CASES[name]
    env = dict(os.environ, **{variable: str(seconds)})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/faults",
            "-k",
            expression,
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=900",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    for line in result.stdout.splitlines():
        if line.startswith(prefix):
            print(line)
    ok = result.returncode == 0
    print(f"{name}: {'ok (nothing lost, every message answered once)' if ok else 'FAILED'}")
    if not ok:
        print("\n".join(line for line in result.stdout.splitlines() if not line.startswith('{"time"'))[-3000:])
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", type=float, default=30.0, help="seconds Redis stays down (0 skips the case)")
    parser.add_argument("--postgres", type=float, default=20.0, help="seconds PostgreSQL stays down (0 skips)")
    args = parser.parse_args()
    results = [
        run_case(name, seconds) for name, seconds in (("redis", args.redis), ("postgres", args.postgres)) if seconds
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
