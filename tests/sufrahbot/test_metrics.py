from urllib.parse import urlencode

import pytest

from tests.factories import ConsoleSenderFactory

pytestmark = pytest.mark.django_db


def test_metrics_need_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_count_webhooks_by_provider_and_verdict_and_show_queue_depths(client, settings):
    from sufrahbot.metrics import WEBHOOKS

    settings.METRICS_TOKEN = "scrape-token-123"
    sender = ConsoleSenderFactory()
    before = WEBHOOKS.labels("twilio", "message", "invalid_signature")._value.get()
    response = client.post(
        "/webhooks/twilio/",
        data=urlencode(
            {"MessageSid": "SM" + "1" * 32, "From": "whatsapp:+966500000001", "To": f"whatsapp:{sender.phone_number}"}
        ),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE="bad",
    )
    assert response.status_code == 403
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").content.decode()
    line = 'sufrah_webhooks_total{kind="message",provider="twilio",verdict="invalid_signature"}'
    assert f"{line} {before + 1}" in text
    assert 'sufrah_queue_depth{queue="outbound"}' in text
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus's own
