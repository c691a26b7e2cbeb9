"""PostgreSQL down: the webhook waits in Redis (webhooks/spool.py), is acknowledged, and the import sweep
stores and processes it once the database is back, exactly as if it had just arrived."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from conversations.models import Message
from providers.registry import provider_for
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from tests.webhooks.test_dialog360 import WEBHOOK_TOKEN, d360, sender  # noqa: F401 - fixtures
from tests.webhooks.test_dialog360 import _payload as d360_payload
from tests.webhooks.test_dialog360 import _post as d360_post
from tests.webhooks.test_dialog360 import _text as d360_text
from tests.webhooks.test_meta import _payload, _post, _text, graph, meta_sender  # noqa: F401 - fixtures
from tests.webhooks.test_outages import _closed_port, database_unreachable
from webhooks.models import WebhookEvent
from webhooks.spool import import_spooled_webhooks, spool_stream, webhook_spool_depth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_spool():
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete(spool_stream())
    yield client
    client.delete(spool_stream())


def test_a_twilio_webhook_during_the_outage_is_acknowledged_and_answered_once_after(client, fake_twilio):
    twilio_sender = SenderFactory()
    params = twilio_inbound_params(sender=twilio_sender, from_number="+966508034011", body="hello")

    with database_unreachable():
        # Twilio's retries of the same message (a lost 200) are spooled too; they dedupe at processing.
        answers = [signed_post(client, sender=twilio_sender, params=params) for _ in range(3)]
        assert webhook_spool_depth() == 3

    assert [r.status_code for r in answers] == [200, 200, 200]
    assert answers[0].content.decode() == provider_for("twilio").ack[0]  # Twilio's usual empty TwiML
    assert WebhookEvent.objects.count() == 0  # nothing reached the database while it was away
    assert import_spooled_webhooks.apply().result == 3
    assert webhook_spool_depth() == 0 and import_spooled_webhooks.apply().result == 0
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1 and len(fake_twilio.sent) == 1
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["processed"] * 3  # two found a duplicate


def test_a_meta_batch_spooled_is_verified_and_stored_whole(client, graph, meta_sender):  # noqa: F811
    messages = [_text(f"message {n}", wa_id=f"96650801{n:04d}") for n in range(4)]
    with database_unreachable():
        assert _post(client, _payload(meta_sender, messages=messages)).status_code == 200

    assert import_spooled_webhooks.apply().result == 1
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature_valid) == ("processed", True)
    assert sorted(Message.objects.filter(direction="in").values_list("provider_message_id", flat=True)) == sorted(
        m["id"] for m in messages
    )


def test_a_forged_webhook_spooled_during_the_outage_is_rejected_at_import(client, fake_twilio):
    twilio_sender = SenderFactory()
    params = twilio_inbound_params(sender=twilio_sender, from_number="+966508034012", body="forged")
    with database_unreachable():
        assert signed_post(client, sender=twilio_sender, params=params, token="not-the-auth-token").status_code == 200

    assert import_spooled_webhooks.apply().result == 1
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature_valid) == ("rejected", False)
    assert not Message.objects.exists() and not fake_twilio.sent


def test_a_secret_header_is_not_kept_in_plain_text_in_redis(client, d360, sender, empty_spool):  # noqa: F811
    with database_unreachable():
        assert d360_post(client, d360_payload(d360_text("hello"))).status_code == 200
    [(_, raw)] = empty_spool.xrange(spool_stream())
    assert WEBHOOK_TOKEN.encode() not in b"".join(raw.values())

    assert import_spooled_webhooks.apply().result == 1  # and verified with it, decrypted, at import
    event = WebhookEvent.objects.get()
    assert (event.status, event.signature_valid) == ("processed", True)
    assert event.headers["X-Sufrah-Webhook-Token"] == "(present)"


def test_no_spool_room_or_no_redis_means_503(client, settings):
    twilio_sender = SenderFactory()
    settings.WEBHOOK_SPOOL_MAX_ENTRIES = 1
    with database_unreachable():
        first = signed_post(
            client,
            sender=twilio_sender,
            params=twilio_inbound_params(sender=twilio_sender, from_number="+966508034013"),
        )
        full = signed_post(
            client,
            sender=twilio_sender,
            params=twilio_inbound_params(sender=twilio_sender, from_number="+966508034014"),
        )
        settings.WEBHOOK_SPOOL_MAX_ENTRIES = 100
        settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"  # Redis away as well
        both_down = signed_post(
            client,
            sender=twilio_sender,
            params=twilio_inbound_params(sender=twilio_sender, from_number="+966508034015"),
        )
    assert first.status_code == 200
    assert (full.status_code, full.json()["error"]["code"]) == (503, "database_unavailable")
    assert both_down.status_code == 503 and both_down["Retry-After"]
