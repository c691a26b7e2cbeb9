from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import ConsentSource, MarketingConsent
from conversations.models import Conversation
from templates.models import MessageTemplate
from templates.services import template_create, template_submit
from tests.factories import ConversationFactory, RestaurantFactory, SenderFactory


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def sender():
    # A high cap so the tests are not slowed by pacing; pacing itself is tested with a low one.
    return SenderFactory(restaurant=RestaurantFactory(), messages_per_minute=60_000)


def approved_template(
    sender, fake_twilio, *, body="Hi {{name}}, {{offer}} this week only.", **fields
) -> MessageTemplate:
    template = template_create(
        restaurant=sender.restaurant,
        data={
            "name": fields.pop("name", "weekly_offer"),
            "language": "en",
            "category": "MARKETING",
            "body": body,
            **fields,
        },
    )
    template = template_submit(template=template)
    fake_twilio.review(template.twilio_content_sid, "approved")
    MessageTemplate.objects.filter(pk=template.pk).update(status="approved")
    template.refresh_from_db()
    return template


def customers(sender, n: int, *, opted_in: bool = True, **fields) -> list[Conversation]:
    conversations = [
        ConversationFactory(sender=sender, restaurant=sender.restaurant, customer_name=f"Customer {i}", **fields)
        for i in range(n)
    ]
    MarketingConsent.objects.bulk_create(
        MarketingConsent(
            restaurant=sender.restaurant,
            conversation=c,
            opted_in=opted_in,
            source=ConsentSource.STAFF,
            changed_at=timezone.now(),
        )
        for c in conversations
    )
    return conversations


OFFER_VARIABLES = {"name": {"field": "customer_name", "fallback": "friend"}, "offer": {"value": "20% off"}}
