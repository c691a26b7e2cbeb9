"""How fast the host is right now, for benches on a shared virtual machine: the same code's CPU seconds drift by
a fifth between runs minutes apart (README, rounds 12 and 13), so an A/B pair says little without it.

- `probe_ms()`: the CPU time a fixed piece of pure-Python work takes in this process (best of three), before
  and after a phase. The work never changes, so a higher figure is a slower host (or a busier core).
- `Steal`: the share of the CPUs' time the hypervisor gave to other guests while the phase ran (the `steal`
  column of /proc/stat), which a process's own CPU seconds do not show.
"""

from __future__ import annotations

import time
from pathlib import Path


def _work() -> int:
    # Dicts, strings and calls: the kind of work the project's processes do, ~15 ms on the round-13 machine.
    table: dict[str, int] = {}
    for i in range(60_000):
        key = f"k{i % 512}"
        table[key] = table.get(key, 0) + len(key)
    return sum(table.values())


def probe_ms() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        _work()
        best = min(best, time.process_time() - started)
    return best * 1000


def _cpu_times() -> list[int]:
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


class Steal:
    """Started at construction; `share()` is the stolen fraction of all CPU time since then."""

    def __init__(self) -> None:
        self.before = _cpu_times()

    def share(self) -> float:
        delta = [after - before for after, before in zip(_cpu_times(), self.before, strict=False)]
        total = sum(delta[:8])  # user … steal (guest time is already counted in user)
        return delta[7] / total if total and len(delta) > 7 else 0.0


def describe(before_ms: float, after_ms: float, steal: Steal) -> str:
    return (
        f"host: probe {before_ms:.1f} ms before / {after_ms:.1f} after (fixed work; higher is slower), "
        f"steal {100 * steal.share():.1f} % of the CPUs' time"
    )
