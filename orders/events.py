"""Event payloads of orders: plain dicts shared by realtime events and the API."""

from __future__ import annotations

from typing import Any

from .models import Order, OrderItem, Rating


def order_item_data(item: OrderItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "menu_item_id": item.menu_item_id,
        "name_ar": item.name_ar,
        "name_en": item.name_en,
        "unit_price": str(item.unit_price),
        "quantity": item.quantity,
        "line_total": str(item.line_total),
    }


def rating_event_data(rating: Rating) -> dict[str, Any]:
    return {
        "id": rating.pk,
        "order_id": rating.order_id,
        "stars": rating.stars,
        "comment": rating.comment,
        "created_at": rating.created_at.isoformat(),
    }


def order_event_data(order: Order) -> dict[str, Any]:
    """JSON-safe: money as strings (exact decimals), times as ISO 8601."""
    return {
        "id": order.pk,
        "number": order.number,
        "restaurant_id": order.restaurant_id,
        "conversation_id": order.conversation_id,
        "customer_phone": order.conversation.customer_phone,
        "customer_name": order.conversation.customer_name,
        "status": order.status,
        "fulfilment": order.fulfilment,
        "address": order.address,
        "latitude": order.latitude,
        "longitude": order.longitude,
        "notes": order.notes,
        "subtotal": str(order.subtotal),
        "delivery_fee": str(order.delivery_fee),
        "total": str(order.total),
        "currency": order.currency,
        "language": order.language,
        "items": [order_item_data(item) for item in order.items.all()],
        "driver_name": order.driver_name,
        "driver_phone": order.driver_phone,
        "left_at": order.left_at.isoformat() if order.left_at else None,
        "arrived_at": order.arrived_at.isoformat() if order.arrived_at else None,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }
