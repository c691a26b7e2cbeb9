"""Fault figures with the real outage lengths: Redis down 30 s under a real Celery worker.

Runs the fault suite's Redis case (tests/faults: a private redis-server on port 17301, a real worker process)
with FAULT_REDIS_OUTAGE_SECONDS=30 and prints its counts: webhooks answered during the outage, replies sent,
replies per customer (must be exactly 1). Needs DATABASE_URL / REDIS_URL like ./dev test.

    DATABASE_URL=postgres://... REDIS_URL=redis://... /work/venv/bin/python bench/faults.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    outage = os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "30")
    env = dict(os.environ, FAULT_REDIS_OUTAGE_SECONDS=outage)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/faults",
            "-k",
            "redis_down",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=600",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    figures = [line for line in result.stdout.splitlines() if line.startswith("redis down")]
    for line in figures:
        print(line)
    print("result:", "ok (every webhook 200, every message answered once)" if result.returncode == 0 else "FAILED")
    if result.returncode != 0:
        print(result.stdout[-3000:])
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
