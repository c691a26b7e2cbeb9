"""Template registration with the providers: Meta's message_templates endpoint, Twilio's Content API.

Each call has a timeout and follows no redirects; a provider's refusal comes back as TemplateProviderError with
its code and message, which the submit service stores as the rejection shown to staff.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from django.conf import settings

from providers import media

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


class TemplateHeaderError(Exception):
    """The header image could not be fetched, is not one Meta takes, or could not be uploaded: nothing was
    created at the provider. `field` is where the problem lies (header_image_url, sender or provider)."""

    def __init__(self, field: str, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.field, self.code, self.message = field, code, message


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


# What Meta takes as an image header (its template and media documentation): JPEG or PNG, at most 5 MB.
HEADER_IMAGE_TYPES = media.IMAGE_TYPES
HEADER_IMAGE_MAX_BYTES = media.MAX_BYTES["image"]
# An upload session id as the Resumable Upload API gives it ("upload:<base64>", Meta adds "?sig=…"): it goes
# into the URL of the next call as it is, so anything that could leave the Graph API's path is refused.
_UPLOAD_SESSION = re.compile(r"^upload:[^\s/#\\]+$")


def header_image_fetch(url: str) -> tuple[bytes, str]:
    """The image a header's URL names, as (bytes, content type), fetched the way outbound media is (https
    only, every address checked public, redirects checked, capped while streaming) and checked by its bytes."""
    sink = io.BytesIO()
    try:
        downloaded = media.download(url, sink=sink, max_bytes=HEADER_IMAGE_MAX_BYTES, max_redirects=3)
        content_type = media.type_check(
            kind="image", declared=downloaded.declared_type, head=downloaded.head, allowed=HEADER_IMAGE_TYPES
        )
    except media.MediaError as exc:
        problem = {
            "too_large": f"The header image is over Meta's {HEADER_IMAGE_MAX_BYTES // media.MB} MB limit.",
            "wrong_type": f"The header image must be a JPEG or PNG ({exc.message}).",
            "refused_address": f"The header image URL is refused ({exc.message}).",
        }.get(exc.code, f"The header image could not be fetched ({exc.code}: {exc.message}).")
        raise TemplateHeaderError("header_image_url", exc.code, problem) from None
    return sink.getvalue(), content_type


def meta_header_handle(*, sender, spec: TemplateSpec) -> str:
    """Fetch an image header and upload it through the Resumable Upload API: the handle that the template's
    example.header_handle carries. POST /{app-id}/uploads describes the file and opens a session; POST
    /{session} with `file_offset: 0` and the bytes answers {"h": handle}."""
    app_id = str(sender.credentials.get("app_id") or "")
    if not app_id:
        raise TemplateHeaderError(
            "sender", "no_app_id", "The Meta sender needs its app id to upload an image header: add it to the sender."
        )
    data, content_type = header_image_fetch(spec.header_image_url)
    file_name = f"{spec.name}{media.EXTENSIONS.get(content_type, '')}"
    token = sender.credentials["access_token"]
    try:
        session = _call(
            "POST",
            _graph(f"{app_id}/uploads"),
            params={"file_name": file_name, "file_length": str(len(data)), "file_type": content_type},
            # The token in a header, not in the query string Meta's guide shows: URLs end up in logs.
            headers={"Authorization": f"Bearer {token}"},
        )
        session_id = str(session.get("id") or "")
        if not _UPLOAD_SESSION.match(session_id):
            raise TemplateProviderError("bad_response", "the upload session has no usable id", retryable=True)
        uploaded = _call(
            "POST",
            _graph(session_id),
            content=data,
            headers={"Authorization": f"OAuth {token}", "file_offset": "0", "Content-Type": content_type},
        )
    except TemplateProviderError as exc:
        again = " Try again." if exc.retryable else ""
        raise TemplateHeaderError(
            "provider", exc.code, f"Meta did not take the header image ({exc.code}: {exc.message}).{again}"
        ) from None
    handle = uploaded.get("h")
    if not isinstance(handle, str) or not handle:
        raise TemplateHeaderError("provider", "bad_response", "Meta's upload answered without a handle. Try again.")
    return handle


def meta_submit(*, sender, spec: TemplateSpec) -> tuple[str, str, str]:
    """Create the template in the sender's WhatsApp Business Account: (template id, our status, reason).
    An image header is fetched and uploaded first (TemplateHeaderError when that fails: nothing is created)."""
    waba_id = sender.credentials.get("business_account_id", "")
    if not waba_id:
        raise TemplateProviderError("no_waba", "the sender has no WhatsApp Business Account id", retryable=False)
    header_handle = meta_header_handle(sender=sender, spec=spec) if spec.header_type == "image" else ""
    created = _call(
        "POST",
        _graph(f"{waba_id}/message_templates"),
        json=meta_create_payload(spec, header_handle=header_handle),
        headers={"Authorization": f"Bearer {sender.credentials['access_token']}"},
    )
    if not created.get("id"):
        raise TemplateProviderError("bad_response", "message_templates answered without an id", retryable=True)
    return str(created["id"]), META_STATUS.get(str(created.get("status", "PENDING")), "submitted"), ""


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
