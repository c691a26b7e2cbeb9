"""Every event type: what it means, the JSON schema of its `data`, an example, and the subject its sequence
counts. One catalogue for the websocket, the outgoing webhooks, docs/events.md (`manage.py events_doc`) and
the OpenAPI document's webhooks; tests check the builders' real events against these schemas."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from campaigns.models import CampaignState
from conversations.models import Conversation, Message, MessageStatus
from orders.models import Fulfilment, OrderStatus
from templates.models import TemplateStatus

ENVELOPE_VERSION = 1

Schema = dict[str, Any]


def _obj(properties: dict[str, Schema], *, required: list[str] | None = None, extra: bool = False) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties) if required is None else required,
        "additionalProperties": extra,
    }


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
TIME_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time"}
INT_OR_NULL: Schema = {"type": ["integer", "null"]}
NUM_OR_NULL: Schema = {"type": ["number", "null"]}
MONEY: Schema = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "A decimal string: exact."}


def _enum(choices) -> Schema:
    return {"type": "string", "enum": [str(value) for value in choices.values]}


MESSAGE: Schema = _obj(
    {
        "id": INT,
        "conversation_id": INT,
        "direction": _enum(Message.Direction),
        "kind": {"type": "string", "description": "in: text, interactive, location, media, …; out: text, buttons, …"},
        "body": STR,
        "content": {"type": "object", "description": "Structured content: reply ids, location, media, buttons."},
        "status": _enum(MessageStatus),
        "error_code": STR,
        "error_message": STR,
        "provider_message_id": {"type": ["string", "null"]},
        "sent_by_id": INT_OR_NULL,
        "created_at": TIME_OR_NULL,
    }
)
CONVERSATION: Schema = _obj(
    {
        "id": INT,
        "customer_phone": STR,
        "customer_name": STR,
        "language": STR,
        "status": _enum(Conversation.Status),
        "assignee_id": INT_OR_NULL,
        "bot_paused": BOOL,
        "unread_count": INT,
        "last_inbound_at": TIME_OR_NULL,
        "last_message_at": TIME_OR_NULL,
    }
)
ORDER_ITEM: Schema = _obj(
    {
        "id": INT,
        "menu_item_id": INT_OR_NULL,
        "name_ar": STR,
        "name_en": STR,
        "unit_price": MONEY,
        "quantity": INT,
        "line_total": MONEY,
    }
)
ORDER: Schema = _obj(
    {
        "id": INT,
        "number": INT,
        "restaurant_id": INT,
        "conversation_id": INT_OR_NULL,
        "customer_phone": STR,
        "customer_name": STR,
        "status": _enum(OrderStatus),
        "fulfilment": _enum(Fulfilment),
        "address": STR,
        "latitude": NUM_OR_NULL,
        "longitude": NUM_OR_NULL,
        "notes": STR,
        "subtotal": MONEY,
        "delivery_fee": MONEY,
        "total": MONEY,
        "currency": STR,
        "language": STR,
        "items": {"type": "array", "items": ORDER_ITEM},
        "driver_name": STR,
        "driver_phone": STR,
        "left_at": TIME_OR_NULL,
        "arrived_at": TIME_OR_NULL,
        "created_at": TIME_OR_NULL,
        "updated_at": TIME_OR_NULL,
    }
)
RATING: Schema = _obj(
    {
        "id": INT,
        "order_id": INT,
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "comment": STR,
        "created_at": TIME,
    }
)
TEMPLATE: Schema = _obj(
    {
        "id": INT,
        "name": STR,
        "language": STR,
        "status": _enum(TemplateStatus),
        "rejection_reason": STR,
        "version": INT,
    }
)
CAMPAIGN: Schema = _obj(
    {
        "id": INT,
        "state": _enum(CampaignState),
        "counts": {
            "type": "object",
            "additionalProperties": INT,
            "description": "Recipients per status (pending, skipped, cancelled, and their messages' statuses).",
        },
    }
)
MENU_CHANGE: Schema = _obj(
    {
        "object": {"type": "string", "enum": ["category", "item"]},
        "action": {"type": "string", "enum": ["created", "changed", "deleted"]},
        "id": INT,
        "category_id": INT,
        "name_ar": STR,
        "name_en": STR,
        "price": {"type": ["string", "null"], "description": "Items: a decimal string; categories: null."},
        "available": BOOL,
    }
)
SENDER: Schema = _obj(
    {
        "id": INT,
        "phone_number": STR,
        "provider": STR,
        "error_code": {
            "type": "string",
            "description": "disconnected: the provider's refusal (Twilio 20003, Meta 190).",
        },
        "since": TIME,
    }
)

_EXAMPLE_MESSAGE = {
    "id": 981,
    "conversation_id": 77,
    "direction": "in",
    "kind": "text",
    "body": "أبغى شاورما",
    "content": {},
    "status": "received",
    "error_code": "",
    "error_message": "",
    "provider_message_id": "SM0c5b2f0e9a1d4c7b8e6f5a4d3c2b1a09",
    "sent_by_id": None,
    "created_at": "2026-12-01T06:30:12.123456+00:00",
}
_EXAMPLE_SENT = {
    **_EXAMPLE_MESSAGE,
    "id": 982,
    "direction": "out",
    "body": "تم استلام طلبك",
    "status": "sent",
    "provider_message_id": "SM1d6c3a1f0b2e5d8c9f7a6b5e4d3c2b1a",
    "sent_by_id": 5,
}
_EXAMPLE_CONVERSATION = {
    "id": 77,
    "customer_phone": "+966508034010",
    "customer_name": "Layla",
    "language": "ar",
    "status": "open",
    "assignee_id": None,
    "bot_paused": False,
    "unread_count": 1,
    "last_inbound_at": "2026-12-01T06:30:12.120000+00:00",
    "last_message_at": "2026-12-01T06:30:12.120000+00:00",
}
_EXAMPLE_ORDER = {
    "id": 310,
    "number": 1007,
    "restaurant_id": 42,
    "conversation_id": 77,
    "customer_phone": "+966508034010",
    "customer_name": "Layla",
    "status": "CONFIRMED",
    "fulfilment": "delivery",
    "address": "King Fahd Rd, Riyadh",
    "latitude": 24.7136,
    "longitude": 46.6753,
    "notes": "",
    "subtotal": "50.00",
    "delivery_fee": "10.00",
    "total": "60.00",
    "currency": "SAR",
    "language": "ar",
    "items": [
        {
            "id": 1,
            "menu_item_id": 5,
            "name_ar": "شاورما",
            "name_en": "Shawarma",
            "unit_price": "25.00",
            "quantity": 2,
            "line_total": "50.00",
        }
    ],
    "driver_name": "",
    "driver_phone": "",
    "left_at": None,
    "arrived_at": None,
    "created_at": "2026-12-01T06:31:00+00:00",
    "updated_at": "2026-12-01T06:31:00+00:00",
}


@dataclass(frozen=True)
class EventKind:
    type: str
    when: str
    key: str  # the object's key in the event (and in the webhook's `data`)
    schema: Schema  # of that object
    example: dict[str, Any]  # the object
    subject: str  # what the sequence counts: "conversation", "order", ... (its id read from the object)
    extra: dict[str, Schema] | None = None  # other keys of the event, with the example's values in `also`
    also: dict[str, Any] | None = None
    subject_field: str = "id"  # the object's field holding the subject's id

    def data_schema(self) -> Schema:
        return _obj({self.key: self.schema, **(self.extra or {})})

    def example_data(self) -> dict[str, Any]:
        return {self.key: self.example, **(self.also or {})}

    def subject_of(self, data: dict[str, Any]) -> str:
        obj = data[self.key]
        if self.subject == "menu":
            return "menu"
        return f"{self.subject}:{obj[self.subject_field]}"


def _order_kind(type_: str, when: str, **example) -> EventKind:
    return EventKind(type_, when, "order", ORDER, {**_EXAMPLE_ORDER, **example}, "order")


CATALOGUE: tuple[EventKind, ...] = (
    EventKind(
        "message.received",
        "A customer's message was stored (once per provider message id).",
        "message",
        MESSAGE,
        _EXAMPLE_MESSAGE,
        "conversation",
        subject_field="conversation_id",
    ),
    EventKind(
        "message.sent",
        "The provider accepted an outbound message (it now has a provider id).",
        "message",
        MESSAGE,
        _EXAMPLE_SENT,
        "conversation",
        subject_field="conversation_id",
    ),
    EventKind(
        "message.status",
        "An outbound message moved forward (delivered, read) or failed for good (`error_code`, `error_message`).",
        "message",
        MESSAGE,
        {**_EXAMPLE_SENT, "status": "delivered"},
        "conversation",
        subject_field="conversation_id",
    ),
    EventKind(
        "conversation.updated",
        "A conversation changed: a new inbound message (unread count, last activity), a staff change (status, "
        "assignee, bot paused, read), a hand-off to staff.",
        "conversation",
        CONVERSATION,
        _EXAMPLE_CONVERSATION,
        "conversation",
    ),
    _order_kind("order.created", "The bot placed an order (it arrives already `CONFIRMED`)."),
    _order_kind("order.updated", "An order moved to another status.", status="PREPARING"),
    _order_kind(
        "delivery.started",
        "An order went out for delivery (after its `order.updated`).",
        status="OUT_FOR_DELIVERY",
        driver_name="Ahmed",
        driver_phone="+966501112233",
        left_at="2026-12-01T06:50:00+00:00",
    ),
    _order_kind(
        "delivery.completed",
        "A delivery order was delivered (after its `order.updated`).",
        status="DELIVERED",
        driver_name="Ahmed",
        driver_phone="+966501112233",
        left_at="2026-12-01T06:50:00+00:00",
        arrived_at="2026-12-01T07:10:00+00:00",
    ),
    EventKind(
        "rating.received",
        "The customer rated a delivered order (1–5 stars); the order is now `RATED`.",
        "rating",
        RATING,
        {"id": 55, "order_id": 310, "stars": 5, "comment": "ممتاز", "created_at": "2026-12-01T08:00:00+00:00"},
        "order",
        extra={"order": ORDER},
        also={"order": {**_EXAMPLE_ORDER, "status": "RATED"}},
        subject_field="order_id",
    ),
    EventKind(
        "menu.updated",
        "A menu category or item was created, changed or deleted through the API (staff or an API key). Reload "
        "`GET /api/v1/restaurants/{rid}/menu/` for the whole menu.",
        "menu",
        MENU_CHANGE,
        {
            "object": "item",
            "action": "changed",
            "id": 5,
            "category_id": 2,
            "name_ar": "شاورما",
            "name_en": "Shawarma",
            "price": "27.00",
            "available": True,
        },
        "menu",
    ),
    EventKind(
        "sender.disconnected",
        "A sender's provider refused its credentials (Twilio 20003, Meta 190, HTTP 401): its messages fail "
        "until the credentials are fixed.",
        "sender",
        SENDER,
        {
            "id": 3,
            "phone_number": "+966500000001",
            "provider": "twilio",
            "error_code": "20003",
            "since": "2026-12-01T09:00:00+00:00",
        },
        "sender",
    ),
    EventKind(
        "sender.connected",
        "A sender whose credentials had been refused sent a message again.",
        "sender",
        SENDER,
        {
            "id": 3,
            "phone_number": "+966500000001",
            "provider": "twilio",
            "error_code": "",
            "since": "2026-12-01T09:30:00+00:00",
        },
        "sender",
    ),
    EventKind(
        "template.updated",
        "A message template was created, changed, submitted, approved or rejected.",
        "template",
        TEMPLATE,
        {"id": 9, "name": "order_ready", "language": "ar", "status": "approved", "rejection_reason": "", "version": 2},
        "template",
    ),
    EventKind(
        "campaign.progress",
        "A campaign changed state or its recipients' messages moved on.",
        "campaign",
        CAMPAIGN,
        {"id": 4, "state": "sending", "counts": {"pending": 120, "sent": 70, "delivered": 300, "failed": 2}},
        "campaign",
    ),
)
BY_TYPE: dict[str, EventKind] = {kind.type: kind for kind in CATALOGUE}

ENVELOPE_KEYS = ("type", "id", "created_at", "restaurant_id", "version", "sequence", "subject", "data")


def envelope_schema(kind: EventKind) -> Schema:
    """The webhook body of one event type."""
    return {
        **_obj(
            {
                "type": {"type": "string", "const": kind.type},
                "id": {
                    "type": "string",
                    "description": "Unique per event; the `webhook-id` header. Deduplicate on it.",
                },
                "created_at": TIME,
                "restaurant_id": INT,
                "version": {"type": "integer", "const": ENVELOPE_VERSION},
                "sequence": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Counts up per subject: a receiver keeps the highest it applied and ignores "
                    "lower ones (deliveries are not ordered).",
                },
                "subject": {"type": "string", "description": "What `sequence` counts, e.g. conversation:77."},
                "data": kind.data_schema(),
            }
        ),
        "title": kind.type,
    }


def example_envelope(kind: EventKind) -> dict[str, Any]:
    return {
        "type": kind.type,
        "id": "evt_2f1c9a7e4b3d4e0f8a6b5c4d3e2f1a0b",
        "created_at": "2026-12-01T06:30:12.200000+00:00",
        "restaurant_id": 42,
        "version": ENVELOPE_VERSION,
        "sequence": 12,
        "subject": kind.subject_of(kind.example_data()),
        "data": kind.example_data(),
    }


def websocket_schema(kind: EventKind) -> Schema:
    """The websocket frame: the event's own keys next to `type` and `restaurant_id`."""
    data = kind.data_schema()
    return _obj({"type": {"type": "string", "const": kind.type}, "restaurant_id": INT, **data["properties"]})


@lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    from jsonschema import Draft202012Validator  # the test dependency's validator; only called where tests check

    return {kind.type: Draft202012Validator(websocket_schema(kind)) for kind in CATALOGUE}


def event_problems(event: dict[str, Any]) -> list[str]:
    """What in a published event does not match its catalogue schema (empty: it matches)."""
    kind = BY_TYPE.get(event.get("type"))
    if kind is None:
        return [f"{event.get('type')!r} is not in the catalogue"]
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in _validators()[kind.type].iter_errors(event)
    ]


class EventSchemaMismatch(AssertionError):
    pass


def check_event(restaurant_id: int, event: dict[str, Any]) -> None:
    """A sink for the test settings: every event any test publishes must match the catalogue."""
    problems = event_problems(event)
    if problems:
        raise EventSchemaMismatch(f"{event.get('type')}: {problems}")
