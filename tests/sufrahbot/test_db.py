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


def test_insert_unless_stored_stores_once_with_one_statement_built_once():
    from tests.factories import ConversationFactory

    conversation = ConversationFactory()

    def inbound(body: str) -> Message:
        return Message(
            restaurant=conversation.restaurant,
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            provider_message_id="SM-once",
            body=body,
        )

    db._insert_sql.clear()
    first = inbound("مرحبا")
    assert db.insert_unless_stored(first) is True and first.pk and not first._state.adding
    with CaptureQueriesContext(connection) as queries:
        again = inbound("a redelivery")
        assert db.insert_unless_stored(again) is False and again.pk is None
    assert len(queries) == 1 and "ON CONFLICT DO NOTHING" in queries[0]["sql"]
    assert list(db._insert_sql) == [(Message, "default", db.OnConflict.IGNORE)]
    [stored] = Message.objects.filter(provider_message_id="SM-once")
    assert stored.pk == first.pk and stored.body == "مرحبا" and stored.created_at is not None


# --- PreparedSelect: a hot read compiled once, run with each call's values ---------------------------------

from django.db import transaction  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.db.models.sql.compiler import SQLCompiler  # noqa: E402

from conversations.models import Conversation, Message  # noqa: E402
from tests.factories import ConversationFactory, MessageFactory  # noqa: E402


def _messages_before(*, conversation_id: int, before_message_id: int):
    return (
        Conversation.objects.select_related("restaurant", "sender")
        .annotate(earlier=Count("messages", filter=Q(messages__pk__lt=before_message_id)), doubled=F("pk") * 2)
        .filter(pk=conversation_id)
    )


def test_prepared_rows_are_the_querysets_rows_for_each_calls_values():
    prepared = db.PreparedSelect(_messages_before, "conversation_id", "before_message_id")
    first, second = ConversationFactory(), ConversationFactory()
    messages = [MessageFactory(conversation=first) for _ in range(3)] + [MessageFactory(conversation=second)]
    for conversation, before in ((first, messages[2].pk), (second, messages[3].pk + 1), (first, messages[0].pk)):
        [row] = prepared.fetch(conversation_id=conversation.pk, before_message_id=before)
        [expected] = _messages_before(conversation_id=conversation.pk, before_message_id=before)
        assert row.pk == expected.pk and row.customer_id == expected.customer_id
        assert (row.earlier, row.doubled) == (expected.earlier, expected.doubled)
        assert row.restaurant.slug == expected.restaurant.slug and row.sender.pk == expected.sender.pk
    assert prepared.fetch(conversation_id=first.pk, before_message_id=messages[2].pk)[0].earlier == 2
    assert prepared.fetch(conversation_id=10**9, before_message_id=1) == []


def test_compiled_once_then_one_statement(monkeypatch):
    prepared = db.PreparedSelect(_messages_before, "conversation_id", "before_message_id")
    conversation = ConversationFactory()
    prepared.fetch(conversation_id=conversation.pk, before_message_id=1)
    compiled = []
    real_as_sql = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or real_as_sql(self, *a, **k))
    with CaptureQueriesContext(connection) as queries:
        [row] = prepared.fetch(conversation_id=conversation.pk, before_message_id=10**9)
    assert compiled == [] and len(queries) == 1 and row.pk == conversation.pk
    assert str(conversation.pk) in queries[0]["sql"]  # the call's values, not the placeholders


@pytest.mark.django_db(transaction=True)  # the other thread reads what this one committed
def test_converters_are_looked_up_once_and_applied_on_every_thread(monkeypatch):
    import threading

    prepared = db.PreparedSelect(
        lambda *, message_id: Message.objects.select_related("conversation").filter(pk=message_id), "message_id"
    )
    first, second = MessageFactory(content={"text": "أهلا"}), MessageFactory(content={"buttons": [1, 2]})
    prepared.fetch(message_id=first.pk)
    looked_up = []
    real_get_converters = SQLCompiler.get_converters
    monkeypatch.setattr(
        SQLCompiler, "get_converters", lambda self, e: looked_up.append(1) or real_get_converters(self, e)
    )
    rows = {}

    def fetch_on_another_thread() -> None:  # its own connection, not the one that compiled
        rows["other"] = prepared.fetch_one(message_id=second.pk)
        connection.close()

    thread = threading.Thread(target=fetch_on_another_thread)
    thread.start()
    thread.join()
    rows["this"] = prepared.fetch_one(message_id=first.pk)
    assert looked_up == []
    assert rows["this"].content == {"text": "أهلا"} and rows["other"].content == {"buttons": [1, 2]}
    for row in rows.values():  # JSON decoded and times aware, as the queryset's own rows
        assert row.created_at.tzinfo is not None and row.conversation.created_at.tzinfo is not None


def test_a_value_the_query_does_not_carry_is_refused():
    def constant(*, conversation_id: int):
        return Conversation.objects.filter(pk=1)

    with pytest.raises(ValueError, match="conversation_id"):
        db.PreparedSelect(constant, "conversation_id").fetch(conversation_id=1)


def test_a_time_fixed_at_build_is_refused():
    from django.utils import timezone

    def recent(*, conversation_id: int):
        return Conversation.objects.filter(pk=conversation_id, last_message_at__gte=timezone.now())

    with pytest.raises(ValueError, match="date or time"):
        db.PreparedSelect(recent, "conversation_id").fetch(conversation_id=1)


@pytest.mark.django_db(transaction=True)
def test_a_locking_read_outside_a_transaction_is_refused():
    prepared = db.PreparedSelect(
        lambda *, message_id: Message.objects.select_for_update().filter(pk=message_id), "message_id"
    )
    with transaction.atomic():
        assert prepared.fetch(message_id=1) == []  # compiled inside a transaction
    with pytest.raises(transaction.TransactionManagementError):
        prepared.fetch(message_id=1)  # the compiled statement is not run outside one either


@pytest.mark.django_db(transaction=True)
def test_each_thread_reads_on_its_own_connection():
    import threading

    prepared = db.PreparedSelect(_messages_before, "conversation_id", "before_message_id")
    conversation = ConversationFactory()
    prepared.fetch(conversation_id=conversation.pk, before_message_id=1)  # compiled on this thread's connection
    seen: list = []

    def other_thread():
        try:
            with transaction.atomic():
                [row] = prepared.fetch(conversation_id=conversation.pk, before_message_id=1)
                seen.append((row.pk, connection.in_atomic_block))
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen == [(conversation.pk, True)]


# --- persistent connections: no health check for one released a moment ago --------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_connection_released_a_moment_ago_skips_the_health_check():
    connection.ensure_connection()
    db.connections_mark_released()
    connection.health_check_done = False  # what Django's close_old_connections does at the next request
    db.connections_trust_recent()
    assert connection.health_check_done  # no SELECT 1 before the next query

    connection.sufrah_released_at -= db.RECENTLY_USED_SECONDS + 0.1  # idle for longer: checked again
    connection.health_check_done = False
    db.connections_trust_recent()
    assert not connection.health_check_done


def test_requests_apply_it_after_djangos_own_rules():
    """In a freshly started process, as a server runs (Django's test client disconnects and reconnects
    close_old_connections around each request, which reorders the receivers in this one)."""
    import subprocess
    import sys
    from pathlib import Path

    check = (
        "import django; django.setup()\n"
        "from django.core.signals import request_finished, request_started\n"
        "from django.db import close_old_connections\n"
        "from sufrahbot import apps\n"
        "pairs = ((request_started, apps._request_started), (request_finished, apps._request_finished))\n"
        "for signal, receiver in pairs:\n"
        "    receivers = signal._live_receivers(sender=None)[0]\n"
        "    assert receivers.index(close_old_connections) < receivers.index(receiver), receivers\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# --- update_prepared: an UPDATE by key written once, run with each call's values ------------------------------

from django.utils import timezone  # noqa: E402


def _stored_fields(event: WebhookEvent) -> dict:
    event = WebhookEvent.objects.get(pk=event.pk)
    return {f.attname: getattr(event, f.attname) for f in WebhookEvent._meta.concrete_fields if f.attname != "id"}


def test_update_prepared_writes_what_the_querysets_update_writes():
    orm, prepared = _event(), _event()
    orm.save()
    prepared.save()
    WebhookEvent.objects.filter(pk=prepared.pk).update(received_at=orm.received_at)
    when = timezone.now()
    changes = {
        "status": "processed",
        "error": "مرحبا",
        "processed_at": when,
        "items": [{"id": "SM1", "outcome": "stored", "reason": ""}],
        "provider_errors": [],
        "signature_valid": None,  # NULL
        "attempts": 3,
    }
    WebhookEvent.objects.filter(pk=orm.pk).update(**changes)
    assert db.update_prepared(WebhookEvent, {"pk": prepared.pk}, **changes) == 1
    assert _stored_fields(prepared) == _stored_fields(orm)
    assert _stored_fields(prepared)["processed_at"] == when and _stored_fields(prepared)["items"][0]["id"] == "SM1"


def test_update_prepared_counts_the_rows_its_conditions_matched():
    message = MessageFactory(awaiting_bot=True)
    assert db.update_prepared(Message, {"pk": message.pk, "awaiting_bot": True}, awaiting_bot=False) == 1
    assert db.update_prepared(Message, {"pk": message.pk, "awaiting_bot": True}, awaiting_bot=False) == 0
    assert Message.objects.get(pk=message.pk).awaiting_bot is False


def test_update_prepared_is_written_once_and_is_one_statement():
    event = _event()
    event.save()
    db._update_sql.clear()
    db.update_prepared(WebhookEvent, {"pk": event.pk}, attempts=1)
    with CaptureQueriesContext(connection) as queries:
        db.update_prepared(WebhookEvent, {"pk": event.pk}, attempts=2)
    assert len(db._update_sql) == 1 and len(queries) == 1
    assert queries[0]["sql"].startswith('UPDATE "webhooks_webhookevent" SET "attempts" = ')
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 2


def test_update_prepared_refuses_expressions_and_comparisons_with_none():
    event = _event()
    event.save()
    with pytest.raises(ValueError):
        db.update_prepared(WebhookEvent, {"pk": event.pk}, attempts=F("attempts") + 1)
    with pytest.raises(ValueError):
        db.update_prepared(WebhookEvent, {"pk": event.pk, "signature_valid": None}, attempts=1)
    with pytest.raises(ValueError):
        db.update_prepared(WebhookEvent, {"pk": event.pk}, id=5)
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 0


# --- upsert_returning: INSERT or UPDATE in one statement, written once, the row as stored ------------------

from conversations.models import BotSession  # noqa: E402


def _session_upsert(conversation, state: dict, *, bump: int = 0) -> BotSession:
    return db.upsert_returning(
        BotSession(conversation=conversation, state=state),
        conflict_fields=["conversation"],
        assignments=['"state" = EXCLUDED."state"', '"updated_at" = EXCLUDED."updated_at" + %s * interval \'1 day\''],
        assignment_params=[bump],
    )


def test_upsert_returning_inserts_then_updates_and_returns_the_stored_row():
    conversation = ConversationFactory()
    first = _session_upsert(conversation, {"step": "menu", "cart": [{"id": 1, "name": "فلافل"}]})
    stored = BotSession.objects.get(conversation=conversation)
    assert first.pk == stored.pk and not first._state.adding and first._state.db == "default"
    # Through the fields' converters, as a queryset gives them: the JSON as a dict, the time aware.
    assert first.state == stored.state == {"step": "menu", "cart": [{"id": 1, "name": "فلافل"}]}
    assert first.updated_at == stored.updated_at and first.updated_at.tzinfo is not None

    second = _session_upsert(conversation, {"step": "cart"}, bump=2)  # the conflict: its assignments run
    stored = BotSession.objects.get(conversation=conversation)
    assert BotSession.objects.filter(conversation=conversation).count() == 1
    assert second.pk == first.pk and second.state == stored.state == {"step": "cart"}
    assert (second.updated_at - first.updated_at).days == 2  # the assignment's own parameter was applied


def test_upsert_returning_is_written_once_and_is_one_statement(monkeypatch):
    conversation = ConversationFactory()
    db._upsert_sql.clear()
    _session_upsert(conversation, {"n": 1})
    compiled = []
    real_as_sql = db.InsertQuery.get_compiler

    def counting(self, *args, **kwargs):
        compiled.append(1)
        return real_as_sql(self, *args, **kwargs)

    monkeypatch.setattr(db.InsertQuery, "get_compiler", counting)
    with CaptureQueriesContext(connection) as queries:
        _session_upsert(conversation, {"n": 2})
    assert compiled == [] and len(db._upsert_sql) == 1 and len(queries) == 1
    assert queries[0]["sql"].startswith('INSERT INTO "conversations_botsession"') and "ON CONFLICT" in queries[0]["sql"]
    assert BotSession.objects.get(conversation=conversation).state == {"n": 2}


# --- PreparedUpdateSelect: an UPDATE and the read of the rows as updated, in one statement --------------------


def _claim() -> db.PreparedUpdateSelect:
    """A webhook event's claim as processing makes it: its attempt counted, read with its sender, if to do."""
    return db.PreparedUpdateSelect(
        lambda *, event_id: WebhookEvent.objects.select_related("sender__restaurant").filter(pk=event_id),
        lambda *, event_id: (
            WebhookEvent.objects.filter(pk=event_id, status__in=["received", "failed"], sender__isnull=False),
            {"attempts": F("attempts") + 1},
        ),
        "event_id",
    )


def _routed_event(**fields) -> WebhookEvent:
    from tests.factories import ConsoleSenderFactory

    sender = ConsoleSenderFactory()
    return db.insert_prepared(_event(sender=sender, restaurant=sender.restaurant, signature_valid=True, **fields))


def test_update_select_reads_the_rows_as_updated_with_their_joins_in_one_statement():
    claim = _claim()
    event = _routed_event(attempts=2)
    claim.fetch_one(event_id=_routed_event().pk)  # compiled on first use
    with CaptureQueriesContext(connection) as queries:
        claimed = claim.fetch_one(event_id=event.pk)
    assert len(queries) == 1 and queries[0]["sql"].startswith('WITH "webhooks_webhookevent" AS (UPDATE ')
    assert claimed.pk == event.pk and claimed.attempts == 3 == WebhookEvent.objects.get(pk=event.pk).attempts
    assert claimed.sender.pk == event.sender_id and claimed.sender.restaurant.pk == event.restaurant_id
    assert claimed.headers == {"Host": "x"} and claimed.received_at == event.received_at  # converters applied


def test_update_select_reads_nothing_and_writes_nothing_where_the_update_matches_nothing():
    claim = _claim()
    done, unrouted = _routed_event(status="processed"), db.insert_prepared(_event(signature_valid=True))
    assert claim.fetch_one(event_id=done.pk) is None and claim.fetch_one(event_id=unrouted.pk) is None
    assert claim.fetch_one(event_id=10**9) is None
    assert WebhookEvent.objects.get(pk=done.pk).attempts == WebhookEvent.objects.get(pk=unrouted.pk).attempts == 0
    other = _routed_event()
    assert claim.fetch_one(event_id=other.pk).pk == other.pk  # the ids are the call's, not the first's


def test_update_select_elsewhere_than_postgresql_updates_then_reads(monkeypatch):
    """The embedded SQLite has no UPDATE in a WITH: the update, then the read if it matched (two statements)."""
    claim = _claim()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    event, done = _routed_event(attempts=1), _routed_event(status="processed")
    with CaptureQueriesContext(connection) as queries:
        claimed = claim.fetch_one(event_id=event.pk)
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE", "SELECT"] and claimed.attempts == 2
    with CaptureQueriesContext(connection) as queries:
        assert claim.fetch_one(event_id=done.pk) is None
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE"]


def test_update_select_refuses_a_query_that_does_not_read_its_models_table():
    claim = db.PreparedUpdateSelect(
        lambda *, event_id: (
            WebhookEvent.objects.filter(pk=event_id)
            .values("pk")
            .union(WebhookEvent.objects.filter(pk=event_id).values("pk"))
        ),
        lambda *, event_id: (WebhookEvent.objects.filter(pk=event_id), {"attempts": 1}),
        "event_id",
    )
    with pytest.raises(ValueError, match="does not read"):
        claim.fetch(event_id=1)
