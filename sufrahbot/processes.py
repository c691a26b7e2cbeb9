"""The production process layout and a small supervisor for it (what `./dev run` starts with Redis).

    web        uvicorn, WEB_PROCESSES processes × WEB_THREADS HTTP threads, websockets on the same port
    inbound    Celery worker on queues inbound, default, scheduled (INBOUND_CONCURRENCY processes)
    outbound   Celery workers on queue outbound: OUTBOUND_PROCESSES processes × OUTBOUND_CONCURRENCY threads
               (OUTBOUND_POOL), named worker-outbound, worker-outbound-2, …
    webhooks   Celery worker on queue webhooks_out: outgoing webhook deliveries (WEBHOOKS_CONCURRENCY processes)
    beat       Celery beat (one per deployment)

The supervisor restarts a child that dies (with a growing delay), and on SIGTERM/SIGINT stops every child
and waits for them. docker-compose runs the same commands as separate services.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

UVICORN_LOG_CONFIG = Path(__file__).resolve().parent / "uvicorn_logging.json"


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]


def web_command(*, host: str, port: int, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "uvicorn",
        "sufrahbot.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(settings.WEB_PROCESSES),
        "--limit-concurrency",
        str(settings.WEB_MAX_CONNECTIONS),
        "--backlog",
        "2048",
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--ws",
        "websockets-sansio",  # uvicorn's own choice for `auto`; its legacy `websockets` protocol is deprecated
        "--lifespan",
        "off",
        "--no-access-log",  # sufrahbot.middleware.RequestLogMiddleware writes the access line, with a request id
        "--log-config",
        str(UVICORN_LOG_CONFIG),
    ]


def worker_command(pool: str, *, index: int = 1, python: str = sys.executable) -> list[str]:
    """The Celery worker of `pool`; `index` tells apart the processes of a pool that runs several on one host
    (Celery's node names must be unique there: outbound@host, outbound-2@host, …)."""
    concurrency = {
        "inbound": settings.INBOUND_CONCURRENCY,
        "outbound": settings.OUTBOUND_CONCURRENCY,
        "webhooks": settings.WEBHOOKS_CONCURRENCY,
    }[pool]
    return [
        python,
        "-m",
        "celery",
        "-A",
        "sufrahbot",
        "--quiet",  # no banner: the worker's lines are the project's JSON lines
        "worker",
        "-Q",
        settings.CELERY_WORKER_POOLS[pool],
        "-c",
        str(concurrency),
        "-n",
        f"{pool}@%h" if index == 1 else f"{pool}-{index}@%h",
        "-l",
        settings.LOG_LEVEL,
        "--without-mingle",
        "--without-gossip",
        *_pool_options(pool),
    ]


def _pool_options(pool: str) -> list[str]:
    """The outbound pool's sends wait on the provider's HTTP answer: threads, not one process per send in
    flight (settings.OUTBOUND_POOL). The other pools stay prefork: the bot's turns and the sweeps are CPU."""
    if pool == "outbound" and settings.OUTBOUND_POOL == "threads":
        return ["-P", "threads"]
    return []


def beat_command(*, python: str = sys.executable) -> list[str]:
    return [python, "-m", "celery", "-A", "sufrahbot", "--quiet", "beat", "-l", settings.LOG_LEVEL]


PROCESS_NAMES = ("web", "worker-inbound", "worker-outbound", "worker-webhooks", "beat")


def process_command(name: str, *, host: str, port: int) -> list[str]:
    if name == "web":
        return web_command(host=host, port=port)
    if name == "beat":
        return beat_command()
    return worker_command(name.removeprefix("worker-"))


def production_processes(*, host: str, port: int) -> list[ProcessSpec]:
    """Every process of the layout on one host: the outbound pool as OUTBOUND_PROCESSES processes (a GIL-bound
    sender uses one core; docker-compose scales the worker-outbound service instead)."""
    specs = []
    for name in PROCESS_NAMES:
        specs.append(ProcessSpec(name, process_command(name, host=host, port=port)))
        if name == "worker-outbound":
            specs += [
                ProcessSpec(f"{name}-{index}", worker_command("outbound", index=index))
                for index in range(2, settings.OUTBOUND_PROCESSES + 1)
            ]
    return specs


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor itself is killed (SIGKILL leaves no chance to clean up)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    delays: list[float] = field(default_factory=list)


class Supervisor:
    """Start the children, restart any that exits, stop them all on SIGTERM/SIGINT."""

    RESTART_DELAY_MAX = 30.0
    STABLE_AFTER = 60.0  # a child that ran this long restarts at once the next time
    STOP_TIMEOUT = 20.0

    def __init__(self, specs: list[ProcessSpec], *, env: dict[str, str] | None = None) -> None:
        self.children = [_Child(spec) for spec in specs]
        self.env = env
        self._stopping = False

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(child.spec.argv, env=self.env, preexec_fn=_die_with_parent)
        child.started = time.monotonic()
        logger.info("process started", extra={"child": child.spec.name, "pid": child.process.pid})

    def _on_signal(self, signum, frame) -> None:
        self._stopping = True

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                self._start(child)
            while not self._stopping:
                self._tick()
                time.sleep(0.2)
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0

    def _tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.next_start:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            ran = now - child.started
            delay = 0.0 if ran >= self.STABLE_AFTER else min(self.RESTART_DELAY_MAX, 0.5 * 2**child.restarts)
            child.restarts = 0 if ran >= self.STABLE_AFTER else child.restarts + 1
            child.delays.append(delay)
            child.process, child.next_start = None, now + delay
            logger.error(
                "process exited; restarting",
                extra={"child": child.spec.name, "exit_code": code, "ran_seconds": round(ran, 1), "delay": delay},
            )

    def stop(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logger.info("all processes stopped", extra={"children": [c.spec.name for c in self.children]})


def supervise(specs: list[ProcessSpec], *, metrics_dir: Path | None = None) -> int:
    """Run the children until SIGTERM/SIGINT. With metrics_dir, every child writes its Prometheus samples
    there (multiprocess mode) so the web's /metrics includes the workers'; it is emptied first."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return Supervisor(specs, env=env).run()
