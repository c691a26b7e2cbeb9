"""Senders: number normalisation, uniqueness, encrypted write-only secrets, the register_sender command."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from providers.phone import InvalidPhoneNumber, normalize_e164
from restaurants.models import Sender
from restaurants.services import sender_register
from sufrahbot import crypto
from tests.factories import RestaurantFactory, SenderFactory

pytestmark = pytest.mark.django_db

SID = "AC" + "1" * 32
TOKEN = "f3c1d2e4b5a697881726354453627181"


@pytest.mark.parametrize(
    "raw", ["+966 50 803 4010", "whatsapp:+966508034010", "00966508034010", "+966-50-803-4010", "966508034010"]
)
def test_numbers_are_normalised_to_e164(raw):
    assert normalize_e164(raw) == "+966508034010"


@pytest.mark.parametrize("raw", ["", "hello", "+1", "whatsapp:", "+96650803401099999999"])
def test_garbage_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(raw)


def test_register_normalises_and_refuses_a_duplicate_number_with_a_clear_message():
    first, second = RestaurantFactory(slug="first"), RestaurantFactory()
    sender = sender_register(
        restaurant=first,
        provider="twilio",
        phone_number="+966 50 803 4010",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )
    assert sender.phone_number == "+966508034010"

    with pytest.raises(ValidationError) as caught:
        sender_register(
            restaurant=second,
            provider="twilio",
            phone_number="whatsapp:+966508034010",
            credentials={"account_sid": SID, "auth_token": TOKEN},
        )
    assert caught.value.message_dict["phone_number"] == ["+966508034010 is already registered (restaurant 'first')."]


def test_credentials_are_one_encrypted_field_that_reads_back():
    sender = SenderFactory(credentials={"account_sid": SID, "auth_token": TOKEN})
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM restaurants_sender WHERE id = %s", [sender.pk])
        stored = cursor.fetchone()[0]
    # Encrypted whole: neither the secret, nor the SID, nor the names are readable at rest.
    assert TOKEN not in stored and SID not in stored and "auth_token" not in stored and stored.startswith("gAAAAA")
    assert Sender.objects.get(pk=sender.pk).credentials == {"account_sid": SID, "auth_token": TOKEN}
    assert TOKEN not in repr(Sender.objects.get(pk=sender.pk).credentials)


def test_rotating_keys_reencrypts_secrets_and_old_key_can_be_dropped(settings):
    sender = SenderFactory(credentials={"account_sid": SID, "auth_token": TOKEN})
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    try:
        settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
        crypto.reset_key_cache()
        call_command("rotate_secrets", stdout=open("/dev/null", "w"))
        settings.FIELD_ENCRYPTION_KEYS = [new_key]
        crypto.reset_key_cache()
        assert Sender.objects.get(pk=sender.pk).credentials["auth_token"] == TOKEN
    finally:
        settings.FIELD_ENCRYPTION_KEYS = [old_key]
        crypto.reset_key_cache()


def test_register_sender_command_success(capsys):
    RestaurantFactory(slug="shawarma-house")
    call_command(
        "register_sender",
        "--restaurant",
        "shawarma-house",
        "--provider",
        "twilio",
        "--number",
        "+966 50 803 4010",
        "--account-sid",
        SID,
        "--auth-token",
        TOKEN,
    )
    assert "Registered +966508034010 (twilio) for shawarma-house." in capsys.readouterr().out
    assert Sender.objects.get().credentials == {"account_sid": SID, "auth_token": TOKEN}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--restaurant", "nope", "--provider", "twilio", "--number", "+966508034010"],
            "No restaurant with slug 'nope'",
        ),
        (
            [
                "--restaurant",
                "kebab",
                "--provider",
                "twilio",
                "--number",
                "12",
                "--account-sid",
                SID,
                "--auth-token",
                TOKEN,
            ],
            "phone_number: '12' is not a phone number",
        ),
        (
            ["--restaurant", "kebab", "--provider", "twilio", "--number", "+966508034010", "--account-sid", "XX"],
            "account_sid: A Twilio account SID starts with 'AC'",
        ),
    ],
    ids=["unknown-restaurant", "bad-number", "bad-sid"],
)
def test_register_sender_command_bad_input_is_a_clear_error_with_exit_code_2(args, expected):
    RestaurantFactory(slug="kebab")
    with pytest.raises(CommandError) as caught:
        call_command("register_sender", *args)
    assert caught.value.returncode == 2
    assert expected in str(caught.value)
    assert not Sender.objects.exists()


def test_register_sender_from_the_shell_refuses_an_unknown_provider_with_exit_code_2():
    import os

    result = subprocess.run(
        [sys.executable, "manage.py", "register_sender", "--restaurant", "x", "--provider", "pigeon", "--number", "+1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test"},
    )
    assert result.returncode == 2
    assert "invalid choice: 'pigeon'" in result.stderr


def test_admin_form_normalises_masks_and_keeps_secrets_write_only(admin_client):
    restaurant = RestaurantFactory()
    response = admin_client.post(
        "/admin/restaurants/sender/add/",
        {
            "restaurant": restaurant.pk,
            "provider": "twilio",
            "phone_number": "+966 50 803 4010",
            "twilio__account_sid": SID,
            "twilio__auth_token": TOKEN,
            "messages_per_minute": 600,
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    sender = Sender.objects.get()
    assert sender.phone_number == "+966508034010" and sender.credentials == {"account_sid": SID, "auth_token": TOKEN}

    page = admin_client.get(f"/admin/restaurants/sender/{sender.pk}/change/").content.decode()
    listing = admin_client.get("/admin/restaurants/sender/").content.decode()
    assert TOKEN not in page and TOKEN not in listing
    assert "••••••••7181" in page and "••••••••7181" in listing

    # Saving the form with the secret left blank keeps the stored token.
    response = admin_client.post(
        f"/admin/restaurants/sender/{sender.pk}/change/",
        {
            "restaurant": restaurant.pk,
            "provider": "twilio",
            "phone_number": "+966508034010",
            "twilio__account_sid": SID,
            "twilio__auth_token": "",
            "messages_per_minute": 300,
            "active": "on",
        },
    )
    assert response.status_code == 302
    sender.refresh_from_db()
    assert sender.credentials["auth_token"] == TOKEN and sender.messages_per_minute == 300


def test_admin_refuses_a_duplicate_number_with_a_clear_message(admin_client):
    existing = SenderFactory(phone_number="+966508034010")
    response = admin_client.post(
        "/admin/restaurants/sender/add/",
        {
            "restaurant": RestaurantFactory().pk,
            "provider": "twilio",
            "phone_number": "whatsapp:+966 50 803 4010",
            "twilio__account_sid": SID,
            "twilio__auth_token": TOKEN,
            "messages_per_minute": 600,
        },
    )
    assert response.status_code == 200
    assert f"+966508034010 is already registered (restaurant &#x27;{existing.restaurant.slug}&#x27;)." in (
        response.content.decode()
    )
    assert Sender.objects.count() == 1


def test_secrets_never_reach_the_logs(caplog, client, fake_twilio, settings):
    sender = SenderFactory(credentials={"account_sid": SID, "auth_token": TOKEN})
    from tests.conftest import signed_post, twilio_inbound_params

    with caplog.at_level(logging.DEBUG):
        signed_post(client, sender=sender, params=twilio_inbound_params(sender=sender, from_number="+966508034010"))
        logging.getLogger("sufrah.test").info("token is %s", TOKEN)
    from sufrahbot.logging import RedactSecretsFilter

    redact = RedactSecretsFilter()
    for record in caplog.records:
        redact.filter(record)
        assert TOKEN not in record.getMessage()


def test_a_meta_phone_number_id_routes_to_one_sender_only():
    meta = {"access_token": "EAA" + "x" * 30, "app_secret": "app-secret", "phone_number_id": "106555"}
    sender = sender_register(
        restaurant=RestaurantFactory(), provider="meta", phone_number="+966508034010", credentials=meta
    )
    assert sender.routing_id == "106555"
    with pytest.raises(ValidationError) as caught:
        sender_register(restaurant=RestaurantFactory(), provider="meta", phone_number="+966508034011", credentials=meta)
    assert caught.value.message_dict["phone_number_id"] == ["Meta phone number id 106555 is already registered."]
    assert Sender.objects.count() == 1


def test_credentials_are_checked_against_the_providers_schema():
    restaurant = RestaurantFactory()
    with pytest.raises(ValidationError) as caught:
        sender_register(
            restaurant=restaurant,
            provider="360dialog",
            phone_number="+966508034012",
            credentials={"phone_number_id": "10x", "auth_token": TOKEN},
        )
    assert caught.value.message_dict == {"auth_token": ["'auth_token' is not a 360dialog (Cloud API) credential."]}
    with pytest.raises(ValidationError) as caught:
        sender_register(
            restaurant=restaurant,
            provider="360dialog",
            phone_number="+966508034012",
            credentials={"phone_number_id": "10x"},
        )
    assert caught.value.message_dict == {
        "phone_number_id": ["A Meta phone number id is digits only."],
        "api_key": ["The 360dialog API key is required."],
        "webhook_token": ["The Webhook token is required."],
    }
    with pytest.raises(ValidationError) as caught:
        sender_register(restaurant=restaurant, provider="pigeon", phone_number="+966508034012", credentials={})
    assert caught.value.message_dict == {"provider": ["Unknown provider 'pigeon'."]}


def test_register_sender_options_come_from_the_provider_schemas(capsys):
    RestaurantFactory(slug="dialog")
    call_command(
        "register_sender",
        "--restaurant=dialog",
        "--provider=360dialog",
        "--number=+966508034013",
        "--phone-number-id=1065551234",
        "--api-key=d360-key-0123456789",
        "--webhook-token=hook-token-0123456789",
    )
    sender = Sender.objects.get()
    assert (sender.provider, sender.routing_id) == ("360dialog", "1065551234")
    assert sender.credentials == {
        "phone_number_id": "1065551234",
        "api_key": "d360-key-0123456789",
        "webhook_token": "hook-token-0123456789",
    }
    with pytest.raises(CommandError) as caught:
        call_command(
            "register_sender", "--restaurant=dialog", "--provider=console", "--number=+966508034014", "--api-key=x"
        )
    assert "--api-key: not a Console (local) credential." in str(caught.value)


def test_the_sender_admin_page_shows_the_webhook_url_with_twilios_retry_overrides(admin_client, settings):
    from restaurants.selectors import TWILIO_CONNECTION_OVERRIDES
    from tests.factories import SenderFactory

    twilio_sender = SenderFactory()
    meta_sender = SenderFactory(
        provider="meta",
        credentials={"phone_number_id": "1065550177", "access_token": "EAAtoken" + "x" * 30, "app_secret": "s"},
        routing_id="1065550177",
    )

    twilio_page = admin_client.get(f"/admin/restaurants/sender/{twilio_sender.pk}/change/").content.decode()
    meta_page = admin_client.get(f"/admin/restaurants/sender/{meta_sender.pk}/change/").content.decode()

    expected = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/{TWILIO_CONNECTION_OVERRIDES}".replace("&", "&amp;")
    assert expected in twilio_page and "rp=ct,rt,5xx" in TWILIO_CONNECTION_OVERRIDES
    assert f"{settings.PUBLIC_BASE_URL}/webhooks/meta/" in meta_page
    assert TWILIO_CONNECTION_OVERRIDES.replace("&", "&amp;") not in meta_page
