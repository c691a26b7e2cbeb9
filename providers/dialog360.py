"""360dialog, a WhatsApp Cloud API proxy: Meta's payload shapes, 360dialog's base URL and API key.

Everything about the payloads is Meta's (the parsing and the message bodies come from providers.meta); what
differs is where a send goes (D360_API_BASE_URL + "/messages", no phone number id in the path), how it is
authenticated (the `D360-API-KEY` header) and how a webhook is: 360dialog does not sign webhooks, but it
sends back the headers given when the webhook URL is set (POST /v1/configs/webhook, {"url", "headers"}), so
the sender's webhook secret goes in X-Sufrah-Webhook-Token there and is compared here.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from . import meta
from .base import CredentialField, SenderLike, StoredRequest
from .content import OutboundContent, SendResult
from .media import Downloaded, MediaError

NAME = "360dialog"
TOKEN_HEADER = "X-Sufrah-Webhook-Token"


class Dialog360(meta.Meta):
    name = NAME
    label = "360dialog (Cloud API)"
    account_credential = ""  # no business account credential: template news is not routed here
    credentials = (
        CredentialField(
            "phone_number_id",
            "Meta phone number id",
            max_length=64,
            routing=True,
            check=meta._number_id_check,
            help_text="The number's id in Meta's payloads (metadata.phone_number_id).",
        ),
        CredentialField("api_key", "360dialog API key", secret=True, max_length=2000),
        CredentialField(
            "webhook_token",
            "Webhook token",
            secret=True,
            help_text=f"Set as the {TOKEN_HEADER} header of the 360dialog webhook configuration.",
        ),
    )
    signature_header = TOKEN_HEADER
    handshake = False

    def verify(self, request: StoredRequest, credentials: Mapping[str, str]) -> bool:
        token, expected = request.header(TOKEN_HEADER), credentials.get("webhook_token", "")
        return bool(token and expected) and hmac.compare_digest(token.encode(), expected.encode())

    def send(
        self, *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
    ) -> SendResult:
        return meta.post_message(
            url=f"{settings.D360_API_BASE_URL}/messages",
            headers={"D360-API-KEY": sender.credentials["api_key"]},
            to=to,
            content=content,
            api="360dialog API",
        )

    def verification_answer(self, *, query: Mapping[str, str]) -> str | None:
        return None

    def media_download(
        self, *, credentials: Mapping[str, str], reference: Mapping[str, Any], sink: BinaryIO, max_bytes: int
    ) -> Downloaded:
        """GET {base}/{media_id} for the metadata, then the file from 360dialog's own host: the URL Meta gives
        (lookaside.fbsbx.com/…) with its host replaced by the base URL's, as 360dialog documents."""
        media_id = str(reference.get("id", ""))
        if not media_id.isdigit():
            raise MediaError("bad_reference", f"not a Cloud API media id: {media_id[:40]!r}", retryable=False)
        base = urlsplit(settings.D360_API_BASE_URL)

        def through_proxy(url: str) -> str:
            parts = urlsplit(url)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

        return meta.media_download(
            metadata_url=f"{settings.D360_API_BASE_URL}/{media_id}",
            headers={"D360-API-KEY": credentials["api_key"]},
            sink=sink,
            max_bytes=max_bytes,
            rewrite=through_proxy,
        )
