"""Reads of the conversations room for the dashboard API; every one is scoped to a restaurant."""

from __future__ import annotations

import statistics
from typing import Any, TypedDict

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from restaurants.models import Restaurant

from .models import Conversation, Message, MessageMedia

PREVIEW_LENGTH = 120


class ConversationFilters(TypedDict, total=False):
    status: str  # open | resolved
    assignee_id: int  # assigned to this user
    unassigned: bool  # True: nobody assigned
    unread: bool  # True: has unread messages; False: all read
    bot_paused: bool  # True: handed to staff, waiting for a person
    search: str  # part of the customer's phone number or name


def _with_activity(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate `activity_at` (never null: it orders the list and is its cursor) and the last message."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.select_related("assignee").annotate(
        activity_at=Coalesce("last_message_at", "created_at"),
        last_message_id=Subquery(last.values("id")[:1]),
        last_message_body=Subquery(last.values("body")[:1]),
        last_message_direction=Subquery(last.values("direction")[:1]),
        last_message_created_at=Subquery(last.values("created_at")[:1]),
    )


def conversation_list(*, restaurant: Restaurant, filters: ConversationFilters | None = None) -> QuerySet[Conversation]:
    """The restaurant's conversations, newest activity first, each with its last message annotated."""
    filters = filters or {}
    queryset = Conversation.objects.filter(restaurant=restaurant)
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("assignee_id") is not None:
        queryset = queryset.filter(assignee_id=filters["assignee_id"])
    if filters.get("unassigned"):
        queryset = queryset.filter(assignee__isnull=True)
    if filters.get("bot_paused") is not None:
        queryset = queryset.filter(bot_paused=filters["bot_paused"])
    if filters.get("unread") is True:
        queryset = queryset.filter(unread_count__gt=0)
    elif filters.get("unread") is False:
        queryset = queryset.filter(unread_count=0)
    search = (filters.get("search") or "").strip()
    if search:
        condition = Q(customer_name__icontains=search)
        digits = "".join(ch for ch in search if ch.isdigit())
        if digits:
            # Phones are stored in E.164: "+966 50-803" and "0508034010"-style fragments match by digits.
            condition |= Q(customer_phone__contains=digits.lstrip("0") or digits)
        queryset = queryset.filter(condition)
    return _with_activity(queryset).order_by("-activity_at", "-id")


def conversation_get(*, restaurant: Restaurant, conversation_id: int) -> Conversation | None:
    return (
        _with_activity(Conversation.objects.filter(restaurant=restaurant, pk=conversation_id))
        .select_related("sender")
        .first()
    )


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages, newest first (the API pages backwards through history)."""
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("sent_by")
        .prefetch_related("media_files")
        .order_by("-created_at", "-id")
    )


def message_media_get(*, restaurant: Restaurant, media_id: int) -> MessageMedia | None:
    """One file of this restaurant's messages, or None (another tenant's id looks like no id at all)."""
    return MessageMedia.objects.filter(restaurant=restaurant, pk=media_id).first()


def first_response_seconds(*, restaurant: Restaurant) -> list[float]:
    """Seconds from each conversation's first inbound message to the first staff reply in it."""
    first_inbound = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.INBOUND)
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    rows = (
        Conversation.objects.filter(restaurant=restaurant, first_response_at__isnull=False)
        .annotate(first_inbound_at=Subquery(first_inbound))
        .filter(first_inbound_at__isnull=False, first_response_at__gte=F("first_inbound_at"))
        .values_list("first_inbound_at", "first_response_at")
    )
    return [(responded - asked).total_seconds() for asked, responded in rows]


def conversation_stats(*, restaurant: Restaurant) -> dict[str, Any]:
    """Counts by status, total unread messages, and the median first-response time (seconds, or None)."""
    totals = Conversation.objects.filter(restaurant=restaurant).aggregate(
        **{status: Count("id", filter=Q(status=status)) for status in Conversation.Status.values},
        unread_total=Coalesce(Sum("unread_count"), 0),
        unread_conversations=Count("id", filter=Q(unread_count__gt=0)),
    )
    durations = first_response_seconds(restaurant=restaurant)
    return {
        "by_status": {status: totals[status] for status in Conversation.Status.values},
        "unread_total": totals["unread_total"],
        "unread_conversations": totals["unread_conversations"],
        "median_first_response_seconds": statistics.median(durations) if durations else None,
        "responded_conversations": len(durations),
    }
