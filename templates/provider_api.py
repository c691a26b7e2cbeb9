"""Template registration with the providers: Meta's message_templates endpoint, Twilio's Content API.

Each call has a timeout and follows no redirects; a provider's refusal comes back as TemplateProviderError with
its code and message, which the submit service stores as the rejection shown to staff.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from .rendering import TemplateSpec, meta_create_payload, twilio_create_payload

# Meta's template statuses (and Twilio's approval statuses) as ours.
META_STATUS = {
    "APPROVED": "approved",
    "REJECTED": "rejected",
    "PENDING": "submitted",
    "IN_APPEAL": "submitted",
    "PAUSED": "paused",
    "DISABLED": "disabled",
    "PENDING_DELETION": "disabled",
    "DELETED": "disabled",
    "ARCHIVED": "disabled",
}
TWILIO_STATUS = {
    "approved": "approved",
    "rejected": "rejected",
    "pending": "submitted",
    "received": "submitted",
    "paused": "paused",
    "disabled": "disabled",
    "unsubmitted": "draft",
}


class TemplateProviderError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = str(code), message, retryable


def _call(method: str, url: str, **kwargs) -> dict[str, Any]:
    try:
        response = httpx.request(
            method, url, timeout=settings.PROVIDER_HTTP_TIMEOUT_SECONDS, follow_redirects=False, **kwargs
        )
    except httpx.TransportError as exc:
        raise TemplateProviderError("network", f"{type(exc).__name__}: provider unreachable", retryable=True) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data.get("error"), dict) else data
        code = str(error.get("code") or response.status_code)
        message = str(error.get("error_user_msg") or error.get("message") or response.reason_phrase)
        raise TemplateProviderError(code, message, retryable=response.status_code >= 500 or response.status_code == 429)
    return data if isinstance(data, dict) else {}


# --- Meta ----------------------------------------------------------------------------------------------------


def _graph(path: str) -> str:
    return f"{settings.META_GRAPH_BASE_URL}/{settings.META_GRAPH_VERSION}/{path}"


def meta_submit(*, sender, spec: TemplateSpec) -> tuple[str, str, str]:
    """Create the template in the sender's WhatsApp Business Account: (template id, our status, reason)."""
    waba_id = sender.credentials.get("business_account_id", "")
    if not waba_id:
        raise TemplateProviderError("no_waba", "the sender has no WhatsApp Business Account id", retryable=False)
    data = _call(
        "POST",
        _graph(f"{waba_id}/message_templates"),
        json=meta_create_payload(spec),
        headers={"Authorization": f"Bearer {sender.credentials['access_token']}"},
    )
    if not data.get("id"):
        raise TemplateProviderError("bad_response", "message_templates answered without an id", retryable=True)
    return str(data["id"]), META_STATUS.get(str(data.get("status", "PENDING")), "submitted"), ""


def meta_fetch(*, sender, template_id: str) -> tuple[str, str]:
    """(our status, rejection reason) of a Meta template by its id."""
    data = _call(
        "GET",
        _graph(template_id),
        params={"fields": "id,name,language,status,category,rejected_reason"},
        headers={"Authorization": f"Bearer {sender.credentials['access_token']}"},
    )
    status = META_STATUS.get(str(data.get("status", "")))
    if status is None:
        raise TemplateProviderError("bad_response", f"unknown template status {data.get('status')!r}", retryable=False)
    reason = str(data.get("rejected_reason") or "")
    return status, "" if reason == "NONE" else reason


# --- Twilio --------------------------------------------------------------------------------------------------


def _content(path: str) -> str:
    return f"{settings.TWILIO_CONTENT_BASE_URL}/v1/{path}"


def _twilio_auth(sender) -> tuple[str, str]:
    return (sender.credentials["account_sid"], sender.credentials["auth_token"])


def twilio_submit(*, sender, spec: TemplateSpec, content_sid: str = "") -> tuple[str, str, str]:
    """Register the content (unless it already has a SID) and ask WhatsApp to approve it: (SID, status, reason)."""
    auth = _twilio_auth(sender)
    if not content_sid:
        created = _call("POST", _content("Content"), json=twilio_create_payload(spec), auth=auth)
        content_sid = str(created.get("sid") or "")
        if not content_sid.startswith("HX"):
            raise TemplateProviderError("bad_response", "the Content API answered without a sid", retryable=True)
    approval = _call(
        "POST",
        _content(f"Content/{content_sid}/ApprovalRequests/whatsapp"),
        json={"name": spec.name, "category": spec.category},
        auth=auth,
    )
    status = TWILIO_STATUS.get(str(approval.get("status", "received")).lower(), "submitted")
    return content_sid, status, str(approval.get("rejection_reason") or "")


def twilio_fetch(*, sender, content_sid: str) -> tuple[str, str]:
    data = _call("GET", _content(f"Content/{content_sid}/ApprovalRequests"), auth=_twilio_auth(sender))
    whatsapp = data.get("whatsapp") or {}
    status = TWILIO_STATUS.get(str(whatsapp.get("status", "")).lower())
    if status is None:
        raise TemplateProviderError(
            "bad_response", f"unknown approval status {whatsapp.get('status')!r}", retryable=False
        )
    return status, str(whatsapp.get("rejection_reason") or "")
