"""Tenant access for the API: every restaurant-scoped view resolves its restaurant through `restaurant_access`.

Authorisation always reads the database: the JWT's restaurant/role claims are informative for the dashboard,
never trusted here, so removing a membership or deactivating a user takes effect on the next request.
Another tenant's restaurant answers 404 (its existence is not revealed); a member without the needed role
gets 403.

A request signed with an integration's API key (integrations.authentication) carries an `ApiKeyCredential`
as `request.auth`: it reaches only its own restaurant (404 elsewhere, as for staff) and, in place of a role,
needs one of the scopes the view names for the method (403 otherwise; a view naming none is not for keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .api_keys import ORDER_READERS, ApiKeyCredential, ApiKeyScope  # noqa: F401  (re-exported for the views)
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


def api_key_access(*, credential: ApiKeyCredential, restaurant_id: int, scopes: frozenset[str]) -> RestaurantAccess:
    """The key's restaurant if it is `restaurant_id` (else NotFound) and the key holds one of `scopes` (else
    PermissionDenied)."""
    restaurant = None
    if credential.restaurant_id == restaurant_id:
        restaurant = Restaurant.objects.filter(pk=restaurant_id).first()
    if restaurant is None:
        raise exceptions.NotFound("No such restaurant.")
    if not scopes:
        raise exceptions.PermissionDenied("API keys cannot use this operation; sign in as staff.")
    if not credential.scopes & scopes:
        raise exceptions.PermissionDenied(f"This needs an API key with the scope {' or '.join(sorted(scopes))}.")
    return RestaurantAccess(restaurant=restaurant, role=StaffRole.AGENT, is_platform_admin=False)


class RestaurantScopedView(APIView):
    """Base of every view under restaurants/{rid}/: resolves `self.access` before the handler runs.

    `write_role` is the minimum role for unsafe methods (None: any member may write); `read_role` for the
    others (None: membership is enough). `key_read_scopes` / `key_write_scopes`: the API key scopes that
    may call it instead (empty: keys may not).
    """

    write_role: str | None = None
    read_role: str | None = None
    key_read_scopes: frozenset[str] = frozenset()
    key_write_scopes: frozenset[str] = frozenset()
    access: RestaurantAccess

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication and IsAuthenticated first: 401 before 404
        unsafe = request.method in WRITE_METHODS
        if isinstance(request.auth, ApiKeyCredential):
            scopes = self.key_write_scopes if unsafe else self.key_read_scopes
            self.access = api_key_access(credential=request.auth, restaurant_id=kwargs["rid"], scopes=scopes)
            return
        role = self.write_role if unsafe else self.read_role
        self.access = restaurant_access(user=request.user, restaurant_id=kwargs["rid"], role=role)

    @property
    def restaurant(self) -> Restaurant:
        return self.access.restaurant
