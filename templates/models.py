"""Message templates: what a restaurant may send outside the 24-hour window once a provider approved it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .rendering import TemplateSpec


class TemplateCategory(models.TextChoices):
    UTILITY = "UTILITY", "Utility"
    MARKETING = "MARKETING", "Marketing"
    AUTHENTICATION = "AUTHENTICATION", "Authentication"


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted (in review)"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"


class TemplatePurpose(models.TextChoices):
    """What the platform itself uses a template for (none: staff and campaigns pick it by hand)."""

    NONE = "", "—"
    RATING = "rating", "Rating prompt"
    ORDER_STATUS = "order_status", "Order status notice"


class HeaderType(models.TextChoices):
    NONE = "none", "None"
    TEXT = "text", "Text"
    IMAGE = "image", "Image (URL)"


# The fields a template's content is made of: a change to any of them writes a TemplateVersion.
CONTENT_FIELDS = (
    "name",
    "language",
    "category",
    "header_type",
    "header_text",
    "header_image_url",
    "body",
    "footer",
    "buttons",
    "examples",
)

# What an admin form edits (the JSON fields as JSON text).
EDITABLE_FIELDS_ADMIN = (*CONTENT_FIELDS, "purpose")


class MessageTemplate(models.Model):
    restaurant = models.ForeignKey("restaurants.Restaurant", on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512, help_text="Lowercase letters, digits and underscores (Meta's rule).")
    language = models.CharField(max_length=15, help_text="ar, en, en_US, …")
    category = models.CharField(max_length=16, choices=TemplateCategory.choices, default=TemplateCategory.UTILITY)
    purpose = models.CharField(max_length=16, choices=TemplatePurpose.choices, default="", blank=True)
    header_type = models.CharField(max_length=8, choices=HeaderType.choices, default=HeaderType.NONE)
    header_text = models.CharField(max_length=60, blank=True)
    header_image_url = models.URLField(max_length=2000, blank=True)
    body = models.TextField(help_text="Up to 1,024 characters; variables as {{name}} or {{1}}.")
    footer = models.CharField(max_length=60, blank=True)
    buttons = models.JSONField(
        default=list, blank=True, help_text="[{type: quick_reply|url|phone_number, text, payload|url|phone_number}]"
    )
    examples = models.JSONField(default=dict, blank=True, help_text="Sample value per variable, for the review.")
    status = models.CharField(max_length=10, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT)
    rejection_reason = models.TextField(blank=True)
    meta_template_id = models.CharField(max_length=64, blank=True, db_index=True)
    twilio_content_sid = models.CharField(max_length=34, blank=True, db_index=True)
    submitted_provider = models.CharField(max_length=16, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language", "id"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name", "language"], name="uniq_template_name_language"),
        ]
        indexes = [models.Index(fields=["restaurant", "purpose", "status"])]

    def __str__(self) -> str:
        return f"{self.name} [{self.language}] ({self.status})"

    def spec(self) -> TemplateSpec:
        return TemplateSpec(
            name=self.name,
            language=self.language,
            category=self.category,
            header_type=self.header_type,
            header_text=self.header_text,
            header_image_url=self.header_image_url,
            body=self.body,
            footer=self.footer,
            buttons=tuple(dict(b) for b in (self.buttons or [])),
            content_sid=self.twilio_content_sid,
            examples=dict(self.examples or {}),
        )

    def content(self) -> dict:
        return {field: getattr(self, field) for field in CONTENT_FIELDS}


class TemplateVersion(models.Model):
    """One change of a template: who made it, when, and the content as it was before."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(help_text="The template's version this content was.")
    content = models.JSONField(help_text="The content before the change.")
    status = models.CharField(max_length=10, help_text="The status the template had before the change.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Several rows may share a version: its creation, then its submission (a status change, same content).
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.version}"
