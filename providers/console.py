"""The console provider: a local sender that prints and records instead of calling WhatsApp.

Used by the demo restaurant and the simulator; the outbound Message rows are the record.
"""

from __future__ import annotations

import logging
import uuid

from .base import CredentialField, SenderLike
from .content import OutboundContent, SendResult
from .media import Downloaded, MediaError, OutboundMediaRules
from .twilio import Twilio

logger = logging.getLogger("sufrah.console")
NAME = "console"


def send(
    *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
) -> SendResult:
    provider_message_id = f"console-{uuid.uuid4().hex}"
    logger.info("console send", extra={"sender": sender.phone_number, "to": to, "kind": content.kind})
    logger.debug("console send text", extra={"text": content.as_plain_text()})  # bodies: never at INFO
    return SendResult(provider_message_id=provider_message_id, status="delivered")


class Console(Twilio):
    """Speaks Twilio's webhook format (the simulator forges signed Twilio posts with the sender's own secret)
    and answers sends locally."""

    name = NAME
    label = "Console (local)"
    webhook_aliases = ()
    credentials = (
        CredentialField(
            "auth_token",
            "Webhook signing secret",
            secret=True,
            help_text="Signs the simulator's Twilio-format webhooks for this number.",
        ),
    )

    outbound_media = OutboundMediaRules()  # sends print locally: WhatsApp's own limits are the only ones

    def media_download(self, **kwargs) -> Downloaded:
        raise MediaError("unsupported", "the console has no media to download", retryable=False)

    def send(
        self, *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
    ) -> SendResult:
        return send(sender=sender, to=to, content=content, status_callback_url=status_callback_url)

    def status_callback_url(self, *, base_url: str) -> str | None:
        return None
