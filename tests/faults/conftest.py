"""What the fault suite's cases share: a private redis-server, real Celery workers in their own process groups,
a real web server, a TCP proxy in front of PostgreSQL that can be cut, and polling helpers.

Ports: the first free ones in 18000-18099 (the private Redis, web servers, the PostgreSQL proxy), checked
when taken, so two suites on one machine never share a Redis. The shared PostgreSQL and Redis are never
stopped: the database "goes down" behind the proxy.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from conversations.services.delivery import messages_stranded
from conversations.tasks import send_message
from sufrahbot.celery import app
from sufrahbot.enqueue import delay_or_log
from sufrahbot.processes import web_command
from tests import ports
from tests.conftest import PUBLIC_BASE_URL
from webhooks.processing import webhook_events_stale
from webhooks.spool import webhook_spool_import
from webhooks.tasks import process_event

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18000, 18100)
ALL_QUEUES = "default,inbound,outbound,scheduled"

requires_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def free_port() -> int:
    return ports.free_port(PORTS)


class PrivateRedis:
    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.process = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (or, after stop(), restart on the same port) and wait until this very server answers."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # could not bind: someone else has the port
                raise RuntimeError(f"redis-server on port {self.port} exited ({self.process.returncode})")
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Child:
    """A process of the stack in its own session, so SIGKILL reaches its children (a worker's pool) too."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.argv, self.env, self.log, self.process = argv, env, log, None

    def start(self) -> Child:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def worker_argv(*, queues: str = ALL_QUEUES, concurrency: int = 2, name: str = "faults") -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "sufrahbot",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "-l",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
    ]


class TcpProxy:
    """127.0.0.1:<port> → upstream, in a thread. `cut()` closes the listener and every live connection (the
    database is gone, mid-query included); `restore()` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream, self.port = upstream, free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in [listener, *sockets]:
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close(), server.close()
                    return
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with self._lock:
                    self._sockets.discard(sock)
                sock.close()


def _broker(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def database_url(*, port: int | None = None) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{port or db['PORT']}/{db['NAME']}"


@dataclass
class Stack:
    """A private Redis as broker (this test process publishes to it too) and the processes started on it."""

    redis: PrivateRedis
    env: dict[str, str]
    workdir: Path
    children: list[Child] = field(default_factory=list)

    def worker(self, **kwargs) -> Child:
        child = Child(worker_argv(**kwargs), self.env, self.workdir / f"worker-{len(self.children)}.log")
        self.children.append(child)
        return child

    def web(self, port: int, env: dict[str, str] | None = None) -> Child:
        child = Child(
            web_command(host="127.0.0.1", port=port), {**self.env, **(env or {})}, self.workdir / f"web-{port}.log"
        )
        self.children.append(child)
        return child


@pytest.fixture
def fault_stack(tmp_path, settings, fake_twilio) -> Iterator[Callable[..., Stack]]:
    """`fault_stack(**env)` starts the private Redis and returns a Stack whose processes get `env` on top of
    the suite's: the test database, the fake Twilio, short retry backoffs, and no persistent connections."""
    made: list[Stack] = []
    broker_before, eager_before = app.conf.broker_url, app.conf.task_always_eager

    def make(**overrides: str) -> Stack:
        redis_server = PrivateRedis(free_port(), tmp_path).start()
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DJANGO_SETTINGS_MODULE="sufrahbot.settings",
            DATABASE_URL=database_url(),
            REDIS_URL=redis_server.url,
            TWILIO_API_BASE_URL=fake_twilio.base_url,
            PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            SEND_RETRY_BASE_SECONDS="0.05",
            SEND_RETRY_MAX_SECONDS="0.2",
            DB_CONN_MAX_AGE="0",
        )
        env.update(overrides)
        app.conf.task_always_eager = False
        settings.CELERY_TASK_ALWAYS_EAGER = False
        _broker(redis_server.url)
        stack = Stack(redis_server, env, tmp_path)
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            for child in stack.children:
                child.stop()
            stack.redis.stop()
        _broker(broker_before)
        app.conf.task_always_eager = eager_before


def sweep_once() -> None:
    """What beat runs (here without its minute of grace, so a case stays short). A case that shortens the
    workers' SEND_CLAIM_LEASE_SECONDS sets the same in `settings`, since this process runs the sweep."""
    webhook_spool_import()
    for event_id in webhook_events_stale(older_than_seconds=0):
        delay_or_log(process_event, event_id)
    for message_id in messages_stranded(grace_seconds=0):
        delay_or_log(send_message, message_id)


def wait_for(predicate: Callable[[], bool], timeout: float, *, sweep: bool = False, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if sweep:
            sweep_once()
        time.sleep(every)
    return predicate()


def replies_by_customer(fake_twilio) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sent in list(fake_twilio.sent):
        counts[sent["to"]] = counts.get(sent["to"], 0) + 1
    return counts
