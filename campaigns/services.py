"""Writes of the campaigns room: consent, campaigns and their states, and sending them to their recipients."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from conversations.models import Conversation
from conversations.services.outbound import OutsideServiceWindow, message_queue
from providers.content import OutboundContent
from restaurants.models import Restaurant, Sender
from sufrahbot import reply_ids
from sufrahbot.texts import t
from templates.models import MessageTemplate, TemplateStatus
from templates.services import (
    TemplateNotSendable,
    template_sendable_check,
)

from . import keywords
from .limits import campaign_usage_reserve
from .models import (
    Campaign,
    CampaignRecipient,
    CampaignState,
    ConsentSource,
    MarketingConsent,
    RecipientStatus,
)
from .selectors import audience_queryset
from .sending import _move
from .tasks import send_campaign, start_campaign

logger = logging.getLogger(__name__)

CUSTOMER_FIELDS = ("customer_name", "customer_phone", "last_order_number", "restaurant_name")
AUDIENCE_KEYS = ("ordered_within_days", "never_ordered", "language", "tag")


# --- consent --------------------------------------------------------------------------------------------------


def consent_set(
    *, conversation: Conversation, opted_in: bool, source: str, by=None, tags: list[str] | None = None
) -> MarketingConsent:
    """Record the customer's marketing consent (and where it came from). Withdrawal counts at once for
    every campaign: each checks consent when it queues that customer's message."""
    if source not in ConsentSource.values:
        raise ValidationError({"source": [f"One of {', '.join(ConsentSource.values)}."]})
    with transaction.atomic():
        consent, _ = MarketingConsent.objects.select_for_update().get_or_create(
            conversation=conversation,
            defaults={"restaurant_id": conversation.restaurant_id, "source": source, "changed_at": timezone.now()},
        )
        if consent.opted_in != opted_in or consent.source != source:
            consent.opted_in, consent.source, consent.changed_at = opted_in, source, timezone.now()
            consent.changed_by = by
        if tags is not None:
            consent.tags = sorted({t.strip()[:50] for t in tags if t.strip()})
        consent.save()
    logger.info("marketing consent", extra={"conversation_id": conversation.pk, "opted_in": opted_in, "source": source})
    return consent


def consent_keyword_handle(*, conversation: Conversation, text: str, reply_id: str = "") -> bool:
    """A customer's STOP / إيقاف (or the opt-out button), or START / اشتراك: change consent and confirm it
    in their language. Returns whether the message was one of these (then the bot stays quiet)."""
    word = " ".join(text.strip().lower().split())
    if reply_id == reply_ids.MARKETING_OPT_OUT or word in keywords.STOP_WORDS:
        opted_in, key = False, "opted_out"
        source = ConsentSource.BUTTON if reply_id == reply_ids.MARKETING_OPT_OUT else ConsentSource.KEYWORD
    elif word in keywords.START_WORDS:
        opted_in, key, source = True, "opted_in", ConsentSource.KEYWORD
    else:
        return False
    consent_set(conversation=conversation, opted_in=opted_in, source=source)
    language = conversation.language or ("ar" if word in ("إيقاف", "ايقاف", "اشتراك", "اشترك") else "en")
    try:
        # A reply to the customer's own message: inside the window, and a service message, not marketing.
        message_queue(
            conversation=conversation,
            content=OutboundContent.text(t(key, language)),
            idempotency_key=f"consent:{conversation.pk}:{key}:{int(time.time() // 60)}",
        )
    except OutsideServiceWindow:
        logger.info("consent confirmation not sent: window closed", extra={"conversation_id": conversation.pk})
    return True


# --- campaigns -----------------------------------------------------------------------------------------------


def _check(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    template = campaign.template
    if template.restaurant_id != campaign.restaurant_id:
        errors["template"] = ["No such template in this restaurant."]
    if campaign.sender.restaurant_id != campaign.restaurant_id:
        errors["sender"] = ["No such sender in this restaurant."]
    unknown = sorted(set(campaign.audience) - set(AUDIENCE_KEYS))
    if unknown:
        errors["audience"] = [f"Unknown filter(s): {', '.join(unknown)}. Known: {', '.join(AUDIENCE_KEYS)}."]
    if campaign.audience.get("ordered_within_days") and campaign.audience.get("never_ordered"):
        errors.setdefault("audience", []).append("'ordered_within_days' and 'never_ordered' exclude each other.")
    names = template.spec().variables()
    for name in names:
        source = campaign.variables.get(name)
        if not isinstance(source, dict) or not (
            isinstance(source.get("value"), str) or source.get("field") in CUSTOMER_FIELDS
        ):
            errors.setdefault("variables", []).append(
                f'\'{name}\': give {{"value": "..."}} or {{"field": one of {", ".join(CUSTOMER_FIELDS)}}}.'
            )
    for name in sorted(set(campaign.variables) - set(names)):
        errors.setdefault("variables", []).append(f"'{name}' is not a variable of the template.")
    if errors:
        raise ValidationError(errors)


def campaign_create(*, restaurant: Restaurant, by=None, data: dict[str, Any]) -> Campaign:
    campaign = Campaign(restaurant=restaurant, created_by=by, **data)
    if campaign.sender_id is None:
        # Read into a local first: a required foreign key set to None raises on access instead of being None.
        sender = Sender.objects.filter(restaurant=restaurant, active=True).order_by("id").first()
        if sender is None:
            raise ValidationError({"sender": ["The restaurant has no active sender."]})
        campaign.sender = sender
    _check(campaign)
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    if campaign.state != CampaignState.DRAFT:
        raise ValidationError({"state": [f"Only a draft campaign can be changed (this one is {campaign.state})."]})
    for key, value in data.items():
        setattr(campaign, key, value)
    _check(campaign)
    campaign.save()
    return campaign


def campaign_schedule(*, campaign: Campaign, by=None) -> Campaign:
    """draft → scheduled. The template must be approved for the campaign's sender, and the plan must allow
    one more campaign this month and its audience as recipients (PlanLimitReached names the limit); both
    are charged in the same transaction as the move. Sending starts at send_at (or now)."""
    template: MessageTemplate = campaign.template
    if template.status != TemplateStatus.APPROVED:
        raise ValidationError({"template": [f"The template must be approved (it is {template.status})."]})
    if template.category not in ("MARKETING", "UTILITY"):
        raise ValidationError({"template": ["Campaigns send marketing or utility templates."]})
    probe = Conversation(restaurant_id=campaign.restaurant_id, sender=campaign.sender)
    try:
        template_sendable_check(template=template, conversation=probe)
    except TemplateNotSendable as exc:
        raise ValidationError({"template": [str(exc)]}) from None
    _check(campaign)
    with transaction.atomic():
        # A second schedule of the same campaign fails in _move and rolls its charge back with it.
        recipients = audience_queryset(restaurant_id=campaign.restaurant_id, audience=campaign.audience).count()
        charged = campaign_usage_reserve(campaign=campaign, recipients=recipients)
        campaign = _move(campaign, allowed=(CampaignState.DRAFT,), to=CampaignState.SCHEDULED, **charged)
    if campaign.send_at is None or campaign.send_at <= timezone.now():
        transaction.on_commit(lambda: _start_later(campaign.pk))
    return campaign


def _start_later(campaign_id: int) -> None:
    start_campaign.delay(campaign_id)


def campaign_pause(*, campaign: Campaign) -> Campaign:
    return _move(campaign, allowed=(CampaignState.SCHEDULED, CampaignState.SENDING), to=CampaignState.PAUSED)


def campaign_resume(*, campaign: Campaign) -> Campaign:
    to = CampaignState.SENDING if campaign.recipients_created else CampaignState.SCHEDULED
    campaign = _move(campaign, allowed=(CampaignState.PAUSED,), to=to)
    transaction.on_commit(
        lambda: _send_later(campaign.pk) if to == CampaignState.SENDING else _start_later(campaign.pk)
    )
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: recipients not yet queued are cancelled (messages already queued still go)."""
    with transaction.atomic():
        campaign = _move(
            campaign,
            allowed=(CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED),
            to=CampaignState.CANCELLED,
            finished_at=timezone.now(),
        )
        CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.CANCELLED
        )
    return campaign


def _send_later(campaign_id: int, countdown: float = 0) -> None:
    send_campaign.apply_async((campaign_id,), countdown=countdown)
