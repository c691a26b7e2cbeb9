"""Reads of the campaigns room: audiences, progress; every query scoped to a restaurant."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from conversations.models import Conversation
from orders.models import Order
from restaurants.models import Restaurant

from .models import Campaign, CampaignRecipient, MarketingConsent, RecipientStatus


def audience_queryset(*, restaurant_id: int, audience: dict) -> QuerySet[Conversation]:
    """The opted-in customers a campaign with these filters reaches (a queryset: never loaded whole)."""
    qs = Conversation.objects.filter(
        restaurant_id=restaurant_id,
        marketing_consent__opted_in=True,
    )
    orders = Order.objects.filter(conversation_id=OuterRef("pk"))
    if audience.get("ordered_within_days"):
        since = timezone.now() - timedelta(days=int(audience["ordered_within_days"]))
        qs = qs.filter(Exists(orders.filter(created_at__gte=since)))
    if audience.get("never_ordered"):
        qs = qs.filter(~Exists(orders))
    if audience.get("language"):
        qs = qs.filter(language=audience["language"])
    if audience.get("tag"):
        qs = qs.filter(marketing_consent__tags__contains=[audience["tag"]])
    return qs.order_by("id")


def campaign_list(*, restaurant: Restaurant) -> QuerySet[Campaign]:
    return Campaign.objects.filter(restaurant=restaurant).select_related("template")


def campaign_get(*, restaurant: Restaurant, campaign_id: int) -> Campaign | None:
    return Campaign.objects.filter(restaurant=restaurant, pk=campaign_id).select_related("template", "sender").first()


def campaign_progress(*, campaign: Campaign) -> dict[str, int]:
    """Recipients per status: pending / skipped / cancelled, and for queued ones their message's status
    (queued, sending, sent, delivered, read, failed, undelivered), which follows the provider's callbacks."""
    counts: dict[str, int] = {}
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .values("status", "message__status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        key = (
            row["message__status"]
            if row["status"] == RecipientStatus.QUEUED and row["message__status"]
            else row["status"]
        )
        counts[key] = counts.get(key, 0) + row["n"]
    counts["total"] = sum(counts.values())
    return counts


def unique_customers_last_24h(*, sender_id: int) -> int:
    """Customers this sender started a campaign conversation with in the last 24 hours (Meta's tier counts
    business-initiated conversations with unique customers)."""
    since = timezone.now() - timedelta(hours=24)
    return (
        CampaignRecipient.objects.filter(campaign__sender_id=sender_id, queued_at__gte=since)
        .values("conversation_id")
        .distinct()
        .count()
    )


def consent_of(*, conversation: Conversation) -> MarketingConsent | None:
    return MarketingConsent.objects.filter(conversation=conversation).first()
