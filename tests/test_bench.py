"""The benchmark keeps running (its figures are printed, not asserted: speed lives in bench/, not in tests)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(17460, 17480)  # the served web server's


def _bench(*args: str, timeout: float, **env: str) -> subprocess.CompletedProcess:
    """A bench script run to its end, as a user runs it; its exit status checked."""
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_inbound_benchmark_runs_and_reports_every_case_against_its_baseline():
    settings = "sufrahbot.settings_test"
    result = _bench("bench/inbound.py", "--requests", "5", timeout=240, DJANGO_SETTINGS_MODULE=settings)
    lines = result.stdout.splitlines()
    assert any(line.startswith("baseline: GET /healthz") for line in lines)
    assert any(line.startswith("new message, full pipeline") for line in lines)
    assert any(line.startswith("redelivered duplicate") for line in lines)
    assert "dropped" in lines[-1]


def test_round_trip_benchmark_reports_each_case_against_its_servers_bare_trip():
    result = _bench("bench/roundtrip.py", "--trips", "50", timeout=120)
    rows = {
        m[1].strip(): [float(v) for v in m.groups()[1:]]
        for m in map(
            re.compile(r"^  (.{14}) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+) \(([0-9.]+) x\)$").match,
            result.stdout.splitlines(),
        )
        if m
    }
    assert set(rows) == {"libpq exec", "psycopg", "Django", "Django+param", "Redis PING", "Redis SET"}, result.stdout
    assert rows["libpq exec"][-1] == rows["Redis PING"][-1] == 1.0  # each server's baseline
    assert all(client > 0 and wall > 0 for client, _, wall, _, _ in rows.values()), rows


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
@pytest.mark.timeout(600)
def test_instruction_benchmark_counts_each_step_in_process_and_served():
    in_process = _bench("bench/instructions.py", "--messages", "3", timeout=280)
    counts = _figures(in_process.stdout, "M")
    wal = _figures(in_process.stdout, "B")
    assert set(counts) == {"bare", "webhook", "process", "send"} and all(v > 0 for v in counts.values()), counts
    # Storing the webhook, the message with its reply, and the send each write to PostgreSQL. (The bare view
    # writes none, but the figure is the whole server's: an autovacuum of the suite's tables may land in it.)
    assert set(wal) == set(counts) and all(wal[step] > 0 for step in ("webhook", "process", "send")), wal
    trips = _figures(in_process.stdout, "trips")
    # The bare view makes none; the webhook stores its row; processing reads, writes and publishes.
    assert set(trips) == set(counts) and trips["bare"] == 0 and trips["webhook"] >= 1, trips
    assert trips["process"] > trips["send"] > 0, trips
    port = str(free_port(PORTS))
    served = _bench("bench/instructions.py", "--served", "--messages", "3", "--port", port, timeout=280)
    through_server = _figures(served.stdout, "M")
    assert set(through_server) == {"bare", "webhook"}, served.stdout
    # The server's own work comes on top of what the test client's request costs.
    assert through_server["bare"] > counts["bare"], (through_server, counts)


def _figures(output: str, unit: str) -> dict[str, float]:
    """`  <step>  <number> <unit>` lines (unit M for instructions, B for the write-ahead log, trips for the round
    trips): the figures."""
    pattern = re.compile(rf"^  (bare|webhook|process|send) +([0-9.]+) {unit}\b")
    return {m[1]: float(m[2]) for m in map(pattern.match, output.splitlines()) if m}


def test_the_host_sampler_times_fixed_work_through_its_block():
    import time

    from bench import host

    steal = host.Steal()
    deadline = time.monotonic() + 30  # a loaded machine only slows it down
    with host.Sampler(interval=0.05) as sampler:
        while len(sampler.samples) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(sampler.samples) >= 3 and all(ms > 0 for ms in sampler.samples)
    assert sampler.fastest <= sampler.mean <= max(sampler.samples)
    assert 0.0 <= steal.share() <= 1.0
    expected = f"probe {sampler.mean:.1f} ms on average, {sampler.fastest:.1f} at its fastest"
    assert sampler.describe().startswith(expected)
