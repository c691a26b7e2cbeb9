"""Sending a campaign: recipients created once, then queued a second's worth of the sender's cap at a time.

Used by the campaign tasks; enqueues nothing itself (the tasks chain the next run), so the import arrows
run tasks → sending, services → tasks → sending.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from conversations.models import MessageStatus
from conversations.services.delivery import claim_lease
from conversations.services.outbound import message_queue
from conversations.tasks import send_message
from orders.models import Order
from sufrahbot.events import publish
from templates.services import template_content

from .limits import campaign_usage_settle
from .models import Campaign, CampaignRecipient, CampaignState, RecipientStatus
from .selectors import audience_queryset, campaign_progress, unique_customers_last_24h

logger = logging.getLogger(__name__)

RECIPIENT_INSERT_BATCH = 2000
# How long one run of the send task keeps going before it hands over to a fresh task (a deploy or a
# pause never waits long, and one task never holds a worker for a whole campaign).
SEND_RUN_SECONDS = 5.0
TIER_RETRY_SECONDS = 300.0


def _announce(campaign: Campaign) -> None:
    publish(
        campaign.restaurant_id,
        {
            "type": "campaign.progress",
            "campaign": {"id": campaign.pk, "state": campaign.state, "counts": campaign_progress(campaign=campaign)},
        },
    )


def _move(campaign: Campaign, *, allowed: tuple[str, ...], to: str, **fields) -> Campaign:
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state not in allowed:
            raise ValidationError(
                {"state": [f"A {locked.state} campaign cannot become {to} (only from {', '.join(allowed)})."]}
            )
        locked.state = to
        for key, value in fields.items():
            setattr(locked, key, value)
        locked.save()
        _announce(locked)
    return locked


def campaign_recipients_create(*, campaign_id: int) -> int:
    """Create the campaign's recipients once, streaming ids in batches (memory stays flat however large the
    audience); a second call inserts nothing (unique campaign + customer)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.recipients_created:
        return campaign.recipient_count
    ids = audience_queryset(restaurant_id=campaign.restaurant_id, audience=campaign.audience).values_list(
        "id", flat=True
    )
    batch: list[CampaignRecipient] = []
    for conversation_id in ids.iterator(chunk_size=RECIPIENT_INSERT_BATCH):
        batch.append(CampaignRecipient(campaign_id=campaign.pk, conversation_id=conversation_id))
        if len(batch) >= RECIPIENT_INSERT_BATCH:
            CampaignRecipient.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        CampaignRecipient.objects.bulk_create(batch, ignore_conflicts=True)
    count = CampaignRecipient.objects.filter(campaign=campaign).count()
    with transaction.atomic():
        first = Campaign.objects.filter(pk=campaign.pk, recipients_created=False).update(
            recipients_created=True, recipient_count=count
        )
        if first:  # the plan's charge corrected once, from the audience at scheduling to these recipients
            campaign_usage_settle(campaign=campaign, created=count)
    return count


def campaign_start(*, campaign_id: int) -> str:
    """scheduled → sending once its time has come, with its recipients created (the task then sends)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.state != CampaignState.SCHEDULED:
        return "skipped"
    if campaign.send_at is not None and campaign.send_at > timezone.now():
        return "not_due"
    campaign_recipients_create(campaign_id=campaign.pk)
    _move(campaign, allowed=(CampaignState.SCHEDULED,), to=CampaignState.SENDING, started_at=timezone.now())
    return "started"


def campaigns_due() -> list[int]:
    """Scheduled campaigns whose time has come (the beat's sweep starts them)."""
    return list(
        Campaign.objects.filter(state=CampaignState.SCHEDULED, send_at__lte=timezone.now()).values_list(
            "pk", flat=True
        )[:100]
    )


@dataclass
class StepOutcome:
    result: str  # sent | done | stopped | tier
    queued: int = 0
    retry_in: float | None = None


def _variables_for(campaign: Campaign, recipient: CampaignRecipient, names: list[str]) -> dict[str, str]:
    conversation = recipient.conversation
    language = campaign.template.language.split("_")[0]
    fields = {
        "customer_name": conversation.customer_name,
        "customer_phone": conversation.customer_phone,
        "last_order_number": str(recipient.last_order_number or ""),
        "restaurant_name": campaign.restaurant.name_in(language),
    }
    values = {}
    for name in names:
        source = campaign.variables[name]
        value = source["value"] if "value" in source else fields[source["field"]]
        values[name] = value if value.strip() else str(source.get("fallback", ""))
    return values


def campaign_send_step(*, campaign_id: int, limit: int) -> StepOutcome:
    """Queue up to `limit` of the campaign's pending recipients, each exactly once.

    Recipients are claimed with SKIP LOCKED (two workers never take the same one); each message carries the
    idempotency key campaign:<id>:<recipient id>, so a worker killed between queueing the message and marking
    the recipient leaves a message the re-run finds instead of sending a second one. Consent is read at this
    moment: an opt-out mid-campaign skips the customer. Meta's daily tier (unique customers per 24 hours,
    a sender setting) holds the campaign until the window frees."""
    campaign = Campaign.objects.select_related("template", "sender", "restaurant").filter(pk=campaign_id).first()
    if campaign is None or campaign.state != CampaignState.SENDING:
        return StepOutcome("stopped")
    room = campaign.sender.daily_unique_customers - unique_customers_last_24h(sender_id=campaign.sender_id)
    if room <= 0:
        return StepOutcome("tier", retry_in=TIER_RETRY_SECONDS)
    names = campaign.template.spec().variables()
    last_order = Order.objects.filter(conversation_id=OuterRef("conversation_id")).order_by("-created_at", "-id")
    queued = 0
    with transaction.atomic():
        recipients = list(
            CampaignRecipient.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(campaign=campaign, status=RecipientStatus.PENDING)
            .select_related("conversation__sender", "conversation__marketing_consent")
            .annotate(last_order_number=Subquery(last_order.values("number")[:1]))
            .order_by("id")[: min(limit, room)]
        )
        for recipient in recipients:
            with transaction.atomic():
                outcome = _recipient_send(campaign, recipient, names)
            queued += outcome
    stranded = _stranded_messages_resend(campaign)
    pending = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).exists()
    if not recipients and not pending and not stranded:
        Campaign.objects.filter(pk=campaign.pk, state=CampaignState.SENDING).update(
            state=CampaignState.COMPLETED, finished_at=timezone.now()
        )
        campaign.refresh_from_db()
        _announce(campaign)
        return StepOutcome("done")
    _announce(campaign)
    return StepOutcome("sent", queued=queued)


STRANDED_AFTER = timedelta(minutes=1)


def _stranded_messages_resend(campaign: Campaign) -> int:
    """Messages this campaign queued that were never handed over a minute later (their worker died between
    queueing and sending), or whose sending claim ran out (it died mid-send): put them through the one send
    task again, which claims each message and skips one that already has a provider id. A send cut off
    mid-request is the ambiguous case every provider has (no idempotency key on Twilio's Messages API):
    the message is retaken after the claim lease, as for any other message. Returns how many still wait."""
    waiting = CampaignRecipient.objects.filter(
        campaign=campaign,
        status=RecipientStatus.QUEUED,
        message__status__in=(MessageStatus.QUEUED, MessageStatus.SENDING),
    )
    now = timezone.now()
    old = list(
        waiting.filter(
            Q(message__status=MessageStatus.QUEUED, queued_at__lt=now - STRANDED_AFTER)
            | Q(message__status=MessageStatus.SENDING, message__updated_at__lt=now - claim_lease())
        ).values_list("message_id", flat=True)[:100]
    )
    for message_id in old:
        send_message.delay(message_id)
    return waiting.count()


def _recipient_send(campaign: Campaign, recipient: CampaignRecipient, names: list[str]) -> int:
    consent = getattr(recipient.conversation, "marketing_consent", None)
    if consent is None or not consent.opted_in:
        recipient.status, recipient.skip_reason = RecipientStatus.SKIPPED, "opted out"
        recipient.save(update_fields=["status", "skip_reason"])
        return 0
    try:
        content = template_content(template=campaign.template, variables=_variables_for(campaign, recipient, names))
    except ValidationError as exc:
        recipient.status = RecipientStatus.SKIPPED
        recipient.skip_reason = "; ".join(exc.messages)[:200]
        recipient.save(update_fields=["status", "skip_reason"])
        return 0
    conversation = recipient.conversation
    if conversation.sender_id != campaign.sender_id:
        conversation.sender = campaign.sender  # the campaign's number is the one its messages go out from
    message, _ = message_queue(
        conversation=conversation,
        content=content,
        idempotency_key=f"campaign:{campaign.pk}:{recipient.pk}",
        require_window=False,
    )
    recipient.status, recipient.message, recipient.queued_at = RecipientStatus.QUEUED, message, timezone.now()
    recipient.save(update_fields=["status", "message", "queued_at"])
    return 1


def campaign_send_run(*, campaign_id: int, budget_seconds: float = SEND_RUN_SECONDS) -> StepOutcome:
    """Send for up to `budget_seconds`, one second's worth of the sender's rate cap at a time (the send
    task's own token bucket keeps the exact pace); returns when the campaign stops, finishes or waits."""
    deadline = time.monotonic() + budget_seconds
    outcome = StepOutcome("sent")
    while time.monotonic() < deadline:
        campaign = Campaign.objects.select_related("sender").filter(pk=campaign_id).first()
        if campaign is None:
            return StepOutcome("stopped")
        per_second = max(1, campaign.sender.messages_per_minute // 60)
        started = time.monotonic()
        outcome = campaign_send_step(campaign_id=campaign_id, limit=per_second)
        if outcome.result != "sent":
            return outcome
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return StepOutcome("sent", retry_in=0.0)
