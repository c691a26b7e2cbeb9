"""Campaigns (one approved template to an audience of opted-in customers) and marketing consent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConsentSource(models.TextChoices):
    KEYWORD = "keyword", "Customer keyword (START / STOP)"
    BUTTON = "button", "Customer tapped the opt-out button"
    STAFF = "staff", "Staff"
    BOT = "bot", "Bot step"
    API = "api", "API"


class MarketingConsent(models.Model):
    """A customer's marketing consent with one restaurant, where and when it was last given or withdrawn.

    The customer is the conversation (one per restaurant and phone number). Utility and service messages
    never look at this: only campaigns do, at the moment each message is queued."""

    restaurant = models.ForeignKey("restaurants.Restaurant", on_delete=models.CASCADE, related_name="+")
    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="marketing_consent"
    )
    opted_in = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    tags = models.JSONField(default=list, blank=True, help_text="Labels staff give customers (audience filter).")

    class Meta:
        indexes = [models.Index(fields=["restaurant", "opted_in"])]

    def __str__(self) -> str:
        return f"{'in' if self.opted_in else 'out'} ({self.source}) for conversation {self.conversation_id}"


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    restaurant = models.ForeignKey("restaurants.Restaurant", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    template = models.ForeignKey("message_templates.MessageTemplate", on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey("restaurants.Sender", on_delete=models.PROTECT, related_name="+")
    variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per variable: {"value": "fixed"} or {"field": "customer_name|customer_phone|last_order_number|'
        'restaurant_name", "fallback": "..."}.',
    )
    audience = models.JSONField(
        default=dict,
        blank=True,
        help_text='Filters on opted-in customers: {"ordered_within_days": 30, "never_ordered": true, '
        '"language": "ar", "tag": "vip"}.',
    )
    send_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as it is scheduled.")
    state = models.CharField(max_length=10, choices=CampaignState.choices, default=CampaignState.DRAFT)
    recipients_created = models.BooleanField(default=False)
    recipient_count = models.PositiveIntegerField(default=0)
    # The plan's usage this campaign was charged to when scheduled (month and recipients then in the
    # audience); creating the recipients corrects the count to those actually created.
    usage_month = models.DateField(null=True, blank=True)
    recipients_reserved = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "send_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued (its message follows the provider's callbacks)"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class CampaignRecipient(models.Model):
    """One customer of one campaign, created once: a re-run finds the row and never messages them twice."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    skip_reason = models.CharField(max_length=200, blank=True)
    message = models.OneToOneField(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_recipient"
    )
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "conversation"], name="uniq_campaign_recipient"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"]),
            models.Index(fields=["queued_at"], condition=Q(queued_at__isnull=False), name="campaign_recipient_queued"),
        ]

    def __str__(self) -> str:
        return f"recipient {self.conversation_id} of campaign {self.campaign_id} ({self.status})"
