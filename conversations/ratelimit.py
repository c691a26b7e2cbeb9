"""Per-sender send rate: a token bucket per sender (messages per minute).

`reserve(key, per_minute)` returns 0 when a send may go now, else the seconds to wait. Redis backs it
when there is Redis (one Lua script, atomic across workers); the embedded default keeps it in-process.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from sufrahbot.heartbeat import redis_client

_LUA = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local refill_per_ms = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + (now - ts) * refill_per_ms)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) / refill_per_ms)
end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', key, math.ceil(capacity / refill_per_ms) + 1000)
return wait_ms
"""


class RedisTokenBucket:
    def __init__(self) -> None:
        # The process's shared client (its connection pool and timeouts), not a third one of its own.
        self._script = redis_client(settings.REDIS_URL).register_script(_LUA)

    def reserve(self, key: str, per_minute: int) -> float:
        now_ms = int(time.time() * 1000)
        wait_ms = self._script(keys=[f"sufrah:ratelimit:{key}"], args=[per_minute, per_minute / 60000.0, now_ms])
        return int(wait_ms) / 1000.0


class LocalTokenBucket:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def reserve(self, key: str, per_minute: int) -> float:
        rate = per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, ts = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - ts) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate


@lru_cache(maxsize=1)
def limiter():
    return import_string(settings.RATE_LIMITER)()
