from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integrations.services.subscriptions import subscription_create

from .receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def subscribe(restaurant, url: str, events=("menu.updated",)):
    """A subscription and its secret (the one time it is readable)."""
    result = subscription_create(restaurant=restaurant, url=url, events=list(events))
    return result.subscription, result.secret


@pytest.fixture
def api():
    return APIClient()
