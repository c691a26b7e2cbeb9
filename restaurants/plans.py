"""Plan limits and usage: what a restaurant may use, what it used this month, and the checks where it is spent.

Monthly usage lives in one UsageCounter row per restaurant and month (the restaurant's own calendar month),
changed by one atomic upsert per event (INSERT … ON CONFLICT DO UPDATE SET n = n + delta), so nothing is
recomputed from history. Senders and staff seats are what the restaurant has now (small counts, checked
under a lock on the restaurant row so two additions at once cannot both take the last one).

Where each limit is spent: inbound customer messages and conversations (conversations.services.inbound:
stored and answered even over the plan, only flagged), campaigns and their recipients (campaigns, when one
is scheduled), senders (restaurants.services), staff seats (restaurants.staff and the membership admin).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from sufrahbot.errors import PlanLimitReached

from .models import PLAN_LIMITS, Restaurant, Sender, StaffMembership, UsageCounter

# A monthly limit and the counter that spends it.
MONTHLY_COUNTERS = {
    "conversations_per_month": "conversations",
    "messages_per_month": "messages",
    "campaigns_per_month": "campaigns",
    "campaign_recipients_per_month": "campaign_recipients",
}
COUNTERS = ("conversations", "messages", "over_plan_messages", "campaigns", "campaign_recipients")


def plan_limits(*, restaurant: Restaurant) -> dict[str, int | None]:
    """Each limit (None: none): the override's value if it names the limit, else the plan's."""
    plan = restaurant.plan if restaurant.plan_id else None
    limits = {name: (getattr(plan, name) if plan is not None else None) for name in PLAN_LIMITS}
    for name, value in (restaurant.plan_override or {}).items():
        if name in limits:
            limits[name] = value
    return limits


def plan_override_clean(value) -> dict[str, int | None]:
    """The override as stored: known limit names only, each a whole number ≥ 0 or null (no limit)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"plan_override": ['An object like {"staff_seats": 10}.']})
    errors = []
    for name, limit in value.items():
        if name not in PLAN_LIMITS:
            errors.append(f"'{name}' is not a limit (known: {', '.join(PLAN_LIMITS)}).")
        elif limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            errors.append(f"'{name}': a whole number from 0, or null for no limit.")
    if errors:
        raise ValidationError({"plan_override": errors})
    return dict(value)


def usage_month(*, restaurant: Restaurant, at: dt.datetime | None = None) -> dt.date:
    """The first day of the restaurant's calendar month (its timezone) at `at` (now)."""
    local = timezone.localtime(at or timezone.now(), ZoneInfo(restaurant.timezone))
    return local.date().replace(day=1)


def _counter_add(*, restaurant_id: int, month: dt.date, **deltas: int) -> dict[str, int]:
    """Add to the month's counters in one statement (the row is made on first use); returns the new counts.

    Raw SQL because the ORM has no upsert with increments; the statement is the same on PostgreSQL and
    SQLite (3.35+, the embedded default)."""
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    table = connection.ops.quote_name(UsageCounter._meta.db_table)
    values = [deltas.get(name, 0) for name in COUNTERS]
    columns = ", ".join(COUNTERS)
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in COUNTERS)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"INSERT INTO {table} (restaurant_id, month, {columns}, updated_at) "
        f"VALUES (%s, %s, {', '.join(['%s'] * len(COUNTERS))}, %s) "
        f"ON CONFLICT (restaurant_id, month) DO UPDATE SET {updates}, updated_at = EXCLUDED.updated_at "
        f"RETURNING {columns}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [restaurant_id, connection.ops.adapt_datefield_value(month), *values, now])
        row = cursor.fetchone()
    return dict(zip(COUNTERS, row, strict=True))


def usage_inbound_record(*, restaurant: Restaurant, opens_conversation: bool) -> bool:
    """Count one stored customer message (and the conversation it opens, if it opens one). Returns whether
    the restaurant is now over its monthly message or conversation limit; such a message is still stored
    and answered, and is counted as over plan too."""
    month = usage_month(restaurant=restaurant)
    counts = _counter_add(
        restaurant_id=restaurant.pk, month=month, messages=1, conversations=1 if opens_conversation else 0
    )
    limits = plan_limits(restaurant=restaurant)
    over = any(
        limits[name] is not None and counts[MONTHLY_COUNTERS[name]] > limits[name]
        for name in ("messages_per_month", "conversations_per_month")
    )
    if over:
        _counter_add(restaurant_id=restaurant.pk, month=month, over_plan_messages=1)
    return over


def _refuse_over(*, limits: dict[str, int | None], limit: str, used: int, requested: int) -> None:
    allowed = limits[limit]
    if allowed is not None and used + requested > allowed:
        raise PlanLimitReached(limit=limit, label=PLAN_LIMITS[limit], allowed=allowed, used=used, requested=requested)


@transaction.atomic
def usage_campaign_reserve(*, restaurant: Restaurant, recipients: int) -> dt.date:
    """Charge one campaign and its `recipients` to this month, or refuse (PlanLimitReached) if either
    monthly limit would be passed. The month's row is locked while checking: two campaigns scheduled at
    once cannot both take the last of the allowance. Returns the month charged."""
    month = usage_month(restaurant=restaurant)
    _counter_add(restaurant_id=restaurant.pk, month=month)  # the row exists, so it can be locked
    counter = UsageCounter.objects.select_for_update().get(restaurant_id=restaurant.pk, month=month)
    limits = plan_limits(restaurant=restaurant)
    _refuse_over(limits=limits, limit="campaigns_per_month", used=counter.campaigns, requested=1)
    _refuse_over(
        limits=limits,
        limit="campaign_recipients_per_month",
        used=counter.campaign_recipients,
        requested=recipients,
    )
    UsageCounter.objects.filter(pk=counter.pk).update(
        campaigns=F("campaigns") + 1, campaign_recipients=F("campaign_recipients") + recipients
    )
    return month


def usage_campaign_recipients_settle(*, restaurant_id: int, month: dt.date, reserved: int, created: int) -> None:
    """Correct a campaign's charge from the audience counted at scheduling to the recipients created."""
    if created != reserved:
        UsageCounter.objects.filter(restaurant_id=restaurant_id, month=month).update(
            campaign_recipients=F("campaign_recipients") + (created - reserved)
        )


def _locked(restaurant: Restaurant) -> Restaurant:
    return Restaurant.objects.select_for_update(of=("self",)).select_related("plan").get(pk=restaurant.pk)


def plan_seat_check(*, restaurant: Restaurant, adding: int = 1) -> None:
    """Refuse a new staff membership over the plan's seats. Call inside the transaction that adds it."""
    locked = _locked(restaurant)
    used = StaffMembership.objects.filter(restaurant_id=restaurant.pk).count()
    _refuse_over(limits=plan_limits(restaurant=locked), limit="staff_seats", used=used, requested=adding)


def plan_sender_check(*, restaurant: Restaurant, exclude_pk: int | None = None) -> None:
    """Refuse another active sender over the plan. Call inside the transaction that adds (or activates) it."""
    locked = _locked(restaurant)
    used = Sender.objects.filter(restaurant_id=restaurant.pk, active=True).exclude(pk=exclude_pk).count()
    _refuse_over(limits=plan_limits(restaurant=locked), limit="senders", used=used, requested=1)
