"""The benchmark keeps running (its figures are printed, not asserted: speed lives in bench/, not in tests)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_inbound_benchmark_runs_and_reports_every_case_against_its_baseline():
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test"}
    result = subprocess.run(
        [sys.executable, "bench/inbound.py", "--requests", "5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("baseline: GET /healthz") for line in lines)
    assert any(line.startswith("new message, full pipeline") for line in lines)
    assert any(line.startswith("redelivered duplicate") for line in lines)
    assert "dropped" in lines[-1]
