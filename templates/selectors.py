"""Reads of the templates room; every query is scoped to one restaurant."""

from __future__ import annotations

from django.db.models import QuerySet

from restaurants.models import Restaurant, Sender

from .models import MessageTemplate, TemplateStatus


def template_list(*, restaurant: Restaurant, filters: dict | None = None) -> QuerySet[MessageTemplate]:
    filters = filters or {}
    qs = MessageTemplate.objects.filter(restaurant=restaurant)
    for key in ("status", "language", "category", "purpose"):
        if filters.get(key) is not None:
            qs = qs.filter(**{key: filters[key]})
    return qs.order_by("name", "language", "id")


def template_get(*, restaurant: Restaurant, template_id: int) -> MessageTemplate | None:
    return MessageTemplate.objects.filter(restaurant=restaurant, pk=template_id).first()


def template_for_purpose(
    *, restaurant_id: int, purpose: str, language: str, fallback_language: str = ""
) -> MessageTemplate | None:
    """The approved template the platform uses for `purpose`, in the customer's language if there is one,
    else the restaurant's default language, else any approved one."""
    approved = list(
        MessageTemplate.objects.filter(restaurant_id=restaurant_id, purpose=purpose, status=TemplateStatus.APPROVED)
    )
    for wanted in (language, fallback_language):
        for template in approved:
            if wanted and template.language.split("_")[0] == wanted:
                return template
    return approved[0] if approved else None


def template_sender(*, restaurant_id: int) -> Sender | None:
    """The sender whose provider reviews this restaurant's templates: the first active Meta or Twilio sender,
    else a console sender (the local demo, where there is no review)."""
    senders = list(Sender.objects.filter(restaurant_id=restaurant_id, active=True).order_by("id"))
    for provider in ("meta", "twilio", "console"):
        for sender in senders:
            if sender.provider == provider:
                return sender
    return None


def templates_to_sync(*, limit: int = 200) -> list[int]:
    """Templates waiting for a provider's verdict (the sync sweep's work)."""
    return list(
        MessageTemplate.objects.filter(status=TemplateStatus.SUBMITTED)
        .order_by("synced_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
