"""A malformed Content-Length is the client's error (400 with the error body), never a 500."""

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/webhooks/twilio/", "/health/"])
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "12 34"])
def test_a_non_integer_content_length_is_400(path, value):
    response = Client().generic("POST", path, b"{}", content_type="application/json", CONTENT_LENGTH=value)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_a_good_content_length_passes():
    response = Client().generic("POST", "/api/v1/auth/token/", b"{}", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"  # the view's own answer
