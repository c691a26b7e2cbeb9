"""Senders across restaurants: platform admins only, secrets write-only."""

from __future__ import annotations

import secrets

import pytest

from restaurants.models import Sender
from tests.factories import ConversationFactory, RestaurantFactory, SenderFactory, UserFactory

from .conftest import auth, error_of, staff

pytestmark = pytest.mark.django_db

SENDERS = "/api/v1/admin/senders/"


@pytest.fixture
def platform_admin():
    return UserFactory(is_superuser=True, is_staff=True)


def _twilio_payload(restaurant, **overrides):
    payload = {
        "restaurant": restaurant.pk,
        "provider": "twilio",
        "phone_number": "+966 50 803 4010",
        "credentials": {"account_sid": "AC" + secrets.token_hex(16), "auth_token": "tok-" + secrets.token_hex(16)},
    }
    payload.update(overrides)
    return payload


def test_register_normalises_the_number_and_never_returns_a_secret(api, platform_admin):
    restaurant = RestaurantFactory()
    payload = _twilio_payload(restaurant)

    response = api.post(SENDERS, payload, format="json", **auth(platform_admin))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone_number"] == "+966508034010" and body["restaurant_id"] == restaurant.pk
    token = payload["credentials"]["auth_token"]
    assert token not in response.content.decode()
    shown = body["credentials"]
    assert shown["auth_token_masked"].endswith(token[-4:]) and shown["auth_token_masked"].startswith("••••")
    assert shown["account_sid"] == payload["credentials"]["account_sid"]
    assert "auth_token" not in shown and shown["access_token_masked"] == "" and shown["api_key_masked"] == ""
    sender = Sender.objects.get(pk=body["id"])
    assert sender.credentials == payload["credentials"]  # stored (encrypted), usable


def test_list_detail_and_filter_by_restaurant_show_no_secrets(api, platform_admin):
    first, second = SenderFactory(), SenderFactory()

    listed = api.get(SENDERS, **auth(platform_admin))
    filtered = api.get(SENDERS, {"restaurant": second.restaurant_id}, **auth(platform_admin))
    detail = api.get(f"{SENDERS}{first.pk}/", **auth(platform_admin))

    assert [s["id"] for s in listed.json()["results"]] == [first.pk, second.pk]
    assert [s["id"] for s in filtered.json()["results"]] == [second.pk]
    assert detail.json()["id"] == first.pk
    for response in (listed, detail):
        text = response.content.decode()
        assert first.credentials["auth_token"] not in text and second.credentials["auth_token"] not in text


def test_registration_is_validated_field_by_field(api, platform_admin):
    taken = SenderFactory()
    restaurant = RestaurantFactory()

    bad_number = api.post(
        SENDERS, _twilio_payload(restaurant, phone_number="12"), format="json", **auth(platform_admin)
    )
    duplicate = api.post(
        SENDERS, _twilio_payload(restaurant, phone_number=taken.phone_number), format="json", **auth(platform_admin)
    )
    no_credentials = api.post(
        SENDERS,
        {"restaurant": restaurant.pk, "provider": "meta", "phone_number": "+966508034011", "credentials": {}},
        format="json",
        **auth(platform_admin),
    )
    unknown = api.post(
        SENDERS, {"restaurant": 999999, "provider": "fax", "phone_number": ""}, format="json", **auth(platform_admin)
    )

    assert bad_number.status_code == 400 and "phone_number" in error_of(bad_number)["details"]
    assert duplicate.status_code == 400 and "already registered" in error_of(duplicate)["details"]["phone_number"][0]
    assert set(error_of(no_credentials)["details"]) == {"phone_number_id", "access_token", "app_secret"}
    assert set(error_of(unknown)["details"]) == {"restaurant", "provider", "phone_number", "credentials"}
    assert Sender.objects.count() == 1


def test_update_keeps_secrets_not_given_and_replaces_those_given(api, platform_admin):
    sender = SenderFactory(messages_per_minute=600)
    old = dict(sender.credentials)

    rate = api.patch(f"{SENDERS}{sender.pk}/", {"messages_per_minute": 60}, format="json", **auth(platform_admin))
    sender.refresh_from_db()
    assert rate.status_code == 200 and sender.messages_per_minute == 60 and sender.credentials == old

    new = {"credentials": {"auth_token": "new-token-value-1234"}}
    token = api.patch(f"{SENDERS}{sender.pk}/", new, format="json", **auth(platform_admin))
    sender.refresh_from_db()
    assert token.status_code == 200 and sender.credentials == {**old, "auth_token": "new-token-value-1234"}
    assert "new-token-value-1234" not in token.content.decode()

    cleared = api.patch(
        f"{SENDERS}{sender.pk}/", {"credentials": {"auth_token": ""}}, format="json", **auth(platform_admin)
    )
    assert cleared.status_code == 400 and "auth_token" in error_of(cleared)["details"]
    sender.refresh_from_db()
    assert sender.credentials["auth_token"] == "new-token-value-1234"


def test_delete_a_sender_without_conversations_but_not_one_with_history(api, platform_admin):
    unused = SenderFactory()
    used = ConversationFactory().sender

    deleted = api.delete(f"{SENDERS}{unused.pk}/", **auth(platform_admin))
    refused = api.delete(f"{SENDERS}{used.pk}/", **auth(platform_admin))

    assert deleted.status_code == 204 and not Sender.objects.filter(pk=unused.pk).exists()
    assert refused.status_code == 409 and error_of(refused)["code"] == "sender_in_use"
    assert Sender.objects.filter(pk=used.pk).exists()


def test_restaurant_staff_even_admins_get_403_and_see_nothing(api):
    sender = SenderFactory()
    restaurant_admin = staff(sender.restaurant, role="ADMIN")
    headers = auth(restaurant_admin)

    responses = [
        api.get(SENDERS, **headers),
        api.get(f"{SENDERS}{sender.pk}/", **headers),
        api.post(SENDERS, _twilio_payload(sender.restaurant), format="json", **headers),
        api.patch(f"{SENDERS}{sender.pk}/", {"active": False}, format="json", **headers),
        api.delete(f"{SENDERS}{sender.pk}/", **headers),
    ]

    for response in responses:
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
        assert sender.phone_number not in response.content.decode()
    sender.refresh_from_db()
    assert sender.active is True and Sender.objects.count() == 1
    assert api.get(SENDERS).status_code == 401


def test_an_unknown_sender_is_404(api, platform_admin):
    response = api.get(f"{SENDERS}987654/", **auth(platform_admin))

    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
