from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import MenuCategory, MenuItem, Restaurant, Sender


def sender_for_number(*, phone_number: str) -> Sender | None:
    """The active sender that owns this WhatsApp number (E.164), with its restaurant."""
    return (
        Sender.objects.select_related("restaurant")
        .filter(phone_number=phone_number, active=True, restaurant__active=True)
        .first()
    )


def sender_for_phone_number_id(*, phone_number_id: str) -> Sender | None:
    return (
        Sender.objects.select_related("restaurant")
        .filter(meta_phone_number_id=phone_number_id, provider="meta", active=True, restaurant__active=True)
        .first()
    )


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


def menu_item_get(*, restaurant: Restaurant, item_id: int) -> MenuItem | None:
    return MenuItem.objects.filter(restaurant=restaurant, pk=item_id).first()


def restaurants_for_user(*, user) -> QuerySet[Restaurant]:
    if user.is_superuser:
        return Restaurant.objects.all()
    return Restaurant.objects.filter(memberships__user=user)
