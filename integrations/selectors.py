"""Reads of the integrations room, always within one restaurant."""

from __future__ import annotations

from django.db.models import QuerySet

from restaurants.models import Restaurant

from .models import ApiKey, WebhookDelivery, WebhookSubscription


def subscription_list(*, restaurant: Restaurant) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(restaurant=restaurant)


def subscription_get(*, restaurant: Restaurant, subscription_id: int) -> WebhookSubscription | None:
    return subscription_list(restaurant=restaurant).filter(pk=subscription_id).first()


def delivery_list(
    *, subscription: WebhookSubscription, status: str | None = None, event_type: str | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(subscription=subscription, restaurant_id=subscription.restaurant_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return deliveries


def delivery_get(*, subscription: WebhookSubscription, delivery_id: int) -> WebhookDelivery | None:
    return delivery_list(subscription=subscription).prefetch_related("attempt_log").filter(pk=delivery_id).first()


def api_key_list(*, restaurant: Restaurant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(restaurant=restaurant)


def api_key_get(*, restaurant: Restaurant, key_id: int) -> ApiKey | None:
    return api_key_list(restaurant=restaurant).filter(pk=key_id).first()
