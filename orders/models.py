from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Human order numbers start here, per restaurant ("order #1001").
FIRST_ORDER_NUMBER = 1001


class OrderStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    CONFIRMED = "CONFIRMED", "Confirmed"
    PREPARING = "PREPARING", "Preparing"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY", "Out for delivery"
    DELIVERED = "DELIVERED", "Delivered"
    RATED = "RATED", "Rated"
    CANCELLED = "CANCELLED", "Cancelled"


class Fulfilment(models.TextChoices):
    DELIVERY = "delivery", "Delivery"
    PICKUP = "pickup", "Pickup"


_S = OrderStatus
# The one transition table: fulfilment -> status -> the statuses it may move to. Pickup orders go straight
# from PREPARING to DELIVERED (handed over at the counter); delivery orders must go OUT_FOR_DELIVERY first.
# Cancelling is possible from every state before DELIVERED; RATED and CANCELLED are final.
TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Fulfilment.DELIVERY: {
        _S.DRAFT: (_S.CONFIRMED, _S.CANCELLED),
        _S.CONFIRMED: (_S.PREPARING, _S.CANCELLED),
        _S.PREPARING: (_S.OUT_FOR_DELIVERY, _S.CANCELLED),
        _S.OUT_FOR_DELIVERY: (_S.DELIVERED, _S.CANCELLED),
        _S.DELIVERED: (_S.RATED,),
    },
    Fulfilment.PICKUP: {
        _S.DRAFT: (_S.CONFIRMED, _S.CANCELLED),
        _S.CONFIRMED: (_S.PREPARING, _S.CANCELLED),
        _S.PREPARING: (_S.DELIVERED, _S.CANCELLED),
        _S.DELIVERED: (_S.RATED,),
    },
}


# Where staff (admin and API) may move an order: RATED comes only from the customer's rating, DRAFT only
# exists inside order placement.
STAFF_TARGET_STATUSES: tuple[str, ...] = tuple(
    s for s in OrderStatus if s not in (OrderStatus.DRAFT, OrderStatus.RATED)
)


def next_statuses(*, status: str, fulfilment: str) -> tuple[str, ...]:
    return TRANSITIONS.get(fulfilment, {}).get(status, ())


class Order(models.Model):
    restaurant = models.ForeignKey("restaurants.Restaurant", on_delete=models.CASCADE, related_name="orders")
    # RESTRICT: a conversation with orders cannot be deleted on its own, only with its restaurant.
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.RESTRICT, related_name="orders")
    number = models.PositiveIntegerField(help_text="Per-restaurant number the customer sees (#1001, #1002, …).")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices)
    address = models.TextField(blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    notes = models.TextField(blank=True)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    delivery_fee = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=2, help_text="The customer's language when the order was placed.")
    # Delivery: who carries it (set when it goes out) and when it left and arrived.
    driver_name = models.CharField(max_length=100, blank=True)
    driver_phone = models.CharField(max_length=20, blank=True)
    left_at = models.DateTimeField(null=True, blank=True, help_text="When it went out for delivery.")
    arrived_at = models.DateTimeField(null=True, blank=True, help_text="When it was delivered (or collected).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "number"], name="uniq_order_number_per_restaurant"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_known"),
            models.CheckConstraint(condition=Q(fulfilment__in=Fulfilment.values), name="order_fulfilment_known"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, delivery_fee__gte=0, total=F("subtotal") + F("delivery_fee")),
                name="order_total_is_subtotal_plus_fee",
            ),
        ]
        indexes = [models.Index(fields=["restaurant", "status", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.number} ({self.status})"


class OrderNumberCounter(models.Model):
    """The last number handed out per restaurant; its row is locked while a number is allocated."""

    restaurant = models.OneToOneField(
        "restaurants.Restaurant", on_delete=models.CASCADE, primary_key=True, related_name="order_counter"
    )
    last_number = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"restaurant {self.restaurant_id}: #{self.last_number}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    # The names and price are snapshots: editing or deleting the menu item never changes a placed order.
    menu_item = models.ForeignKey(
        "restaurants.MenuItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items"
    )
    name_ar = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name_en}"


class OrderEvent(models.Model):
    """One status change of an order: the audit trail, written in the transaction that made the change."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True, help_text="Empty for the order's creation.")
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


class Rating(models.Model):
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="rating")
    stars = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.stars}★ for order {self.order_id}"


class RatingPrompt(models.Model):
    """A scheduled "how was your order?" message: the first prompt after delivery, or the one reminder."""

    class Kind(models.TextChoices):
        PROMPT = "PROMPT", "Prompt"
        REMINDER = "REMINDER", "Reminder"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SENT = "SENT", "Sent"
        EXPIRED = "EXPIRED", "Expired (outside the 24-hour window)"
        DONE = "DONE", "Done (no longer needed)"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="rating_prompts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # One prompt and at most one reminder per order.
            models.UniqueConstraint(fields=["order", "kind"], name="uniq_rating_prompt_kind_per_order"),
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for order {self.order_id} ({self.status})"
