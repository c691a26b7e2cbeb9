from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import ConversationFactory, RestaurantFactory, SenderFactory
from tests.fakes.file_host import HttpsFileHost, trust_file
from tests.fakes.meta_graph import APP_ID, FakeMetaGraph

APP_SECRET = "meta-app-secret-for-template-tests"
ACCESS_TOKEN = "EAAtemplates" + "x" * 30
WABA_ID = "102290129340398"


@pytest.fixture
def graph(settings):
    server = FakeMetaGraph(ACCESS_TOKEN).start()
    settings.META_GRAPH_BASE_URL = server.base_url
    settings.META_GRAPH_VERSION = "v21.0"
    yield server
    server.stop()


@pytest.fixture
def meta_sender():
    return SenderFactory(
        restaurant=RestaurantFactory(),
        provider="meta",
        credentials={
            "phone_number_id": "1065550177",
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "business_account_id": WABA_ID,
            "app_id": APP_ID,
        },
        routing_id="1065550177",
    )


@pytest.fixture
def twilio_sender():
    return SenderFactory(restaurant=RestaurantFactory())


def conversation_of(sender, **kwargs):
    return ConversationFactory(sender=sender, restaurant=sender.restaurant, language="en", **kwargs)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def file_host(monkeypatch):
    """An https host for header images; httpx trusts its certificate for the test's duration only."""
    monkeypatch.setenv("SSL_CERT_FILE", trust_file())
    server = HttpsFileHost().start()
    yield server
    server.stop()
