"""Fault suite: a private redis-server (a free port of 18000-18099) and a real Celery worker in its own process group.

Each case injects a real fault (SIGKILL of the worker's main process and children, the private Redis stopped)
and shows with counts that every accepted message is answered exactly once. Bounded: a few seconds of
fault each; the 30 s / 20 s outage figures are in bench/faults.py.
"""

from __future__ import annotations

import os
import time

import pytest

from conversations.models import Message
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from tests.faults.conftest import replies_by_customer, requires_redis_server, wait_for
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), requires_redis_server]

# A few seconds in the suite; bench/faults.py runs the same case with 30.
OUTAGE_SECONDS = float(os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "3"))
# Short enough that a killed worker's claim is taken over within the case (the sweep runs in this process).
LEASE_SECONDS = "3"


@pytest.fixture
def stack(fault_stack, settings):
    settings.SEND_CLAIM_LEASE_SECONDS = float(LEASE_SECONDS)
    stack = fault_stack(SEND_CLAIM_LEASE_SECONDS=LEASE_SECONDS, PROVIDER_HTTP_TIMEOUT_SECONDS="1")
    return stack.redis, stack.worker()


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

    assert wait_for(lambda: len(fake_twilio.sent) >= 8, 60), "the worker never got going"
    worker.kill()  # SIGKILL: main process and pool children, with tasks in flight
    sent_at_kill = len(fake_twilio.sent)
    worker.start()

    def all_answered():
        return len(replies_by_customer(fake_twilio)) == len(customers)

    assert wait_for(all_answered, 120, sweep=True)
    time.sleep(1)  # anything still in flight would show up as a duplicate now
    counts = replies_by_customer(fake_twilio)
    print(
        f"\nsigkill: {len(customers)} inbound, killed after {sent_at_kill} replies, "
        f"{sum(counts.values())} replies sent, max per customer {max(counts.values())}"
    )
    assert sorted(counts) == sorted(f"whatsapp:{p}" for p in customers)
    assert set(counts.values()) == {1}
    assert Message.objects.filter(direction="in").count() == len(customers)
    # A send the SIGKILL cut off after the provider accepted it stays `sending` until its claim's lease runs
    # out; the stranded sweep then takes it over and finds it in Twilio's message list (not sent again).
    assert wait_for(lambda: not Message.objects.filter(direction="out").exclude(status="sent").exists(), 30, sweep=True)
    assert sorted(Message.objects.filter(direction="out").values_list("provider_message_id", flat=True)) == sorted(
        sent["sid"] for sent in fake_twilio.sent
    )
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
    assert wait_for(lambda: len(fake_twilio.sent) == len(before), 60)

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
    assert wait_for(lambda: len(replies_by_customer(fake_twilio)) == len(before) + len(during), 120, sweep=True)
    time.sleep(1)
    counts = replies_by_customer(fake_twilio)
    print(
        f"\nredis down {max(outage, OUTAGE_SECONDS):.1f}s: {len(during)} webhooks during it, answers {set(answers)}, "
        f"{sum(counts.values())} replies for {len(counts)} customers"
    )
    assert set(counts.values()) == {1}
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
