from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    # Indexed by uniq_conversation_customer_id, which leads with it.
    restaurant = models.ForeignKey(
        "restaurants.Restaurant", on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    sender = models.ForeignKey("restaurants.Sender", on_delete=models.PROTECT, related_name="conversations")
    # The customer's WhatsApp identity: their number (E.164), or a business-scoped user id when WhatsApp hides
    # it ("US.13491208655302741918"). The conversation is keyed on it; customer_phone is the number, if known.
    customer_id = models.CharField(max_length=160)
    customer_phone = models.CharField(max_length=32, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        db_index=False,  # conversation_assigned: the assigned ones only
    )
    bot_paused = models.BooleanField(default=False)
    unread_count = models.PositiveIntegerField(default=0)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # When the customer's current 24-hour service window opened (their first message after 24 h of silence):
    # each opening is one conversation of the plan's conversations a month (restaurants.plans).
    window_opened_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "customer_id"], name="uniq_conversation_customer_id")
        ]
        # Every message rewrites the conversation's row, and a row whose indexed columns change gets a new
        # entry in every index: only what a query needs, scoped to a restaurant (tests/test_hot_indexes.py).
        indexes = [
            models.Index(fields=["restaurant", "last_message_at"], name="conversation_restaurant_recent"),
            models.Index(fields=["assignee"], condition=Q(assignee__isnull=False), name="conversation_assigned"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.send_to})" if self.customer_name else self.send_to

    @property
    def send_to(self) -> str:
        """Where providers send this customer's messages: the number, or the business-scoped id alone."""
        return self.customer_phone or self.customer_id


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


# Status only moves forward along this order; failed/undelivered are final.
STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    MessageStatus.UNDELIVERED: 9,
    MessageStatus.FAILED: 9,
}
FINAL_STATUSES = {MessageStatus.UNDELIVERED, MessageStatus.FAILED}


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    # Indexed by message_restaurant_created and by (conversation, created_at), which lead with them.
    restaurant = models.ForeignKey(
        "restaurants.Restaurant", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    provider = models.CharField(max_length=16)
    provider_message_id = models.CharField(max_length=128, null=True, blank=True)
    kind = models.CharField(max_length=16, default="text")
    body = models.TextField(blank=True)
    content = models.JSONField(
        default=dict, blank=True, help_text="Structured content: buttons, list, media, location."
    )
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    status_rank = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_by = models.ForeignKey(  # message_sent_by: staff messages only
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # An inbound message stored but not yet answered by the bot (bot.services clears it when it answers, or
    # decides to stay silent): the flag that makes "answer it" exactly-once apart from "store it".
    awaiting_bot = models.BooleanField(default=False)
    # Received while the restaurant was over its plan (restaurants.plans): stored and answered all the same.
    over_plan = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Outbound, unsent: when the next attempt is due (a retry's backoff, or a claim's lease end). The stranded
    # sweep re-queues rows past it, so a lost task or a killed worker never leaves a reply unsent.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The last attempt may have reached the provider (a read timeout): check with it before sending again.
    send_unconfirmed = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="uniq_provider_message_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="uniq_message_idempotency_key",
            ),
        ]
        # Each message is written three times or more (stored, claimed, sent, its status callbacks), and every
        # write that changes an indexed column adds an entry to each index: only what a query needs, scoped to
        # a restaurant or a conversation, partial where a query wants few rows (tests/test_hot_indexes.py).
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["restaurant", "created_at"], name="message_restaurant_created"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(direction="out", provider_message_id__isnull=True, status__in=["queued", "sending"]),
                name="message_unsent_due",
            ),
            # /health/'s senders whose credentials fail (sufrahbot.health).
            models.Index(fields=["updated_at"], condition=Q(direction="out", status="failed"), name="message_failed"),
            models.Index(fields=["sent_by"], condition=Q(sent_by__isnull=False), name="message_sent_by"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} #{self.pk} ({self.status})"


class BotSession(models.Model):
    """The bot's memory of one conversation: stored so a restart continues where the customer was."""

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="bot_session")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"session of conversation {self.conversation_id}"


def _media_upload_to(instance: MessageMedia, filename: str) -> str:
    # Unguessable, per restaurant; never served from MEDIA_URL (the download views check the tenant).
    extension = filename[filename.rfind(".") :][:10] if "." in filename else ""
    return f"messages/{instance.restaurant_id}/{uuid.uuid4().hex}{extension}"


class MessageMedia(models.Model):
    """One file of a message: an inbound one fetched from the provider by a task (pending → stored | failed),
    or an outbound one staff or the bot send (stored before it is queued)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"

    restaurant = models.ForeignKey("restaurants.Restaurant", on_delete=models.CASCADE, related_name="message_media")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="media_files")
    # The sender whose credentials fetch it (the one whose webhook brought it in).
    sender = models.ForeignKey("restaurants.Sender", null=True, blank=True, on_delete=models.SET_NULL)
    position = models.PositiveSmallIntegerField(default=0, help_text="Its place in Message.content['media'].")
    kind = models.CharField(max_length=16, help_text="image, document, audio, video, sticker")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    reference = models.JSONField(default=dict, blank=True, help_text="The provider's media id or URL.")
    file = models.FileField(upload_to=_media_upload_to, max_length=300, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    filename = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["message_id", "position"]
        verbose_name_plural = "message media"
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="uniq_message_media_position"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="message_media_pending_due")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id} ({self.status})"
