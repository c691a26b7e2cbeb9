"""Helpers for the dashboard API tests: staff users, their tokens, and an API client."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from restaurants.auth import token_pair_for
from tests.factories import RestaurantFactory, StaffMembershipFactory, UserFactory

PASSWORD = "pass-word-123"  # what tests.factories.UserFactory sets


def staff(restaurant=None, *, role: str = "AGENT", **user_fields):
    """A user with a membership in `restaurant` (a new one when not given)."""
    user = UserFactory(**user_fields)
    StaffMembershipFactory(user=user, restaurant=restaurant or RestaurantFactory(), role=role)
    return user


def auth(user) -> dict[str, str]:
    """Request headers carrying a fresh access token of `user`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token_pair_for(user=user)['access']}"}


def error_of(response) -> dict:
    """The error body's inner object, asserting the one shape every API error has."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.fixture
def api():
    return APIClient()


def url(rid: int, rest: str = "") -> str:
    return f"/api/v1/restaurants/{rid}/{rest}"
