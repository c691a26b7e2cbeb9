"""Brute-force throttle of the two password logins (API token endpoint and Django admin).

Failed attempts are counted per account (the username, case-folded) and per client IP in a fixed window in
the cache (Redis in services mode, so every web process shares the counts; the process's own memory
embedded). Once either count reaches its limit, that account or IP is locked for LOGIN_LOCKOUT_SECONDS:
every attempt, the right password included, is refused (429 + Retry-After) until the lock ends. A
successful login clears its account's count. A lockout is logged once, when it starts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger("sufrahbot.security")

PREFIX = "sufrah:login-throttle"


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind a trusted proxy the address it appended last to X-Forwarded-For (the leftmost
    entries are whatever the client chose to send)."""
    if settings.TRUST_PROXY_HEADERS:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(kind: str, scope: str, value: str) -> str:
    # Hash the username/IP: cache keys stay short, ASCII, and hold no personal data in clear.
    return f"{PREFIX}:{kind}:{scope}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _scopes(username: str, ip: str) -> list[tuple[str, str, int]]:
    return [
        ("account", username.strip().casefold(), settings.LOGIN_MAX_FAILURES_PER_ACCOUNT),
        ("ip", ip, settings.LOGIN_MAX_FAILURES_PER_IP),
    ]


@dataclass(frozen=True)
class Lockout:
    scope: str  # "account" | "ip"
    retry_after: int  # seconds


def login_lockout(*, username: str, ip: str) -> Lockout | None:
    """The lock that refuses this attempt before any password is checked, if there is one."""
    now = time.time()
    for scope, value, _limit in _scopes(username, ip):
        until = cache.get(_key("lock", scope, value))
        if until is not None and until > now:
            return Lockout(scope, max(1, math.ceil(until - now)))
    return None


def login_failed(*, username: str, ip: str) -> Lockout | None:
    """Count one failed attempt; returns the lock it starts, if it reaches a limit."""
    started = None
    for scope, value, limit in _scopes(username, ip):
        counter = _key("fail", scope, value)
        cache.add(counter, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        try:
            failures = cache.incr(counter)
        except ValueError:  # the window ended between add and incr
            cache.add(counter, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
            failures = 1
        if failures >= limit:
            lock_seconds = settings.LOGIN_LOCKOUT_SECONDS
            if cache.add(_key("lock", scope, value), time.time() + lock_seconds, timeout=lock_seconds):
                cache.delete(counter)  # the next window starts after the lock
                logger.warning(
                    "login locked out",
                    extra={
                        "scope": scope,
                        "username": username[:150],
                        "ip": ip,
                        "failures": failures,
                        "lockout_seconds": lock_seconds,
                    },
                )
                started = started or Lockout(scope, lock_seconds)
    return started


def login_succeeded(*, username: str) -> None:
    cache.delete(_key("fail", "account", username.strip().casefold()))
