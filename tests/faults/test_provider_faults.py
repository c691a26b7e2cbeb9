"""Fault suite, provider side: real Celery workers on a private Redis, the local Twilio fake misbehaving.

- a duplicate storm (every webhook posted several times at once) → one inbound row and one reply per customer;
- the worker SIGKILLed while it waits for the provider's answer → the takeover finds the message in Twilio's
  message list: the customer gets it once and the row ends `sent` with the provider's sid;
- the provider accepts but answers after the read timeout → reconciled, not resent: one customer message;
- a provider that hangs 10 s for some customers → the inbound pool keeps answering everybody else and the
  outbound pool's other processes keep sending (the pools of `./dev run`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from conversations.models import Message
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from tests.faults.conftest import replies_by_customer, requires_redis_server, wait_for
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), requires_redis_server]


def _outbound(phone: str):
    return Message.objects.filter(direction="out", conversation__customer_phone=phone)


@pytest.mark.timeout(120)
def test_duplicate_storm_against_a_real_worker_answers_each_message_once(fault_stack, fake_twilio):
    stack = fault_stack()
    stack.worker(concurrency=2).start()
    sender = SenderFactory()
    customers = [f"+9665083{n:05d}" for n in range(12)]
    webhooks = [twilio_inbound_params(sender=sender, from_number=phone) for phone in customers]
    copies = 4

    def post(params: dict) -> int:
        try:
            return signed_post(Client(), sender=sender, params=params).status_code
        finally:
            connections.close_all()  # this thread's own connection, or the test database cannot be dropped

    with ThreadPoolExecutor(max_workers=6) as pool:  # every copy of a webhook in flight at once
        answers = list(pool.map(post, [params for params in webhooks for _ in range(copies)]))

    assert set(answers) == {200}
    assert wait_for(lambda: len(replies_by_customer(fake_twilio)) == len(customers), 60, sweep=True)
    time.sleep(1.5)  # a duplicate still in flight would show up now
    counts = replies_by_customer(fake_twilio)
    print(f"\nduplicate storm: {len(answers)} posts of {len(customers)} messages → {sum(counts.values())} replies")
    assert counts == {f"whatsapp:{phone}": 1 for phone in customers}
    assert Message.objects.filter(direction="in").count() == len(customers)
    assert Message.objects.filter(direction="out").count() == len(customers)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) <= {"processed", "duplicate"}


@pytest.mark.timeout(120)
def test_worker_killed_during_the_provider_call_sends_once_and_ends_sent(fault_stack, fake_twilio, settings):
    settings.SEND_CLAIM_LEASE_SECONDS = 3.0  # the sweep runs here: the same lease as the worker's
    stack = fault_stack(SEND_CLAIM_LEASE_SECONDS="3", PROVIDER_HTTP_TIMEOUT_SECONDS="1")
    worker = stack.worker().start()
    sender = SenderFactory()
    phone = "+966508400001"
    fake_twilio.delay_next(1, 0.9)  # Twilio takes the message at once and answers 0.9 s later
    assert (
        signed_post(Client(), sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone)).status_code
        == 200
    )

    assert wait_for(lambda: len(fake_twilio.sent) == 1, 60, every=0.02), "the reply never reached the provider"
    worker.kill()  # inside the provider call: Twilio has the message, the worker never heard back
    reply = _outbound(phone).get()
    assert reply.status == "sending" and not reply.provider_message_id
    stack.worker().start()

    assert wait_for(lambda: _outbound(phone).get().status == "sent", 60, sweep=True)
    time.sleep(1)
    reply = _outbound(phone).get()
    print(f"\nkilled in the provider call: {len(fake_twilio.sent)} provider send(s), reply {reply.status}")
    assert len(fake_twilio.sent) == 1
    assert reply.provider_message_id == fake_twilio.sent[0]["sid"]
    assert reply.attempts == 2 and not reply.send_unconfirmed


@pytest.mark.timeout(120)
def test_provider_read_timeout_gives_one_customer_message(fault_stack, fake_twilio):
    stack = fault_stack(PROVIDER_HTTP_TIMEOUT_SECONDS="1")
    stack.worker().start()
    sender = SenderFactory()
    phone = "+966508400002"
    fake_twilio.delay_next(1, 3.0)  # accepted at once, answered after the worker's 1 s read timeout
    assert (
        signed_post(Client(), sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone)).status_code
        == 200
    )

    assert wait_for(lambda: _outbound(phone).filter(status="sent").exists(), 60)
    time.sleep(3.5)  # the late answer comes and goes; a blind retry would have sent a second copy by now
    reply = _outbound(phone).get()
    print(f"\nread timeout: {len(fake_twilio.sent)} provider send(s) after {reply.attempts} attempt(s)")
    assert len(fake_twilio.sent) == 1
    assert reply.attempts >= 2  # the timed-out attempt, then the one that found it in Twilio's list
    assert reply.provider_message_id == fake_twilio.sent[0]["sid"]
    assert reply.status == "sent" and not reply.send_unconfirmed


@pytest.mark.timeout(120)
def test_a_provider_hanging_10s_for_some_customers_stalls_nobody_else(fault_stack, fake_twilio):
    stack = fault_stack()  # the default 10 s provider timeout: the hang is answered just inside it
    pools = settings.CELERY_WORKER_POOLS
    stack.worker(queues=pools["inbound"], concurrency=2, name="inbound").start()
    stack.worker(queues=pools["outbound"], concurrency=3, name="outbound").start()
    sender = SenderFactory()
    hung = ["+966508400010", "+966508400011"]
    others = [f"+9665084001{n:02d}" for n in range(4)]
    for phone in hung:
        fake_twilio.hang_for(f"whatsapp:{phone}", 9.0)
    client = Client()
    # Warm both pools up first, so the figures below are the fault's and not the workers' start-up.
    warm = "+966508400099"
    signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=warm))
    assert wait_for(lambda: f"whatsapp:{warm}" in replies_by_customer(fake_twilio), 60, every=0.1)

    for phone in hung:
        signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone))
    assert wait_for(
        lambda: sum(1 for s in fake_twilio.sent if s["to"] in {f"whatsapp:{p}" for p in hung}) == 2, 20, every=0.05
    )
    started = time.monotonic()  # two of the three outbound processes are now stuck in the provider call
    answered: dict[str, float] = {}
    for phone in others:
        signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone))

    def all_answered() -> bool:
        sent = replies_by_customer(fake_twilio)
        for phone in others:
            if f"whatsapp:{phone}" in sent and phone not in answered:
                answered[phone] = time.monotonic() - started
        return len(answered) == len(others)

    assert wait_for(all_answered, 20, every=0.05)
    slowest = max(answered.values())
    print(f"\nprovider hanging 9 s for {len(hung)} customers: the other {len(others)} answered within {slowest:.2f} s")
    assert slowest < 5.0, answered  # nobody waited for the hang to end
    assert not _outbound(hung[0]).filter(status="sent").exists()  # the hung sends were still in flight
    assert wait_for(lambda: all(_outbound(p).filter(status="sent").exists() for p in hung), 30)
    assert set(replies_by_customer(fake_twilio).values()) == {1}
