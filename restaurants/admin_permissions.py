"""Django admin permissions derived from staff memberships: the membership is enough, no hand-granted perms.

An authentication backend (settings.AUTHENTICATION_BACKENDS) answers `user.has_perm("orders.change_order")`
from the user's roles: ADMIN manages the menu, orders, conversations, templates and staff of their
restaurant and steers its campaigns; AGENT works conversations and orders. Which rows a permission reaches is
the admin's tenant scope (admin_scoping.TenantScopedAdmin); platform models (senders, plans, webhook events,
periodic tasks, token blacklist, users and groups) appear in no role, so restaurant staff never see them.

Roles are read from the database once per request (cached on the user object Django builds per request),
so removing a membership takes effect on the next page.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from .models import StaffMembership, StaffRole

VIEW = ("view",)
WORK = ("view", "change")
ALL = ("view", "add", "change", "delete")
ANY_MODEL = "*"

# app label -> model name -> actions. "*" stands for every model of the app (templates grow models later).
_AGENT: dict[str, dict[str, tuple[str, ...]]] = {
    "conversations": {"conversation": WORK, "message": WORK},
    "orders": {"order": WORK, "orderitem": VIEW, "orderevent": VIEW, "rating": VIEW, "ratingprompt": VIEW},
}
_ADMIN: dict[str, dict[str, tuple[str, ...]]] = {
    "conversations": {"conversation": WORK, "message": WORK},
    "orders": {"order": WORK, "orderitem": VIEW, "orderevent": VIEW, "rating": VIEW, "ratingprompt": VIEW},
    "restaurants": {
        "restaurant": WORK,
        "menucategory": ALL,
        "menuitem": ALL,
        "staffmembership": ("view", "change", "delete"),  # new staff come through the invite form
        "auditentry": VIEW,
        "usagecounter": VIEW,
    },
    "message_templates": {ANY_MODEL: ALL},
    # Outgoing webhooks and API keys (the integrations app): secrets are shown once, by the services' pages.
    "integrations": {
        "webhooksubscription": ALL,
        "webhookdelivery": VIEW,
        "webhookattempt": VIEW,
        "apikey": ("view", "add", "change"),
    },
    "campaigns": {"campaign": WORK},  # followed and steered (schedule, pause, resume, cancel); written via the API
}
ROLE_GRANTS = {StaffRole.AGENT: _AGENT, StaffRole.ADMIN: _ADMIN}


def role_grants(role: str) -> dict[str, dict[str, tuple[str, ...]]]:
    return ROLE_GRANTS.get(role, {})


def _granted(grants: dict[str, dict[str, tuple[str, ...]]], perm: str) -> bool:
    app_label, _, codename = perm.partition(".")
    action, _, model = codename.partition("_")
    models = grants.get(app_label) or {}
    return action in models.get(model, ()) or action in models.get(ANY_MODEL, ())


class MembershipPermissionBackend(BaseBackend):
    """Grants model permissions from StaffMembership roles. Authenticates nobody (ModelBackend does that)."""

    def _roles(self, user_obj) -> frozenset[str]:
        if not user_obj.is_active or user_obj.is_anonymous:
            return frozenset()
        if not hasattr(user_obj, "_sufrah_roles"):
            user_obj._sufrah_roles = frozenset(
                StaffMembership.objects.filter(user=user_obj).values_list("role", flat=True)
            )
        return user_obj._sufrah_roles

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return any(_granted(role_grants(role), perm) for role in self._roles(user_obj))

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(role_grants(role).get(app_label) for role in self._roles(user_obj))

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        perms: set[str] = set()
        for role in self._roles(user_obj):
            for app_label, models in role_grants(role).items():
                for model, actions in models.items():
                    if model != ANY_MODEL:
                        perms.update(f"{app_label}.{action}_{model}" for action in actions)
        return perms


def user_is_restaurant_staff(user) -> bool:
    """May enter the admin site: platform staff, or anyone with a membership."""
    if not (user.is_active and user.is_authenticated):
        return False
    return user.is_staff or StaffMembership.objects.filter(user=user).exists()
