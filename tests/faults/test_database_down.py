"""Fault suite: PostgreSQL goes away under a running stack (a real web server and a real Celery worker, both
connected through a TCP proxy that is cut: listener closed and every live connection dropped, persistent ones
included; the shared server itself is never touched).

What we chose (README, "What is guaranteed when things fail"): by default the webhook waits in Redis
(webhooks/spool.py) and is acknowledged; the import sweep stores it once the database is back. Without the spool
(turned off, full, or Redis away too) nothing can be kept, so nothing is acknowledged: 503 with Retry-After
(never a 500), and the provider sends it again. Either way each message is stored once and answered once,
however many times it was repeated. A few seconds here; bench/faults.py runs both with 20.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlencode

import httpx
import pytest

from conversations.models import Message
from providers import twilio as twilio_provider
from tests.conftest import PUBLIC_BASE_URL, twilio_inbound_params
from tests.factories import SenderFactory
from tests.faults.conftest import (
    TcpProxy,
    database_url,
    free_port,
    replies_by_customer,
    requires_redis_server,
    wait_for,
)
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), requires_redis_server]

OUTAGE_SECONDS = float(os.environ.get("FAULT_PG_OUTAGE_SECONDS", "3"))
PATH = "/webhooks/twilio/"


class Provider:
    """Posts signed webhooks the way Twilio does, and retries one that was not acknowledged (5xx, no answer)."""

    def __init__(self, base_url: str, sender):
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.sender = sender
        self.answers: list[int] = []

    def post(self, params: dict) -> int:
        signature = twilio_provider.sign(
            auth_token=self.sender.credentials["auth_token"], url=PUBLIC_BASE_URL + PATH, params=params
        )
        try:
            response = self.http.post(
                PATH,
                content=urlencode(params),
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
            )
        except httpx.HTTPError:
            self.answers.append(0)
            return 0
        self.answers.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["Retry-After"] and response.json()["error"]["code"] == "database_unavailable"
        return response.status_code

    def deliver(self, pending: list[dict], *, until: float) -> list[dict]:
        """One round of posts; what was not acknowledged is returned for the next round."""
        left = [params for params in pending if self.post(params) != 200]
        while left and time.monotonic() < until:
            time.sleep(0.25)  # Retry-After, compressed: the case stays short
            left = [params for params in left if self.post(params) != 200]
        return left


@pytest.mark.timeout(240)
@pytest.mark.parametrize("spool", ["spooled", "refused"])
def test_postgres_down_under_a_running_stack_loses_nothing_and_answers_each_message_once(
    fault_stack, fake_twilio, settings, spool
):
    settings.WEB_PROCESSES = 1
    db = settings.DATABASES["default"]
    proxy = TcpProxy((db["HOST"], int(db["PORT"]))).restore()
    # Persistent connections, as in production: the cut kills them under the processes' feet.
    stack = fault_stack(
        DATABASE_URL=database_url(port=proxy.port),
        DB_CONN_MAX_AGE="60",
        WEB_THREADS="4",
        WEBHOOK_SPOOL_MAX_ENTRIES="1000" if spool == "spooled" else "0",
    )
    settings.REDIS_URL = stack.redis.url  # the import sweep (run here) reads the stack's spool
    port = free_port()
    stack.web(port).start()
    stack.worker().start()
    sender = SenderFactory()
    base_url = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _up(base_url), 60, every=0.2), "the web server did not start"
    provider = Provider(base_url, sender)

    before = [twilio_inbound_params(sender=sender, from_number=f"+9665085{n:05d}") for n in range(5)]
    during = [twilio_inbound_params(sender=sender, from_number=f"+9665086{n:05d}") for n in range(10)]
    assert provider.deliver(before, until=time.monotonic() + 30) == []
    assert wait_for(lambda: len(fake_twilio.sent) == len(before), 60)

    proxy.cut()
    down_at = time.monotonic()
    refused = [params for params in during if provider.post(params) != 200]
    while time.monotonic() - down_at < OUTAGE_SECONDS:  # the provider keeps retrying; still refused
        time.sleep(1.0)
        refused = [params for params in refused if provider.post(params) != 200]
    proxy.restore()
    outage = time.monotonic() - down_at
    assert provider.deliver(refused, until=time.monotonic() + 60) == []
    for params in during[:3]:  # an acknowledged webhook sent again (a provider that lost our 200)
        assert provider.post(params) == 200

    customers = len(before) + len(during)
    assert wait_for(lambda: len(replies_by_customer(fake_twilio)) == customers, 90, sweep=True)
    time.sleep(1.5)
    answers = provider.answers
    counts = replies_by_customer(fake_twilio)
    print(
        f"\npostgres down {outage:.1f}s ({spool}): {len(during)} webhooks during it, "
        f"{answers.count(503)} answered 503, {answers.count(0)} unanswered, {answers.count(200)} answered 200, "
        f"{sum(counts.values())} replies for {customers} customers"
    )
    if spool == "spooled":
        assert refused == []  # every one kept in Redis and acknowledged at once
    else:
        assert answers.count(503) >= len(during)  # nothing was acknowledged while the database was away
    assert set(answers) <= {200, 503}  # never a 500, never a dropped connection
    assert set(counts.values()) == {1} and len(counts) == customers
    assert Message.objects.filter(direction="in").count() == customers
    assert not WebhookEvent.objects.exclude(status__in=["processed", "duplicate"]).exists()
    proxy.cut()


def _up(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/healthz", timeout=2).status_code in {200, 503}
    except httpx.HTTPError:
        return False
