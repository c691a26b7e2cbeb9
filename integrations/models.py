"""Outgoing webhooks (subscription → delivery per event → attempt per HTTP request) and API keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from restaurants.models import Restaurant
from sufrahbot.crypto import EncryptedTextField


class WebhookSubscription(models.Model):
    """A restaurant's receiver: its URL, the event types it wants, and the secret deliveries are signed with.

    While `previous_secret_expires_at` is in the future, deliveries carry a signature with each secret
    (rotation without downtime: the receiver switches to the new one at its own pace)."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # event type names (JSON, not an array column: SQLite too)
    description = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # Deliveries that failed for good in a row (reset by any 2xx): at WEBHOOK_DISABLE_AFTER_FAILURES the
    # subscription is switched off, and disabled_reason says why (shown in admin).
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["restaurant", "active"], name="webhooksub_restaurant_active")]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its (next) attempt
    SENDING = "sending", "Sending"  # claimed by a worker (until lease_until)
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one subscription, written in the transaction of the change it reports."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40, db_index=True)  # the envelope's id, sent as webhook-id
    event_type = models.CharField(max_length=40)
    # The envelope's JSON text, kept as text: exactly these bytes are signed and sent, on every attempt.
    body = models.TextField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="uniq_delivery_subscription_event")
        ]
        indexes = [
            # The sweep: due pending rows, and sending rows whose lease ran out.
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["subscription", "-id"], name="webhookdelivery_sub_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → #{self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back (or why nothing did), and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)  # network error, timeout, refused address
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True)  # the first KB
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.status_code or self.error}"


class EventSequence(models.Model):
    """The last sequence number given to an event about one subject (a conversation, an order, ...)."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=60)  # "<kind>:<id>", e.g. "conversation:77"
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["restaurant", "subject"], name="uniq_event_sequence")]

    def __str__(self) -> str:
        return f"{self.subject}: {self.last}"


class ApiKey(models.Model):
    """A restaurant's server-to-server key. Only a SHA-256 of the key is stored (keys are 190 random bits, so
    a fast hash is safe); `prefix` finds the row. The key acts through its own user (no password, no
    membership) so the services' audit trail and `sent_by` name the key, not a person."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_key")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requests_per_minute = models.PositiveIntegerField(default=120)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
