"""Which restaurant's look a staff member sees: their (first) restaurant's name, logo and colours."""

from __future__ import annotations

from dataclasses import dataclass

from restaurants.models import Restaurant, StaffMembership


@dataclass(frozen=True)
class Brand:
    restaurant: Restaurant | None
    header: str
    title: str
    logo_url: str
    brand_color: str
    accent_color: str


DEFAULT_BRAND_COLOR = "#0f766e"
DEFAULT_ACCENT_COLOR = "#f59e0b"


def staff_restaurants(user) -> list[Restaurant]:
    """The restaurants `user` works for, oldest membership first; every restaurant for platform admins."""
    if user.is_superuser:
        return list(Restaurant.objects.order_by("pk"))
    return [
        membership.restaurant
        for membership in StaffMembership.objects.filter(user=user).select_related("restaurant").order_by("pk")
    ]


def branding_for(user) -> Brand:
    restaurant = None
    if not user.is_superuser:
        membership = StaffMembership.objects.filter(user=user).select_related("restaurant").order_by("pk").first()
        restaurant = membership.restaurant if membership else None
    if restaurant is None:
        return Brand(None, "Sufrah back office", "Sufrah", "", DEFAULT_BRAND_COLOR, DEFAULT_ACCENT_COLOR)
    return Brand(
        restaurant=restaurant,
        header=f"{restaurant.name_en} · {restaurant.name_ar}",
        title=restaurant.name_en,
        logo_url=restaurant.logo_url,
        brand_color=restaurant.brand_color or DEFAULT_BRAND_COLOR,
        accent_color=restaurant.accent_color or DEFAULT_ACCENT_COLOR,
    )
