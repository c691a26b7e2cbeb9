from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin

from .models import STAFF_TARGET_STATUSES, Order, OrderEvent, OrderItem, OrderStatus, Rating, RatingPrompt
from .selectors import order_next_statuses
from .services import Driver, IllegalTransition, order_transition


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderItemInline(_ReadOnlyInline):
    model = OrderItem
    fields = ("name_en", "name_ar", "unit_price", "quantity", "line_total", "menu_item")
    readonly_fields = fields


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


# What a button or an action says, in words (pickup orders are collected, not delivered).
MOVE_LABELS = {
    OrderStatus.CONFIRMED: "Confirm",
    OrderStatus.PREPARING: "Start preparing",
    OrderStatus.OUT_FOR_DELIVERY: "Mark out for delivery",
    OrderStatus.DELIVERED: "Mark delivered",
    OrderStatus.CANCELLED: "Cancel order",
}
PICKUP_LABELS = {OrderStatus.DELIVERED: "Mark collected"}


def move_label(order: Order, to_status: str) -> str:
    if order.fulfilment == "pickup" and to_status in PICKUP_LABELS:
        return PICKUP_LABELS[to_status]
    return MOVE_LABELS.get(to_status, to_status.replace("_", " ").capitalize())


ACTION_LABELS = {**MOVE_LABELS, OrderStatus.DELIVERED: "Mark delivered / collected"}


def _mark_action(to_status: str):
    def action(modeladmin: OrderAdmin, request, queryset):
        modeladmin.orders_move(request, queryset, to_status)

    action.__name__ = f"mark_{to_status.lower()}"
    return admin.action(description=ACTION_LABELS[to_status])(action)


@admin.register(Order)
class OrderAdmin(TenantScopedAdmin):
    list_display = ("number", "status", "fulfilment", "customer", "total", "created_at", "restaurant")
    list_filter = ("status", "fulfilment", RESTAURANT_FILTER)
    search_fields = ("=number", "conversation__customer_phone", "conversation__customer_name")
    list_select_related = ("restaurant", "conversation")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderItemInline, OrderEventInline]
    actions = [_mark_action(status) for status in STAFF_TARGET_STATUSES]
    change_form_template = "backoffice/order_change_form.html"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # orders are cancelled, never deleted
        return actions

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        move = self.admin_site.admin_view(self.move_view)
        return [path("<int:object_id>/move/", move, name="orders_order_move"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        moves = []
        if order is not None and self.has_change_permission(request, order):
            moves = [
                {"status": status, "label": move_label(order, status), "danger": status == OrderStatus.CANCELLED}
                for status in order_next_statuses(order=order)
                if status in STAFF_TARGET_STATUSES
            ]
        goes_out = any(m["status"] == OrderStatus.OUT_FOR_DELIVERY for m in moves)
        extra_context = {**(extra_context or {}), "order_moves": moves, "asks_driver": goes_out}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def move_view(self, request, object_id: int):
        """One button on the order page: move this order to the status the button names."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, order):
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        to_status = request.POST.get("to_status", "")
        name = request.POST.get("driver_name", "").strip()
        driver = Driver(name=name, phone=request.POST.get("driver_phone", "").strip()) if name else None
        if to_status not in STAFF_TARGET_STATUSES:
            self.message_user(request, "Pick one of the buttons.", messages.ERROR)
        else:
            self.orders_move(request, self.get_queryset(request).filter(pk=order.pk), to_status, driver=driver)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def has_add_permission(self, request):
        return False  # orders are placed by customers through the bot

    @admin.display(description="customer")
    def customer(self, obj: Order) -> str:
        return obj.conversation.customer_name or obj.conversation.customer_phone

    def orders_move(self, request, queryset, to_status: str, driver: Driver | None = None) -> None:
        moved = 0
        for order in queryset.order_by("pk"):
            try:
                order_transition(order=order, to_status=to_status, actor=request.user, note="admin", driver=driver)
            except IllegalTransition as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                moved += 1
        if moved:
            label = OrderStatus(to_status).label.lower()
            self.message_user(request, f"{moved} order(s) now {label}.", messages.SUCCESS)


@admin.register(Rating)
class RatingAdmin(TenantScopedAdmin):
    restaurant_lookup = "order__restaurant"
    list_display = ("order", "stars", "comment", "created_at")
    list_filter = ("stars", ("order__restaurant", admin.RelatedOnlyFieldListFilter))
    readonly_fields = ("order", "stars", "comment", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(RatingPrompt)
class RatingPromptAdmin(TenantScopedAdmin):
    restaurant_lookup = "order__restaurant"
    list_display = ("order", "kind", "status", "due_at", "sent_at")
    list_filter = ("status", "kind", ("order__restaurant", admin.RelatedOnlyFieldListFilter))
    readonly_fields = [f.name for f in RatingPrompt._meta.fields]

    def has_add_permission(self, request):
        return False
