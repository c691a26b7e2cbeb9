"""Menu item photos: resized on upload to WhatsApp's size and a list thumbnail, oversized or non-image uploads
refused with a clear 400 (API) or form error (admin), served only to the restaurant's staff."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from restaurants.models import AuditEntry, MenuItem
from restaurants.photos import THUMBNAIL_SIZE, WHATSAPP_SIZE
from tests.factories import MenuCategoryFactory, MenuItemFactory, RestaurantFactory

from .conftest import PASSWORD, auth, error_of, staff

pytestmark = pytest.mark.django_db


def image_file(size=(3000, 2000), fmt="PNG", mode="RGBA", name="dish.png", exif_rotate=False) -> SimpleUploadedFile:
    color = {"RGBA": (220, 120, 40, 255), "RGB": (220, 120, 40), "L": 128}[mode]
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    if exif_rotate:
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to view": a phone held upright
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def item():
    return MenuItemFactory(category=MenuCategoryFactory(restaurant=RestaurantFactory()))


def _url(item, suffix="photo/") -> str:
    return f"/api/v1/restaurants/{item.restaurant_id}/menu/items/{item.pk}/{suffix}"


def test_an_uploaded_photo_is_resized_for_whatsapp_with_a_thumbnail(api, item):
    admin = staff(item.restaurant, role="ADMIN")

    response = api.put(_url(item), {"image": image_file()}, format="multipart", **auth(admin))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["photo_url"].endswith("photo/?size=whatsapp") and body["thumbnail_url"].endswith("?size=thumbnail")
    item.refresh_from_db()
    with Image.open(item.image) as photo, Image.open(item.image_thumbnail) as thumb:
        assert (photo.format, photo.size) == ("JPEG", (WHATSAPP_SIZE, 1067))  # 3000×2000 → 1600×1067
        assert (thumb.format, max(thumb.size)) == ("JPEG", THUMBNAIL_SIZE)
        assert photo.mode == "RGB" and not photo.getexif()
    assert item.image.size < 5 * 1024 * 1024  # within WhatsApp's image limit
    assert AuditEntry.objects.filter(action="menuitem.photo_changed", target_id=str(item.pk)).exists()

    member = staff(item.restaurant)  # any member may see it
    served = api.get(body["thumbnail_url"], **auth(member))
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == thumb.size
    listed = api.get(f"/api/v1/restaurants/{item.restaurant_id}/menu/items/", **auth(member)).json()["results"]
    assert listed[0]["thumbnail_url"] == body["thumbnail_url"]


def test_a_phone_photo_is_turned_upright_and_loses_its_exif(api, item):
    admin = staff(item.restaurant, role="ADMIN")

    api.put(_url(item), {"image": image_file((800, 600), "JPEG", "RGB", "p.jpg", exif_rotate=True)}, **auth(admin))

    item.refresh_from_db()
    with Image.open(item.image) as photo:
        assert photo.size == (600, 800) and not photo.getexif()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("menu.pdf", b"%PDF-1.4 not a photo", content_type="image/png"), "not an image"),
        (SimpleUploadedFile("x.gif", b"GIF89a" + b"\0" * 40, content_type="image/gif"), "JPEG, PNG or WebP"),
        (image_file((40, 40)), "at least 64 px"),
    ],
)
def test_a_non_image_upload_is_a_400_that_says_why(api, item, upload, message):
    admin = staff(item.restaurant, role="ADMIN")

    response = api.put(_url(item), {"image": upload}, format="multipart", **auth(admin))

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and message in " ".join(error["details"]["image"])
    item.refresh_from_db()
    assert not item.image


def test_an_oversized_upload_is_a_400(api, item, settings):
    settings.MENU_PHOTO_MAX_UPLOAD_BYTES = 50_000
    admin = staff(item.restaurant, role="ADMIN")
    noisy = Image.effect_noise((400, 400), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    upload = SimpleUploadedFile("big.png", out.getvalue(), content_type="image/png")

    response = api.put(_url(item), {"image": upload}, format="multipart", **auth(admin))

    assert response.status_code == 400 and "at most" in error_of(response)["details"]["image"][0]


def test_a_decompression_bomb_is_refused(api, item, settings):
    settings.MENU_PHOTO_MAX_PIXELS = 1_000_000
    admin = staff(item.restaurant, role="ADMIN")

    response = api.put(_url(item), {"image": image_file((2000, 2000), mode="L")}, format="multipart", **auth(admin))

    assert response.status_code == 400 and "megapixels" in error_of(response)["details"]["image"][0]


def test_json_is_415_and_an_agent_may_not_upload(api, item):
    agent = staff(item.restaurant)
    admin = staff(item.restaurant, role="ADMIN")

    assert api.put(_url(item), {"image": "x"}, format="json", **auth(admin)).status_code == 415
    assert api.put(_url(item), {"image": image_file()}, format="multipart", **auth(agent)).status_code == 403


def test_removing_the_photo(api, item):
    admin = staff(item.restaurant, role="ADMIN")
    api.put(_url(item), {"image": image_file()}, format="multipart", **auth(admin))

    assert api.delete(_url(item), **auth(admin)).status_code == 204
    item.refresh_from_db()
    assert not item.image and not item.image_thumbnail
    assert api.get(_url(item), **auth(admin)).status_code == 404


def test_the_admin_form_resizes_an_upload_and_shows_a_clear_error_for_a_bad_one(client, item):
    admin = staff(item.restaurant, role="ADMIN")
    client.login(username=admin.username, password=PASSWORD)
    change = reverse("admin:restaurants_menuitem_change", args=[item.pk])
    fields = {
        "restaurant": item.restaurant_id,
        "category": item.category_id,
        "name_en": item.name_en,
        "name_ar": item.name_ar,
        "description_en": "",
        "description_ar": "",
        "price": "12.00",
        "available": "on",
        "image_url": "",
        "sort_order": 0,
    }

    bad = client.post(change, {**fields, "photo": SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")})
    assert bad.status_code == 200 and b"not an image we can read" in bad.content
    good = client.post(change, {**fields, "photo": image_file()})
    assert good.status_code == 302
    item = MenuItem.objects.get(pk=item.pk)
    assert item.image and item.image_thumbnail

    listing = client.get(reverse("admin:restaurants_menuitem_changelist"))
    thumb = reverse("admin:restaurants_menuitem_photo", args=[item.pk, "thumbnail"])
    assert f'<img src="{thumb}"'.encode() in listing.content
    assert client.get(thumb).status_code == 200
    stranger = staff(RestaurantFactory(), role="ADMIN")
    client.login(username=stranger.username, password=PASSWORD)
    assert client.get(thumb).status_code == 404
