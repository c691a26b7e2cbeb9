"""Message files in the API and the admin: listed with each message, downloadable by the restaurant's staff
only (the API with its token, the admin with its session), never from a public URL."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from conversations.models import MessageMedia
from tests.factories import MessageFactory
from tests.orders.factories import customer_conversation

from .conftest import PASSWORD, auth, error_of, staff

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _stored(conversation, *, kind="image", content_type="image/png", data=PNG, filename="photo.png"):
    message = MessageFactory(conversation=conversation, body="📎 photo")
    media = MessageMedia(
        restaurant=conversation.restaurant,
        message=message,
        kind=kind,
        status="stored",
        content_type=content_type,
        size=len(data),
        sha256="ab" * 32,
        filename=filename,
    )
    media.file.save(filename, ContentFile(data), save=False)
    media.save()
    return media


def test_messages_list_their_files_with_a_download_url_that_serves_the_bytes(api):
    conversation = customer_conversation()
    media = _stored(conversation)
    pending = MessageMedia.objects.create(
        restaurant=conversation.restaurant, message=media.message, position=1, kind="document", error_code="not_found"
    )
    member = staff(conversation.restaurant)
    base = f"/api/v1/restaurants/{conversation.restaurant_id}/"

    listed = api.get(base + f"conversations/{conversation.pk}/messages/", **auth(member)).json()["results"]
    files = next(m for m in listed if m["id"] == media.message_id)["files"]
    assert files[0] == {
        "id": media.pk,
        "kind": "image",
        "status": "stored",
        "content_type": "image/png",
        "size": len(PNG),
        "sha256": "ab" * 32,
        "filename": "photo.png",
        "error_code": "",
        "download_url": f"{base}media/{media.pk}/",
    }
    assert files[1]["status"] == "pending" and files[1]["download_url"] is None

    response = api.get(files[0]["download_url"], **auth(member))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline") and "private" in response["Cache-Control"]
    not_yet = api.get(f"{base}media/{pending.pk}/", **auth(member))
    assert not_yet.status_code == 404 and "pending" in error_of(not_yet)["message"]


def test_a_document_downloads_as_an_attachment(api):
    conversation = customer_conversation()
    media = _stored(conversation, kind="document", content_type="application/pdf", data=b"%PDF-1.4", filename="m.pdf")

    response = api.get(
        f"/api/v1/restaurants/{conversation.restaurant_id}/media/{media.pk}/", **auth(staff(conversation.restaurant))
    )

    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")


def test_the_admin_shows_images_inline_and_serves_files_only_to_their_restaurants_staff(client):
    conversation = customer_conversation()
    media = _stored(conversation)
    other = customer_conversation()
    own, stranger = staff(conversation.restaurant, role="ADMIN"), staff(other.restaurant, role="ADMIN")
    file_url = reverse("admin:conversations_message_media", args=[media.pk])

    assert client.get(file_url).status_code == 302  # to the login page: no anonymous access
    client.login(username=stranger.username, password=PASSWORD)
    assert client.get(file_url).status_code == 404
    client.login(username=own.username, password=PASSWORD)
    page = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    served = client.get(file_url)

    assert f'<img src="{file_url}"'.encode() in page.content
    assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
    # The storage's own URL is never routed: files are only reachable through the checked views.
    assert client.get(media.file.url).status_code == 404
