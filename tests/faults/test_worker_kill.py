"""Fault suite: a private redis-server (port 17301) and a real Celery worker in its own process group.

Each case injects a real fault (SIGKILL of the worker's main process and children, the private Redis stopped)
and shows with counts that every accepted message is answered exactly once. Bounded: a few seconds of
fault each; the 30 s / 20 s outage figures are in bench/faults.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from conversations.models import Message
from conversations.services.delivery import messages_stranded
from conversations.tasks import send_message
from sufrahbot.celery import app
from sufrahbot.enqueue import delay_or_log
from tests.conftest import PUBLIC_BASE_URL, signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_events_stale
from webhooks.tasks import process_event

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

ROOT = Path(__file__).resolve().parents[2]
REDIS_PORT = 17301
# A few seconds in the suite; bench/faults.py runs the same case with 30.
OUTAGE_SECONDS = float(os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "3"))


class PrivateRedis:
    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.process = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
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
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Worker:
    """`celery worker` on the project's queues, in its own session so SIGKILL reaches its children too."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log, self.process = env, log, None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sufrahbot",
                "worker",
                "-Q",
                "default,inbound,outbound,scheduled",
                "-c",
                "2",
                "-l",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
            ],
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


def _broker(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def stack(tmp_path, fake_twilio, settings):
    redis_server = PrivateRedis(REDIS_PORT, tmp_path).start()
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="sufrahbot.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=redis_server.url,
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        SEND_RETRY_BASE_SECONDS="0.05",
        SEND_RETRY_MAX_SECONDS="0.2",
        DB_CONN_MAX_AGE="0",
    )
    broker_before, eager_before = app.conf.broker_url, app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _broker(redis_server.url)
    worker = Worker(env, tmp_path / "worker.log")
    try:
        yield redis_server, worker
    finally:
        worker.stop()
        _broker(broker_before)
        app.conf.task_always_eager = eager_before
        redis_server.stop()


def _sweep_once() -> None:
    """What beat runs (here without its minute of grace, so the case stays short)."""
    for event_id in webhook_events_stale(older_than_seconds=0):
        delay_or_log(process_event, event_id)
    for message_id in messages_stranded(grace_seconds=0):
        delay_or_log(send_message, message_id)


def _wait(predicate, timeout: float, sweep: bool = False):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if sweep:
            _sweep_once()
        time.sleep(0.5)
    return predicate()


def _replies_by_customer(fake_twilio) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sent in fake_twilio.sent:
        counts[sent["to"]] = counts.get(sent["to"], 0) + 1
    return counts


@pytest.mark.timeout(180)
def test_worker_sigkill_mid_stream_every_message_replied_once(client, stack, fake_twilio):
    redis_server, worker = stack
    sender = SenderFactory()
    customers = [f"+9665080{n:05d}" for n in range(40)]
    fake_twilio.delay_next(200, 0.05)  # sends take a moment, so the kill lands mid-stream
    worker.start()
    for phone in customers:
        assert (
            signed_post(
                client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone)
            ).status_code
            == 200
        )

    assert _wait(lambda: len(fake_twilio.sent) >= 8, 60), "the worker never got going"
    worker.kill()  # SIGKILL: main process and pool children, with tasks in flight
    sent_at_kill = len(fake_twilio.sent)
    worker.start()

    def all_answered():
        return len(_replies_by_customer(fake_twilio)) == len(customers)

    assert _wait(all_answered, 120, sweep=True)
    time.sleep(1)  # anything still in flight would show up as a duplicate now
    counts = _replies_by_customer(fake_twilio)
    print(
        f"\nsigkill: {len(customers)} inbound, killed after {sent_at_kill} replies, "
        f"{sum(counts.values())} replies sent, max per customer {max(counts.values())}"
    )
    assert sorted(counts) == sorted(f"whatsapp:{p}" for p in customers)
    assert set(counts.values()) == {1}
    assert Message.objects.filter(direction="in").count() == len(customers)
    # A send the SIGKILL cut off after the provider accepted it (the customer has its one reply, asserted above)
    # stays `sending` until its 2-minute claim lease runs out and the stranded sweep reconciles it; this test
    # waits less than that. Nothing is queued or failed.
    assert set(Message.objects.filter(direction="out").values_list("status", flat=True)) <= {"sent", "sending"}
    assert Message.objects.filter(direction="out").count() == len(customers)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.timeout(180)
def test_redis_down_a_few_seconds_every_webhook_answered_and_processed_once(client, stack, fake_twilio):
    redis_server, worker = stack
    sender = SenderFactory()
    worker.start()
    before = [f"+9665081{n:05d}" for n in range(10)]
    during = [f"+9665082{n:05d}" for n in range(10)]
    for phone in before:
        signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone))
    assert _wait(lambda: len(fake_twilio.sent) == len(before), 60)

    redis_server.stop()
    started = time.monotonic()
    answers = [
        signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone)).status_code
        for phone in during
    ]
    outage = time.monotonic() - started
    time.sleep(max(0.0, OUTAGE_SECONDS - outage))
    redis_server.start()
    worker.stop()
    worker.start()  # the worker that lost its broker is replaced (./dev run's supervisor does this)

    assert answers == [200] * len(during)
    assert _wait(lambda: len(_replies_by_customer(fake_twilio)) == len(before) + len(during), 120, sweep=True)
    time.sleep(1)
    counts = _replies_by_customer(fake_twilio)
    print(
        f"\nredis down {max(outage, OUTAGE_SECONDS):.1f}s: {len(during)} webhooks during it, answers {set(answers)}, "
        f"{sum(counts.values())} replies for {len(counts)} customers"
    )
    assert set(counts.values()) == {1}
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
