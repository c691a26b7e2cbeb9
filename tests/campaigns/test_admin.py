"""The campaign admin page: the restaurant's ADMINs see their campaigns with progress per status, and steer
them with actions that call the campaign services (the plan's limits included); nobody else's campaigns."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns import services
from campaigns.models import Campaign, CampaignRecipient
from campaigns.sending import campaign_recipients_create
from campaigns.services import campaign_create
from conversations.models import Message
from conversations.services.outbound import message_queue
from providers.content import OutboundContent
from restaurants.models import Plan, StaffMembership
from tests.factories import RestaurantFactory, SenderFactory, UserFactory

from .conftest import approved_template, customers

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/campaigns/campaign/"


@pytest.fixture(autouse=True)
def held_tasks(monkeypatch):
    """The admin's actions run; the start and send tasks are held back so states stay where they were put."""
    monkeypatch.setattr(services, "_start_later", lambda campaign_id: None)
    monkeypatch.setattr(services, "_send_later", lambda campaign_id, countdown=0: None)


def _member(restaurant, role: str) -> Client:
    user = UserFactory()
    StaffMembership.objects.create(user=user, restaurant=restaurant, role=role)
    client = Client()
    client.force_login(user)
    return client


def _draft(sender, template, name: str) -> Campaign:
    return campaign_create(
        restaurant=sender.restaurant,
        data={
            "name": name,
            "template": template,
            "sender": sender,
            "variables": {"name": {"field": "customer_name"}, "offer": {"value": "20% off"}},
        },
    )


def _act(client: Client, action: str, *campaigns: Campaign):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [c.pk for c in campaigns]}, follow=True
    )


@pytest.fixture
def mine(fake_twilio):
    sender = SenderFactory(restaurant=RestaurantFactory(name_en="Mine"), messages_per_minute=60_000)
    return sender, approved_template(sender, fake_twilio)


def test_the_list_shows_progress_per_status_and_only_this_restaurants_campaigns(mine, fake_twilio):
    sender, template = mine
    people = customers(sender, 4)
    campaign = _draft(sender, template, "Weekend offer")
    Campaign.objects.filter(pk=campaign.pk).update(state="sending")
    campaign_recipients_create(campaign_id=campaign.pk)
    first, second, third, _ = CampaignRecipient.objects.filter(campaign=campaign).order_by("id")
    for recipient, status in ((first, "delivered"), (second, "failed")):
        message, _ = message_queue(
            conversation=recipient.conversation,
            content=OutboundContent.text("x"),
            idempotency_key=f"t:{recipient.pk}",
            require_window=False,
        )
        Message.objects.filter(pk=message.pk).update(status=status)
        CampaignRecipient.objects.filter(pk=recipient.pk).update(status="queued", message=message)
    CampaignRecipient.objects.filter(pk=third.pk).update(status="skipped", skip_reason="opted out")
    other_sender = SenderFactory(restaurant=RestaurantFactory(name_en="Theirs"))
    _draft(other_sender, approved_template(other_sender, fake_twilio), "Their secret campaign")
    assert len(people) == 4

    page = _member(sender.restaurant, "ADMIN").get(CHANGELIST)

    text = page.content.decode()
    assert page.status_code == 200
    assert "Weekend offer" in text and "Their secret campaign" not in text
    assert "1 pending · 1 delivered · 1 failed · 1 skipped" in text


def test_an_agent_cannot_open_the_campaign_page(mine):
    sender, _ = mine
    assert _member(sender.restaurant, "AGENT").get(CHANGELIST).status_code == 403


def test_the_actions_schedule_pause_resume_and_cancel_through_the_services(mine):
    sender, template = mine
    customers(sender, 2)
    campaign = _draft(sender, template, "Offer")
    client = _member(sender.restaurant, "ADMIN")

    assert "1 campaign(s) scheduled" in _act(client, "schedule", campaign).content.decode()
    campaign.refresh_from_db()
    assert campaign.state == "scheduled" and campaign.recipients_reserved == 2
    _act(client, "pause", campaign)
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    _act(client, "resume", campaign)
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"
    _act(client, "cancel", campaign)
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    refused = _act(client, "resume", campaign).content.decode()
    assert "A cancelled campaign cannot become" in refused


def test_scheduling_over_the_plan_is_refused_with_the_limit_named(mine):
    sender, template = mine
    restaurant = sender.restaurant
    restaurant.plan = Plan.objects.create(name="Starter", campaigns_per_month=1)
    restaurant.save()
    customers(sender, 1)
    first, second = _draft(sender, template, "First"), _draft(sender, template, "Second")
    client = _member(restaurant, "ADMIN")

    page = _act(client, "schedule", first, second).content.decode()

    assert "1 campaign(s) scheduled" in page
    assert "Second: The plan allows 1 campaigns scheduled a month" in page
    assert list(Campaign.objects.order_by("id").values_list("state", flat=True)) == ["scheduled", "draft"]


def test_another_restaurants_campaign_id_in_an_action_is_not_touched(mine, fake_twilio):
    sender, _ = mine
    theirs = SenderFactory(restaurant=RestaurantFactory())
    their_campaign = _draft(theirs, approved_template(theirs, fake_twilio), "Theirs")

    _act(_member(sender.restaurant, "ADMIN"), "cancel", their_campaign)

    their_campaign.refresh_from_db()
    assert their_campaign.state == "draft"
