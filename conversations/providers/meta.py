"""Meta WhatsApp Cloud API: webhook verification and signatures, payload parsing and sending, together."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from django.conf import settings

from restaurants.phone import InvalidPhoneNumber, normalize_e164

from ..content import InboundMessage, MalformedWebhook, OutboundContent, SendError, SendResult, StatusUpdate

NAME = "meta"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Graph error codes that mean "later": throughput and rate limits, temporary errors.
RETRYABLE_CODES = {"4", "80007", "130429", "131000", "131016", "131048", "131056", "133004"}
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def verify_signature(*, app_secret: str, body: bytes, signature: str | None) -> bool:
    """X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body with the app secret."""
    if not signature or not app_secret or not signature.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


def sign(*, app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Change:
    """One `changes[].value` of a webhook: the number it is for, and what happened."""

    phone_number_id: str
    display_phone_number: str
    value: dict


def load(body: str) -> dict:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedWebhook(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedWebhook("'object' is not 'whatsapp_business_account'")
    if not isinstance(payload.get("entry"), list):
        raise MalformedWebhook("missing 'entry' list")
    return payload


def changes(payload: dict) -> Iterator[Change]:
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            raise MalformedWebhook("an entry is not an object")
        for change in entry.get("changes") or []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if not isinstance(metadata, dict) or not metadata.get("phone_number_id"):
                raise MalformedWebhook("a change has no metadata.phone_number_id")
            yield Change(str(metadata["phone_number_id"]), str(metadata.get("display_phone_number", "")), value)


def _number(raw: str, what: str) -> str:
    try:
        return normalize_e164(raw)
    except InvalidPhoneNumber as exc:
        raise MalformedWebhook(f"{what}: {exc}") from None


def parse_messages(change: Change, *, to_number: str) -> list[InboundMessage]:
    names = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in change.value.get("contacts") or []}
    inbound = []
    for item in change.value.get("messages") or []:
        if not isinstance(item, dict) or not item.get("id") or not item.get("from"):
            raise MalformedWebhook("a message has no 'id' or 'from'")
        kind = item.get("type", "unsupported")
        message = InboundMessage(
            provider=NAME,
            provider_message_id=str(item["id"]),
            to_number=to_number,
            from_number=_number(str(item["from"]), "'from'"),
            profile_name=str(names.get(item["from"], ""))[:200],
            kind="unsupported",
        )
        try:
            message.timestamp = datetime.fromtimestamp(int(item.get("timestamp", 0)), tz=UTC)
        except (TypeError, ValueError):
            message.timestamp = datetime.now(UTC)
        if kind == "text":
            message.kind, message.text = "text", str((item.get("text") or {}).get("body", ""))
        elif kind == "interactive":
            interactive = item.get("interactive") or {}
            reply = interactive.get(interactive.get("type", ""), {}) or {}
            message.kind, message.reply_id, message.text = (
                "interactive",
                str(reply.get("id", "")),
                str(reply.get("title", "")),
            )
        elif kind == "button":
            button = item.get("button") or {}
            message.kind, message.reply_id, message.text = (
                "interactive",
                str(button.get("payload", "")),
                str(button.get("text", "")),
            )
        elif kind == "location":
            location = item.get("location") or {}
            try:
                message.latitude, message.longitude = float(location["latitude"]), float(location["longitude"])
            except (KeyError, TypeError, ValueError):
                raise MalformedWebhook("a location message without latitude/longitude") from None
            message.kind = "location"
            message.address = " ".join(str(location.get(k, "")) for k in ("name", "address")).strip()
        elif kind in ("image", "document", "audio", "video", "sticker"):
            media = item.get(kind) or {}
            message.kind = "media"
            message.media = [{"id": str(media.get("id", "")), "content_type": str(media.get("mime_type", kind))}]
            message.text = str(media.get("caption", ""))
        inbound.append(message)
    return inbound


def parse_statuses(change: Change) -> list[StatusUpdate]:
    updates = []
    for item in change.value.get("statuses") or []:
        status = STATUS_MAP.get(str(item.get("status", "")))
        if not item.get("id") or status is None:
            raise MalformedWebhook(f"a status without id or with unknown status {item.get('status')!r}")
        errors = item.get("errors") or [{}]
        updates.append(
            StatusUpdate(
                provider=NAME,
                provider_message_id=str(item["id"]),
                status=status,
                error_code=str(errors[0].get("code", "")) if status == "failed" else "",
                error_message=str(errors[0].get("title", "")) if status == "failed" else "",
            )
        )
    return updates


def message_payload(*, to: str, content: OutboundContent) -> dict:
    """The Graph API body for one message: native buttons and lists (Meta supports them free-form)."""
    payload: dict = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.lstrip("+")}
    if content.kind == "buttons":
        interactive: dict = {
            "type": "button",
            "body": {"text": content.body},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in content.buttons]
            },
        }
    elif content.kind == "list":
        interactive = {
            "type": "list",
            "body": {"text": content.body},
            "action": {
                "button": content.button_label,
                "sections": [
                    {
                        **({"title": s.title} if s.title else {}),
                        "rows": [
                            {"id": r.id, "title": r.title, **({"description": r.description} if r.description else {})}
                            for r in s.rows
                        ],
                    }
                    for s in content.sections
                ],
            },
        }
    elif content.kind == "image":
        payload.update(type="image", image={"link": content.media_url, "caption": content.body})
        return payload
    elif content.kind == "template":
        payload.update(
            type="template",
            template={
                "name": content.template_name,
                "language": {"code": content.template_language or "en"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": p} for p in content.template_params]}
                ]
                if content.template_params
                else [],
            },
        )
        return payload
    else:
        payload.update(type="text", text={"body": content.body, "preview_url": False})
        return payload
    if content.header:
        interactive["header"] = {"type": "text", "text": content.header}
    if content.footer:
        interactive["footer"] = {"text": content.footer}
    payload.update(type="interactive", interactive=interactive)
    return payload


def send(*, sender, to: str, content: OutboundContent, status_callback_url: str | None = None) -> SendResult:  # noqa: ARG001
    url = f"{settings.META_GRAPH_BASE_URL}/{settings.META_GRAPH_VERSION}/{sender.meta_phone_number_id}/messages"
    try:
        response = httpx.post(
            url,
            json=message_payload(to=to, content=content),
            headers={"Authorization": f"Bearer {sender.meta_access_token}"},
            timeout=settings.PROVIDER_HTTP_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.TransportError as exc:
        raise SendError("network", f"{type(exc).__name__}: could not reach the Graph API", retryable=True) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        error = data.get("error") or {}
        code = str(error.get("code") or response.status_code)
        retryable = response.status_code == 429 or response.status_code >= 500 or code in RETRYABLE_CODES
        raise SendError(code, str(error.get("message") or response.reason_phrase), retryable=retryable)
    try:
        return SendResult(provider_message_id=str(data["messages"][0]["id"]), status="sent")
    except (KeyError, IndexError, TypeError):
        raise SendError("bad_response", "the Graph API answered without messages[0].id", retryable=True) from None
