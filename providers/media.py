"""Media that crosses the provider boundary: WhatsApp's limits by type, what the bytes really are, and a
streamed, capped download (no Django models; providers/twilio.py, meta.py and dialog360.py build on it).

Limits (Meta's "supported media types"; Twilio relays WhatsApp with a 16 MB message cap and 5 MB images):
image jpeg/png 5 MB, sticker webp 500 KB (animated; 100 KB static), audio 16 MB, video 16 MB, document 100 MB.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

KB, MB = 1024, 1024 * 1024

MAX_BYTES = {"image": 5 * MB, "sticker": 500 * KB, "audio": 16 * MB, "video": 16 * MB, "document": 100 * MB}

DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
# What a customer may send us, by kind. Twilio also forwards a shared contact as a vCard file.
INBOUND_TYPES = {
    "image": frozenset({"image/jpeg", "image/png"}),
    "sticker": frozenset({"image/webp"}),
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "document": DOCUMENT_TYPES | {"text/vcard", "text/x-vcard"},
}

# Which sniffed signatures each declared type may have: the bytes must agree with the header.
_COMPATIBLE = {
    "image/jpeg": {"image/jpeg"},
    "image/png": {"image/png"},
    "image/webp": {"image/webp"},
    "application/pdf": {"application/pdf"},
    "text/plain": {"text/plain"},
    "text/vcard": {"text/vcard", "text/plain"},
    "text/x-vcard": {"text/vcard", "text/plain"},
    "application/msword": {"application/x-ole-storage"},
    "application/vnd.ms-excel": {"application/x-ole-storage"},
    "application/vnd.ms-powerpoint": {"application/x-ole-storage"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"application/zip"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"application/zip"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {"application/zip"},
    "audio/ogg": {"audio/ogg"},
    "audio/amr": {"audio/amr"},
    "audio/mpeg": {"audio/mpeg"},
    "audio/aac": {"audio/aac", "audio/mp4"},
    "audio/mp4": {"audio/mp4", "video/mp4"},
    "video/mp4": {"video/mp4", "audio/mp4"},
    "video/3gpp": {"video/3gpp", "video/mp4"},
}
_ALIASES = {"image/jpg": "image/jpeg", "video/3gp": "video/3gpp", "audio/x-m4a": "audio/mp4", "audio/opus": "audio/ogg"}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "audio/ogg": ".ogg",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
}
SNIFF_BYTES = 512


class MediaError(Exception):
    """Media that could not be fetched or is refused. `code`: not_found, too_large, wrong_type, http_<status>,
    network, refused_address, bad_redirect, untrusted_url, bad_response; `retryable` says whether later may help."""

    def __init__(self, code: str, message: str, *, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Downloaded:
    """What a download wrote to the sink: the server's declared type, the size, the sha256 and the first bytes."""

    declared_type: str
    size: int
    sha256: str
    head: bytes
    filename: str = ""


def base_type(content_type: str) -> str:
    """'Audio/OGG; codecs=opus' → 'audio/ogg' (aliases folded)."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value)


def kind_for_type(content_type: str) -> str:
    """The WhatsApp media kind of a content type (Twilio gives only the type)."""
    value = base_type(content_type)
    for kind in ("image", "sticker", "audio", "video"):
        if value in INBOUND_TYPES[kind]:
            return kind
    major = value.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "document"


def sniff(head: bytes) -> str:
    """What the first bytes say the file is ("" when they say nothing we know)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio/aac"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if head.startswith((b"MZ", b"\x7fELF", b"#!")) or head.lstrip().lower().startswith((b"<!doctype", b"<html")):
        return "application/x-executable-or-html"
    if head.lstrip().upper().startswith(b"BEGIN:VCARD"):
        return "text/vcard"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
                return ""
        return "text/plain"
    return ""


def type_check(*, kind: str, declared: str, head: bytes, allowed: frozenset[str] | None = None) -> str:
    """The content type to keep, or MediaError("wrong_type"): the declared type must be one WhatsApp allows for
    the kind and the bytes must look like it (a header alone is never trusted)."""
    allowed = INBOUND_TYPES.get(kind, frozenset()) if allowed is None else allowed
    declared = base_type(declared)
    sniffed = sniff(head)
    if not declared:
        declared = next((t for t in sorted(allowed) if sniffed in _COMPATIBLE.get(t, ())), "")
    if declared not in allowed:
        raise MediaError("wrong_type", f"{declared or 'an unknown type'} is not allowed for {kind}", retryable=False)
    if sniffed not in _COMPATIBLE.get(declared, ()):
        raise MediaError(
            "wrong_type", f"the bytes are {sniffed or 'unrecognised'}, not the declared {declared}", retryable=False
        )
    return declared


# --- a capped, streamed download -------------------------------------------------------------------------


def _address_check(url: str) -> None:
    """Refuse URLs that are not https or resolve to loopback, private, link-local or metadata addresses
    (MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS lets tests reach their local fakes over http)."""
    parts = urlsplit(url)
    allow_private = getattr(settings, "MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS", False)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise MediaError(
            "refused_address", f"only https URLs are fetched, not {parts.scheme or 'none'}", retryable=False
        )
    if not parts.hostname:
        raise MediaError("refused_address", "the URL has no host", retryable=False)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise MediaError("network", f"cannot resolve {parts.hostname}: {exc}", retryable=True) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global and not allow_private:
            raise MediaError("refused_address", f"{parts.hostname} resolves to {address}", retryable=False)


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.PROVIDER_HTTP_TIMEOUT_SECONDS, connect=5.0)


def get_json(url: str, *, headers: Mapping[str, str]) -> dict:
    """A small JSON GET (a media id's metadata), no redirects, errors as MediaError."""
    _address_check(url)
    try:
        response = httpx.get(url, headers=dict(headers), timeout=_timeout(), follow_redirects=False)
    except httpx.TransportError as exc:
        raise MediaError("network", f"{type(exc).__name__}: {exc}", retryable=True) from None
    _status_check(response)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise MediaError("bad_response", "the media metadata is not a JSON object", retryable=True)
    return data


def _status_check(response: httpx.Response) -> None:
    if response.status_code == 404:
        raise MediaError("not_found", "the provider has no such media (yet)", retryable=True)
    if response.status_code >= 400:
        # 5xx, 429 and auth errors (a credential being rotated) may pass; bounded by the caller's attempts.
        raise MediaError(f"http_{response.status_code}", response.reason_phrase or "error", retryable=True)


def download(
    url: str,
    *,
    sink: BinaryIO,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 0,
) -> Downloaded:
    """Stream `url` into `sink`, refusing it as soon as it passes `max_bytes` (by Content-Length before
    reading, else while reading: never loaded whole). Redirects are followed by hand, at most `max_redirects`,
    each target checked like the first; `headers` (credentials) go only to the first URL's host."""
    first_host = urlsplit(url).netloc
    deadline = time.monotonic() + getattr(settings, "MEDIA_FETCH_MAX_SECONDS", 120)
    with httpx.Client(timeout=_timeout(), follow_redirects=False) as client:
        for _hop in range(max_redirects + 1):
            _address_check(url)
            send_headers = dict(headers or {}) if urlsplit(url).netloc == first_host else {}
            try:
                with client.stream("GET", url, headers=send_headers) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        if not location:
                            raise MediaError("bad_redirect", "a redirect without Location", retryable=True)
                        url = urljoin(url, location)
                        continue
                    _status_check(response)
                    return _stream(response, sink=sink, max_bytes=max_bytes, deadline=deadline)
            except httpx.TransportError as exc:
                raise MediaError("network", f"{type(exc).__name__}: {exc}", retryable=True) from None
    raise MediaError("bad_redirect", f"more than {max_redirects} redirect(s)", retryable=False)


def _stream(response: httpx.Response, *, sink: BinaryIO, max_bytes: int, deadline: float) -> Downloaded:
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise MediaError("too_large", f"{int(length)} bytes is over the {max_bytes}-byte limit", retryable=False)
    digest, size, head = hashlib.sha256(), 0, b""
    for chunk in response.iter_bytes(64 * KB):
        size += len(chunk)
        if size > max_bytes:
            raise MediaError("too_large", f"over the {max_bytes}-byte limit", retryable=False)
        if time.monotonic() > deadline:
            raise MediaError("network", "the download took too long", retryable=True)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
        sink.write(chunk)
    return Downloaded(
        declared_type=base_type(response.headers.get("content-type", "")),
        size=size,
        sha256=digest.hexdigest(),
        head=head,
        filename=_filename(response.headers.get("content-disposition", "")),
    )


def _filename(disposition: str) -> str:
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"')[:200]
    return ""


# --- what a provider can send ----------------------------------------------------------------------------

OUTBOUND_KINDS = ("image", "document")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
CAPTION_MAX = 1024


@dataclass(frozen=True)
class OutboundMediaRules:
    """Per kind, the types and the size a provider sends, and whether a document carries a caption."""

    types: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {"image": IMAGE_TYPES, "document": DOCUMENT_TYPES}
    )
    max_bytes: Mapping[str, int] = field(default_factory=lambda: {"image": 5 * MB, "document": 100 * MB})
    document_caption: bool = True

    def violations(self, *, kind: str, content_type: str, size: int, caption: str) -> list[str]:
        """Every way this file breaks the provider's limits (empty when it fits)."""
        if kind not in self.types:
            return [f"{kind} cannot be sent"]
        problems = []
        if base_type(content_type) not in self.types[kind]:
            allowed = ", ".join(sorted(EXTENSIONS.get(t, t).lstrip(".") for t in self.types[kind]))
            problems.append(f"a {kind} must be one of: {allowed} (this is {base_type(content_type) or 'unknown'})")
        if size > self.max_bytes[kind]:
            problems.append(f"a {kind} may be at most {self.max_bytes[kind] // MB} MB (this is {size} bytes)")
        return problems + self.caption_violations(kind=kind, caption=caption)

    def caption_violations(self, *, kind: str, caption: str) -> list[str]:
        problems = []
        if len(caption) > CAPTION_MAX:
            problems.append(f"the caption may be at most {CAPTION_MAX} characters")
        if kind == "document" and caption and not self.document_caption:
            problems.append("this provider sends documents without a caption: send the text as its own message")
        return problems
