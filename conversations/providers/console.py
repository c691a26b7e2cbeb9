"""The console provider: a local sender that prints and records instead of calling WhatsApp.

Used by the demo restaurant and the simulator; the outbound Message rows are the record.
"""

from __future__ import annotations

import logging
import uuid

from ..content import OutboundContent, SendResult

logger = logging.getLogger("sufrah.console")
NAME = "console"


def send(*, sender, to: str, content: OutboundContent, status_callback_url: str | None = None) -> SendResult:  # noqa: ARG001
    provider_message_id = f"console-{uuid.uuid4().hex}"
    logger.info(
        "console send",
        extra={"sender": sender.phone_number, "to": to, "kind": content.kind, "text": content.as_plain_text()},
    )
    return SendResult(provider_message_id=provider_message_id, status="delivered")
