"""Dashboard API of orders: list with filters, detail with items and events, status transitions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from restaurants.permissions import ORDER_READERS, ApiKeyScope, RestaurantScopedView
from sufrahbot.errors import error_responses
from sufrahbot.pagination import CursorPage, paginated_response

from .models import STAFF_TARGET_STATUSES, Fulfilment, Order, OrderStatus, Rating
from .selectors import order_get, order_list, order_next_statuses
from .services import Driver, order_transition

# --- output shapes -----------------------------------------------------------------------------------------


class OrderItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    menu_item_id = serializers.IntegerField(allow_null=True, help_text="Null once the menu item is deleted.")
    name_ar = serializers.CharField()
    name_en = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_status = serializers.CharField(help_text="Empty for the order's creation.")
    to_status = serializers.ChoiceField(choices=OrderStatus.choices)
    actor_id = serializers.IntegerField(allow_null=True, help_text="The staff user who moved it; null for the bot.")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class RatingSerializer(serializers.Serializer):
    stars = serializers.IntegerField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField(help_text="What the customer sees: #1001, #1002, …")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices)
    conversation_id = serializers.IntegerField()
    customer_phone = serializers.CharField(source="conversation.customer_phone")
    customer_name = serializers.CharField(source="conversation.customer_name")
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    delivery_fee = serializers.DecimalField(max_digits=10, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    items = OrderItemSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderDetailSerializer(OrderSerializer):
    address = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    notes = serializers.CharField()
    language = serializers.CharField()
    driver_name = serializers.CharField()
    driver_phone = serializers.CharField()
    left_at = serializers.DateTimeField(allow_null=True)
    arrived_at = serializers.DateTimeField(allow_null=True)
    events = OrderEventSerializer(many=True, source="events.all")
    next_statuses = serializers.SerializerMethodField(help_text="Where the order may be moved from here.")
    rating = serializers.SerializerMethodField()

    def get_next_statuses(self, order: Order) -> list[str]:
        return order_next_statuses(order=order)

    @extend_schema_field(RatingSerializer(allow_null=True))
    def get_rating(self, order: Order) -> dict | None:
        try:
            return RatingSerializer(order.rating).data
        except Rating.DoesNotExist:
            return None


# --- views -------------------------------------------------------------------------------------------------


class OrderPage(CursorPage):
    ordering = ("-created_at", "-id")


def _order_or_404(*, restaurant, order_id: int) -> Order:
    order = order_get(restaurant=restaurant, order_id=order_id)
    if order is None:
        raise exceptions.NotFound("No such order.")
    return order


class OrderListApi(RestaurantScopedView):
    key_read_scopes = ORDER_READERS
    pagination_class = OrderPage

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
        created_from = serializers.DateTimeField(
            required=False, help_text="ISO 8601; orders created at or after this instant."
        )
        created_to = serializers.DateTimeField(required=False, help_text="ISO 8601; orders created before this.")

        def validate(self, attrs):
            if attrs.get("created_from") and attrs.get("created_to") and attrs["created_from"] > attrs["created_to"]:
                raise serializers.ValidationError({"created_to": "Must not be before created_from."})
            return attrs

    @extend_schema(
        operation_id="orders_list",
        summary="Orders, newest first",
        parameters=[FilterSerializer],
        responses={200: OrderSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return paginated_response(
            queryset=order_list(restaurant=self.restaurant, **params.validated_data),
            serializer_class=OrderSerializer,
            request=request,
            view=self,
        )


class OrderDetailApi(RestaurantScopedView):
    key_read_scopes = ORDER_READERS
    @extend_schema(
        operation_id="orders_retrieve",
        summary="One order with its items, status history and rating",
        responses={200: OrderDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, oid: int) -> Response:
        return Response(OrderDetailSerializer(_order_or_404(restaurant=self.restaurant, order_id=oid)).data)


class OrderTransitionInputSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=STAFF_TARGET_STATUSES, help_text="The status to move the order to.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    driver_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="With OUT_FOR_DELIVERY: who carries it."
    )
    driver_phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)


class OrderTransitionApi(RestaurantScopedView):
    key_write_scopes = frozenset({ApiKeyScope.ORDERS_WRITE})
    @extend_schema(
        operation_id="orders_transition",
        summary="Move an order to another status",
        description=(
            "The customer is told in their language. A move the order's transition table does not allow "
            "answers 409 `illegal_transition`, with `details.from_status` and `details.allowed`."
        ),
        request=OrderTransitionInputSerializer,
        responses={200: OrderDetailSerializer, **error_responses(400, 401, 404, 409, 415)},
    )
    def post(self, request: Request, rid: int, oid: int) -> Response:
        order = _order_or_404(restaurant=self.restaurant, order_id=oid)
        serializer = OrderTransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        driver = Driver(name=data["driver_name"], phone=data["driver_phone"]) if data["driver_name"].strip() else None
        order_transition(order=order, to_status=data["to"], actor=request.user, note=data["note"], driver=driver)
        return Response(OrderDetailSerializer(_order_or_404(restaurant=self.restaurant, order_id=oid)).data)
