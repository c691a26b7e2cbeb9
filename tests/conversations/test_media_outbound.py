"""Outbound media: staff send an image or document (upload or URL) through the messages API, the bot shows a
dish's photo when it is opened; each provider gets its own payload (Twilio MediaUrl; Meta image/document with
link, caption, filename) pointing at a signed, expiring link to our copy, within the provider's limits."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from conversations.models import Message, MessageMedia
from conversations.services.media import media_public_token
from restaurants.models import MenuItem
from restaurants.services import menu_item_photo_set
from tests.api.conftest import auth, error_of, staff
from tests.conftest import PUBLIC_BASE_URL
from tests.conversations.factories import TwilioCustomer, option_number, restaurant_with_menu
from tests.factories import ConversationFactory, MessageFactory, SenderFactory
from tests.fakes.meta_graph import FakeMetaGraph
from tests.fakes.server import FakeFile, JsonHandler, LocalServer
from tests.orders.factories import customer_conversation

pytestmark = pytest.mark.django_db(transaction=True)
ACCESS_TOKEN = "EAAoutboundmedia" + "x" * 30
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def png_bytes(size=(80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 200)).save(out, "PNG")
    return out.getvalue()


class FileServer(LocalServer):
    """A plain web server holding files at /<name> (what a staff member's media_url points at)."""

    def __init__(self) -> None:
        self.files: dict[str, FakeFile] = {}
        files = self.files

        class Handler(JsonHandler):
            def do_GET(self):
                file = files.get(self.path.lstrip("/"))
                if file is None:
                    return self.reply(404, {"error": "no such file"})
                return file.serve(self)

        self._serve(Handler)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def file_server():
    server = FileServer().start()
    yield server
    server.stop()


@pytest.fixture
def graph(settings):
    server = FakeMetaGraph(ACCESS_TOKEN).start()
    settings.META_GRAPH_BASE_URL = server.base_url
    yield server
    server.stop()


def _meta_conversation():
    sender = SenderFactory(
        provider="meta",
        credentials={"phone_number_id": "1065550177", "access_token": ACCESS_TOKEN, "app_secret": "s" * 20},
        routing_id="1065550177",
    )
    return customer_conversation(sender=sender)


def _messages_url(conversation) -> str:
    return f"/api/v1/restaurants/{conversation.restaurant_id}/conversations/{conversation.pk}/messages/"


def _public_path(media_url: str) -> str:
    assert media_url.startswith(f"{PUBLIC_BASE_URL}/media/"), media_url
    return urlsplit(media_url).path


# --- staff send, each provider ------------------------------------------------------------------------------


def test_a_staff_image_upload_goes_to_twilio_as_a_signed_media_url_serving_our_copy(api, client, fake_twilio):
    conversation = customer_conversation()
    data = png_bytes()

    response = api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile("dish.png", data, content_type="image/png"), "body": "Today's special"},
        format="multipart",
        **auth(staff(conversation.restaurant)),
    )

    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.kind, message.body, message.status) == ("image", "Today's special", "sent")
    (media,) = message.media_files.all()
    assert (media.status, media.content_type, media.size) == ("stored", "image/png", len(data))
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    form = fake_twilio.state.requests[-1]["form"]
    assert form["Body"] == "Today's special"
    served = client.get(_public_path(form["MediaUrl"]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == data
    assert response.json()["files"][0]["download_url"].endswith(f"/media/{media.pk}/")


def test_a_staff_document_goes_to_meta_with_link_caption_and_filename(api, client, graph):
    conversation = _meta_conversation()

    response = api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile("menu.pdf", PDF, content_type="application/pdf"), "body": "Our menu"},
        format="multipart",
        **auth(staff(conversation.restaurant)),
    )

    assert response.status_code == 201, response.content
    (sent,) = graph.sent
    assert sent["type"] == "document"
    assert sent["document"]["caption"] == "Our menu" and sent["document"]["filename"] == "menu.pdf"
    served = client.get(_public_path(sent["document"]["link"]))
    assert served.status_code == 200 and served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith('attachment; filename="menu.pdf"')


def test_a_meta_image_has_type_image_with_its_link_and_caption(api, graph):
    conversation = _meta_conversation()

    api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile("a.png", png_bytes(), content_type="image/png"), "body": "Look"},
        format="multipart",
        **auth(staff(conversation.restaurant)),
    )

    (sent,) = graph.sent
    assert sent["type"] == "image" and set(sent["image"]) == {"link", "caption"} and sent["image"]["caption"] == "Look"


def test_a_twilio_document_goes_without_a_body_and_a_caption_is_refused(api, fake_twilio):
    conversation = customer_conversation()
    member = staff(conversation.restaurant)

    refused = api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile("m.pdf", PDF, content_type="application/pdf"), "body": "caption"},
        format="multipart",
        **auth(member),
    )
    sent = api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile("m.pdf", PDF, content_type="application/pdf")},
        format="multipart",
        **auth(member),
    )

    assert refused.status_code == 400 and "without a caption" in error_of(refused)["details"]["file"][0]
    assert sent.status_code == 201 and sent.json()["kind"] == "document"
    form = fake_twilio.state.requests[-1]["form"]
    assert "Body" not in form and form["MediaUrl"].startswith(f"{PUBLIC_BASE_URL}/media/")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"file": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 1), "image/png")}, "at most 5 MB"),
        ({"file": ("x.png", PDF, "image/png"), "kind": "image"}, "the bytes are application/pdf"),
        ({"file": ("tool.exe", b"MZ\x90\x00" + b"\0" * 60, "application/x-msdownload")}, "not allowed for document"),
        ({"file": ("a.gif", b"GIF89a" + b"\0" * 30, "image/gif"), "kind": "image"}, "not allowed for image"),
    ],
)
def test_files_outside_the_providers_limits_are_a_400_that_says_why(api, graph, fields, problem):
    conversation = _meta_conversation()
    name, data, content_type = fields.pop("file")

    response = api.post(
        _messages_url(conversation),
        {"file": SimpleUploadedFile(name, data, content_type=content_type), **fields},
        format="multipart",
        **auth(staff(conversation.restaurant)),
    )

    assert response.status_code == 400
    assert problem in error_of(response)["details"]["file"][0]
    assert not Message.objects.filter(direction="out").exists() and graph.sent == []


def test_a_media_url_is_fetched_and_checked_when_sent_then_served_from_our_copy(api, client, graph, file_server):
    conversation = _meta_conversation()
    file_server.files["menu.pdf"] = FakeFile(data=PDF, content_type="application/pdf")

    response = api.post(
        _messages_url(conversation),
        {"media_url": f"{file_server.base_url}/menu.pdf"},
        format="json",
        **auth(staff(conversation.restaurant)),
    )

    assert response.status_code == 201, response.content
    (sent,) = graph.sent
    assert sent["type"] == "document" and sent["document"]["filename"] == "menu.pdf"
    assert b"".join(client.get(_public_path(sent["document"]["link"])).streaming_content) == PDF
    media = MessageMedia.objects.get()
    assert media.status == "stored" and media.size == len(PDF) and media.reference["url"].endswith("/menu.pdf")


def test_a_media_url_that_404s_is_retried_then_the_message_fails_with_the_reason(api, graph, file_server, settings):
    settings.SEND_MAX_RETRIES = 2
    conversation = _meta_conversation()

    response = api.post(
        _messages_url(conversation),
        {"media_url": f"{file_server.base_url}/gone.jpg", "body": "here"},
        format="json",
        **auth(staff(conversation.restaurant)),
    )

    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.status, message.error_code, message.attempts) == ("failed", "media_not_found", 3)
    assert graph.sent == []


def test_a_plain_http_or_private_media_url_is_never_fetched(api, graph, settings):
    settings.MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = False
    conversation = _meta_conversation()

    response = api.post(
        _messages_url(conversation),
        {"media_url": "https://169.254.169.254/latest/meta-data/x.pdf"},
        format="json",
        **auth(staff(conversation.restaurant)),
    )

    message = Message.objects.get(pk=response.json()["id"])
    assert (message.status, message.error_code) == ("failed", "media_refused_address")


# --- the signed link ----------------------------------------------------------------------------------------


def test_the_signed_link_serves_only_its_outbound_file_and_expires(client, settings):
    conversation = ConversationFactory()
    outbound = MessageMedia(
        restaurant=conversation.restaurant,
        message=MessageFactory(conversation=conversation, direction="out", status="sent"),
        kind="image",
        status="stored",
        content_type="image/png",
        filename="a.png",
    )
    outbound.file.save("a.png", ContentFile(png_bytes()), save=False)
    outbound.save()
    inbound = MessageMedia(
        restaurant=conversation.restaurant,
        message=MessageFactory(conversation=conversation, direction="in"),
        kind="image",
        status="stored",
        content_type="image/png",
        filename="customer.png",
    )
    inbound.file.save("customer.png", ContentFile(png_bytes()), save=False)
    inbound.save()
    token = media_public_token(media=outbound)

    assert client.get(f"/media/{token}/a.png").status_code == 200
    assert client.head(f"/media/{token}/a.png").status_code == 200
    assert client.post(f"/media/{token}/a.png").status_code == 405
    assert client.get(f"/media/{token[:-2]}xx/a.png").status_code == 404  # tampered
    assert client.get(f"/media/{media_public_token(media=inbound)}/c.png").status_code == 404  # a customer's file
    settings.MEDIA_PUBLIC_URL_MAX_AGE_SECONDS = -1
    assert client.get(f"/media/{token}/a.png").status_code == 404  # expired


# --- the bot shows the dish -----------------------------------------------------------------------------------


def test_the_bot_shows_a_dishs_photo_when_the_customer_opens_it(client, fake_twilio):
    restaurant = restaurant_with_menu()
    kebab = MenuItem.objects.get(restaurant=restaurant, name_en="Lamb Kebab")
    out = io.BytesIO()
    Image.new("RGB", (2400, 1800), (150, 80, 20)).save(out, "JPEG")
    menu_item_photo_set(item=kebab, upload=SimpleUploadedFile("k.jpg", out.getvalue(), content_type="image/jpeg"))
    customer = TwilioCustomer(client, restaurant=restaurant)

    (welcome,) = customer.says("Hi there")
    (categories,) = customer.says(option_number(welcome, "menu:order"))
    (grills,) = customer.says("1")
    (photo, quantity) = customer.says(option_number(grills, f"item:{kebab.pk}"))

    assert photo.kind == "image" and photo.media_ref == f"menu_item:{kebab.pk}"
    assert "Lamb Kebab" in photo.body and "38.00" in photo.body
    assert quantity.kind == "buttons" and "Lamb Kebab" in quantity.body
    message = Message.objects.filter(direction="out", kind="image").get()
    (media,) = message.media_files.all()
    assert media.file.name == MenuItem.objects.get(pk=kebab.pk).image.name and media.content_type == "image/jpeg"
    image_send = next(r["form"] for r in fake_twilio.state.requests if "MediaUrl" in r.get("form", {}))
    served = client.get(_public_path(image_send["MediaUrl"]))
    assert served.status_code == 200 and Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (
        1600,
        1200,
    )
    # Asked again after a reply it did not understand: the question alone, not the photo a second time.
    again = customer.says("lots")
    assert again and all(reply.kind != "image" for reply in again)
