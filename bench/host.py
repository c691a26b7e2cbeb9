"""How fast the host is while a bench runs, for benches on a shared virtual machine.

On the round-13 machine the same fixed piece of Python took 15 ms of CPU at some moments and 27-30 ms at others,
switching every few seconds, with the other core idle or busy alike and no steal time to show for it: the
host's own contention, invisible from inside the guest. A process's CPU seconds a message move with it, so an
A/B pair of e2e runs says little unless both ran at the same speed.

- `Sampler`: runs the probe (a fixed piece of pure-Python work, ~3 ms when the host is fast) every half second
  in a thread of its own during a phase, timed with that thread's CPU clock (under 1 % of a core). Its mean
  against its fastest says how much slower than its best the host ran. Under load it also slows with the
  bench's own processes contending for the two cores, so it compares runs at the same rate (an A/B pair) and is
  no correction factor for a CPU figure.
- `Steal`: the share of the CPUs' time the hypervisor gave to other guests meanwhile (`steal` in /proc/stat).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path


def _work() -> int:
    # Dicts, strings and calls: the kind of work the project's processes do.
    table: dict[str, int] = {}
    for i in range(12_000):
        key = f"k{i % 512}"
        table[key] = table.get(key, 0) + len(key)
    return sum(table.values())


def probe_ms() -> float:
    """The probe's CPU time once, in milliseconds (this thread's clock)."""
    started = time.thread_time()
    _work()
    return (time.thread_time() - started) * 1000


class Sampler:
    """The probe every `interval` seconds while in its block."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-probe", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(probe_ms())
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else float("nan")

    @property
    def fastest(self) -> float:
        return min(self.samples, default=float("nan"))

    def describe(self) -> str:
        slowest = max(self.samples, default=float("nan"))
        return (
            f"probe {self.mean:.1f} ms on average, {self.fastest:.1f} at its fastest, {slowest:.1f} at its slowest"
            f" ({len(self.samples)} samples of fixed work: higher is a slower host)"
        )


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
