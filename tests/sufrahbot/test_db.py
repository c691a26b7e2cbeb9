"""sufrahbot.db.insert_prepared: the same row as save() would write, with the statement built once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sufrahbot import db
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def _event(**fields) -> WebhookEvent:
    return WebhookEvent(
        provider="twilio", kind="message", url="https://x.test/webhooks/twilio/", headers={"Host": "x"}, **fields
    )


def test_the_row_is_what_save_writes():
    body = b"\x00\xff Body=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7"  # bytes that are not UTF-8 round-trip
    saved = _event(body=body, items=[{"a": 1}])
    saved.save()
    prepared = db.insert_prepared(_event(body=body, items=[{"a": 1}]))

    assert prepared.pk and not prepared._state.adding
    fields = [f.attname for f in WebhookEvent._meta.concrete_fields if f.attname not in ("id", "received_at")]
    stored = WebhookEvent.objects.get(pk=prepared.pk)
    reference = WebhookEvent.objects.get(pk=saved.pk)
    assert {f: getattr(stored, f) for f in fields} == {f: getattr(reference, f) for f in fields}
    assert bytes(stored.body) == body and stored.items == [{"a": 1}] and stored.status == "received"
    assert stored.received_at is not None and prepared.received_at == stored.received_at  # auto_now_add


def test_one_statement_a_row_built_once():
    db._insert_sql.clear()
    db.insert_prepared(_event())
    with CaptureQueriesContext(connection) as queries:
        db.insert_prepared(_event(status="rejected", error="malformed: x"))
    assert len(queries) == 1 and queries[0]["sql"].startswith('INSERT INTO "webhooks_webhookevent"')
    assert len(db._insert_sql) == 1
    assert WebhookEvent.objects.filter(status="rejected", error="malformed: x").count() == 1
