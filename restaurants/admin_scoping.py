"""Tenant scope for Django admin: restaurant staff see and change only their own restaurants' rows.

Superusers (the platform's operators) see everything. Every ModelAdmin over tenant data uses
`TenantScopedAdmin`, naming the lookup from its model to the restaurant; platform-only models (senders with
their secrets, raw webhook events, memberships) are hidden from everyone else.
"""

from __future__ import annotations

from django.contrib import admin

from .audit import audit_changes, audit_record
from .models import Restaurant, StaffMembership


def restaurant_ids_of(user, *, role: str | None = None) -> list[int]:
    memberships = StaffMembership.objects.filter(user=user)
    if role is not None:
        memberships = memberships.filter(role=role)
    return list(memberships.values_list("restaurant_id", flat=True))


class TenantScopedAdmin(admin.ModelAdmin):
    restaurant_lookup = "restaurant"  # from this model to its Restaurant ("pk" on Restaurant itself)
    platform_only = False
    # A role needed in the row's restaurant (ADMIN for the menu, staff, the restaurant's settings): an AGENT
    # of one restaurant who is ADMIN of another sees only the other's menu.
    manage_role: str | None = None

    def scoped_restaurant_ids(self, request) -> list[int]:
        return restaurant_ids_of(request.user, role=self.manage_role)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        if self.platform_only:
            return queryset.none()
        return queryset.filter(**{f"{self.restaurant_lookup}__in": self.scoped_restaurant_ids(request)})

    def _platform_gate(self, request) -> bool:
        return request.user.is_superuser or not self.platform_only

    def has_module_permission(self, request):
        return self._platform_gate(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._platform_gate(request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._platform_gate(request) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._platform_gate(request) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return self._platform_gate(request) and super().has_delete_permission(request, obj)

    # --- the audit trail of admin edits (services called from admin actions record their own) --------------
    def _restaurant_id_of(self, obj) -> int | None:
        if isinstance(obj, Restaurant):
            return obj.pk
        value = obj
        for part in self.restaurant_lookup.split("__"):
            value = getattr(value, part, None)
        return getattr(value, "pk", value) if value is not None else None

    def save_model(self, request, obj, form, change):
        model_fields = {f.name for f in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in model_fields]
        before = {name: form.initial.get(name) for name in changed} if change else {}
        super().save_model(request, obj, form, change)
        restaurant_id = self._restaurant_id_of(obj)
        if restaurant_id and changed:
            audit_record(
                restaurant_id=restaurant_id,
                actor=request.user,
                action=f"{obj._meta.model_name}.{'changed' if change else 'created'}",
                target=obj,
                changes=audit_changes(before, {name: getattr(obj, name) for name in changed}),
                source="admin",
            )

    def delete_model(self, request, obj):
        restaurant_id = self._restaurant_id_of(obj)
        if restaurant_id and not isinstance(obj, Restaurant):
            audit_record(
                restaurant_id=restaurant_id,
                actor=request.user,
                action=f"{obj._meta.model_name}.deleted",
                target=obj,
                source="admin",
            )
        super().delete_model(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices of a restaurant, or of anything that belongs to one, stop at the user's restaurants.
        if not request.user.is_superuser:
            ids = self.scoped_restaurant_ids(request)
            related = db_field.related_model
            if related is Restaurant:
                kwargs["queryset"] = Restaurant.objects.filter(pk__in=ids)
            elif any(f.name == "restaurant" for f in related._meta.get_fields()):
                kwargs["queryset"] = related._default_manager.filter(restaurant_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# A restaurant filter in the sidebar that lists only restaurants present in the (scoped) rows.
RESTAURANT_FILTER = ("restaurant", admin.RelatedOnlyFieldListFilter)
