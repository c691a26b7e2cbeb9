"""Campaigns: audience, schedule, sending each recipient once at the sender's pace, pause/resume/cancel,
consent honoured mid-campaign, progress following the message status callbacks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import sending, services
from campaigns.models import Campaign, CampaignRecipient, MarketingConsent
from campaigns.selectors import audience_queryset, campaign_progress
from campaigns.sending import campaign_recipients_create, campaign_send_step, campaign_start
from campaigns.services import (
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
)
from conversations.models import Message
from conversations.services.delivery import message_status_update
from conversations.services.outbound import message_queue
from templates.services import template_content
from tests.orders.factories import placed_order

from .conftest import OFFER_VARIABLES, approved_template, customers

pytestmark = pytest.mark.django_db(transaction=True)


def _campaign(sender, template, **fields) -> Campaign:
    return campaign_create(
        restaurant=sender.restaurant,
        data={"name": "Weekly offer", "template": template, "sender": sender, "variables": OFFER_VARIABLES, **fields},
    )


def _recorded_sends(monkeypatch) -> list[int]:
    """Hold the start and send tasks back (the test drives the steps itself) and record each enqueue."""
    calls: list[int] = []
    monkeypatch.setattr(services, "_send_later", lambda campaign_id, countdown=0: calls.append(campaign_id))
    monkeypatch.setattr(services, "_start_later", lambda campaign_id: None)
    return calls


def test_scheduled_now_it_sends_once_to_every_opted_in_customer_and_completes(sender, fake_twilio):
    template = approved_template(sender, fake_twilio)
    opted = customers(sender, 12)
    customers(sender, 3, opted_in=False)
    campaign = _campaign(sender, template)

    campaign_schedule(campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.state == "completed" and campaign.recipient_count == 12
    sent = [s for s in fake_twilio.sent if s["content_sid"] == template.twilio_content_sid]
    assert sorted(s["to"] for s in sent) == sorted(f"whatsapp:{c.customer_phone}" for c in opted)
    assert campaign_progress(campaign=campaign) == {"sent": 12, "total": 12}


def test_the_variables_come_from_each_customer_with_a_fallback(sender, fake_twilio):
    import json

    template = approved_template(sender, fake_twilio)
    [named, unnamed] = customers(sender, 2)
    unnamed.customer_name = ""
    unnamed.save()

    campaign_schedule(campaign=_campaign(sender, template))

    variables = {s["to"]: json.loads(s["content_variables"]) for s in fake_twilio.sent}
    assert variables[f"whatsapp:{named.customer_phone}"] == {"1": named.customer_name, "2": "20% off"}
    assert variables[f"whatsapp:{unnamed.customer_phone}"] == {"1": "friend", "2": "20% off"}


def test_the_audience_filters(sender, fake_twilio):
    recent, old_customer, never = customers(sender, 3)
    arabic = customers(sender, 1, language="ar")[0]
    placed_order(conversation=recent)
    order = placed_order(conversation=old_customer)
    type(order).objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=90))
    MarketingConsent.objects.filter(conversation=never).update(tags=["vip"])

    def ids(**audience):
        return set(
            audience_queryset(restaurant_id=sender.restaurant_id, audience=audience).values_list("id", flat=True)
        )

    assert ids() == {recent.pk, old_customer.pk, never.pk, arabic.pk}
    assert ids(ordered_within_days=30) == {recent.pk}
    assert ids(never_ordered=True) == {never.pk, arabic.pk}
    assert ids(language="ar") == {arabic.pk}
    assert ids(tag="vip") == {never.pk}


def test_only_an_approved_template_with_every_variable_bound_can_be_scheduled(sender, fake_twilio):
    template = approved_template(sender, fake_twilio)

    with pytest.raises(ValidationError) as unbound:
        _campaign(sender, template, variables={"name": {"field": "customer_name"}, "bogus": {"value": "x"}})
    template.status = "paused"
    template.save()
    campaign = _campaign(sender, template)
    with pytest.raises(ValidationError) as not_approved:
        campaign_schedule(campaign=campaign)

    assert "variables" in unbound.value.message_dict
    assert "template" in not_approved.value.message_dict
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_a_rerun_never_messages_anyone_twice(sender, fake_twilio, monkeypatch):
    _recorded_sends(monkeypatch)
    template = approved_template(sender, fake_twilio)
    customers(sender, 10)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)

    assert campaign_start(campaign_id=campaign.pk) == "started"
    assert campaign_start(campaign_id=campaign.pk) == "skipped"
    assert campaign_recipients_create(campaign_id=campaign.pk) == 10  # a second creation inserts nothing
    first = CampaignRecipient.objects.filter(campaign=campaign).order_by("id").first()
    # A worker that died after queueing this customer's message but before marking the recipient:
    content = template_content(template=template, variables={"name": "x", "offer": "y"})
    message_queue(
        conversation=first.conversation,
        content=content,
        idempotency_key=f"campaign:{campaign.pk}:{first.pk}",
        require_window=False,
    )
    for _ in range(5):
        campaign_send_step(campaign_id=campaign.pk, limit=4)

    tos = Counter(s["to"] for s in fake_twilio.sent)
    assert len(tos) == 10 and set(tos.values()) == {1}
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 10
    assert Campaign.objects.get(pk=campaign.pk).state == "completed"


def test_two_workers_at_once_send_each_recipient_once(sender, fake_twilio, monkeypatch):
    _recorded_sends(monkeypatch)
    template = approved_template(sender, fake_twilio)
    customers(sender, 40)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    campaign_start(campaign_id=campaign.pk)
    start = threading.Barrier(2)

    def worker():
        from django.db import connection

        try:
            start.wait(timeout=10)
            for _ in range(20):
                campaign_send_step(campaign_id=campaign.pk, limit=5)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    tos = Counter(s["to"] for s in fake_twilio.sent)
    assert len(tos) == 40 and set(tos.values()) == {1}


def test_pause_stops_within_a_second_resume_continues_and_cancel_drops_the_rest(sender, fake_twilio, monkeypatch):
    sends = _recorded_sends(monkeypatch)
    sender.messages_per_minute = 240  # 4 a second
    sender.save()
    template = approved_template(sender, fake_twilio)
    customers(sender, 60)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    campaign_start(campaign_id=campaign.pk)
    outcome = {}

    def run():
        from django.db import connection

        try:
            outcome["run"] = sending.campaign_send_run(campaign_id=campaign.pk, budget_seconds=30)
            outcome["returned_at"] = time.monotonic()
        finally:
            connection.close()

    runner = threading.Thread(target=run)
    runner.start()
    time.sleep(2.2)
    paused_at = time.monotonic()
    campaign_pause(campaign=campaign)
    runner.join(timeout=10)
    sent_when_paused = len(fake_twilio.sent)

    assert outcome["run"].result == "stopped" and outcome["returned_at"] - paused_at < 1.5
    assert 4 <= sent_when_paused <= 16  # about 4 a second for ~2 s: paced, not all at once
    time.sleep(1.2)
    assert len(fake_twilio.sent) == sent_when_paused

    campaign = campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk))
    assert campaign.state == "sending" and sends[-1] == campaign.pk
    campaign_send_step(campaign_id=campaign.pk, limit=5)
    campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
    assert campaign_send_step(campaign_id=campaign.pk, limit=5).result == "stopped"

    progress = campaign_progress(campaign=campaign)
    assert progress["sent"] == sent_when_paused + 5 == len(fake_twilio.sent)
    assert progress["cancelled"] == 60 - progress["sent"]


def test_meta_daily_tier_holds_the_campaign(sender, fake_twilio, monkeypatch):
    _recorded_sends(monkeypatch)
    sender.daily_unique_customers = 5
    sender.save()
    template = approved_template(sender, fake_twilio)
    customers(sender, 8)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    campaign_start(campaign_id=campaign.pk)

    first = campaign_send_step(campaign_id=campaign.pk, limit=100)
    second = campaign_send_step(campaign_id=campaign.pk, limit=100)

    assert (first.result, first.queued) == ("sent", 5)
    assert second.result == "tier" and second.retry_in > 0
    assert len(fake_twilio.sent) == 5 and campaign_progress(campaign=campaign)["pending"] == 3


def test_an_opt_out_mid_campaign_is_honoured_at_once(sender, fake_twilio, monkeypatch):
    _recorded_sends(monkeypatch)
    template = approved_template(sender, fake_twilio)
    leaving, staying = customers(sender, 2)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    campaign_start(campaign_id=campaign.pk)

    services.consent_set(conversation=leaving, opted_in=False, source="keyword")
    campaign_send_step(campaign_id=campaign.pk, limit=10)

    assert [s["to"] for s in fake_twilio.sent] == [f"whatsapp:{staying.customer_phone}"]
    assert CampaignRecipient.objects.get(campaign=campaign, conversation=leaving).skip_reason == "opted out"


def test_recipient_status_follows_the_message_status_callbacks(sender, fake_twilio):
    template = approved_template(sender, fake_twilio)
    a, b, c = customers(sender, 3)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    sids = {s["to"]: s["sid"] for s in fake_twilio.sent}

    message_status_update(
        restaurant_id=sender.restaurant_id,
        provider="twilio",
        provider_message_id=sids[f"whatsapp:{a.customer_phone}"],
        status="delivered",
    )
    message_status_update(
        restaurant_id=sender.restaurant_id,
        provider="twilio",
        provider_message_id=sids[f"whatsapp:{b.customer_phone}"],
        status="read",
    )
    message_status_update(
        restaurant_id=sender.restaurant_id,
        provider="twilio",
        provider_message_id=sids[f"whatsapp:{c.customer_phone}"],
        status="failed",
        error_code="63016",
    )

    assert campaign_progress(campaign=campaign) == {"delivered": 1, "read": 1, "failed": 1, "total": 3}


def test_a_worker_killed_mid_send_leaves_no_one_twice_and_the_next_run_finishes(sender, fake_twilio, monkeypatch):
    """SIGKILL a real process in the middle of a campaign, then let another run finish it."""
    import os
    import signal
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    _recorded_sends(monkeypatch)
    sender.messages_per_minute = 600  # 10 a second: the kill lands mid-campaign
    sender.save()
    template = approved_template(sender, fake_twilio)
    customers(sender, 50)
    campaign = _campaign(sender, template)
    campaign_schedule(campaign=campaign)
    campaign_start(campaign_id=campaign.pk)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test",
        "DATABASE_URL": _test_database_url(connection),
        "TWILIO_API_BASE_URL": settings.TWILIO_API_BASE_URL,
        "TWILIO_CONTENT_BASE_URL": settings.TWILIO_CONTENT_BASE_URL,
        "PUBLIC_BASE_URL": "",
    }
    code = (
        "import django; django.setup();"
        "from campaigns.sending import campaign_send_run;"
        f"campaign_send_run(campaign_id={campaign.pk}, budget_seconds=60)"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while len(fake_twilio.sent) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = len(fake_twilio.sent)
    # What the dead worker had claimed mid-send is ambiguous (the provider may have it): it is retaken after
    # the claim lease like any message, so only those customers could ever see a second copy.
    in_flight = set(
        Message.objects.filter(status="sending", campaign_recipient__campaign=campaign).values_list(
            "conversation__customer_phone", flat=True
        )
    )
    # Time passes: the queued ones are a minute old, the claims have run out.
    CampaignRecipient.objects.filter(campaign=campaign).update(queued_at=timezone.now() - timedelta(minutes=2))
    Message.objects.filter(status="sending").update(updated_at=timezone.now() - timedelta(minutes=5))
    type(sender).objects.filter(pk=sender.pk).update(messages_per_minute=60_000)  # finish without pacing

    for _ in range(30):
        if campaign_send_step(campaign_id=campaign.pk, limit=50).result == "done":
            break

    tos = Counter(s["to"] for s in fake_twilio.sent)
    assert 15 <= killed_at < 50 and len(in_flight) <= 10
    unsent = CampaignRecipient.objects.filter(campaign=campaign).exclude(message__status="sent")
    assert len(tos) == 50, list(unsent.values_list("status", "message__status", "message__provider_message_id"))
    assert {to for to, n in tos.items() if n > 1} <= {f"whatsapp:{phone}" for phone in in_flight}
    assert CampaignRecipient.objects.filter(campaign=campaign, status="queued").count() == 50
    assert Campaign.objects.get(pk=campaign.pk).state == "completed"


def _test_database_url(connection) -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
