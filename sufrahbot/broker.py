"""Celery's Redis broker transport, with one Redis client per channel instead of one per command.

kombu's Redis channel builds a new `redis.Redis` client for every publish, every ack and every unacked-index
update (`Channel.conn_or_acquire`), and redis-py 8 fills ~170 response callbacks into a fresh dict each time it
builds one: about 60 µs of CPU each, a fifth of a task publish and paid three times a task (publish, receive,
ack). The clients all draw on the channel's one connection pool, and a redis-py client is safe to share between
threads (every command takes a connection from the pool), so the channel keeps one. Selected in settings with
CELERY_BROKER_TRANSPORT for redis:// URLs; a rediss:// URL keeps kombu's own (its TLS defaults are chosen by
the URL's scheme, which a transport given by path does not have).
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        shared = self._shared_client
        pool = self.pool
        if shared is None or shared.connection_pool is not pool:  # the pool is rebuilt after a disconnect
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(kombu_redis.Transport):
    Channel = Channel
