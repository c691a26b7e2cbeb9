"""Admin pages show times in the restaurant's own timezone (Restaurant.timezone), not the server's UTC."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from restaurants.models import StaffMembership


def restaurant_timezone_of(user) -> str | None:
    if not user.is_authenticated or user.is_superuser:
        return None
    return (
        StaffMembership.objects.filter(user=user).order_by("pk").values_list("restaurant__timezone", flat=True).first()
    )


class RestaurantTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = restaurant_timezone_of(request.user) if request.path.startswith("/admin/") else None
        try:
            zone = zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
