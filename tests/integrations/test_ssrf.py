"""Receivers' addresses are checked when each delivery is made: internal ones are refused (no request leaves)."""

from __future__ import annotations

import pytest

from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from integrations.outbound import AddressRefused, address_allowed, resolve_checked
from restaurants.services import menu_category_create
from tests.factories import RestaurantFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def internal_refused(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # the production default: nothing internal is let through


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks",
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/hooks",  # a name that resolves to loopback
        "http://[::1]:{port}/hooks",
        "http://192.168.1.20/hooks",
        "http://100.64.0.1/hooks",  # carrier-grade NAT
        "http://0.0.0.0:{port}/hooks",
    ],
)
def test_internal_addresses_are_refused_at_delivery_time(
    internal_refused, receiver, url, django_capture_on_commit_callbacks
):
    restaurant = RestaurantFactory()
    subscribe(restaurant, url.format(port=receiver.port))

    with django_capture_on_commit_callbacks(execute=True):
        menu_category_create(restaurant=restaurant, name_ar="س", name_en="S")

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1  # refused: no retries
    assert "may not reach" in delivery.last_error
    assert WebhookAttempt.objects.get(delivery=delivery).status_code is None
    assert receiver.requests == []


def test_loopback_passes_only_when_the_setting_allows_it(settings, receiver, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    restaurant = RestaurantFactory()
    subscribe(restaurant, f"http://localhost:{receiver.port}/hooks")
    with django_capture_on_commit_callbacks(execute=True):
        menu_category_create(restaurant=restaurant, name_ar="س", name_en="S")
    assert len(receiver.requests) == 1 and receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),  # AWS's IPv6 metadata address
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("224.0.0.1", False),
        ("0.0.0.0", False),
    ],
)
def test_address_rules(internal_refused, address, allowed):
    assert address_allowed(address) is allowed


def test_a_name_is_refused_if_any_of_its_addresses_is_internal(internal_refused):
    with pytest.raises(AddressRefused):
        resolve_checked("localhost", 80)
