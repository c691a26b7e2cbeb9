"""Tenant access for the API: every restaurant-scoped view resolves its restaurant through `restaurant_access`.

Authorisation always reads the database: the JWT's restaurant/role claims are informative for the dashboard,
never trusted here, so removing a membership or deactivating a user takes effect on the next request.
Another tenant's restaurant answers 404 (its existence is not revealed); a member without the needed role
gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import Restaurant, StaffMembership, StaffRole

ROLE_RANK = {StaffRole.AGENT: 1, StaffRole.ADMIN: 2}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RestaurantAccess:
    restaurant: Restaurant
    role: str  # the caller's role there; platform admins act as ADMIN
    is_platform_admin: bool


def user_is_platform_admin(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def restaurant_access(*, user, restaurant_id: int, role: str | None = None) -> RestaurantAccess:
    """The restaurant `user` may act on, or NotFound / PermissionDenied. `role` is the minimum role needed."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise exceptions.NotAuthenticated()
    if user_is_platform_admin(user):
        restaurant = Restaurant.objects.filter(pk=restaurant_id).first()
        if restaurant is None:
            raise exceptions.NotFound("No such restaurant.")
        return RestaurantAccess(restaurant=restaurant, role=StaffRole.ADMIN, is_platform_admin=True)
    membership = (
        StaffMembership.objects.select_related("restaurant").filter(user=user, restaurant_id=restaurant_id).first()
    )
    if membership is None:
        raise exceptions.NotFound("No such restaurant.")
    if role is not None and ROLE_RANK.get(membership.role, 0) < ROLE_RANK[role]:
        raise exceptions.PermissionDenied(f"This needs the {role} role in this restaurant.")
    return RestaurantAccess(restaurant=membership.restaurant, role=membership.role, is_platform_admin=False)


class IsPlatformAdmin(BasePermission):
    """Django superusers: the platform's operators (sender administration across restaurants)."""

    message = "Only platform admins may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_is_platform_admin(request.user)


class RestaurantScopedView(APIView):
    """Base of every view under restaurants/{rid}/: resolves `self.access` before the handler runs.

    `write_role` is the minimum role for unsafe methods (None: any member may write); reads need
    membership only.
    """

    write_role: str | None = None
    access: RestaurantAccess

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication and IsAuthenticated first: 401 before 404
        role = self.write_role if request.method in WRITE_METHODS else None
        self.access = restaurant_access(user=request.user, restaurant_id=kwargs["rid"], role=role)

    @property
    def restaurant(self) -> Restaurant:
        return self.access.restaurant
