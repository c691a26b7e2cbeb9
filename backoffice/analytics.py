"""Analytics selectors: one restaurant, one date range (days in the restaurant's timezone), SQL aggregates.

Every figure is a GROUP BY / aggregate in the database; medians are taken in SQL too (ORDER BY the value,
OFFSET to the middle) on the embedded SQLite, percentile_cont on PostgreSQL. Python only shapes
the few rows that come back. Orders count once placed (DRAFT is a cart); revenue leaves cancelled out.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import ExtractHour, TruncDate, TruncWeek
from django.utils import timezone

from conversations.models import Conversation, Message
from orders.models import Order, OrderItem, OrderStatus, Rating
from restaurants.models import Restaurant

MAX_RANGE_DAYS = 366
TOP_DISHES = 10


@dataclass(frozen=True)
class AnalyticsRange:
    start: dt.date  # first day, inclusive
    end: dt.date  # last day, inclusive

    def days(self) -> int:
        return (self.end - self.start).days + 1


def restaurant_zone(restaurant: Restaurant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(restaurant.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def default_range(*, restaurant: Restaurant, days: int = 30) -> AnalyticsRange:
    today = timezone.now().astimezone(restaurant_zone(restaurant)).date()
    return AnalyticsRange(start=today - dt.timedelta(days=days - 1), end=today)


def _bounds(restaurant: Restaurant, period: AnalyticsRange) -> tuple[dt.datetime, dt.datetime]:
    zone = restaurant_zone(restaurant)
    start = dt.datetime.combine(period.start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _placed_orders(restaurant: Restaurant, period: AnalyticsRange) -> QuerySet[Order]:
    start, end = _bounds(restaurant, period)
    return Order.objects.filter(restaurant=restaurant, created_at__gte=start, created_at__lt=end).exclude(
        status=OrderStatus.DRAFT
    )


def _median_seconds(values: QuerySet, field: str) -> tuple[float | None, int]:
    """The median of a duration column, in SQL: count, then the one or two middle rows by OFFSET."""
    values = values.filter(**{f"{field}__isnull": False})
    count = values.count()
    if count == 0:
        return None, 0
    middle = list(values.order_by(field).values_list(field, flat=True)[(count - 1) // 2 : count // 2 + 1])
    seconds = [d.total_seconds() for d in middle]
    return sum(seconds) / len(seconds), count


def orders_per_day(*, restaurant: Restaurant, period: AnalyticsRange) -> list[dict[str, Any]]:
    rows = (
        _placed_orders(restaurant, period)
        .annotate(day=TruncDate("created_at", tzinfo=restaurant_zone(restaurant)))
        .values("day")
        .annotate(
            orders=Count("id"),
            cancelled=Count("id", filter=Q(status=OrderStatus.CANCELLED)),
            revenue=Sum("total", filter=~Q(status=OrderStatus.CANCELLED)),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    out = []
    for offset in range(period.days()):  # every day of the range, empty days as zeros (a chart needs them)
        day = period.start + dt.timedelta(days=offset)
        row = by_day.get(day, {})
        out.append(
            {
                "day": day.isoformat(),
                "orders": row.get("orders", 0),
                "cancelled": row.get("cancelled", 0),
                "revenue": str(row.get("revenue") or Decimal("0.00")),
            }
        )
    return out


def rating_summary(*, restaurant: Restaurant, period: AnalyticsRange) -> dict[str, Any]:
    start, end = _bounds(restaurant, period)
    ratings = Rating.objects.filter(order__restaurant=restaurant, created_at__gte=start, created_at__lt=end)
    counts = dict(ratings.values_list("stars").annotate(n=Count("id")).values_list("stars", "n"))
    # The overall count and average from the five rows above (no second pass over the ratings).
    total = sum(counts.values())
    overall = {"count": total, "average": sum(s * n for s, n in counts.items()) / total if total else None}
    weekly = (
        ratings.annotate(week=TruncWeek("created_at", tzinfo=restaurant_zone(restaurant)))
        .values("week")
        .annotate(average=Avg("stars"), count=Count("id"))
        .order_by("week")
    )
    return {
        "count": overall["count"],
        "average": round(overall["average"], 2) if overall["average"] is not None else None,
        "distribution": [{"stars": stars, "count": counts.get(stars, 0)} for stars in range(1, 6)],
        "average_by_week": [
            {"week": row["week"].date().isoformat(), "average": round(row["average"], 2), "count": row["count"]}
            for row in weekly
        ],
    }


def first_response_times(*, restaurant: Restaurant, period: AnalyticsRange) -> dict[str, Any]:
    """Median seconds from a customer's message to the first reply: by the bot (the first outbound without
    a staff author after the conversation's first customer message) and by staff (the first staff reply,
    measured from the customer message just before it). Conversations that started in the range."""
    start, end = _bounds(restaurant, period)
    if connection.vendor == "postgresql":
        return _first_response_postgresql(restaurant, start, end)
    conversations = Conversation.objects.filter(restaurant=restaurant, created_at__gte=start, created_at__lt=end)
    first_in = Message.objects.filter(conversation=OuterRef("pk"), direction="in").order_by("created_at")
    bot_reply = Message.objects.filter(
        conversation=OuterRef("pk"), direction="out", sent_by__isnull=True, created_at__gte=OuterRef("first_in")
    ).order_by("created_at")
    staff_reply = Message.objects.filter(conversation=OuterRef("pk"), direction="out", sent_by__isnull=False).order_by(
        "created_at"
    )
    before_staff = Message.objects.filter(
        conversation=OuterRef("pk"), direction="in", created_at__lte=OuterRef("first_staff")
    ).order_by("-created_at")
    timed = conversations.annotate(
        first_in=Subquery(first_in.values("created_at")[:1]),
        first_bot=Subquery(bot_reply.values("created_at")[:1]),
        first_staff=Subquery(staff_reply.values("created_at")[:1]),
    ).annotate(
        in_before_staff=Subquery(before_staff.values("created_at")[:1]),
    )
    bot = timed.annotate(wait=ExpressionWrapper(F("first_bot") - F("first_in"), output_field=DurationField()))
    staff = timed.annotate(
        wait=ExpressionWrapper(F("first_staff") - F("in_before_staff"), output_field=DurationField())
    )
    bot_median, bot_n = _median_seconds(bot, "wait")
    staff_median, staff_n = _median_seconds(staff, "wait")
    return {
        "bot": {"median_seconds": bot_median, "conversations": bot_n},
        "staff": {"median_seconds": staff_median, "conversations": staff_n},
    }


# One statement on PostgreSQL, one pass over the conversations' messages: window aggregates give each message
# its conversation's first customer message and first staff reply, a GROUP BY then takes each wait, and
# percentile_cont the medians (the mean of the two middle values, as the portable OFFSET path does; NULL
# waits are ignored, as the portable path leaves them out). The ORM path below is the portable one (SQLite).
_FIRST_RESPONSE_SQL = """
WITH timed AS (
    SELECT m.conversation_id, m.direction, m.sent_by_id, m.created_at,
           MIN(m.created_at) FILTER (WHERE m.direction = 'in') OVER conversation AS first_in,
           MIN(m.created_at) FILTER (WHERE m.direction = 'out' AND m.sent_by_id IS NOT NULL)
               OVER conversation AS first_staff
    FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id
    WHERE c.restaurant_id = %(rid)s AND c.created_at >= %(start)s AND c.created_at < %(end)s
    WINDOW conversation AS (PARTITION BY m.conversation_id)
), waits AS (
    SELECT MIN(created_at) FILTER (WHERE direction = 'out' AND sent_by_id IS NULL AND created_at >= first_in)
               - MIN(first_in) AS bot,
           MIN(first_staff) - MAX(created_at) FILTER (WHERE direction = 'in' AND created_at <= first_staff)
               AS staff
    FROM timed GROUP BY conversation_id
)
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM bot)), COUNT(bot),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM staff)), COUNT(staff)
FROM waits
"""


def _first_response_postgresql(restaurant: Restaurant, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    sql = _FIRST_RESPONSE_SQL.format(
        conversation=connection.ops.quote_name(Conversation._meta.db_table),
        message=connection.ops.quote_name(Message._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"rid": restaurant.pk, "start": start, "end": end})
        bot_median, bot_n, staff_median, staff_n = cursor.fetchone()
    return {
        "bot": {"median_seconds": float(bot_median) if bot_median is not None else None, "conversations": bot_n},
        "staff": {
            "median_seconds": float(staff_median) if staff_median is not None else None,
            "conversations": staff_n,
        },
    }


def busiest_hours(*, restaurant: Restaurant, period: AnalyticsRange) -> list[dict[str, int]]:
    rows = dict(
        _placed_orders(restaurant, period)
        .annotate(hour=ExtractHour("created_at", tzinfo=restaurant_zone(restaurant)))
        .values("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    return [{"hour": hour, "orders": rows.get(hour, 0)} for hour in range(24)]


def top_dishes(*, restaurant: Restaurant, period: AnalyticsRange, limit: int = TOP_DISHES) -> list[dict[str, Any]]:
    orders = _placed_orders(restaurant, period).exclude(status=OrderStatus.CANCELLED)
    rows = (
        OrderItem.objects.filter(order__in=orders)
        .values("name_en", "name_ar")
        .annotate(quantity=Sum("quantity"), revenue=Sum("line_total"), orders=Count("order_id", distinct=True))
        .order_by("-quantity", "name_en")[:limit]
    )
    return [{**row, "revenue": str(row["revenue"])} for row in rows]


def conversion(*, restaurant: Restaurant, period: AnalyticsRange) -> dict[str, Any]:
    """Conversations started in the range, and how many of them led to a placed (not cancelled) order."""
    start, end = _bounds(restaurant, period)
    ordered = Order.objects.filter(conversation=OuterRef("pk")).exclude(
        status__in=(OrderStatus.DRAFT, OrderStatus.CANCELLED)
    )
    totals = Conversation.objects.filter(restaurant=restaurant, created_at__gte=start, created_at__lt=end).aggregate(
        conversations=Count("id"), with_order=Count("id", filter=Exists(ordered))
    )
    rate = totals["with_order"] / totals["conversations"] if totals["conversations"] else None
    return {**totals, "rate": round(rate, 4) if rate is not None else None}


def analytics_summary(*, restaurant: Restaurant, period: AnalyticsRange) -> dict[str, Any]:
    days = orders_per_day(restaurant=restaurant, period=period)
    return {
        "restaurant_id": restaurant.pk,
        "currency": restaurant.currency,
        "timezone": restaurant.timezone,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "totals": {
            "orders": sum(d["orders"] for d in days),
            "cancelled": sum(d["cancelled"] for d in days),
            "revenue": str(sum((Decimal(d["revenue"]) for d in days), Decimal("0.00"))),
        },
        "orders_per_day": days,
        "ratings": rating_summary(restaurant=restaurant, period=period),
        "first_response": first_response_times(restaurant=restaurant, period=period),
        "busiest_hours": busiest_hours(restaurant=restaurant, period=period),
        "top_dishes": top_dishes(restaurant=restaurant, period=period),
        "conversion": conversion(restaurant=restaurant, period=period),
    }
