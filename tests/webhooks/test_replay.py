"""Verified webhooks that never finished processing are replayed by the sweep (and from admin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Message
from sufrahbot.sweeps import run_due_sweeps_once
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent
from webhooks.tasks import replay_stale_events

pytestmark = pytest.mark.django_db(transaction=True)


def _stranded_event(client, sender):
    """A verified event whose task never ran (as when a worker dies before picking it up)."""
    from unittest import mock

    from webhooks.tasks import process_events

    # The task message is lost (a broker restart, a worker killed before it acked).
    with mock.patch.object(process_events, "delay"):
        response = signed_post(
            client, sender=sender, params=twilio_inbound_params(sender=sender, from_number="+966508034010")
        )
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "received" and not Message.objects.exists()
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    return event


def test_replay_sweep_processes_a_stranded_event_once(client, settings, fake_twilio):
    sender = SenderFactory()
    event = _stranded_event(client, sender)

    assert replay_stale_events.apply().get() == 1
    assert replay_stale_events.apply().get() == 0  # processed now: nothing left to replay

    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 1
    assert Message.objects.filter(direction="in").count() == 1 and len(fake_twilio.sent) == 1


def test_embedded_sweep_loop_runs_the_same_beat_schedule(client, settings, fake_twilio):
    sender = SenderFactory()
    _stranded_event(client, sender)

    results = run_due_sweeps_once()

    assert set(results) == set(settings.CELERY_BEAT_SCHEDULE)
    assert results["replay-stale-webhooks"] == 1
    assert Message.objects.filter(direction="in").count() == 1


def test_rejected_events_are_never_replayed(client):
    sender = SenderFactory()
    signed_post(
        client, sender=sender, params=twilio_inbound_params(sender=sender, from_number="+966508034010"), token="0" * 32
    )
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    assert replay_stale_events.apply().get() == 0
    assert WebhookEvent.objects.get().status == "rejected"


def test_the_embedded_sweeper_runs_the_sweeps_on_the_servers_event_loop(client, fake_twilio):
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    from sufrahbot.sweeps import sweep_forever

    event = _stranded_event(client, SenderFactory())

    async def serve_briefly() -> str:
        sweeper = asyncio.ensure_future(sweep_forever(interval=0.05))
        status = ""
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                status = await sync_to_async(lambda: WebhookEvent.objects.get(pk=event.pk).status)()
                if status == "processed":
                    break
        finally:
            sweeper.cancel()
            # The sweeps ran in asgiref's sync thread: close its connection so the test database can be dropped.
            await sync_to_async(connections.close_all)()
        return status

    assert asyncio.run(serve_briefly()) == "processed"
    assert len(fake_twilio.sent) == 1
