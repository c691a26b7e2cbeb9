"""The supervisor `./dev run` uses with Redis: a child that dies comes back, SIGTERM stops every child."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sufrahbot.processes import production_processes

ROOT = Path(__file__).resolve().parent.parent.parent

SUPERVISE = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from sufrahbot.processes import ProcessSpec, supervise
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    sys.exit(supervise([ProcessSpec("a", sleeper), ProcessSpec("b", sleeper)]))
    """
)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _wait(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.timeout(60)
def test_a_dead_child_is_restarted_and_sigterm_stops_them_all():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test", "PYTHONPATH": str(ROOT)}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISE], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        first = _wait(lambda: (c := _children(supervisor.pid)) and len(c) == 2 and c)
        os.kill(first[0], signal.SIGKILL)
        after = _wait(lambda: (c := _children(supervisor.pid)) and len(c) == 2 and first[0] not in c and c)
        assert first[1] in after  # the other child was left alone
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        for pid in after:
            _wait(lambda pid=pid: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text())
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    output = supervisor.stdout.read().decode()
    assert '"message": "process exited; restarting"' in output and '"child": "a"' in output
    assert '"message": "all processes stopped"' in output


def test_the_production_layout_keeps_inbound_and_outbound_in_separate_pools(settings):
    settings.OUTBOUND_PROCESSES = 1
    specs = {spec.name: spec.argv for spec in production_processes(host="127.0.0.1", port=8000)}
    assert set(specs) == {"web", "worker-inbound", "worker-outbound", "worker-webhooks", "beat"}
    inbound = specs["worker-inbound"][specs["worker-inbound"].index("-Q") + 1].split(",")
    outbound = specs["worker-outbound"][specs["worker-outbound"].index("-Q") + 1].split(",")
    assert "inbound" in inbound and "outbound" not in inbound and outbound == ["outbound"]
    # Outgoing webhooks have a pool of their own: a slow receiver holds up neither the bot nor its sends.
    webhooks = specs["worker-webhooks"][specs["worker-webhooks"].index("-Q") + 1].split(",")
    assert webhooks == ["webhooks_out"] and "webhooks_out" not in inbound + outbound
    web = specs["web"]
    assert web[web.index("--workers") + 1] == str(settings.WEB_PROCESSES)
    assert web[web.index("--limit-concurrency") + 1] == str(settings.WEB_MAX_CONNECTIONS)


def test_the_outbound_pool_runs_outbound_processes_with_distinct_node_names(settings):
    settings.OUTBOUND_PROCESSES, settings.OUTBOUND_POOL, settings.OUTBOUND_CONCURRENCY = 3, "threads", 8
    specs = production_processes(host="127.0.0.1", port=8000)
    outbound = [spec for spec in specs if spec.name.startswith("worker-outbound")]
    assert [spec.name for spec in outbound] == ["worker-outbound", "worker-outbound-2", "worker-outbound-3"]
    assert [spec.argv[spec.argv.index("-n") + 1] for spec in outbound] == [
        "outbound@%h",
        "outbound-2@%h",
        "outbound-3@%h",
    ]
    for spec in outbound:
        argv = spec.argv
        assert argv[argv.index("-Q") + 1] == "outbound"
        assert argv[argv.index("-c") + 1] == "8" and argv[argv.index("-P") + 1] == "threads"
    # One process each for the other pools; every node name on the host is unique.
    names = [spec.argv[spec.argv.index("-n") + 1] for spec in specs if "-n" in spec.argv]
    assert len(names) == len(set(names)) == 5
