"""Twilio (WhatsApp over the Messaging API): signature check, webhook parsing and sending, together."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit

import urllib3
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator, compare
from twilio.rest import Client

from .base import BaseProvider, CredentialField, Parsed, Route, SenderLike, StoredRequest
from .content import InboundMessage, MalformedWebhook, OutboundContent, SendError, SendResult, StatusUpdate
from .media import DOCUMENT_TYPES, IMAGE_TYPES, MB, Downloaded, MediaError, OutboundMediaRules, download
from .phone import InvalidPhoneNumber, normalize_e164, whatsapp_identity

NAME = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY = 1600

# Codes that say "try later" rather than "never": rate and tier limits, Twilio-side overload.
RETRYABLE_CODES = {"20429", "63018", "20500", "20503"}
STATUS_MAP = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


class _SignedFields(dict):
    """A form's fields as RequestValidator reads each one: it asks for `getall` (a MultiDict's), then `getlist`
    (a QueryDict's), then indexes, so a plain dict raised two AttributeErrors per field: 30 µs of the 40 a
    signature took."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def verify_signature(*, auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Twilio's RequestValidator on a form webhook. Its validate signs the URL both with and without the port
    (Twilio signs either, depending on the URL configured) and compares with both: two HMACs a request. The URL
    as received is the usual match, so that one HMAC is tried first; validate runs only when it fails."""
    if not signature or not auth_token:
        return False
    validator, fields = RequestValidator(auth_token), _SignedFields(params)
    if compare(validator.compute_signature(url, fields), signature):
        return True
    return bool(validator.validate(url, fields, signature))


def sign(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """What Twilio would put in X-Twilio-Signature (used by the simulator and tests)."""
    return RequestValidator(auth_token).compute_signature(url, _SignedFields(params))


# --- forging inbound webhooks: the simulator, the tests and the benches post what Twilio would ---------------

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
WEBHOOK_PATH = "/webhooks/twilio/"


def inbound_text_params(
    *,
    account_sid: str,
    to_number: str,
    from_number: str,
    body: str,
    profile_name: str = "",
    sid: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The form fields of a customer's WhatsApp text as Twilio posts them; `extra` adds or overrides fields
    (ButtonPayload, ListId, Latitude...)."""
    params = {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": account_sid,
        "From": f"whatsapp:{from_number}",
        "To": f"whatsapp:{to_number}",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": profile_name,
        "WaId": from_number.lstrip("+"),
    }
    params.update(extra)
    return params


@dataclass(frozen=True)
class ForgedWebhook:
    """One webhook request as Twilio sends it: the form body and its signature over the public URL."""

    path: str
    body: str
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": FORM_CONTENT_TYPE, SIGNATURE_HEADER: self.signature}

    def test_client_kwargs(self) -> dict[str, str]:
        """For Django's test client: client.post(webhook.path, **webhook.test_client_kwargs())."""
        return {"data": self.body, "content_type": FORM_CONTENT_TYPE, "HTTP_X_TWILIO_SIGNATURE": self.signature}


def webhook_forge(
    *, auth_token: str, public_base_url: str, params: Mapping[str, str], path: str = WEBHOOK_PATH
) -> ForgedWebhook:
    """Sign `params` exactly as Twilio does for a webhook posted to public_base_url + path."""
    return ForgedWebhook(
        path=path,
        body=urlencode(params),
        signature=sign(auth_token=auth_token, url=public_base_url.rstrip("/") + path, params=params),
    )


def _number(params: Mapping[str, str], key: str) -> str:
    raw = params.get(key, "")
    if not raw:
        raise MalformedWebhook(f"missing '{key}'")
    try:
        return normalize_e164(raw)
    except InvalidPhoneNumber as exc:
        raise MalformedWebhook(f"'{key}': {exc}") from None


def routing_number(params: Mapping[str, str], *, kind: str) -> str:
    """Our own number: To on an inbound message, From on a status callback."""
    return _number(params, "To" if kind == "message" else "From")


_SID = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
# Click-to-WhatsApp ad fields Twilio forwards (Referral* → referral.<snake_case>).
REFERRAL_FIELDS = {
    "ReferralSourceId": "source_id",
    "ReferralSourceType": "source_type",
    "ReferralSourceUrl": "source_url",
    "ReferralHeadline": "headline",
    "ReferralBody": "body",
    "ReferralCtwaClid": "ctwa_clid",
    "ReferralMediaType": "media_type",
    "ReferralMediaUrl": "media_url",
    "ReferralMediaId": "media_id",
    "ReferralMediaContentType": "media_content_type",
}


def _sid(params: Mapping[str, str]) -> str:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise MalformedWebhook("missing 'MessageSid'")
    if not _SID.match(sid):
        raise MalformedWebhook("'MessageSid' is not a Twilio SID")
    return sid


def _coordinate(value: str, low: float, high: float) -> float:
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError("out of range")
    return number


def parse_inbound(params: Mapping[str, str]) -> InboundMessage:
    message_sid = _sid(params)
    try:
        num_media = int(params.get("NumMedia") or 0)
    except ValueError:
        raise MalformedWebhook("'NumMedia' is not a number") from None
    media = [
        {"url": params.get(f"MediaUrl{i}", ""), "content_type": params.get(f"MediaContentType{i}", "")}
        for i in range(min(num_media, 10))
        if params.get(f"MediaUrl{i}")
    ]
    raw_from = params.get("From") or ""
    if not raw_from:
        raise MalformedWebhook("missing 'From'")
    # A customer's number is never a reason to refuse: a business-scoped id ("whatsapp:IN.…") or a number
    # that fails strict parsing is kept as given.
    customer_id, number = whatsapp_identity(raw_from)
    inbound = InboundMessage(
        provider=NAME,
        provider_message_id=message_sid,
        to_number=_number(params, "To"),
        from_number=number,
        customer_id=customer_id,
        profile_name=(params.get("ProfileName") or "")[:200],
        text=params.get("Body") or "",
        media=media,
        timestamp=datetime.now(UTC),
    )
    inbound.details["type"] = params.get("MessageType") or ""
    if params.get("WaId") and params.get("WaId") != customer_id.lstrip("+"):
        inbound.details["wa_id"] = params["WaId"]
    if params.get("OriginalRepliedMessageSid"):
        inbound.context = {"id": params["OriginalRepliedMessageSid"]}
        if params.get("OriginalRepliedMessageSender"):
            inbound.context["from"] = params["OriginalRepliedMessageSender"]
    inbound.referral = {key: params[field] for field, key in REFERRAL_FIELDS.items() if params.get(field)}
    if params.get("ErrorCode"):
        inbound.errors = [{"code": params["ErrorCode"], "message": params.get("ErrorMessage") or ""}]
    reply_id = params.get("ButtonPayload") or params.get("ListId") or ""
    latitude, longitude = params.get("Latitude"), params.get("Longitude")
    if latitude and longitude:
        try:
            inbound.latitude, inbound.longitude = _coordinate(latitude, -90, 90), _coordinate(longitude, -180, 180)
        except ValueError:
            raise MalformedWebhook("'Latitude'/'Longitude' are not coordinates") from None
        inbound.kind = "location"
        location = {k: params[f] for f, k in (("Label", "name"), ("Address", "address")) if params.get(f)}
        inbound.details["location"] = location
        inbound.address = " — ".join(location.values())
    elif reply_id:
        inbound.kind = "interactive"
        inbound.reply_id = reply_id
        inbound.text = params.get("ButtonText") or params.get("ListTitle") or inbound.text
        inbound.details["button"] = {"payload": reply_id, "text": inbound.text}
    elif media:
        inbound.kind = "media"
    return inbound


def parse_status(params: Mapping[str, str]) -> StatusUpdate:
    sid = _sid(params)
    raw_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not raw_status:
        raise MalformedWebhook("missing 'MessageStatus'")
    return StatusUpdate(
        provider=NAME,
        provider_message_id=sid,
        # A status we do not map is passed on as it came: recorded and skipped, not a reason to refuse.
        status=STATUS_MAP.get(raw_status, raw_status),
        error_code=params.get("ErrorCode") or "",
        error_message=params.get("ErrorMessage") or "",
        errors=[{"code": params["ErrorCode"], "message": params.get("ErrorMessage") or ""}]
        if params.get("ErrorCode")
        else [],
    )


@lru_cache(maxsize=4)
def _pool(pid: int, pool_size: int) -> urllib3.PoolManager:  # keyed by pid: a forked worker makes its own
    """One connection pool per process, shared by every sender and every thread of the outbound pool:
    kept-alive connections (no new TLS handshake per send), at most `pool_size` kept per host."""
    return urllib3.PoolManager(num_pools=4, maxsize=pool_size)


class PooledHttpClient(HttpClient):
    """The twilio SDK's HTTP client, on the process's urllib3 pool instead of a requests session.

    The SDK builds each request (its URL, form, auth and headers) and reads each answer (its errors, its
    MessageInstance); only carrying it is done here. Through requests that cost ~0.5 ms of CPU a send
    (session hooks, cookies, environment proxy settings, adapters), a third of the SDK's share. One client
    serves every thread: `request` keeps nothing between calls (the SDK's TwilioHttpClient keeps the last
    response on the client and returns that attribute). Transport errors are urllib3's own (retries are off:
    a send is never repeated here), which `send` tells apart: no connection made, or maybe delivered.
    """

    def __init__(self, pool: urllib3.PoolManager, timeout: float) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self.pool = pool

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        if params:
            url = f"{url}?{urlencode(_form_pairs(params))}"
        body = None
        if data:
            if headers.get("Content-Type") in ("application/json", "application/scim+json"):
                body = json.dumps(data)
            else:
                body = urlencode(_form_pairs(data))
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        seconds = timeout or self.timeout
        response = self.pool.request(
            method.upper(),
            url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=seconds, read=seconds),
            retries=False,
            redirect=allow_redirects,
        )
        return Response(response.status, response.data.decode("utf-8", "replace"), response.headers)


def _form_pairs(values: Mapping[str, object]) -> list[tuple[str, object]]:
    """A form as requests encodes it: a list value repeats its key (MediaUrl), a None value is left out."""
    pairs: list[tuple[str, object]] = []
    for key, value in values.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:
                pairs.append((key, item))
    return pairs


@lru_cache(maxsize=4)
def _http(pid: int, pool_size: int, timeout: float) -> PooledHttpClient:
    return PooledHttpClient(_pool(pid, pool_size), timeout)


def _client(sender: SenderLike) -> Client:
    http_client = _http(os.getpid(), settings.PROVIDER_HTTP_POOL_SIZE, settings.PROVIDER_HTTP_TIMEOUT_SECONDS)
    client = Client(sender.credentials["account_sid"], sender.credentials["auth_token"], http_client=http_client)
    if settings.TWILIO_API_BASE_URL:
        client.api.base_url = settings.TWILIO_API_BASE_URL
    return client


def send(
    *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
) -> SendResult:
    """Send through Twilio. WhatsApp over Twilio has no free-form buttons, so options go out numbered."""
    params = {
        "from_": f"whatsapp:{sender.phone_number}",
        "to": f"whatsapp:{to}",
        "body": content.as_plain_text()[:MAX_BODY],
    }
    if content.kind == "template":
        if not content.template_twilio.get("ContentSid"):
            raise SendError("no_content_sid", "the template has no Twilio Content SID", retryable=False)
        # An approved Content template goes by its SID; Twilio fills the variables in (no Body then).
        del params["body"]
        params["content_sid"] = content.template_twilio["ContentSid"]
        params["content_variables"] = content.template_twilio.get("ContentVariables") or "{}"
    if content.media_url:
        params["media_url"] = [content.media_url]
        if not params.get("body"):
            del params["body"]  # media alone (Twilio sends a document without a caption)
    if status_callback_url:
        params["status_callback"] = status_callback_url
    try:
        message = _client(sender).messages.create(**params)
    except TwilioRestException as exc:
        code = str(exc.code or exc.status)
        retryable = exc.status == 429 or exc.status >= 500 or code in RETRYABLE_CODES
        raise SendError(code, exc.msg or "Twilio error", retryable=retryable) from None
    except urllib3.exceptions.HTTPError as exc:
        if _never_sent(exc):
            raise SendError("network", f"{type(exc).__name__}: could not reach Twilio", retryable=True) from None
        raise SendError(
            "timeout_unconfirmed",
            f"{type(exc).__name__}: Twilio may have taken the message; check before sending again",
            retryable=True,
            ambiguous=True,
        ) from None
    return SendResult(provider_message_id=message.sid, status=STATUS_MAP.get(message.status or "queued", "queued"))


def _never_sent(exc: urllib3.exceptions.HTTPError) -> bool:
    """True when the request cannot have reached Twilio: no connection was ever made (refused, DNS, connect
    timeout: urllib3's NewConnectionError and NameResolutionError are ConnectTimeoutErrors). A read timeout or a
    connection dropped after the request was written is ambiguous."""
    return isinstance(exc, urllib3.exceptions.ConnectTimeoutError)


def sent_messages_find(*, sender, to: str, content: OutboundContent, since: datetime) -> list[SendResult]:
    """Reconcile an ambiguous send: the messages Twilio holds from this sender to `to` with this body, created
    at or after `since` (Twilio's message list for the pair, newest first, the last 50). The caller skips the
    sids it has already recorded for other rows."""
    body = content.as_plain_text()[:MAX_BODY]
    try:
        messages = _client(sender).messages.list(
            to=f"whatsapp:{to}", from_=f"whatsapp:{sender.phone_number}", limit=50, page_size=50
        )
    except TwilioRestException as exc:
        raise SendError(str(exc.code or exc.status), exc.msg or "Twilio error", retryable=True) from None
    except urllib3.exceptions.HTTPError as exc:
        raise SendError("network", f"{type(exc).__name__}: could not reach Twilio", retryable=True) from None
    return [
        SendResult(provider_message_id=message.sid, status=STATUS_MAP.get(message.status or "queued", "queued"))
        for message in messages
        if (message.date_created is None or message.date_created >= since) and (message.body or "") == body
    ]


TWILIO_API_HOST = "api.twilio.com"
# Twilio answers a media URL with a redirect to its media store (a signed, short-lived URL on another host).
MEDIA_MAX_REDIRECTS = 3
# Documents Twilio relays to WhatsApp (its WhatsApp media guide), within its 16 MB message cap, no caption.
OUTBOUND_MEDIA = OutboundMediaRules(
    types={
        "image": IMAGE_TYPES,
        "document": frozenset(
            t for t in DOCUMENT_TYPES if t == "application/pdf" or "openxml" in t or t == "application/msword"
        ),
    },
    max_bytes={"image": 5 * MB, "document": 16 * MB},
    document_caption=False,
)


def media_download(*, credentials: Mapping[str, str], url: str, sink: BinaryIO, max_bytes: int) -> Downloaded:
    """GET a MediaUrlN with the account's credentials (HTTP basic), following Twilio's redirect to its media
    store without them. Only a URL on Twilio's API host (or the configured test base) gets the credentials."""
    api = urlsplit(settings.TWILIO_API_BASE_URL or f"https://{TWILIO_API_HOST}")
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (api.scheme, api.netloc) or not parts.path.startswith("/2010-04-01/Accounts/"):
        raise MediaError("untrusted_url", f"not a Twilio media URL: {parts.netloc}", retryable=False)
    token = base64.b64encode(f"{credentials['account_sid']}:{credentials['auth_token']}".encode()).decode()
    return download(
        url,
        sink=sink,
        max_bytes=max_bytes,
        headers={"Authorization": f"Basic {token}"},
        max_redirects=MEDIA_MAX_REDIRECTS,
    )


def form_params(request: StoredRequest) -> Mapping[str, str]:
    """The form Twilio posted, parsed once per request (routing, the signature and parsing all read it)."""
    params = request.parsed.get("twilio_form")
    if params is None:
        if "application/x-www-form-urlencoded" not in request.content_type:
            raise MalformedWebhook("the body is not form-encoded")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedWebhook("the body is not UTF-8") from None
        params = request.parsed["twilio_form"] = MappingProxyType(dict(parse_qsl(text, keep_blank_values=True)))
    return params


def _account_sid_check(value: str) -> str:
    if value.startswith("AC") and len(value) == 34:
        return ""
    return "A Twilio account SID starts with 'AC' and has 34 characters."


class Twilio(BaseProvider):
    """WhatsApp over Twilio's Messaging API; webhooks are form posts routed by our own number."""

    name = NAME
    label = "Twilio"
    credentials = (
        CredentialField("account_sid", "Twilio account SID", max_length=64, check=_account_sid_check),
        CredentialField("auth_token", "Twilio auth token", secret=True, help_text="Signs Twilio's webhooks."),
    )
    signature_header = SIGNATURE_HEADER
    ack = ('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml")
    # Console senders (the demo, the simulator) post Twilio-format webhooks to this route too.
    webhook_aliases = ("console",)
    outbound_media = OUTBOUND_MEDIA

    def routes(self, request: StoredRequest) -> list[Route]:
        return [Route("number", routing_number(form_params(request), kind=request.kind))]

    def verify(self, request: StoredRequest, credentials: Mapping[str, str]) -> bool:
        return verify_signature(
            auth_token=credentials.get("auth_token", ""),
            url=request.url,
            params=form_params(request),
            signature=request.header(SIGNATURE_HEADER),
        )

    def parse(self, request: StoredRequest) -> Parsed:
        params = form_params(request)
        route = Route("number", routing_number(params, kind=request.kind))
        item = parse_inbound(params) if request.kind == "message" else parse_status(params)
        return Parsed(items=[(route, item)])

    def send(
        self, *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
    ) -> SendResult:
        return send(sender=sender, to=to, content=content, status_callback_url=status_callback_url)

    def status_callback_url(self, *, base_url: str) -> str | None:
        return f"{base_url}/webhooks/{self.name}/status/" if base_url else None

    def media_download(
        self, *, credentials: Mapping[str, str], reference: Mapping[str, Any], sink: BinaryIO, max_bytes: int
    ) -> Downloaded:
        return media_download(
            credentials=credentials, url=str(reference.get("url", "")), sink=sink, max_bytes=max_bytes
        )

    def sent_messages_find(
        self, *, sender: SenderLike, to: str, content: OutboundContent, since: datetime
    ) -> list[SendResult]:
        return sent_messages_find(sender=sender, to=to, content=content, since=since)
