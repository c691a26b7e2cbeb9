"""Inbound media: fetched from each provider's (fake) API by the task, kept with type, size and sha256 through
the storage API, refused when too large (while streaming) or not what it claims, retried within bounds."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid

import pytest
from PIL import Image

from conversations.models import Message, MessageMedia
from conversations.services.inbound import message_receive
from conversations.services.media import message_media_fetch
from conversations.tasks import fetch_message_media
from providers import media as provider_media
from providers import meta
from providers.content import InboundMessage
from providers.media import MediaError, sniff, type_check
from restaurants.services import sender_register
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import RestaurantFactory, SenderFactory
from tests.fakes.dialog360 import FakeDialog360
from tests.fakes.meta_graph import FakeMetaGraph
from tests.fakes.server import FakeFile

ACCESS_TOKEN = "EAAmediatoken" + "x" * 30
APP_SECRET = "meta-app-secret-for-media"
D360_KEY = "d360-api-key-for-media-0001"


def jpeg_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def graph(settings):
    server = FakeMetaGraph(ACCESS_TOKEN).start()
    settings.META_GRAPH_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture
def d360(settings):
    server = FakeDialog360(D360_KEY).start()
    settings.D360_API_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture
def meta_sender():
    return SenderFactory(
        provider="meta",
        credentials={"phone_number_id": "1065550199", "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        routing_id="1065550199",
    )


def _inbound(sender, media: list[dict], *, text="") -> Message:
    message, created = message_receive(
        sender=sender,
        inbound=InboundMessage(
            provider=sender.provider,
            provider_message_id=f"wamid.{uuid.uuid4().hex}",
            to_number=sender.phone_number,
            from_number="+966508034010",
            kind="media",
            text=text,
            media=media,
        ),
    )
    assert created
    return message


def _twilio_media(fake_twilio, sender, file: FakeFile) -> dict:
    url = fake_twilio.add_media(
        account_sid=sender.credentials["account_sid"], auth_token=sender.credentials["auth_token"], file=file
    )
    return {"url": url, "content_type": file.content_type}


# --- each provider, end to end ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_twilio_image_webhook_is_fetched_with_the_senders_credentials_and_kept(client, fake_twilio):
    sender = SenderFactory()
    data = jpeg_bytes()
    file = FakeFile(data=data, content_type="image/jpeg")
    url = fake_twilio.add_media(
        account_sid=sender.credentials["account_sid"], auth_token=sender.credentials["auth_token"], file=file
    )
    params = twilio_inbound_params(
        sender=sender, from_number="+966508034010", body="", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg"
    )

    assert signed_post(client, sender=sender, params=params).status_code == 200

    media = MessageMedia.objects.get()
    assert media.status == "stored" and media.kind == "image" and media.content_type == "image/jpeg"
    assert media.size == len(data) and media.sha256 == hashlib.sha256(data).hexdigest()
    assert media.file.read() == data and media.restaurant_id == sender.restaurant_id
    assert media.message.body.startswith("📎")  # the message itself is kept as it came
    # The API URL got the account's basic auth; the media store it redirected to (another host) got none.
    (stored,) = file.requests
    assert "Authorization" not in stored["headers"] and stored["headers"]["Host"].startswith("localhost")


@pytest.mark.django_db(transaction=True)
def test_a_meta_image_webhook_is_fetched_through_the_graph_media_url_and_kept(client, graph, meta_sender):
    data = jpeg_bytes(color=(10, 200, 10))
    media_id = graph.add_media(FakeFile(data=data, content_type="image/jpeg"))
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550100199", "phone_number_id": "1065550199"},
                            "contacts": [{"profile": {"name": "Layla"}, "wa_id": "966508034010"}],
                            "messages": [
                                {
                                    "from": "966508034010",
                                    "id": f"wamid.{uuid.uuid4().hex}",
                                    "timestamp": str(int(time.time())),
                                    "type": "image",
                                    "image": {"mime_type": "image/jpeg", "id": media_id, "caption": "this one"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=APP_SECRET, body=body),
    )

    assert response.status_code == 200
    media = MessageMedia.objects.get()
    assert (media.status, media.kind, media.content_type, media.size) == ("stored", "image", "image/jpeg", len(data))
    assert media.sha256 == hashlib.sha256(data).hexdigest() and media.file.read() == data
    assert media.message.body == "this one"
    gets = [r for r in graph.requests if r.get("method") == "GET"]
    assert [r["path"].split("?")[0] for r in gets] == [f"/v21.0/{media_id}", "/whatsapp_business/attachments/"]
    assert all(r["auth"] == f"Bearer {ACCESS_TOKEN}" for r in gets)


@pytest.mark.django_db
def test_a_360dialog_document_is_fetched_through_its_own_host_with_the_api_key(d360):
    sender = sender_register(
        restaurant=RestaurantFactory(),
        provider="360dialog",
        phone_number="+15550107788",
        credentials={"phone_number_id": "1065557788", "api_key": D360_KEY, "webhook_token": "t" * 24},
    )
    media_id = d360.add_media(FakeFile(data=PDF, content_type="application/pdf"))
    message = _inbound(
        sender, [{"type": "document", "id": media_id, "content_type": "application/pdf", "filename": "menu.pdf"}]
    )

    (media,) = message.media_files.all()
    assert message_media_fetch(media_id=media.pk).result == "stored"

    media.refresh_from_db()
    assert (media.content_type, media.filename, media.size) == ("application/pdf", "menu.pdf", len(PDF))
    assert media.file.read() == PDF
    assert all(r["api_key"] == D360_KEY for r in d360.requests)
    assert [r["path"].split("?")[0] for r in d360.requests] == [f"/{media_id}", "/whatsapp_business/attachments/"]


# --- failures ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_media_url_that_404s_is_retried_within_bounds_then_failed_and_the_message_kept(settings, fake_twilio):
    settings.MEDIA_FETCH_MAX_ATTEMPTS = 3
    sender = SenderFactory()
    file = FakeFile(status=404, content_type="image/jpeg")
    message = _inbound(sender, [_twilio_media(fake_twilio, sender, file)])
    (media,) = message.media_files.all()

    fetch_message_media.delay(media.pk)  # eager: the task's retries run one after the other

    media.refresh_from_db()
    assert (media.status, media.error_code, media.attempts) == ("failed", "not_found", 3)
    assert len(file.requests) == 3 and not media.file
    assert Message.objects.filter(pk=message.pk).exists()
    # A failed file is not fetched again.
    assert message_media_fetch(media_id=media.pk).result == "skipped" and len(file.requests) == 3


@pytest.mark.django_db
def test_a_404_that_turns_into_the_file_on_a_retry_is_stored(fake_twilio):
    sender = SenderFactory()
    file = FakeFile(status=404, data=PDF, content_type="application/pdf")
    message = _inbound(sender, [_twilio_media(fake_twilio, sender, file)])
    (media,) = message.media_files.all()

    assert message_media_fetch(media_id=media.pk).result == "retry"
    media.refresh_from_db()
    assert media.status == "pending" and media.error_code == "not_found" and media.next_attempt_at is not None
    file.status = 200
    MessageMedia.objects.filter(pk=media.pk).update(next_attempt_at=None)  # the backoff has passed

    assert message_media_fetch(media_id=media.pk).result == "stored"
    media.refresh_from_db()
    assert (media.status, media.error_code, media.attempts, media.size) == ("stored", "", 2, len(PDF))


@pytest.mark.django_db
def test_an_oversized_body_without_a_length_is_refused_while_streaming(fake_twilio):
    sender = SenderFactory()
    total = 64 * 1024 * 1024  # 64 MB of "image" against the 5 MB cap, and no Content-Length to refuse it by
    file = FakeFile(data=jpeg_bytes(), content_type="image/jpeg", stream_bytes=total, announce_length=False)
    message = _inbound(sender, [_twilio_media(fake_twilio, sender, file)])
    (media,) = message.media_files.all()

    assert message_media_fetch(media_id=media.pk).result == "failed"

    media.refresh_from_db()
    assert (media.status, media.error_code, media.attempts) == ("failed", "too_large", 1)
    assert not media.file
    time.sleep(0.2)  # let the fake notice the hang-up
    # The client stopped reading just past the cap: far from the whole body (socket buffers aside).
    assert file.bytes_written < 24 * 1024 * 1024, file.bytes_written


@pytest.mark.django_db
def test_an_announced_oversize_is_refused_before_any_download(graph, meta_sender):
    file = FakeFile(data=jpeg_bytes(), content_type="image/jpeg", stream_bytes=6 * 1024 * 1024)
    media_id = graph.add_media(file)
    message = _inbound(meta_sender, [{"type": "image", "id": media_id, "content_type": "image/jpeg"}])
    (media,) = message.media_files.all()

    assert message_media_fetch(media_id=media.pk).result == "failed"

    media.refresh_from_db()
    assert media.error_code == "too_large" and file.requests == []  # the metadata's file_size said it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("declared", "data", "reason"),
    [
        ("image/jpeg", PDF, "the bytes are application/pdf"),  # a header that lies
        ("image/jpeg", b"<!DOCTYPE html><script>alert(1)</script>", "the bytes are"),
        ("application/x-msdownload", b"MZ\x90\x00" + b"\0" * 60, "not allowed for document"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_at_once(fake_twilio, declared, data, reason):
    sender = SenderFactory()
    file = FakeFile(data=data, content_type=declared)
    message = _inbound(sender, [_twilio_media(fake_twilio, sender, file)])
    (media,) = message.media_files.all()

    assert message_media_fetch(media_id=media.pk).result == "failed"

    media.refresh_from_db()
    assert media.error_code == "wrong_type" and reason in media.error_message and media.attempts == 1
    assert not media.file


@pytest.mark.django_db
def test_a_media_url_off_twilios_api_host_never_gets_the_credentials(fake_twilio):
    sender = SenderFactory()
    file = FakeFile(data=PDF, content_type="application/pdf")
    message = _inbound(sender, [{"url": "https://evil.example/steal", "content_type": "application/pdf"}])
    (media,) = message.media_files.all()

    assert message_media_fetch(media_id=media.pk).result == "failed"

    media.refresh_from_db()
    assert media.error_code == "untrusted_url" and file.requests == []


def test_private_and_plain_http_addresses_are_refused_unless_allowed(settings):
    settings.MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = False
    for url in ("http://example.com/x", "https://127.0.0.1/x", "https://10.0.0.1/x", "https://169.254.169.254/x"):
        with pytest.raises(MediaError) as refused:
            provider_media.download(url, sink=io.BytesIO(), max_bytes=10)
        assert refused.value.code == "refused_address" and not refused.value.retryable


def test_sniffing_reads_the_bytes_not_the_name():
    assert sniff(jpeg_bytes()) == "image/jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"\x00\x00\x00\x18ftypmp42") == "video/mp4"
    assert sniff(b"\x00\x00\x00\x18ftyp3gp4") == "video/3gpp"
    assert sniff(b"OggS\x00\x02") == "audio/ogg"
    assert sniff("مرحبا hello".encode()) == "text/plain"
    assert type_check(kind="audio", declared="audio/ogg; codecs=opus", head=b"OggS\x00") == "audio/ogg"
    assert type_check(kind="image", declared="", head=jpeg_bytes()) == "image/jpeg"
    with pytest.raises(MediaError):
        type_check(kind="image", declared="image/gif", head=b"GIF89a....")
