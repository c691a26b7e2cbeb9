from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from sufrahbot.crypto import EncryptedJSONField


class Language(models.TextChoices):
    ARABIC = "ar", "العربية"
    ENGLISH = "en", "English"


HEX_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #0f766e.")

# The limits a plan sets (None: no limit). Monthly ones are counted in UsageCounter as they are spent;
# senders and staff seats are what the restaurant has at the moment.
PLAN_LIMITS: dict[str, str] = {
    "conversations_per_month": "customer conversations a month (24-hour windows the customer opens)",
    "messages_per_month": "customer messages a month",
    "senders": "active senders (WhatsApp numbers)",
    "staff_seats": "staff seats",
    "campaigns_per_month": "campaigns scheduled a month",
    "campaign_recipients_per_month": "campaign recipients a month",
}


def _limit_field(label: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(null=True, blank=True, help_text=f"Most {label}; empty: no limit.")


class Plan(models.Model):
    """What a restaurant may use; set by platform admins (a restaurant may override single limits)."""

    name = models.CharField(max_length=100, unique=True)
    conversations_per_month = _limit_field(PLAN_LIMITS["conversations_per_month"])
    messages_per_month = _limit_field(PLAN_LIMITS["messages_per_month"])
    senders = _limit_field(PLAN_LIMITS["senders"])
    staff_seats = _limit_field(PLAN_LIMITS["staff_seats"])
    campaigns_per_month = _limit_field(PLAN_LIMITS["campaigns_per_month"])
    campaign_recipients_per_month = _limit_field(PLAN_LIMITS["campaign_recipients_per_month"])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Restaurant(models.Model):
    name_ar = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    default_language = models.CharField(max_length=2, choices=Language.choices, default=Language.ARABIC)
    timezone = models.CharField(max_length=64, default="Asia/Riyadh")
    currency = models.CharField(max_length=3, default="SAR", validators=[RegexValidator(r"^[A-Z]{3}$")])
    support_contact = models.CharField(max_length=200, blank=True, help_text="Phone or email shown to customers.")
    welcome_text_ar = models.TextField(blank=True, default="أهلاً بك! كيف نقدر نخدمك اليوم؟")
    welcome_text_en = models.TextField(blank=True, default="Welcome! How can we help you today?")
    delivery_fee = models.DecimalField(max_digits=10, decimal_places=2, default=0, validators=[MinValueValidator(0)])
    rating_prompt_delay_minutes = models.PositiveIntegerField(default=0)
    rating_reminder_delay_minutes = models.PositiveIntegerField(default=60)
    promo_links = models.TextField(blank=True, help_text="Shown to customers who rate 4–5 stars (one per line).")
    session_timeout_minutes = models.PositiveIntegerField(default=120)
    active = models.BooleanField(default=True)
    # Branding: shown to the restaurant's staff on their admin pages and the inbox.
    logo_url = models.URLField(blank=True, help_text="A square image (PNG/SVG), shown in the admin header.")
    brand_color = models.CharField(
        max_length=7, default="#0f766e", validators=[HEX_COLOR], help_text="Header colour, e.g. #0f766e."
    )
    accent_color = models.CharField(
        max_length=7, default="#f59e0b", validators=[HEX_COLOR], help_text="Links and buttons, e.g. #f59e0b."
    )
    # The plan (platform admins): no plan, no limits. The override replaces single limits of the plan:
    # {"staff_seats": 10} (a number) or {"senders": null} (no limit); a name not in it keeps the plan's.
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="restaurants")
    plan_override = models.JSONField(
        default=dict, blank=True, help_text='Single limits replacing the plan\'s, e.g. {"staff_seats": 10}.'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name_en} / {self.name_ar}"

    def name_in(self, language: str) -> str:
        return self.name_ar if language == Language.ARABIC else self.name_en

    def welcome_text_in(self, language: str) -> str:
        text = self.welcome_text_ar if language == Language.ARABIC else self.welcome_text_en
        return text or self.welcome_text_en or self.welcome_text_ar


class Sender(models.Model):
    """One WhatsApp number of a restaurant, and how to talk to its provider."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="senders")
    # A name in settings.SUFRAH_PROVIDERS (validated by the services, so adding a provider needs no migration).
    provider = models.CharField(max_length=16)
    phone_number = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +966508034010")
    # The provider's credentials, as its schema (providers.base.CredentialField) describes them; encrypted whole.
    credentials = EncryptedJSONField(blank=True, default=dict)
    # The credential the provider routes webhooks by (Meta's phone number id), in the clear so it can be found.
    routing_id = models.CharField(max_length=64, blank=True, db_index=True)
    messages_per_minute = models.PositiveIntegerField(default=600, validators=[MinValueValidator(1)])
    daily_unique_customers = models.PositiveIntegerField(
        default=1000,
        validators=[MinValueValidator(1)],
        help_text="Meta's messaging tier: business-initiated conversations with unique customers per 24 hours.",
    )
    active = models.BooleanField(default=True)
    # Set when the provider refuses the credentials (a send fails with Twilio 20003 / Meta 190 / HTTP 401),
    # cleared by the next accepted send: sender.disconnected / sender.connected are announced on the change.
    credentials_refused_since = models.DateTimeField(null=True, blank=True, editable=False)
    credentials_refused_code = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Webhooks routed by an id (Meta's phone number id) reach one sender only.
            models.UniqueConstraint(
                fields=["provider", "routing_id"],
                condition=~models.Q(routing_id=""),
                name="uniq_sender_routing_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.phone_number} ({self.provider})"


class StaffRole(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    AGENT = "AGENT", "Agent"


class StaffMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=StaffRole.choices, default=StaffRole.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "restaurant"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.restaurant.slug} ({self.role})"


class MenuCategory(models.Model):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="categories")
    name_ar = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    sort_order = models.IntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name_plural = "menu categories"

    def __str__(self) -> str:
        return f"{self.name_en} / {self.name_ar}"


def _menu_photo_upload_to(instance: MenuItem, filename: str) -> str:
    return f"menu/{instance.restaurant_id}/{uuid.uuid4().hex}-{filename}"


class MenuItem(models.Model):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="menu_items")
    category = models.ForeignKey(MenuCategory, on_delete=models.CASCADE, related_name="items")
    name_ar = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    description_ar = models.CharField(max_length=300, blank=True)
    description_en = models.CharField(max_length=300, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    available = models.BooleanField(default=True)
    image_url = models.URLField(blank=True)
    # The photo as WhatsApp gets it (JPEG, long side ≤ 1600 px) and a thumbnail for lists (≤ 320 px), both made
    # from the upload by restaurants.photos; served by checked views, never from MEDIA_URL.
    image = models.ImageField(upload_to=_menu_photo_upload_to, max_length=300, blank=True)
    image_thumbnail = models.ImageField(upload_to=_menu_photo_upload_to, max_length=300, blank=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.name_en} / {self.name_ar}"



class AuditEntry(models.Model):
    """One staff action (through admin or the API): who, what, when, and the changed fields before/after.

    Written by restaurants.audit.audit_record from the services and the admin; read by the restaurant's
    ADMINs. Secret values are never stored (only that they changed)."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64, help_text="e.g. order.moved, conversation.replied, menuitem.changed")
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text='{"field": {"before": …, "after": …}}')
    source = models.CharField(max_length=16, blank=True, help_text="admin, api, …")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["restaurant", "-created_at"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target_repr} by {self.actor}"


class UsageCounter(models.Model):
    """What a restaurant used in one month (its own timezone's calendar month), counted as it happens with
    atomic increments (restaurants.plans), never recomputed from history."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="usage_counters")
    month = models.DateField(help_text="The first day of the month.")
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0, help_text="Customer messages received.")
    over_plan_messages = models.PositiveIntegerField(default=0, help_text="Of those, received over the plan.")
    campaigns = models.PositiveIntegerField(default=0)
    campaign_recipients = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "restaurant_id"]
        constraints = [models.UniqueConstraint(fields=["restaurant", "month"], name="uniq_usage_month")]

    def __str__(self) -> str:
        return f"usage of {self.restaurant_id} in {self.month:%Y-%m}"
