from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import CharField, OuterRef, Prefetch
from django.db.models.functions import Cast, JSONObject

from .models import PLAN_LIMITS, MenuCategory, MenuItem, Restaurant, Sender, StaffMembership, UsageCounter
from .plans import MONTHLY_COUNTERS, plan_limits, usage_month


def sender_for_route(*, providers: list[str], by: str, key: str, account_credential: str = "") -> Sender | None:
    """The active sender of one of these providers that a webhook route points at: our own number, the
    provider's routing id (Meta's phone number id), or (by "account") the first sender on the business account
    its credentials name in `account_credential` (senders_for_route gives them all)."""
    found = senders_for_route(providers=providers, by=by, key=key, account_credential=account_credential)
    return found[0] if found else None


def senders_for_route(*, providers: list[str], by: str, key: str, account_credential: str = "") -> list[Sender]:
    """Every active sender a webhook route points at: at most one for a number or a routing id; for a business
    account (Meta's WABA id, for template news) each sender on it, since several restaurants may share one
    WhatsApp Business Account. In id order."""
    if by == "account":
        return senders_for_account(providers=providers, account_id=key, account_credential=account_credential)
    lookup = {"phone_number": key} if by == "number" else {"routing_id": key}
    # The plan too: counting the inbound message against it needs no query of its own.
    sender = (
        Sender.objects.select_related("restaurant__plan")
        .filter(provider__in=providers, active=True, restaurant__active=True, **lookup)
        .first()
    )
    return [sender] if sender is not None else []


def senders_for_account(*, providers: list[str], account_id: str, account_credential: str) -> list[Sender]:
    """Every active sender whose credentials name this business account, in id order. Credentials are
    encrypted, so the provider's active senders are read and compared (template news is rare, and senders
    are few)."""
    if not account_credential or not account_id:
        return []
    senders = Sender.objects.select_related("restaurant__plan").filter(
        provider__in=providers, active=True, restaurant__active=True
    )
    return [
        sender
        for sender in senders.order_by("id").iterator(chunk_size=200)
        if str((sender.credentials or {}).get(account_credential, "")) == account_id
    ]


def restaurant_get(*, slug: str) -> Restaurant | None:
    return Restaurant.objects.filter(slug=slug).first()


def menu_for(*, restaurant: Restaurant) -> list[MenuCategory]:
    """Active categories with their available items, in menu order."""
    items = MenuItem.objects.filter(restaurant=restaurant, available=True).order_by("sort_order", "id")
    return list(
        MenuCategory.objects.filter(restaurant=restaurant, active=True)
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("sort_order", "id")
    )


def menu_of_restaurant(*, restaurant_ref: str = "restaurant_id") -> ArraySubquery:
    """menu_for as an annotation (OuterRef(restaurant_ref) is the restaurant), read in the same round trip:
    one JSON object per active category, in menu order, with its available items; prices as text (exact)."""
    items = ArraySubquery(
        MenuItem.objects.filter(restaurant_id=OuterRef("restaurant_id"), category_id=OuterRef("pk"), available=True)
        .order_by("sort_order", "id")
        .values(
            row=JSONObject(
                id="id",
                name_ar="name_ar",
                name_en="name_en",
                price=Cast("price", CharField()),
                description_ar="description_ar",
                description_en="description_en",
                image="image",  # the photo's storage name, "" without one
            )
        )
    )
    return ArraySubquery(
        MenuCategory.objects.filter(restaurant_id=OuterRef(restaurant_ref), active=True)
        .order_by("sort_order", "id")
        .values(row=JSONObject(id="id", name_ar="name_ar", name_en="name_en", items=items))
    )


def menu_item_get(*, restaurant: Restaurant, item_id: int) -> MenuItem | None:
    return MenuItem.objects.filter(restaurant=restaurant, pk=item_id).first()


# Twilio retries a webhook only as told by the URL's connection overrides: connect / read timeouts (ms), the
# total budget (Twilio's maximum, 15 s), up to 5 retries on connect failures, read timeouts and 5xx (our 503
# while PostgreSQL is down).
TWILIO_CONNECTION_OVERRIDES = "#ct=3000&rt=12000&tt=15000&rc=5&rp=ct,rt,5xx"


def sender_webhook_url(*, sender: Sender) -> str:
    """The URL to set as the sender's inbound webhook at its provider (Twilio's with retry overrides)."""
    base = settings.PUBLIC_BASE_URL or "https://<PUBLIC_BASE_URL>"
    if sender.provider in ("twilio", "console"):  # console senders post Twilio-format webhooks
        return f"{base}/webhooks/twilio/{TWILIO_CONNECTION_OVERRIDES}"
    return f"{base}/webhooks/{sender.provider}/"


@dataclass(frozen=True)
class Usage:
    month: dt.date
    limits: dict[str, int | None]
    used: dict[str, int]
    over_plan_messages: int


def usage_of(*, restaurant: Restaurant, at: dt.datetime | None = None) -> Usage:
    """This month's usage next to each limit (a read: the counter row, and two small counts)."""
    month = usage_month(restaurant=restaurant, at=at)
    counter = UsageCounter.objects.filter(restaurant_id=restaurant.pk, month=month).first()
    used = {name: getattr(counter, field, 0) if counter else 0 for name, field in MONTHLY_COUNTERS.items()}
    used["senders"] = Sender.objects.filter(restaurant_id=restaurant.pk, active=True).count()
    used["staff_seats"] = StaffMembership.objects.filter(restaurant_id=restaurant.pk).count()
    return Usage(
        month=month,
        limits=plan_limits(restaurant=restaurant),
        used={name: used[name] for name in PLAN_LIMITS},
        over_plan_messages=counter.over_plan_messages if counter else 0,
    )
