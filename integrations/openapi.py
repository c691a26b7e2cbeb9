"""The outgoing webhooks in the OpenAPI document (3.1 `webhooks`): one entry per event type, from the catalogue."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiWebhook

from .catalogue import CATALOGUE, EventKind, envelope_schema, example_envelope

_HEADERS = [
    ("webhook-id", "The event id (the body's `id`): the same on every retry and redelivery."),
    ("webhook-timestamp", "Unix seconds when this attempt was signed; refuse ones more than 5 minutes off."),
    (
        "webhook-signature",
        '`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, space-separated while a rotated '
        "secret overlaps (Standard Webhooks).",
    ),
]


def _operation(kind: EventKind) -> dict:
    return {
        "summary": kind.type,
        "description": kind.when + " Verify it with a Standard Webhooks library and the subscription's secret.",
        "operationId": f"webhook_{kind.type.replace('.', '_')}",
        "parameters": [
            {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
            for name, text in _HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": envelope_schema(kind), "example": example_envelope(kind)}},
        },
        "responses": {
            "200": {"description": "Any 2xx: delivered."},
            "429": {"description": "Retried, after Retry-After."},
            "500": {"description": "Any 5xx, a timeout or a network error: retried with backoff for about a day."},
            "400": {"description": "Any other status: not retried (the delivery fails)."},
        },
    }


def setting_name(event_type: str) -> str:
    """This module's attribute for one event type (SPECTACULAR_SETTINGS["WEBHOOKS"] imports each by name)."""
    return "webhook_" + event_type.replace(".", "_")


WEBHOOKS = [OpenApiWebhook(name=kind.type, decorator={"post": _operation(kind)}) for kind in CATALOGUE]
globals().update({setting_name(webhook.name): webhook for webhook in WEBHOOKS})
