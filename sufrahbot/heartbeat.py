"""What Redis says about the workers: their heartbeats (each worker writes its own key; readers list the
live ones) and the broker's queue depths."""

from __future__ import annotations

import json
import logging
import socket
import time
from functools import lru_cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 5.0
HEARTBEAT_TTL_SECONDS = 20  # four missed beats and the worker counts as gone


@lru_cache(maxsize=16)
def redis_client(
    url: str, *, connect_timeout: float | None = 2, socket_timeout: float | None = 2, retries: int | None = None
) -> redis.Redis:
    """The process's client for `url` with these timeouts (redis-py's pool is thread-safe and makes new
    connections in a forked child). `retries`: how many more times a command whose connection dropped is tried,
    at once; None keeps redis-py's default retry."""
    options = {} if retries is None else {"retry": Retry(NoBackoff(), retries)}
    return redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout, **options)


def worker_key(hostname: str) -> str:
    return f"{settings.CHANNELS_PREFIX}:worker:{hostname}"


def worker_beat(*, hostname: str, queues: list[str]) -> None:
    if not settings.REDIS_URL:
        return
    payload = {"hostname": hostname, "queues": queues, "at": time.time(), "host": socket.gethostname()}
    try:
        redis_client(settings.REDIS_URL).set(worker_key(hostname), json.dumps(payload), ex=HEARTBEAT_TTL_SECONDS)
    except Exception:  # a missed beat is what the TTL is for; the worker keeps working
        logger.warning("worker heartbeat not written", exc_info=True, extra={"hostname": hostname})


def worker_gone(*, hostname: str) -> None:
    if not settings.REDIS_URL:
        return
    try:
        redis_client(settings.REDIS_URL).delete(worker_key(hostname))
    except Exception:
        logger.warning("worker heartbeat not removed", exc_info=True, extra={"hostname": hostname})


def workers_alive() -> list[dict]:
    """The workers whose heartbeat has not expired (raises redis errors: the caller reports them)."""
    client = redis_client(settings.REDIS_URL)
    keys = list(client.scan_iter(match=worker_key("*"), count=200))
    if not keys:
        return []
    return [json.loads(value) for value in client.mget(keys) if value]


def queue_depths() -> dict[str, int]:
    """Tasks waiting in each worker queue (the Redis broker keeps a queue as a list of its name)."""
    client = redis_client(settings.CELERY_BROKER_URL)
    queues = settings.CELERY_WORKER_QUEUES.split(",")
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute(), strict=True))
