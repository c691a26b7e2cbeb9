"""sufrahbot.broker: Celery's Redis channel keeps one redis-py client instead of building one per command, and
TaskPublisher writes the task messages Celery writes without its publish path."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import redis
from celery._state import _task_stack
from django.conf import settings
from kombu import Connection

from conversations.tasks import send_message
from sufrahbot import broker
from sufrahbot.broker import task_publisher
from sufrahbot.celery import app
from sufrahbot.enqueue import delay_or_log
from sufrahbot.logging import log_context
from webhooks.tasks import process_event, process_events


def _clients_built_for(transport: str | None, monkeypatch, messages: int = 10) -> int:
    """redis.Redis clients built while `messages` are published, received and acked on a real queue."""
    built = []
    real_init = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    name = f"sufrah-test-broker-{uuid.uuid4().hex}"
    with Connection(settings.REDIS_URL, transport=transport) as connection:
        queue = connection.SimpleQueue(name)
        queue.put({"n": 0})
        queue.get(timeout=5).ack()  # connected, channel open: count from here
        monkeypatch.setattr(redis.Redis, "__init__", counting)
        for n in range(messages):
            queue.put({"n": n})
        received = []
        for _ in range(messages):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        monkeypatch.undo()
        queue.clear()
        queue.close()
    assert received == list(range(messages))
    return len(built)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
def test_publishes_receives_and_acks_share_the_channels_client(monkeypatch):
    stock = _clients_built_for(None, monkeypatch)
    ours = _clients_built_for("sufrahbot.broker:Transport", monkeypatch)
    print(f"clients built for 10 messages: kombu {stock}, sufrahbot.broker {ours}")
    assert stock >= 20  # kombu's own: a client per publish and per ack at least
    assert ours == 0  # the channel's one client was built before counting began


def test_the_production_settings_select_it_for_redis_urls():
    if settings.REDIS_URL.startswith("redis://"):
        assert settings.CELERY_BROKER_TRANSPORT == "sufrahbot.broker:Transport"
    assert broker.Transport.Channel is broker.Channel


# --- TaskPublisher: Celery's task message, written without Celery's publish path ---------------------------

# What differs between two messages of one task: its id (also the root and correlation ids) and the delivery tag.
PER_MESSAGE_IDS = (
    ("headers", "id"),
    ("headers", "root_id"),
    ("properties", "correlation_id"),
    ("properties", "delivery_tag"),
)


@pytest.fixture
def broker_queues(settings):
    """Eager mode off (messages go to Redis), the routed queues empty before and after."""
    eager_before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = redis.Redis.from_url(app.conf.broker_url)
    queues = ("inbound", "outbound", "default")
    client.delete(*queues)
    yield client
    client.delete(*queues)
    app.conf.task_always_eager = eager_before


def _popped(client: redis.Redis, queue: str) -> dict:
    raw = client.rpop(queue)
    assert raw is not None, f"nothing on {queue}"
    assert client.llen(queue) == 0
    return json.loads(raw)


def _without_ids(message: dict) -> dict:
    message = json.loads(json.dumps(message))
    for part, key in PER_MESSAGE_IDS:
        message[part].pop(key)
    return message


@pytest.mark.skipif(not settings.REDIS_URL.startswith("redis://"), reason="needs the Redis transport")
@pytest.mark.parametrize(
    ("task", "args", "queue"),
    [
        (send_message, (42,), "outbound"),
        (process_event, (7,), "inbound"),
        (process_events, ([1, 2, 3], ["req-a", "", "req-c"]), "inbound"),
    ],
)
def test_the_message_is_the_one_celery_writes(broker_queues, task, args, queue):
    with log_context(request_id="req-7f3a"):
        task.delay(*args)
        celerys = _popped(broker_queues, queue)
        task_id = task_publisher.publish(task, args)
        ours = _popped(broker_queues, queue)
    assert task_id == ours["headers"]["id"]
    assert _without_ids(ours) == _without_ids(celerys)
    assert ours["headers"]["sufrah_request_id"] == "req-7f3a"
    assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": queue}
    # One id throughout, as Celery's: the task's, its root's (it has no parent) and the correlation id.
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert ours["headers"]["id"] != celerys["headers"]["id"]
    assert ours["properties"]["delivery_tag"] != celerys["properties"]["delivery_tag"]
    assert json.loads(base64.b64decode(ours["body"])) == [
        list(args),
        {},
        {
            "callbacks": None,
            "errbacks": None,
            "chain": None,
            "chord": None,
        },
    ]


@pytest.mark.skipif(not settings.REDIS_URL.startswith("redis://"), reason="needs the Redis transport")
def test_queued_from_inside_a_task_it_names_its_parent_and_root_as_celery_does(broker_queues):
    parent = process_events._get_current_object()
    parent.push_request(id="parent-task-id", root_id="root-task-id", called_directly=False)
    _task_stack.push(parent)
    try:
        send_message.delay(9)
        celerys = _popped(broker_queues, "outbound")
        task_publisher.publish(send_message, (9,))
        ours = _popped(broker_queues, "outbound")
    finally:
        _task_stack.pop()
        parent.pop_request()
    assert ours["headers"]["parent_id"] == celerys["headers"]["parent_id"] == "parent-task-id"
    assert ours["headers"]["root_id"] == celerys["headers"]["root_id"] == "root-task-id"
    assert _without_ids(ours) == _without_ids(celerys)


@pytest.mark.skipif(not settings.REDIS_URL.startswith("redis://"), reason="needs the Redis transport")
def test_delay_or_log_writes_through_it_and_a_long_argument_list_is_cut_as_celery_cuts_it(broker_queues):
    ids = list(range(100_000, 100_400))  # argsrepr over Celery's 1,024 characters
    request_ids = [f"req-{n}" for n in ids]
    process_events.delay(ids, request_ids)
    celerys = _popped(broker_queues, "inbound")
    assert delay_or_log(process_events, ids, request_ids)
    ours = _popped(broker_queues, "inbound")
    assert len(ours["headers"]["argsrepr"]) < len(repr((ids, request_ids)))
    assert _without_ids(ours) == _without_ids(celerys)


@app.task(name="tests.sufrahbot.limited_task", time_limit=30, shared=False)
def limited_task(n: int) -> int:
    return n


def test_celery_writes_what_it_does_not_know_how_to_write(broker_queues, settings):
    assert task_publisher.publish(limited_task, (1,)) is None  # a time limit is in the message: Celery's path
    app.conf.task_always_eager = True
    try:
        assert task_publisher.publish(send_message, (1,)) is None  # eager: the task runs in the caller
    finally:
        app.conf.task_always_eager = False
    transport_before = app.conf.broker_transport
    app.conf.broker_transport = None
    try:
        assert task_publisher.publish(send_message, (1,)) is None  # kombu's own transport (a rediss:// URL)
    finally:
        app.conf.broker_transport = transport_before
    assert [broker_queues.llen(queue) for queue in ("inbound", "outbound", "default")] == [0, 0, 0]
