"""Sending from many workers at once (the outbound pool runs threads; deployments run several processes): a
sender's cap holds across all of them, every send records its own provider id, and no message goes twice.
Real PostgreSQL, the real Redis token bucket, the local Twilio fake."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Message
from conversations.ratelimit import RedisTokenBucket
from conversations.services import delivery
from providers.content import OutboundContent
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _queued(conversation, count: int) -> list[Message]:
    return Message.objects.bulk_create(
        Message(
            restaurant=conversation.restaurant,
            conversation=conversation,
            direction="out",
            provider="twilio",
            body=f"m{n}",
            content=OutboundContent.text(f"m{n}").to_dict(),
            status="queued",
            status_rank=1,
        )
        for n in range(count)
    )


def _workers(count: int, work) -> None:
    """`work(k)` on `count` threads at once, each with its own database connection (as a worker has)."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # reported below, not lost with the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_concurrent_workers_never_send_more_than_the_senders_bucket(fake_twilio, monkeypatch):
    cap = 20  # a minute's worth in the bucket, then one every 3 s
    conversation = ConversationFactory(last_inbound_at=timezone.now(), sender__messages_per_minute=cap)
    messages = _queued(conversation, 3 * cap)
    # Two processes' limiters (each its own client of the same Redis bucket), four threads each.
    limiters = [RedisTokenBucket(), RedisTokenBucket()]
    by_thread = threading.local()
    monkeypatch.setattr(delivery, "limiter", lambda: by_thread.limiter)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    began = time.monotonic()

    def work(k: int) -> None:
        by_thread.limiter = limiters[k % 2]
        for message in messages[k::8]:  # every worker takes every message it can
            result = delivery.message_deliver(message_id=message.pk).result
            with lock:
                outcomes[result] += 1

    _workers(8, work)
    elapsed = time.monotonic() - began

    sent = Message.objects.filter(pk__in=[m.pk for m in messages], status="sent")
    allowed = cap + cap / 60 * elapsed  # the bucket: its minute's worth plus what refilled meanwhile
    assert cap <= len(fake_twilio.sent) <= allowed
    assert sent.count() == len(fake_twilio.sent) == outcomes["sent"]
    assert outcomes["throttled"] == len(messages) - outcomes["sent"]
    # A throttled message was never claimed: still queued, no attempt spent.
    assert set(
        Message.objects.filter(pk__in=[m.pk for m in messages]).exclude(status="sent").values_list("status", "attempts")
    ) == {("queued", 0)}


def test_concurrent_sends_each_record_their_own_provider_id(fake_twilio):
    """The outbound pool's threads share the process's HTTP pool: every message gets the sid Twilio gave
    that message (the body it answered for), none another's, and none is sent twice."""
    conversation = ConversationFactory(last_inbound_at=timezone.now(), sender__messages_per_minute=60_000)
    messages = _queued(conversation, 48)
    fake_twilio.delay_next(48, 0.01)  # answers overlap

    def work(k: int) -> None:
        for message in messages[k::8]:
            assert delivery.message_deliver(message_id=message.pk).result == "sent"

    _workers(8, work)

    body_by_sid = {record["sid"]: record["body"] for record in fake_twilio.sent}
    stored = dict(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("provider_message_id", "body"))
    assert len(fake_twilio.sent) == len(stored) == 48
    assert stored == body_by_sid
