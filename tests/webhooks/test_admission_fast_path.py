"""The webhook request's fast path: the sender's route from the per-process cache (restaurants.routing), the
request stored once with its verdict, and its processing queued in batches (sufrahbot.enqueue.BatchedEnqueue).

"Another process" changing a sender is a queryset update here: it saves without the signals that clear this
process's cache, exactly what a change made in another web process looks like to this one.
"""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from conversations.models import Message
from restaurants.models import Sender
from restaurants.routing import sender_route, sender_routes_cached
from sufrahbot.enqueue import BatchedEnqueue
from sufrahbot.logging import log_context
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _post(client, sender, *, token: str | None = None, phone: str = "+966508034010"):
    return signed_post(
        client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone), token=token
    )


def test_a_secret_rotated_in_another_process_is_read_again_before_refusing(
    client, fake_twilio, django_assert_num_queries
):
    sender = SenderFactory()
    assert _post(client, sender).status_code == 200  # the route is cached now, old secret and all
    new_token = secrets.token_hex(16)
    Sender.objects.filter(pk=sender.pk).update(credentials={**sender.credentials, "auth_token": new_token})

    response = _post(client, sender, token=new_token, phone="+966508034011")

    assert response.status_code == 200  # the cached secret failed; the stored one was read and matched
    event = WebhookEvent.objects.latest("id")
    assert event.signature_valid is True and event.sender_id == sender.pk
    # ...and the fresh route replaced the stale one in the cache.
    with django_assert_num_queries(0):
        route = sender_route(providers=["twilio", "console"], by="number", key=sender.phone_number)
    assert route.credentials["auth_token"] == new_token


def test_a_bad_signature_is_refused_after_the_fresh_read_and_stored_once(client):
    sender = SenderFactory()
    assert _post(client, sender).status_code == 200

    response = _post(client, sender, token=secrets.token_hex(16), phone="+966508034011")

    assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"
    rejected = WebhookEvent.objects.filter(status="rejected")
    assert rejected.count() == 1 and rejected.get().signature_valid is False
    assert WebhookEvent.objects.count() == 2  # every request stored exactly once, the refused one too


def test_a_sender_deactivated_in_another_process_is_not_answered(client, fake_twilio):
    sender = SenderFactory()
    assert _post(client, sender).status_code == 200
    replies = Message.objects.filter(direction="out").count()
    Sender.objects.filter(pk=sender.pk).update(active=False)

    # Within the cache's time to live this process still admits the request (stored, acknowledged) ...
    assert _post(client, sender, phone="+966508034011").status_code == 200
    event = WebhookEvent.objects.latest("id")
    # ... but processing reads the sender from the database: nothing is stored for it, nobody is answered.
    assert event.status == "processed" and event.items[0]["outcome"] == "skipped"
    assert Message.objects.filter(direction="out").count() == replies
    assert not Message.objects.filter(conversation__customer_phone="+966508034011").exists()


def test_a_change_saved_in_this_process_is_seen_at_once(client):
    sender = SenderFactory()
    assert _post(client, sender).status_code == 200
    sender.active = False
    sender.save()  # admin, the API and the services save models: the signal empties the cache

    response = _post(client, sender, phone="+966508034011")

    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_number"


def test_the_cache_is_bounded_and_holds_only_senders_that_exist(settings):
    settings.SENDER_ROUTE_CACHE_SIZE = 3
    senders = SenderFactory.create_batch(5)
    for sender in senders:
        assert sender_route(providers=["twilio"], by="number", key=sender.phone_number).sender_id == sender.pk
    assert sender_routes_cached() == 3
    for n in range(20):  # unknown numbers are never cached: random ones cannot push the real ones out
        assert sender_route(providers=["twilio"], by="number", key=f"+1555999{n:04d}") is None
    assert sender_routes_cached() == 3


def test_no_cache_reads_the_database_each_time(settings, django_assert_num_queries):
    settings.SENDER_ROUTE_CACHE_SECONDS = 0
    sender = SenderFactory()
    for _ in range(2):
        with django_assert_num_queries(1):
            assert sender_route(providers=["twilio"], by="number", key=sender.phone_number).sender_id == sender.pk
    assert sender_routes_cached() == 0


def test_cached_credentials_are_read_only_and_never_printed():
    sender = SenderFactory()
    route = sender_route(providers=["twilio"], by="number", key=sender.phone_number)
    with pytest.raises(TypeError):
        route.credentials["auth_token"] = "x"  # type: ignore[index]
    assert sender.credentials["auth_token"] not in repr(route)


class _RecordingTask:
    name = "tests.recording"

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], list[str]]] = []

    def delay(self, ids: list[int], request_ids: list[str]) -> None:
        self.calls.append((ids, request_ids))


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_batched_enqueue_publishes_every_id_once_with_its_request_id(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    task = _RecordingTask()
    batches = BatchedEnqueue(task, max_batch=10, window=0.05)

    def request(n: int) -> None:
        with log_context(request_id=f"req-{n}"):
            batches.add(n)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _wait_for(lambda: sum(len(ids) for ids, _ in task.calls) == 25)

    published = [(i, r) for ids, request_ids in task.calls for i, r in zip(ids, request_ids, strict=True)]
    assert sorted(published) == sorted((n, f"req-{n}") for n in range(25))  # each once, with its request
    assert all(len(ids) <= 10 for ids, _ in task.calls)
    assert len(task.calls) < 25  # requests that came together went out together


def test_batched_enqueue_sends_a_lone_id_at_once_and_holds_the_next_for_the_window(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    task = _RecordingTask()
    batches = BatchedEnqueue(task, window=3.0)
    began = time.monotonic()
    batches.add(1)
    _wait_for(lambda: len(task.calls) == 1, timeout=2.0)  # idle: no wait for company (the window is 3 s)
    batches.add(2)
    batches.add(3)
    time.sleep(0.2)
    assert len(task.calls) == 1  # published within the window: held for the rest of it
    _wait_for(lambda: len(task.calls) == 2, timeout=6.0)
    assert time.monotonic() - began >= 3.0
    assert task.calls == [([1], [""]), ([2, 3], ["", ""])]


def test_batched_enqueue_flushes_what_waits():
    task = _RecordingTask()
    batches = BatchedEnqueue(task, window=0.05)
    for n in range(3):
        batches._queue.put((n, ""))  # queued, the thread not yet there (as at exit)
    batches.flush()
    assert task.calls == [([0, 1, 2], ["", "", ""])]


def test_without_a_broker_the_enqueue_is_at_once(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    task = _RecordingTask()
    with log_context(request_id="req-1"):
        BatchedEnqueue(task).add(7)
    assert task.calls == [([7], ["req-1"])]
