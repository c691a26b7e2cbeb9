"""Meta WhatsApp Cloud API: webhook verification and signatures, payload parsing and sending, together.

The Cloud API's webhook shapes are documented per message type (Meta's "messages webhook reference"); every
type keeps its content here in InboundMessage.details, and a shape we do not know yet is kept whole as
"unsupported" rather than refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, BinaryIO

import httpx
from django.conf import settings

from . import media
from .base import BaseProvider, CredentialField, Parsed, Route, SenderLike, StoredRequest
from .content import (
    InboundMessage,
    ItemFailure,
    MalformedWebhook,
    OutboundContent,
    SendError,
    SendResult,
    StatusUpdate,
    TemplateStatusChange,
)
from .media import Downloaded
from .phone import is_business_scoped_id, whatsapp_identity, whatsapp_number

NAME = "meta"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Graph error codes that mean "later": throughput and rate limits, temporary errors.
RETRYABLE_CODES = {"4", "80007", "130429", "131000", "131016", "131048", "131056", "133004"}
MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")


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


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load(body: bytes | str) -> dict:
    """The payload, or MalformedWebhook: not JSON (NaN/Infinity included), too deep, or not Meta's envelope."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedWebhook("the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhook(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedWebhook("'object' is not 'whatsapp_business_account'")
    if not isinstance(payload.get("entry"), list):
        raise MalformedWebhook("missing 'entry' list")
    return payload


def _list(container: dict, key: str, where: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedWebhook(f"'{where}.{key}' is not a list")
    return value


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedWebhook(f"'{where}' is not an object")
    return value


TEMPLATE_STATUS_FIELD = "message_template_status_update"


def template_changes(payload: dict) -> list[tuple[str, dict]]:
    """(business account id, value) of each message_template_status_update change: the entry's id is the
    WhatsApp Business Account the template belongs to (Meta's webhook reference)."""
    found = []
    for e, entry in enumerate(payload["entry"]):
        entry = _object(entry, f"entry[{e}]")
        for c, change in enumerate(_list(entry, "changes", f"entry[{e}]")):
            change = _object(change, f"entry[{e}].changes[{c}]")
            if change.get("field") != TEMPLATE_STATUS_FIELD:
                continue
            where = f"entry[{e}].changes[{c}].value"
            value = _object(change.get("value"), where)
            if not entry.get("id") or not isinstance(entry["id"], str | int):
                raise MalformedWebhook(f"'entry[{e}].id' (the business account) is missing")
            found.append((str(entry["id"]), value))
    return found


def changes(payload: dict) -> list[Change]:
    found = []
    for e, entry in enumerate(payload["entry"]):
        entry = _object(entry, f"entry[{e}]")
        for c, change in enumerate(_list(entry, "changes", f"entry[{e}]")):
            change = _object(change, f"entry[{e}].changes[{c}]")
            if change.get("field") != "messages":
                continue
            where = f"entry[{e}].changes[{c}].value"
            value = _object(change.get("value"), where)
            metadata = value.get("metadata")
            if not isinstance(metadata, dict) or not metadata.get("phone_number_id"):
                raise MalformedWebhook(f"'{where}.metadata.phone_number_id' is missing")
            for key in ("messages", "statuses", "contacts", "errors"):
                for i, item in enumerate(_list(value, key, where)):
                    _object(item, f"{where}.{key}[{i}]")
            found.append(Change(str(metadata["phone_number_id"]), str(metadata.get("display_phone_number", "")), value))
    return found


def _str(value: Any, limit: int = 4096) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return ""
    return str(value)[:limit]


def _coordinate(value: Any, low: float, high: float, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MalformedWebhook(f"a location's {what} is not a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise MalformedWebhook(f"a location's {what} is out of range")
    return number


def _errors(value: Any) -> list[dict]:
    if not isinstance(value, list):
        return []
    return [
        {
            "code": _str(e.get("code"), 32),
            "title": _str(e.get("title"), 500),
            "message": _str(e.get("message"), 2000),
            "details": _str(
                (e.get("error_data") or {}).get("details") if isinstance(e.get("error_data"), dict) else "", 2000
            ),
        }
        for e in value
        if isinstance(e, dict)
    ]


def _referral(item: dict) -> dict:
    referral = item.get("referral")
    if not isinstance(referral, dict):
        return {}
    keys = (
        "source_url",
        "source_id",
        "source_type",
        "body",
        "headline",
        "media_type",
        "image_url",
        "video_url",
        "thumbnail_url",
        "ctwa_clid",
    )
    return {k: _str(referral.get(k), 2000) for k in keys if referral.get(k) not in (None, "")}


def _context(item: dict) -> dict:
    context = item.get("context")
    if not isinstance(context, dict):
        return {}
    found = {k: _str(context.get(k), 200) for k in ("id", "from") if context.get(k)}
    if context.get("forwarded") or context.get("frequently_forwarded"):
        found["forwarded"] = True
    if isinstance(context.get("referred_product"), dict):
        found["referred_product"] = {k: _str(v, 200) for k, v in context["referred_product"].items()}
    return found


def _media(kind: str, media: dict) -> dict:
    entry = {"type": kind, "id": _str(media.get("id"), 200), "content_type": _str(media.get("mime_type"), 200)}
    for key in ("sha256", "filename", "url"):
        if media.get(key):
            entry[key] = _str(media.get(key), 2000)
    if kind == "audio" and "voice" in media:
        entry["voice"] = bool(media.get("voice"))
    if kind == "sticker" and "animated" in media:
        entry["animated"] = bool(media.get("animated"))
    return entry


def _contacts(value: Any) -> list[dict]:
    """vCard fields as Meta sends them (name, phones, emails, addresses, org, urls, birthday)."""
    contacts = []
    for contact in value if isinstance(value, list) else []:
        if not isinstance(contact, dict):
            continue
        kept: dict[str, Any] = {}
        if isinstance(contact.get("name"), dict):
            kept["name"] = {k: _str(v, 200) for k, v in contact["name"].items()}
        for key in ("phones", "emails", "addresses", "urls"):
            rows = contact.get(key)
            if isinstance(rows, list):
                kept[key] = [{k: _str(v, 500) for k, v in row.items()} for row in rows if isinstance(row, dict)]
        if isinstance(contact.get("org"), dict):
            kept["org"] = {k: _str(v, 200) for k, v in contact["org"].items()}
        if contact.get("birthday"):
            kept["birthday"] = _str(contact.get("birthday"), 20)
        contacts.append(kept)
    return contacts


def _order(order: dict) -> dict:
    items = []
    for row in order.get("product_items") or []:
        if not isinstance(row, dict):
            continue
        try:
            quantity = int(row.get("quantity") or 0)
        except (TypeError, ValueError):
            quantity = 0
        items.append(
            {
                "product_retailer_id": _str(row.get("product_retailer_id"), 200),
                "quantity": quantity,
                "item_price": _str(row.get("item_price"), 32),
                "currency": _str(row.get("currency"), 8),
            }
        )
    return {"catalog_id": _str(order.get("catalog_id"), 200), "text": _str(order.get("text")), "items": items}


def parse_message(item: dict, *, names: Mapping[str, str], to_number: str, provider: str = NAME) -> InboundMessage:
    """One `messages[]` item. Raises MalformedWebhook for an item that has no id or no sender at all."""
    sender_raw = item.get("from") or item.get("from_user_id")
    if not item.get("id") or not sender_raw or isinstance(sender_raw, (dict, list)):
        raise MalformedWebhook("a message has no 'id' or no 'from'/'from_user_id'")
    customer_id, number = whatsapp_identity(str(sender_raw))
    kind = _str(item.get("type"), 40) or "unsupported"
    message = InboundMessage(
        provider=provider,
        provider_message_id=_str(item["id"], 128),
        to_number=to_number,
        from_number=number,
        customer_id=customer_id,
        profile_name=_str(names.get(str(sender_raw)) or names.get(_str(item.get("from_user_id"))), 200),
        kind="unsupported",
        context=_context(item),
        referral=_referral(item),
        errors=_errors(item.get("errors")),
    )
    if item.get("from_user_id") and item.get("from"):
        message.details["user_id"] = _str(item.get("from_user_id"), 200)
    try:
        message.timestamp = datetime.fromtimestamp(int(item.get("timestamp", 0)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        message.timestamp = datetime.now(UTC)
    body = item.get(kind) if isinstance(item.get(kind), dict) else {}
    message.details["type"] = kind
    if kind == "text":
        message.kind, message.text = "text", _str(body.get("body"))
    elif kind == "interactive":
        reply_type = _str(body.get("type"), 40)
        reply = body.get(reply_type) if isinstance(body.get(reply_type), dict) else {}
        if reply_type == "nfm_reply":
            # A WhatsApp Flow's answer: the form's fields as JSON text.
            raw = _str(reply.get("response_json"), 100_000)
            try:
                response = json.loads(raw, parse_constant=_reject_constant) if raw else {}
            except (ValueError, RecursionError):
                response = {"raw": raw}
            message.kind, message.text = "interactive", _str(reply.get("body"))
            message.details["flow"] = {"name": _str(reply.get("name"), 200), "response": response}
        else:
            message.kind, message.reply_id, message.text = (
                "interactive",
                _str(reply.get("id"), 256),
                _str(reply.get("title"), 200),
            )
            message.details["reply"] = {"type": reply_type, "id": message.reply_id, "title": message.text}
            if reply.get("description"):
                message.details["reply"]["description"] = _str(reply.get("description"), 200)
    elif kind == "button":
        # A template's quick-reply button.
        message.kind, message.reply_id, message.text = (
            "interactive",
            _str(body.get("payload"), 256),
            _str(body.get("text"), 200),
        )
        message.details["button"] = {"payload": message.reply_id, "text": message.text}
    elif kind == "location":
        message.kind = "location"
        message.latitude = _coordinate(body.get("latitude"), -90, 90, "latitude")
        message.longitude = _coordinate(body.get("longitude"), -180, 180, "longitude")
        location = {k: _str(body.get(k), 1000) for k in ("name", "address", "url") if body.get(k)}
        message.details["location"] = location
        message.address = " — ".join(v for k, v in location.items() if k in ("name", "address"))
    elif kind in MEDIA_KINDS:
        message.kind = "media"
        message.media = [_media(kind, body)]
        message.text = _str(body.get("caption"))
    elif kind == "reaction":
        # An empty emoji takes the reaction back.
        message.kind = "reaction"
        message.details["reaction"] = {
            "message_id": _str(body.get("message_id"), 128),
            "emoji": _str(body.get("emoji"), 32),
        }
        message.details["emoji"] = message.details["reaction"]["emoji"]
    elif kind == "contacts":
        message.kind = "contacts"
        message.details["contacts"] = _contacts(item.get("contacts"))
    elif kind == "order":
        message.kind = "order"
        message.details.update(_order(body))
        message.text = message.details["text"]
    elif kind == "system":
        message.kind = "system"
        message.details.update(
            {
                k: _str(body.get(k), 1000)
                for k in ("type", "body", "wa_id", "new_wa_id", "customer", "identity")
                if body.get(k)
            }
        )
        message.details["type"] = "system"
        message.details["system_type"] = _str(body.get("type"), 100)
    elif kind in ("edit", "message_edit"):
        # An edited message: the original id and its new content.
        edited = body.get("message") if isinstance(body.get("message"), dict) else body
        message.kind = "edit"
        message.details["original_id"] = _str(
            body.get("original_message_id") or body.get("message_id") or (item.get("context") or {}).get("id"), 128
        )
        text = edited.get("text") if isinstance(edited.get("text"), dict) else {}
        message.text = _str(text.get("body") or edited.get("body"))
    elif kind in ("revoke", "message_revoke"):
        message.kind = "revoke"
        message.details["original_id"] = _str(
            body.get("original_message_id") or body.get("message_id") or (item.get("context") or {}).get("id"), 128
        )
    else:
        # "unsupported" (WhatsApp says so, with an error code) or a type newer than this code: keep it whole.
        message.kind = "unsupported"
        message.details["unsupported"] = {"type": kind, "content": body or {}}
        if isinstance(item.get("unsupported"), dict):
            message.details["unsupported"]["type"] = _str(item["unsupported"].get("type"), 100) or kind
    return message


def parse_status(item: dict, *, provider: str = NAME) -> StatusUpdate:
    if not item.get("id") or not item.get("status") or isinstance(item.get("status"), (dict, list)):
        raise MalformedWebhook("a status has no 'id' or no 'status'")
    errors = _errors(item.get("errors"))
    first = errors[0] if errors else {}
    return StatusUpdate(
        provider=provider,
        provider_message_id=_str(item["id"], 128),
        status=_str(item["status"], 32).lower(),
        error_code=first.get("code", ""),
        error_message=first.get("message") or first.get("title", ""),
        errors=errors,
        recipient=_str(item.get("recipient_id") or item.get("recipient_user_id"), 200),
    )


def parse_payload(body: bytes, *, provider: str = NAME) -> Parsed:
    """Every item of every change; an item that cannot be read is an ItemFailure, its neighbours go on."""
    parsed = Parsed()
    payload = load(body)
    for account_id, value in template_changes(payload):
        template_ref = _str(value.get("message_template_id"), 64)
        item = (
            TemplateStatusChange(provider, template_ref, value)
            if template_ref and value.get("event")
            else ItemFailure(provider, template_ref or "template", "no message_template_id or event")
        )
        parsed.items.append((Route("account", account_id), item))
    for change in changes(payload):
        route = Route("routing_id", change.phone_number_id)
        parsed.errors.extend(_errors(change.value.get("errors")))
        names: dict[str, str] = {}
        for contact in change.value.get("contacts") or []:
            name = _str(
                (contact.get("profile") or {}).get("name") if isinstance(contact.get("profile"), dict) else "", 200
            )
            for key in ("wa_id", "user_id"):
                if contact.get(key):
                    names[str(contact[key])] = name
        to_number = whatsapp_number(change.display_phone_number) if change.display_phone_number else ""
        for i, item in enumerate(change.value.get("messages") or []):
            try:
                parsed.items.append((route, parse_message(item, names=names, to_number=to_number, provider=provider)))
            except MalformedWebhook as exc:
                parsed.items.append(
                    (route, ItemFailure(provider, _str(item.get("id"), 128) or f"messages[{i}]", str(exc)))
                )
        for i, item in enumerate(change.value.get("statuses") or []):
            try:
                parsed.items.append((route, parse_status(item, provider=provider)))
            except MalformedWebhook as exc:
                parsed.items.append(
                    (route, ItemFailure(provider, _str(item.get("id"), 128) or f"statuses[{i}]", str(exc)))
                )
    return parsed


def message_payload(*, to: str, content: OutboundContent) -> dict:
    """The Graph API body for one message: native buttons and lists (Meta supports them free-form)."""
    payload: dict = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if is_business_scoped_id(to):
        payload["recipient"] = to  # a customer whose number WhatsApp hides: sent to the BSUID as given
    else:
        payload["to"] = to.lstrip("+")
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
    elif content.kind in ("image", "document"):
        media: dict = {"link": content.media_url}
        if content.body:
            media["caption"] = content.body
        if content.kind == "document" and content.filename:
            media["filename"] = content.filename
        payload.update(type=content.kind, **{content.kind: media})
        return payload
    elif content.kind == "template" and content.template_meta:
        payload.update(type="template", template=content.template_meta["template"])
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


@lru_cache(maxsize=4)
def _http(pid: int, timeout: float, pool_size: int) -> httpx.Client:  # keyed by pid: a forked worker makes its own
    """One pooled client per process, shared by the outbound pool's threads (httpx.Client is thread-safe):
    sends reuse its kept-alive connections instead of a new TLS handshake, at most `pool_size` open (a
    thread past them waits up to the timeout, then the send is retried: it never left)."""
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    return httpx.Client(timeout=timeout, follow_redirects=False, limits=limits)


def post_message(*, url: str, headers: dict[str, str], to: str, content: OutboundContent, api: str) -> SendResult:
    """POST one Cloud API message and read messages[0].id (Meta and Cloud API proxies answer alike)."""
    try:
        response = _http(os.getpid(), settings.PROVIDER_HTTP_TIMEOUT_SECONDS, settings.PROVIDER_HTTP_POOL_SIZE).post(
            url, json=message_payload(to=to, content=content), headers=headers
        )
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # No connection was made: the API never saw the request, so trying again is safe.
        raise SendError("network", f"{type(exc).__name__}: could not reach the {api}", retryable=True) from None
    except httpx.TransportError as exc:
        # Sent but unanswered (read timeout, dropped connection). The Cloud API has neither an idempotency key
        # nor a way to list sent messages, so there is nothing to reconcile with: not resent automatically.
        raise SendError(
            "timeout_unconfirmed",
            f"{type(exc).__name__}: the {api} may have taken the message",
            retryable=True,
            ambiguous=True,
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = str(error.get("code") or response.status_code)
        retryable = response.status_code == 429 or response.status_code >= 500 or code in RETRYABLE_CODES
        raise SendError(code, str(error.get("message") or response.reason_phrase), retryable=retryable)
    try:
        return SendResult(provider_message_id=str(data["messages"][0]["id"]), status="sent")
    except (KeyError, IndexError, TypeError):
        raise SendError("bad_response", f"the {api} answered without messages[0].id", retryable=True) from None


def media_download(
    *, metadata_url: str, headers: Mapping[str, str], sink: BinaryIO, max_bytes: int, rewrite=None
) -> Downloaded:
    """A Cloud API media id: GET its metadata (url, mime_type, file_size), then the file with the same
    credentials. `rewrite` maps the file URL for proxies (360dialog serves it from its own host)."""
    data = media.get_json(metadata_url, headers=headers)
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise media.MediaError("bad_response", "the media metadata has no url", retryable=True)
    size = data.get("file_size")
    if isinstance(size, int) and size > max_bytes:
        raise media.MediaError("too_large", f"{size} bytes is over the {max_bytes}-byte limit", retryable=False)
    downloaded = media.download(rewrite(url) if rewrite else url, sink=sink, max_bytes=max_bytes, headers=headers)
    if not downloaded.declared_type and isinstance(data.get("mime_type"), str):
        downloaded = replace(downloaded, declared_type=media.base_type(data["mime_type"]))
    return downloaded


def _number_id_check(value: str) -> str:
    return "" if value.isdigit() else "A Meta phone number id is digits only."


def _app_id_check(value: str) -> str:
    return "" if value.isdigit() else "A Meta app id is digits only."


class Meta(BaseProvider):
    """Meta's WhatsApp Cloud API. Webhooks are routed by metadata.phone_number_id (one app may batch several
    numbers in one POST) and signed with the app secret."""

    name = NAME
    label = "Meta Cloud API"
    credentials = (
        CredentialField("phone_number_id", "Meta phone number id", max_length=64, routing=True, check=_number_id_check),
        CredentialField("access_token", "Meta access token", secret=True, max_length=2000),
        CredentialField("app_secret", "Meta app secret", secret=True, help_text="Signs Meta's webhooks."),
        CredentialField(
            "business_account_id",
            "WhatsApp Business Account id",
            required=False,
            max_length=64,
            help_text="Where message templates are submitted (POST /{id}/message_templates).",
        ),
        # Not a secret (Meta shows an app's id in every login dialog URL): shown like the account id, and
        # encrypted at rest with the rest of the sender's credentials.
        CredentialField(
            "app_id",
            "Meta app id",
            required=False,
            max_length=64,
            check=_app_id_check,
            help_text="The app an image header is uploaded to (Resumable Upload API: POST /{id}/uploads).",
        ),
    )
    signature_header = SIGNATURE_HEADER
    handshake = True
    account_credential = "business_account_id"  # template status news arrives per business account

    def routes(self, request: StoredRequest) -> list[Route]:
        payload = load(request.body)
        found = {Route("routing_id", c.phone_number_id) for c in changes(payload)}
        found |= {Route("account", account_id) for account_id, _ in template_changes(payload)}
        return sorted(found, key=lambda r: (r.by, r.key))

    def verify(self, request: StoredRequest, credentials: Mapping[str, str]) -> bool:
        return verify_signature(
            app_secret=credentials.get("app_secret", ""), body=request.body, signature=request.header(SIGNATURE_HEADER)
        )

    def parse(self, request: StoredRequest) -> Parsed:
        return parse_payload(request.body, provider=self.name)

    def send(
        self, *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
    ) -> SendResult:
        number_id = sender.credentials["phone_number_id"]
        return post_message(
            url=f"{settings.META_GRAPH_BASE_URL}/{settings.META_GRAPH_VERSION}/{number_id}/messages",
            headers={"Authorization": f"Bearer {sender.credentials['access_token']}"},
            to=to,
            content=content,
            api="Graph API",
        )

    def media_download(
        self, *, credentials: Mapping[str, str], reference: Mapping[str, Any], sink: BinaryIO, max_bytes: int
    ) -> Downloaded:
        media_id = str(reference.get("id", ""))
        if not media_id.isdigit():
            raise media.MediaError("bad_reference", f"not a Cloud API media id: {media_id[:40]!r}", retryable=False)
        return media_download(
            metadata_url=f"{settings.META_GRAPH_BASE_URL}/{settings.META_GRAPH_VERSION}/{media_id}",
            headers={"Authorization": f"Bearer {credentials['access_token']}"},
            sink=sink,
            max_bytes=max_bytes,
        )

    def verification_answer(self, *, query: Mapping[str, str]) -> str | None:
        """The GET handshake: the challenge when the verify token matches, else None (→ 403)."""
        expected = settings.META_VERIFY_TOKEN
        token, challenge = query.get("hub.verify_token"), query.get("hub.challenge")
        if query.get("hub.mode") == "subscribe" and expected and token and challenge:
            if hmac.compare_digest(token.encode(), expected.encode()):
                return challenge
        return None
