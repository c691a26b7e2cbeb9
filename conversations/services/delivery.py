"""Sending a queued message through its provider, and following its status callbacks."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from providers.content import CREDENTIALS_REFUSED_CODES, OutboundContent, SendError, SendResult
from providers.registry import provider_for
from restaurants.services import sender_credentials_accepted, sender_credentials_refused
from sufrahbot.db import PreparedSelect, update_prepared
from sufrahbot.events import publish
from sufrahbot.logging import bind
from sufrahbot.metrics import DEAD_LETTERS, MESSAGES, RATE_LIMIT_HITS, SEND_RETRIES, SEND_SECONDS

from ..events import message_event_data
from ..models import FINAL_STATUSES, STATUS_RANK, Message, MessageStatus
from ..ratelimit import limiter
from .media import outbound_content_with_media

logger = logging.getLogger(__name__)


def claim_lease() -> timedelta:
    """How long a worker's claim on a send holds (settings.SEND_CLAIM_LEASE_SECONDS): past it, the worker is
    taken to be dead and the send is taken over (and reconciled with the provider first)."""
    return timedelta(seconds=settings.SEND_CLAIM_LEASE_SECONDS)


@dataclass
class DeliveryOutcome:
    """What one delivery attempt came to; `retry_in` set means "call again after that many seconds"."""

    result: str  # sent | skipped | failed | retry | throttled
    retry_in: float | None = None


class UnknownStatus(ValueError):
    """A provider status this project has no place for (e.g. Meta's "played" for voice notes)."""


def _backoff(attempts: int) -> float:
    base = settings.SEND_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(settings.SEND_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.5)  # jitter


def _status_callback_url(provider: str) -> str | None:
    return provider_for(provider).status_callback_url(base_url=settings.PUBLIC_BASE_URL)


# Read once per send: built and compiled once per process (sufrahbot.db.PreparedSelect).
_message_for_delivery = PreparedSelect(
    lambda *, message_id: Message.objects.select_related("conversation__sender").filter(pk=message_id), "message_id"
)


_claim_sql: dict[str, str] = {}


def _message_claim(*, message_id: int, now) -> bool:
    """Claim a send: the row still queued (or "sending" by a worker whose lease ran out) and without a provider
    id becomes "sending" under this attempt's lease. That is

        Message.objects.filter(Q(status=QUEUED) | Q(status=SENDING, updated_at__lt=now - lease),
                               pk=message_id, provider_message_id__isnull=True)
                       .update(status=SENDING, status_rank=…, attempts=F("attempts") + 1, updated_at=now,
                               next_attempt_at=now + lease)

    with the statement written once per database: built and compiled by the ORM on every send it took ~8 % of
    an outbound worker's CPU, more than running it (sufrahbot.db.update_prepared does the same for plain
    UPDATEs; this one counts attempts up and has an OR)."""
    using = router.db_for_write(Message)
    connection = connections[using]
    sql = _claim_sql.get(using)
    if sql is None:
        qn = connection.ops.quote_name
        column = {name: qn(Message._meta.get_field(name).column) for name in _CLAIM_COLUMNS}
        status, updated_at = column["status"], column["updated_at"]
        sql = _claim_sql[using] = (
            f"UPDATE {qn(Message._meta.db_table)} SET {status} = %s, {column['status_rank']} = %s, "
            f"{column['attempts']} = {column['attempts']} + 1, {updated_at} = %s, {column['next_attempt_at']} = %s "
            f"WHERE {column['id']} = %s AND {column['provider_message_id']} IS NULL "
            f"AND ({status} = %s OR ({status} = %s AND {updated_at} < %s))"
        )
    stamp = Message._meta.get_field("updated_at")
    params = [
        MessageStatus.SENDING,
        STATUS_RANK[MessageStatus.SENDING],
        stamp.get_db_prep_value(now, connection),
        stamp.get_db_prep_value(now + claim_lease(), connection),
        int(message_id),
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        stamp.get_db_prep_value(now - claim_lease(), connection),
    ]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


_CLAIM_COLUMNS = ("id", "status", "status_rank", "attempts", "updated_at", "next_attempt_at", "provider_message_id")


def message_deliver(*, message_id: int) -> DeliveryOutcome:
    """One attempt at handing a queued message to its provider. Safe to call twice: a message that already
    has a provider id, or that another worker is sending, is left alone."""
    message = _message_for_delivery.fetch_one(message_id=message_id)
    if message is None or message.direction != Message.Direction.OUTBOUND or message.provider_message_id:
        return DeliveryOutcome("skipped")
    bind(restaurant_id=message.restaurant_id, conversation_id=message.conversation_id, message_id=message.pk)
    sender = message.conversation.sender
    wait = limiter().reserve(f"sender:{sender.pk}", sender.messages_per_minute)
    if wait > 0:
        RATE_LIMIT_HITS.inc()
        return DeliveryOutcome("throttled", retry_in=wait)

    # Claim it: queued, or "sending" by a worker whose lease ran out.
    now = timezone.now()
    previous_attempt_at = message.updated_at  # the last claim (a failed attempt's re-queue keeps it)
    # Taking over a dead worker's claim: it may have died inside the provider call, after the provider took it.
    unconfirmed = message.send_unconfirmed or message.status == MessageStatus.SENDING
    if not _message_claim(message_id=message.pk, now=now):
        return DeliveryOutcome("skipped")
    # Claimed: nobody else writes the row until we are done, so the local copy stays exact.
    message.status, message.status_rank = MessageStatus.SENDING, STATUS_RANK[MessageStatus.SENDING]
    message.attempts += 1
    content = OutboundContent.from_dict(message.content)
    provider = provider_for(message.provider)
    started = time.perf_counter()
    try:
        result = None
        if unconfirmed:
            # The last attempt may have reached the provider: ask it before sending again.
            result = _unconfirmed_send_find(message, provider, content, since=previous_attempt_at)
        if result is None:
            # An image or document goes as a signed link to our copy, made now (it expires).
            content = outbound_content_with_media(message=message, content=content, rules=provider.outbound_media)
            result = provider.send(
                sender=sender,
                to=message.conversation.send_to,
                content=content,
                status_callback_url=_status_callback_url(message.provider),
            )
    except SendError as exc:
        message.send_unconfirmed = unconfirmed
        SEND_SECONDS.labels(message.provider).observe(time.perf_counter() - started)
        return _delivery_failed(message, exc)
    SEND_SECONDS.labels(message.provider).observe(time.perf_counter() - started)
    rank = STATUS_RANK.get(result.status, STATUS_RANK[MessageStatus.SENT])
    status = result.status if rank >= STATUS_RANK[MessageStatus.SENT] else MessageStatus.SENT
    # One UPDATE: no transaction of its own (BEGIN/COMMIT would double the round trips); the event goes
    # out once it is committed, as always.
    _message_update(
        message,
        provider_message_id=result.provider_message_id,
        status=status,
        status_rank=max(rank, STATUS_RANK[MessageStatus.SENT]),
        sent_at=timezone.now(),
        error_code="",
        error_message="",
        next_attempt_at=None,
        send_unconfirmed=False,
    )
    publish(message.restaurant_id, {"type": "message.sent", "message": message_event_data(message)})
    if sender.credentials_refused_since is not None:  # read with the message: no query while all is well
        sender_credentials_accepted(sender=sender)
    MESSAGES.labels("out", status).inc()
    return DeliveryOutcome("sent")


# How far before the ambiguous attempt's claim a provider's record may be dated (clocks differ).
RECONCILE_CLOCK_SLACK = timedelta(minutes=2)


def _unconfirmed_send_find(message: Message, provider, content: OutboundContent, *, since) -> SendResult | None:
    """The provider's own record of a send that timed out, or None if it has none (then sending is safe).

    A provider that cannot be asked (`sent_messages_find` is None: the Meta Cloud API has no message list and no
    idempotency key) gets no second copy: the message fails as unconfirmed, for staff to retry by hand.
    """
    candidates = provider.sent_messages_find(
        sender=message.conversation.sender,
        to=message.conversation.send_to,
        content=content,
        since=(since or message.created_at) - RECONCILE_CLOCK_SLACK,
    )
    if candidates is None:
        raise SendError(
            "timeout_unconfirmed",
            f"{message.provider} did not answer in time and may have delivered it; not resent automatically "
            "(retry from admin if the customer did not get it)",
            retryable=False,
        )
    # The same text may have gone to this customer before (twice "menu"): skip sids other rows hold.
    taken = set(
        Message.objects.filter(
            provider=message.provider, provider_message_id__in=[c.provider_message_id for c in candidates]
        ).values_list("provider_message_id", flat=True)
    )
    found = next((c for c in reversed(candidates) if c.provider_message_id not in taken), None)
    logger.warning(
        "reconciled an unconfirmed send",
        extra={"message_id": message.pk, "found": found is not None, "candidates": len(candidates)},
    )
    return found


def _message_update(message: Message, **changes) -> None:
    """UPDATE the claimed row and keep the in-memory copy in step (no re-read)."""
    update_prepared(Message, {"pk": message.pk}, **changes)
    for field, value in changes.items():
        setattr(message, field, value)


def _delivery_failed(message: Message, exc: SendError) -> DeliveryOutcome:
    if exc.retryable and message.attempts <= settings.SEND_MAX_RETRIES:
        retry_in = _backoff(message.attempts)
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.QUEUED,
            status_rank=STATUS_RANK[MessageStatus.QUEUED],
            error_code=exc.code,
            error_message=exc.message[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=retry_in),
            # Once ambiguous, stays so until an attempt is answered: every retry reconciles first.
            send_unconfirmed=message.send_unconfirmed or exc.ambiguous,
        )
        logger.warning(
            "send failed, will retry",
            extra={"message_id": message.pk, "code": exc.code, "attempt": message.attempts, "ambiguous": exc.ambiguous},
        )
        SEND_RETRIES.labels(message.provider).inc()
        return DeliveryOutcome("retry", retry_in=retry_in)
    _message_update(
        message,
        status=MessageStatus.FAILED,
        status_rank=STATUS_RANK[MessageStatus.FAILED],
        error_code=exc.code,
        error_message=exc.message[:2000],
    )
    publish(message.restaurant_id, {"type": "message.status", "message": message_event_data(message)})
    if exc.code in CREDENTIALS_REFUSED_CODES:
        sender_credentials_refused(sender=message.conversation.sender, error_code=exc.code)
    logger.error(
        "send failed for good", extra={"message_id": message.pk, "code": exc.code, "attempts": message.attempts}
    )
    MESSAGES.labels("out", MessageStatus.FAILED).inc()
    DEAD_LETTERS.labels("message").inc()
    return DeliveryOutcome("failed")


def message_status_update(
    *,
    restaurant_id: int,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """Move a message's status forward only (callbacks arrive out of order); final states stay final.

    Scoped to the restaurant whose sender the callback was verified for: a signed callback of one tenant
    can never touch another tenant's message. Returns whether anything changed; raises Message.DoesNotExist
    for an id this restaurant never sent.
    """
    rank = STATUS_RANK.get(status)
    if rank is None or status == MessageStatus.RECEIVED:
        raise UnknownStatus(f"unknown status {status!r}")
    messages = Message.objects.filter(
        restaurant_id=restaurant_id, provider=provider, provider_message_id=provider_message_id
    )
    with transaction.atomic():
        changes = {"status": status, "status_rank": rank}
        if status in FINAL_STATUSES:
            changes.update(error_code=error_code[:32], error_message=error_message[:2000])
        updated = messages.filter(status_rank__lt=rank).exclude(status__in=FINAL_STATUSES).update(**changes)
        if not updated:
            if not messages.exists():
                raise Message.DoesNotExist(f"no message {provider}:{provider_message_id} of restaurant {restaurant_id}")
            return False
        message = messages.get()
        publish(message.restaurant_id, {"type": "message.status", "message": message_event_data(message)})
    MESSAGES.labels(message.direction, status).inc()
    return True


# --- the stranded-send sweep ----------------------------------------------------------------------------


def messages_stranded(*, grace_seconds: float | None = None, limit: int = 500) -> list[int]:
    """Outbound messages nobody is going to send: queued past their due time (the task was lost: Redis was
    down at enqueue, a SIGKILLed worker held it unacked) or claimed by a worker whose lease ran out.

    Each id returned is marked due again `grace` from now, so the next sweep leaves it to the task it gets.
    """
    grace = timedelta(seconds=settings.STRANDED_SEND_GRACE_SECONDS if grace_seconds is None else grace_seconds)
    now = timezone.now()
    cutoff = now - grace
    unsent = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        provider_message_id__isnull=True,
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING],
    )
    due = unsent.filter(
        Q(next_attempt_at__lt=cutoff)
        | Q(next_attempt_at__isnull=True, status=MessageStatus.QUEUED, created_at__lt=cutoff)
        | Q(next_attempt_at__isnull=True, status=MessageStatus.SENDING, updated_at__lt=now - claim_lease())
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    if ids:
        # The claim condition (status queued, or a lease past its end) is unchanged: this only spaces sweeps.
        Message.objects.filter(pk__in=ids).update(next_attempt_at=now)
        logger.warning("stranded outbound messages re-queued", extra={"count": len(ids), "message_ids": ids[:20]})
    return ids
