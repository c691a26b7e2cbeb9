"""Webhook subscriptions: created with a `whsec_` secret (returned once), changed, rotated, deleted."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from restaurants.audit import audit_changes, audit_record
from restaurants.models import Restaurant
from sufrahbot.events import EVENT_TYPES

from ..models import WebhookSubscription
from ..registry import registry_add, registry_rebuild

SECRET_PREFIX = "whsec_"
MAX_SUBSCRIPTIONS_PER_RESTAURANT = 20
MAX_ROTATION_OVERLAP = timedelta(days=7)


def secret_generate() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError({"url": ["An http(s) URL with a host."]})
    if settings.WEBHOOK_REQUIRE_HTTPS and parts.scheme != "https":
        raise ValidationError({"url": ["Webhook URLs must use https."]})
    if parts.username or parts.password:
        raise ValidationError({"url": ["No user or password in the URL: verify the signature instead."]})
    return url


def _clean_events(events: list[str]) -> list[str]:
    if not events:
        raise ValidationError({"events": ["Name at least one event type."]})
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise ValidationError({"events": [f"Unknown event types: {', '.join(unknown)}."]})
    return sorted(set(events))


@dataclass
class SubscriptionWithSecret:
    subscription: WebhookSubscription
    secret: str  # shown to the caller this once; stored only encrypted


def subscription_create(
    *, restaurant: Restaurant, url: str, events: list[str], description: str = "", by=None
) -> SubscriptionWithSecret:
    if WebhookSubscription.objects.filter(restaurant=restaurant).count() >= MAX_SUBSCRIPTIONS_PER_RESTAURANT:
        raise ValidationError({"url": [f"A restaurant has at most {MAX_SUBSCRIPTIONS_PER_RESTAURANT} subscriptions."]})
    secret = secret_generate()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            restaurant=restaurant,
            url=_clean_url(url),
            events=_clean_events(events),
            description=description,
            secret=secret,
        )
        audit_record(
            restaurant_id=restaurant.pk,
            actor=by,
            action="webhooksubscription.created",
            target=subscription,
            changes=audit_changes({}, {"url": subscription.url, "events": subscription.events}),
        )
        registry_add(restaurant.pk)  # at once: its first event may be in this very transaction
    return SubscriptionWithSecret(subscription, secret)


UPDATABLE = ("url", "events", "description", "active")


def subscription_update(*, subscription: WebhookSubscription, data: dict, by=None) -> WebhookSubscription:
    """Change the URL, events, description or switch it on/off. Switching a disabled one back on clears
    its failure count (the restaurant says the receiver works again)."""
    before = {field: getattr(subscription, field) for field in UPDATABLE}
    if "url" in data:
        subscription.url = _clean_url(data["url"])
    if "events" in data:
        subscription.events = _clean_events(data["events"])
    if "description" in data:
        subscription.description = data["description"]
    if "active" in data:
        if data["active"] and not subscription.active:
            subscription.consecutive_failures = 0
            subscription.disabled_at = None
            subscription.disabled_reason = ""
        subscription.active = bool(data["active"])
    with transaction.atomic():
        subscription.save()
        after = {field: getattr(subscription, field) for field in UPDATABLE}
        audit_record(
            restaurant_id=subscription.restaurant_id,
            actor=by,
            action="webhooksubscription.changed",
            target=subscription,
            changes=audit_changes(before, after),
        )
        if subscription.active:
            registry_add(subscription.restaurant_id)
        else:
            transaction.on_commit(registry_rebuild)
    return subscription


def subscription_rotate_secret(
    *, subscription: WebhookSubscription, overlap: timedelta = timedelta(hours=24), by=None
) -> SubscriptionWithSecret:
    """A new secret; the old one keeps signing too (two signatures per delivery) for `overlap`."""
    if overlap < timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise ValidationError({"overlap_seconds": [f"Between 0 and {int(MAX_ROTATION_OVERLAP.total_seconds())}."]})
    secret = secret_generate()
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        locked.previous_secret = locked.secret if overlap else ""
        locked.previous_secret_expires_at = timezone.now() + overlap if overlap else None
        locked.secret = secret
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        audit_record(
            restaurant_id=locked.restaurant_id,
            actor=by,
            action="webhooksubscription.secret_rotated",
            target=locked,
            changes={"secret": {"changed": True}},
        )
    return SubscriptionWithSecret(locked, secret)


def subscription_delete(*, subscription: WebhookSubscription, by=None) -> None:
    with transaction.atomic():
        audit_record(
            restaurant_id=subscription.restaurant_id,
            actor=by,
            action="webhooksubscription.deleted",
            target=subscription,
        )
        subscription.delete()
        transaction.on_commit(registry_rebuild)
