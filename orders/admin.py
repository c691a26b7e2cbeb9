from __future__ import annotations

from django.contrib import admin, messages

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin

from .models import Order, OrderEvent, OrderItem, OrderStatus, Rating, RatingPrompt
from .selectors import order_next_statuses
from .services import IllegalTransition, order_transition

# Statuses staff can move an order to from the admin. RATED is left out: only a customer's rating gets there.
STAFF_TARGET_STATUSES = (
    OrderStatus.CONFIRMED,
    OrderStatus.PREPARING,
    OrderStatus.OUT_FOR_DELIVERY,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # noqa: ARG002
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ARG002
        return False


class OrderItemInline(_ReadOnlyInline):
    model = OrderItem
    fields = ("name_en", "name_ar", "unit_price", "quantity", "line_total", "menu_item")
    readonly_fields = fields


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


def _mark_action(to_status: str):
    def action(modeladmin: OrderAdmin, request, queryset):
        modeladmin.orders_move(request, queryset, to_status)

    action.__name__ = f"mark_{to_status.lower()}"
    return admin.action(description=f"Mark {to_status}")(action)


@admin.register(Order)
class OrderAdmin(TenantScopedAdmin):
    list_display = ("number", "restaurant", "status", "fulfilment", "customer", "total", "currency", "created_at")
    list_filter = ("status", "fulfilment", RESTAURANT_FILTER)
    search_fields = ("=number", "conversation__customer_phone", "conversation__customer_name")
    list_select_related = ("restaurant", "conversation")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Order._meta.fields] + ["can_move_to"]
    inlines = [OrderItemInline, OrderEventInline]
    actions = [_mark_action(status) for status in STAFF_TARGET_STATUSES]

    def has_add_permission(self, request):  # noqa: ARG002
        return False  # orders are placed by customers through the bot

    @admin.display(description="customer")
    def customer(self, obj: Order) -> str:
        return obj.conversation.customer_name or obj.conversation.customer_phone

    @admin.display(description="can move to")
    def can_move_to(self, obj: Order) -> str:
        return ", ".join(order_next_statuses(order=obj)) or "—"

    def orders_move(self, request, queryset, to_status: str) -> None:
        moved = 0
        for order in queryset.order_by("pk"):
            try:
                order_transition(order=order, to_status=to_status, actor=request.user, note="admin")
            except IllegalTransition as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                moved += 1
        if moved:
            self.message_user(request, f"{moved} order(s) marked {to_status}.", messages.SUCCESS)


@admin.register(Rating)
class RatingAdmin(TenantScopedAdmin):
    restaurant_lookup = "order__restaurant"
    list_display = ("order", "stars", "comment", "created_at")
    list_filter = ("stars", ("order__restaurant", admin.RelatedOnlyFieldListFilter))
    readonly_fields = ("order", "stars", "comment", "created_at")

    def has_add_permission(self, request):  # noqa: ARG002
        return False


@admin.register(RatingPrompt)
class RatingPromptAdmin(TenantScopedAdmin):
    restaurant_lookup = "order__restaurant"
    list_display = ("order", "kind", "status", "due_at", "sent_at")
    list_filter = ("status", "kind", ("order__restaurant", admin.RelatedOnlyFieldListFilter))
    readonly_fields = [f.name for f in RatingPrompt._meta.fields]

    def has_add_permission(self, request):  # noqa: ARG002
        return False
