"""An image-header template submitted to Meta: the image is fetched from its URL (https only, public addresses
only, JPEG/PNG up to 5 MB by its bytes), uploaded through the Resumable Upload API, and the template is
created with example.header_handle. Every failure is a clear error and nothing is created at Meta."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from templates.models import MessageTemplate
from templates.services import template_create, template_submit
from tests.api.conftest import auth, error_of, staff, url
from tests.factories import UserFactory
from tests.fakes.server import FakeFile

from .conftest import ACCESS_TOKEN, WABA_ID

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 30)).save(out, "PNG")
    return out.getvalue()


def _image_template(restaurant, image_url: str) -> MessageTemplate:
    return template_create(
        restaurant=restaurant,
        data={
            "name": "dish_of_the_day",
            "language": "en",
            "category": "MARKETING",
            "header_type": "image",
            "header_image_url": image_url,
            "body": "Today's dish is {{dish}}, fresh from our kitchen.",
            "examples": {"dish": "kabsa"},
        },
    )


def _created_at_meta(graph) -> bool:
    return any(r["path"].endswith("/message_templates") for r in graph.requests)


def _uploads_started(graph) -> list[dict]:
    return [r for r in graph.requests if "/uploads" in r["path"] or "/upload:" in r["path"]]


def _refused(template, field: str) -> str:
    with pytest.raises(ValidationError) as caught:
        template_submit(template=template)
    errors = caught.value.message_dict
    assert list(errors) == [field], errors
    template.refresh_from_db()
    assert (template.status, template.meta_template_id, template.submitted_at) == ("draft", "", None)
    return errors[field][0]


def test_the_image_is_uploaded_and_the_template_created_with_its_handle(graph, meta_sender, file_host):
    image = jpeg_bytes()
    file_host.files["dish.jpg"] = FakeFile(data=image, content_type="image/jpeg")
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))

    template = template_submit(template=template)

    assert template.status == "submitted" and template.meta_template_id in graph.templates
    created = graph.templates[template.meta_template_id]
    assert created["waba_id"] == WABA_ID
    header = next(c for c in created["components"] if c["type"] == "HEADER")
    (handle,) = header["example"]["header_handle"]
    assert header == {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}}
    assert "header_url" not in json.dumps(created)
    upload = graph.uploads[handle]
    assert upload == {"file_name": "dish_of_the_day.jpg", "file_type": "image/jpeg", "data": image}
    # The session, the bytes, then the template: the token never in a URL, the bytes from offset 0.
    session, sent = _uploads_started(graph)
    assert session["path"].startswith(f"/v21.0/{meta_sender.credentials['app_id']}/uploads?")
    assert f"file_length={len(image)}" in session["path"] and "file_type=image%2Fjpeg" in session["path"]
    assert ACCESS_TOKEN not in session["path"] and session["auth"] == f"Bearer {ACCESS_TOKEN}"
    assert sent["path"].startswith("/v21.0/upload:") and "?sig=" in sent["path"]
    assert (sent["auth"], sent["file_offset"], sent["bytes"]) == (f"OAuth {ACCESS_TOKEN}", "0", len(image))
    assert graph.requests[-1]["path"] == f"/v21.0/{WABA_ID}/message_templates"
    assert file_host.requests == ["/dish.jpg"]


def test_a_png_header_goes_as_a_png(graph, meta_sender, file_host):
    file_host.files["dish.png"] = FakeFile(data=png_bytes(), content_type="image/png")

    template = template_submit(template=_image_template(meta_sender.restaurant, file_host.url("dish.png")))

    assert template.status == "submitted"
    (upload,) = graph.uploads.values()
    assert (upload["file_type"], upload["file_name"]) == ("image/png", "dish_of_the_day.png")


@pytest.mark.parametrize(
    ("file", "says"),
    [
        (None, "could not be fetched (not_found"),
        (FakeFile(data=jpeg_bytes(), content_type="image/jpeg", stream_bytes=5 * MB), "over Meta's 5 MB limit"),
        (
            FakeFile(data=jpeg_bytes(), content_type="image/jpeg", stream_bytes=5 * MB, announce_length=False),
            "over Meta's 5 MB limit",
        ),
        (FakeFile(data=b"GIF89a" + b"\0" * 64, content_type="image/gif"), "must be a JPEG or PNG"),
        (FakeFile(data=b"<html><body>login</body></html>", content_type="image/jpeg"), "must be a JPEG or PNG"),
        (FakeFile(data=b"%PDF-1.4 menu", content_type="application/pdf"), "must be a JPEG or PNG"),
    ],
    ids=["missing", "too-large", "too-large-unannounced", "gif", "html-as-jpeg", "pdf"],
)
def test_an_image_that_cannot_be_fetched_or_is_refused_is_a_clear_error_and_nothing_is_created(
    graph, meta_sender, file_host, file, says
):
    if file is not None:
        file_host.files["dish.jpg"] = file
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))

    message = _refused(template, "header_image_url")

    assert says in message
    assert _uploads_started(graph) == [] and not _created_at_meta(graph) and graph.templates == {}


@pytest.mark.parametrize(
    "image_url",
    [
        "https://169.254.169.254/latest/meta-data/dish.jpg",
        "https://10.0.0.7/dish.jpg",
        "https://[::1]/dish.jpg",
        "https://localhost/dish.jpg",
    ],
)
def test_private_and_metadata_addresses_are_never_fetched(graph, meta_sender, settings, image_url):
    settings.MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = False
    template = _image_template(meta_sender.restaurant, image_url)

    assert "refused" in _refused(template, "header_image_url")
    assert _uploads_started(graph) == [] and not _created_at_meta(graph)


def test_the_local_file_host_itself_is_refused_without_the_test_setting(graph, meta_sender, file_host, settings):
    settings.MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = False
    file_host.files["dish.jpg"] = FakeFile(data=jpeg_bytes(), content_type="image/jpeg")
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))

    assert "127.0.0.1" in _refused(template, "header_image_url")
    assert file_host.requests == [] and _uploads_started(graph) == []


def test_a_sender_without_an_app_id_is_told_so_before_anything_is_fetched(graph, meta_sender, file_host):
    credentials = dict(meta_sender.credentials)
    del credentials["app_id"]
    meta_sender.credentials = credentials
    meta_sender.save()
    file_host.files["dish.jpg"] = FakeFile(data=jpeg_bytes(), content_type="image/jpeg")
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))

    assert "app id" in _refused(template, "sender")
    assert file_host.requests == [] and _uploads_started(graph) == []


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda graph: graph.fail_next_upload(1, status=503, step="session"), "Try again"),
        (lambda graph: graph.fail_next_upload(1, status=503, step="bytes"), "Try again"),
        (lambda graph: graph.fail_next_upload(1, status=400, code=100, message="Bad file", step="bytes"), "Bad file"),
        (lambda graph: setattr(graph, "app_id", "999"), "does not exist"),
        (lambda graph: setattr(graph, "access_token", "rotated"), "Invalid OAuth access token"),
    ],
    ids=["session-5xx", "bytes-5xx", "bytes-refused", "unknown-app", "bad-token"],
)
def test_an_upload_that_fails_is_a_clear_error_and_no_template_is_created(graph, meta_sender, file_host, setup, says):
    file_host.files["dish.jpg"] = FakeFile(data=jpeg_bytes(), content_type="image/jpeg")
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))
    setup(graph)

    message = _refused(template, "provider")

    assert "header image" in message and says in message
    assert not _created_at_meta(graph) and graph.templates == {} and graph.uploads == {}


def test_the_api_answers_400_with_the_error_body(api, graph, meta_sender, file_host):
    template = _image_template(meta_sender.restaurant, file_host.url("gone.jpg"))
    admin = staff(meta_sender.restaurant, role="ADMIN")

    response = api.post(url(meta_sender.restaurant_id, f"templates/{template.pk}/submit/"), **auth(admin))

    assert response.status_code == 400, response.content
    details = error_of(response)["details"]
    assert "header_image_url" in details and "not_found" in details["header_image_url"][0]
    template.refresh_from_db()
    assert template.status == "draft" and not _created_at_meta(graph)


def test_twilio_takes_the_image_url_itself_and_nothing_is_fetched(fake_twilio, twilio_sender, file_host):
    file_host.files["dish.jpg"] = FakeFile(data=jpeg_bytes(), content_type="image/jpeg")
    template = _image_template(twilio_sender.restaurant, file_host.url("dish.jpg"))

    template = template_submit(template=template)

    assert template.status == "submitted" and template.twilio_content_sid.startswith("HX")
    content = fake_twilio.state.contents[template.twilio_content_sid]
    assert json.dumps(content).count(file_host.url("dish.jpg")) == 1
    assert file_host.requests == []


# --- the fake checks what Meta checks ------------------------------------------------------------------------


def test_the_fake_upload_api_checks_token_offset_and_length(graph):
    base = f"{graph.base_url}/v21.0"
    opened = httpx.post(
        f"{base}/{graph.app_id}/uploads",
        params={"file_name": "a.jpg", "file_length": "10", "file_type": "image/jpeg", "access_token": ACCESS_TOKEN},
    )
    assert opened.status_code == 200
    session = opened.json()["id"]
    good = {"Authorization": f"OAuth {ACCESS_TOKEN}", "file_offset": "0"}

    def send(data: bytes, target: str = session, **headers) -> httpx.Response:
        return httpx.post(f"{base}/{target}", headers={**good, **headers}, content=data)

    assert send(b"x", Authorization="OAuth nope").status_code == 401
    assert send(b"x", Authorization=f"Bearer {ACCESS_TOKEN}").status_code == 401  # this call wants OAuth
    assert send(b"x", file_offset="3").status_code == 400
    assert send(b"x" * 11).status_code == 400  # past file_length
    assert send(b"x", session.split("?")[0] + "?sig=forged").status_code == 400
    partial = send(b"x" * 4)
    assert partial.json()["file_offset"] == 4
    assert send(b"y" * 6).status_code == 400  # the offset is now 4
    done = send(b"y" * 6, file_offset="4")
    assert graph.uploads[done.json()["h"]]["data"] == b"xxxxyyyyyy"
    refused_type = httpx.post(
        f"{base}/{graph.app_id}/uploads",
        params={"file_name": "a.gif", "file_length": "10", "file_type": "image/gif"},
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
    )
    assert refused_type.status_code == 400


def test_the_fake_refuses_an_image_header_by_url_as_meta_does(graph):
    template = {
        "name": "dish_of_the_day",
        "language": "en",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_url": ["https://cdn.example.com/dish.jpg"]}},
            {"type": "BODY", "text": "Fresh today."},
        ],
    }
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}

    by_url = httpx.post(f"{graph.base_url}/v21.0/{WABA_ID}/message_templates", json=template, headers=headers)
    template["components"][0]["example"] = {"header_handle": ["4::made-up"]}
    unknown = httpx.post(f"{graph.base_url}/v21.0/{WABA_ID}/message_templates", json=template, headers=headers)

    assert by_url.status_code == 400 and "header_handle" in by_url.json()["error"]["error_user_msg"]
    assert unknown.status_code == 400 and graph.templates == {}


def test_the_admin_action_shows_the_problem(client, graph, meta_sender, file_host):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    file_host.files["dish.jpg"] = FakeFile(data=b"GIF89a" + b"\0" * 64, content_type="image/gif")
    template = _image_template(meta_sender.restaurant, file_host.url("dish.jpg"))
    changelist = reverse("admin:message_templates_messagetemplate_changelist")

    response = client.post(changelist, {"action": "submit", "_selected_action": [template.pk]}, follow=True)

    (shown,) = get_messages(response.wsgi_request)
    assert shown.level_tag == "error" and "must be a JPEG or PNG" in shown.message
    template.refresh_from_db()
    assert template.status == "draft" and not _created_at_meta(graph)
