"""Long-running processes freeze what startup loaded out of the collector's way (sufrahbot.startup), each in a
fresh interpreter here: freezing the test process itself would change what every later test collects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# After the freeze, garbage made later is still collected: a cycle made then is found by the next collection.
_CHECK_AFTER = """
import gc
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
print("frozen", gc.get_freeze_count(), "collected-after", gc.collect())
"""


def _run(code: str) -> dict[str, int]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test"}
    run = subprocess.run(
        [sys.executable, "-c", code + _CHECK_AFTER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    words = run.stdout.split()[-4:]
    return {words[0]: int(words[1]), words[2]: int(words[3])}


def test_a_web_process_freezes_what_it_loaded_before_its_first_request():
    seen = _run("import gc\nassert gc.get_freeze_count() == 0\nimport sufrahbot.asgi\n")
    assert seen["frozen"] > 20_000  # Django, the apps, the URLconf: tens of thousands of objects
    assert seen["collected-after"] >= 2


def test_a_worker_freezes_in_its_consuming_process_and_in_each_prefork_child():
    for signal in ("worker_ready", "worker_process_init"):
        seen = _run(
            "import gc, django\ndjango.setup()\nfrom celery import signals\nimport sufrahbot.celery\n"
            f"assert gc.get_freeze_count() == 0\nsignals.{signal}.send(sender=None)\n"
        )
        assert seen["frozen"] > 20_000, signal
        assert seen["collected-after"] >= 2, signal
