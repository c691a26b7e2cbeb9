"""Prometheus's multiprocess files on a volume shared by containers (docker-compose's `metrics` volume): two
processes that both run as pid 1, each in its own pid and hostname namespace as two containers do, count into
one directory at the same time, and the web's /metrics sum has both."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess

ROOT = Path(__file__).resolve().parent.parent.parent

# Both processes hold their sample before either writes its count, as two live containers do.
CONTAINER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import sufrahbot  # what settings, the ASGI app and Celery load first
    from prometheus_client import Counter
    name, amount, barrier = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    assert os.getpid() == 1, os.getpid()
    counter = Counter("sufrah_shared_volume_probe", "two containers, one volume")
    (barrier / name).touch()
    deadline = time.monotonic() + 20
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    counter.inc(amount)
    """
)


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.skipif(not _can_unshare(), reason="needs unshare (root) for pid and hostname namespaces")
def test_two_containers_with_the_same_pid_keep_their_own_samples(tmp_path):
    metrics_dir, barrier = tmp_path / "metrics", tmp_path / "barrier"
    metrics_dir.mkdir()
    barrier.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONPATH": str(ROOT)}
    containers = [
        subprocess.Popen(
            [
                "unshare", "--uts", "--pid", "--fork", "--mount-proc",
                "sh", "-c", f'hostname "$0" && exec "{sys.executable}" -c "$1" "$0" "$2" "$3"',
                name, CONTAINER, str(amount), str(barrier),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name, amount in (("web-1", 3), ("worker-inbound-1", 5))
    ]  # fmt: skip
    for container in containers:
        output, _ = container.communicate(timeout=50)
        assert container.returncode == 0, output.decode()

    files = sorted(p.name for p in metrics_dir.iterdir())
    assert files == ["counter_web-1-1.db", "counter_worker-inbound-1-1.db"]
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
    assert registry.get_sample_value("sufrah_shared_volume_probe_total") == 8
