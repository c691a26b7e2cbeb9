"""Files of messages: inbound media fetched from the provider and kept (content type, size, sha256, through
Django's storage API), and the signed links providers fetch outbound files from.

The fetch runs in conversations.tasks.fetch_message_media; a file the provider does not have yet (404), a
network error or a 5xx is retried with backoff up to MEDIA_FETCH_MAX_ATTEMPTS, then the row is failed (the
message itself is kept either way). Oversized or mistyped files are refused at once.
"""

from __future__ import annotations

import hashlib
import logging
import random
import tempfile
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.db.models import F, Q
from django.utils import timezone

from providers.content import OutboundContent, SendError
from providers.media import EXTENSIONS, MAX_BYTES, SNIFF_BYTES, MediaError, download, kind_for_type, type_check
from providers.registry import provider_for
from restaurants.models import Sender
from sufrahbot.events import publish

from ..events import message_event_data
from ..models import Message, MessageMedia

logger = logging.getLogger(__name__)

PUBLIC_LINK_SALT = "conversations.media.public"
# A claimed fetch that outlives this (a killed worker) is taken over by the sweep.
FETCH_CLAIM_LEASE = timedelta(minutes=10)


@dataclass
class FetchOutcome:
    result: str  # stored | failed | retry | skipped
    retry_in: float | None = None


def message_media_records(*, message: Message, sender: Sender, media: list[dict]) -> list[MessageMedia]:
    """One pending row per file an inbound message carries (called as it is stored, in its transaction)."""
    rows = [
        MessageMedia(
            restaurant_id=message.restaurant_id,
            message=message,
            sender=sender,
            position=position,
            kind=entry.get("type") or kind_for_type(entry.get("content_type", "")),
            reference=entry,
            content_type=entry.get("content_type", "")[:200],
            filename=(entry.get("filename") or "")[:200],
            next_attempt_at=timezone.now(),
        )
        for position, entry in enumerate(media)
    ]
    return MessageMedia.objects.bulk_create(rows)


def _backoff(attempts: int) -> float:
    base = settings.MEDIA_FETCH_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(base, 3600.0) * random.uniform(0.5, 1.5)


def message_media_fetch(*, media_id: int) -> FetchOutcome:
    """One attempt at fetching a pending inbound file and keeping it. Safe to run twice: only a pending row
    whose previous claim has ended is claimed."""
    now = timezone.now()
    claimed = MessageMedia.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)),
        pk=media_id,
        status=MessageMedia.Status.PENDING,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + FETCH_CLAIM_LEASE)
    if not claimed:
        return FetchOutcome("skipped")
    row = MessageMedia.objects.select_related("sender").get(pk=media_id)
    if row.sender is None:
        return _fetch_failed(row, MediaError("no_sender", "the sender that received it is gone", retryable=False))
    provider = provider_for(row.sender.provider)
    max_bytes = MAX_BYTES.get(row.kind, MAX_BYTES["document"])
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as sink:
        try:
            downloaded = provider.media_download(
                credentials=row.sender.credentials, reference=row.reference, sink=sink, max_bytes=max_bytes
            )
            content_type = type_check(
                kind=row.kind, declared=downloaded.declared_type or row.content_type, head=downloaded.head
            )
        except MediaError as exc:
            return _fetch_failed(row, exc)
        sink.seek(0)
        filename = row.filename or downloaded.filename or f"{row.kind}{EXTENSIONS.get(content_type, '')}"
        row.file.save(filename, File(sink, name=filename), save=False)
    MessageMedia.objects.filter(pk=row.pk).update(
        status=MessageMedia.Status.STORED,
        file=row.file.name,
        content_type=content_type,
        size=downloaded.size,
        sha256=downloaded.sha256,
        filename=filename[:200],
        stored_at=timezone.now(),
        next_attempt_at=None,
        error_code="",
        error_message="",
    )
    logger.info(
        "message media stored", extra={"media_id": row.pk, "message_id": row.message_id, "size": downloaded.size}
    )
    _announce(row.message_id)
    return FetchOutcome("stored")


def _fetch_failed(row: MessageMedia, exc: MediaError) -> FetchOutcome:
    attempts = row.attempts
    if exc.retryable and attempts < settings.MEDIA_FETCH_MAX_ATTEMPTS:
        retry_in = _backoff(attempts)
        MessageMedia.objects.filter(pk=row.pk).update(
            error_code=exc.code[:32],
            error_message=exc.message[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=retry_in),
        )
        logger.warning(
            "media fetch failed, will retry", extra={"media_id": row.pk, "code": exc.code, "attempt": attempts}
        )
        return FetchOutcome("retry", retry_in=retry_in)
    MessageMedia.objects.filter(pk=row.pk).update(
        status=MessageMedia.Status.FAILED,
        error_code=exc.code[:32],
        error_message=exc.message[:2000],
        next_attempt_at=None,
    )
    logger.error("media fetch failed for good", extra={"media_id": row.pk, "code": exc.code, "attempts": attempts})
    _announce(row.message_id)
    return FetchOutcome("failed")


def _announce(message_id: int) -> None:
    """Tell open inboxes the message's files changed (the same event a status change sends)."""
    message = Message.objects.filter(pk=message_id).first()
    if message is not None:
        publish(message.restaurant_id, {"type": "message.status", "message": message_event_data(message)})


def media_stranded(*, limit: int = 500) -> list[int]:
    """Pending files whose retry is due or whose claim ran out (a lost task, a killed worker)."""
    return list(
        MessageMedia.objects.filter(status=MessageMedia.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- links a provider fetches outbound files from ---------------------------------------------------------


def media_public_token(*, media: MessageMedia) -> str:
    return signing.dumps({"m": media.pk}, salt=PUBLIC_LINK_SALT, compress=False)


def media_public_url(*, media: MessageMedia) -> str:
    """A signed, expiring URL of one stored outbound file (MEDIA_PUBLIC_URL_MAX_AGE_SECONDS) for the provider
    to fetch, made when the message is sent. It names nothing else: another file needs its own signature."""
    name = quote((media.filename or "file").replace("/", "_"))
    return f"{settings.PUBLIC_BASE_URL}/media/{media_public_token(media=media)}/{name}"


def media_by_public_token(*, token: str) -> MessageMedia | None:
    """The outbound file a signed link names, while it is valid; None for anything else (a customer's file is
    never reachable this way, whatever is signed)."""
    try:
        data = signing.loads(token, salt=PUBLIC_LINK_SALT, max_age=settings.MEDIA_PUBLIC_URL_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), int):
        return None
    return MessageMedia.objects.filter(
        pk=data["m"], status=MessageMedia.Status.STORED, message__direction=Message.Direction.OUTBOUND
    ).first()


# --- outbound files ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingFile:
    """A file to send with a message: an upload (`content`), a file already in storage (`storage_name`, e.g.
    a menu photo), or a URL we fetch when it is sent (`url`)."""

    kind: str  # image | document
    content_type: str = ""
    size: int = 0
    sha256: str = ""
    filename: str = ""
    content: File | None = None
    storage_name: str = ""
    url: str = ""


def outgoing_upload_check(*, upload, kind: str, caption: str, rules) -> OutgoingFile:
    """An uploaded file checked against the provider's rules (type by its bytes, size, caption); raises
    MediaError with the reason."""
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    content_type = type_check(
        kind=kind,
        declared=getattr(upload, "content_type", "") or "",
        head=head,
        allowed=rules.types.get(kind, frozenset()),
    )
    problems = rules.violations(kind=kind, content_type=content_type, size=upload.size, caption=caption)
    if problems:
        raise MediaError("refused", "; ".join(problems), retryable=False)
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = (getattr(upload, "name", "") or f"{kind}{EXTENSIONS.get(content_type, '')}").rsplit("/", 1)[-1][:200]
    return OutgoingFile(
        kind=kind, content_type=content_type, size=upload.size, sha256=digest.hexdigest(), filename=name, content=upload
    )


def message_media_attach(*, message: Message, files: list[OutgoingFile]) -> list[MessageMedia]:
    """Rows for an outbound message's files, in its transaction: stored at once (an upload or a stored file),
    or pending a URL fetched when the message is sent."""
    rows = []
    for position, outgoing in enumerate(files):
        row = MessageMedia(
            restaurant_id=message.restaurant_id,
            message=message,
            position=position,
            kind=outgoing.kind,
            content_type=outgoing.content_type,
            size=outgoing.size or None,
            sha256=outgoing.sha256,
            filename=outgoing.filename,
        )
        if outgoing.url:
            row.reference = {"url": outgoing.url}
        elif outgoing.content is not None:
            row.file.save(outgoing.filename or "file", outgoing.content, save=False)
            row.status, row.stored_at = MessageMedia.Status.STORED, timezone.now()
        else:
            row.file.name = outgoing.storage_name
            row.status, row.stored_at = MessageMedia.Status.STORED, timezone.now()
        row.save()
        rows.append(row)
    return rows


def outbound_content_with_media(*, message: Message, content: OutboundContent, rules) -> OutboundContent:
    """The content as the provider gets it: the signed link to the message's file (fetched first when staff
    gave a URL), checked against the provider's limits. Raises SendError (retryable or not)."""
    if content.kind not in ("image", "document"):
        return content
    media = message.media_files.order_by("position").first()
    if media is None:
        raise SendError("media_missing", "the message has no file to send", retryable=False)
    if media.status == MessageMedia.Status.PENDING:
        media = _outbound_url_fetch(media=media, rules=rules)
    elif media.status != MessageMedia.Status.STORED:
        raise SendError(f"media_{media.error_code or 'failed'}"[:32], media.error_message or "no file", retryable=False)
    problems = rules.violations(
        kind=media.kind, content_type=media.content_type, size=media.size or 0, caption=content.body
    )
    if problems:
        raise SendError("media_refused", "; ".join(problems), retryable=False)
    return replace(content, media_url=media_public_url(media=media), filename=content.filename or media.filename)


def _outbound_url_fetch(*, media: MessageMedia, rules) -> MessageMedia:
    url = str(media.reference.get("url", ""))
    max_bytes = rules.max_bytes.get(media.kind, 0)
    MessageMedia.objects.filter(pk=media.pk).update(attempts=F("attempts") + 1)
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as sink:
        try:
            downloaded = download(url, sink=sink, max_bytes=max_bytes, max_redirects=3)
            content_type = type_check(
                kind=media.kind,
                declared=downloaded.declared_type,
                head=downloaded.head,
                allowed=rules.types.get(media.kind, frozenset()),
            )
        except MediaError as exc:
            if not exc.retryable:
                MessageMedia.objects.filter(pk=media.pk).update(
                    status=MessageMedia.Status.FAILED, error_code=exc.code[:32], error_message=exc.message[:2000]
                )
            raise SendError(f"media_{exc.code}"[:32], exc.message, retryable=exc.retryable) from None
        sink.seek(0)
        tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        filename = media.filename or downloaded.filename or tail or f"{media.kind}{EXTENSIONS.get(content_type, '')}"
        media.file.save(filename[:200], File(sink, name=filename[:200]), save=False)
    media.status, media.content_type, media.size, media.sha256 = (
        MessageMedia.Status.STORED,
        content_type,
        downloaded.size,
        downloaded.sha256,
    )
    media.filename, media.stored_at = filename[:200], timezone.now()
    media.save(update_fields=["status", "file", "content_type", "size", "sha256", "filename", "stored_at"])
    return media
