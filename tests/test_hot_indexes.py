"""The indexes of the three tables every message writes (webhook events, messages, conversations).

Each inbound message inserts an event, a conversation (or rewrites it) and two messages. Then it updates the
event twice, the conversation and the inbound message once each, and the reply twice as it is sent and again
for each status callback. PostgreSQL adds an entry to every index of a table for each insert, and for each
update that changes an indexed column. So these tables keep the indexes a query needs and no more, scoped to a
restaurant or a conversation, partial where a query wants a few rows. `bench/instructions.py` prints the
write-ahead log this costs a message.

The checks: the first lists each table's indexes, so that adding one is a choice made here. The others run the
code that reads these tables (the sweeps, /health/, the inbox, deletions, a platform admin's message list) and
EXPLAIN each statement with sequential scans priced out: a statement that no index serves shows a Seq Scan, or
a walk of a whole index. The last checks that the migration builds its indexes without holding off writes.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conversations.models import Conversation, Message, MessageStatus
from conversations.selectors import conversation_list, message_list
from conversations.services.delivery import messages_stranded
from restaurants.models import Restaurant
from sufrahbot import health
from tests.factories import ConversationFactory, MessageFactory, UserFactory
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_events_stale

pytestmark = pytest.mark.django_db

HOT_TABLES = {
    WebhookEvent._meta.db_table: {
        "webhooks_webhookevent_pkey",
        "webhooks_we_status_4d802a_idx",  # (status, received_at): the stale sweep, /health/'s backlog
        "webhooks_webhookevent_restaurant_id_4fd11e96",  # deleting a restaurant sets these to NULL
        "webhooks_webhookevent_sender_id_d2a2a634",  # deleting a sender too
    },
    Message._meta.db_table: {
        "conversations_message_pkey",
        "conversatio_convers_4b968d_idx",  # (conversation, created_at): a chat's messages, in order
        "message_restaurant_created",  # (restaurant, created_at): a restaurant's messages, its deletion
        "uniq_provider_message_id",  # status callbacks find their message; redeliveries stored once
        "uniq_message_idempotency_key",  # partial: staff sends retried with the same key
        "message_unsent_due",  # partial: the stranded-send sweep
        "message_failed",  # partial: /health/'s senders whose credentials fail
        "message_sent_by",  # partial (staff messages): deleting a user
    },
    Conversation._meta.db_table: {
        "conversations_conversation_pkey",
        "uniq_conversation_customer_id",  # (restaurant, customer): routing, the inbox's restaurant, deletion
        "conversation_restaurant_recent",  # (restaurant, last_message_at)
        "conversations_conversation_sender_id_a409e591",  # a sender in use cannot be deleted (PROTECT)
        "conversation_assigned",  # partial (assigned ones): "mine", deleting a user
    },
}


def test_the_tables_every_message_writes_keep_only_the_indexes_listed_here() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(%s)",
            [list(HOT_TABLES)],
        )
        found: dict[str, set[str]] = {table: set() for table in HOT_TABLES}
        for table, index in cursor.fetchall():
            found[table].add(index)
    assert found == HOT_TABLES


class Statements:
    """Every statement run inside the block, with its parameters, for EXPLAIN afterwards."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        if not many:
            self.seen.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)


def _explain_each(statements: list[tuple[str, tuple]]) -> dict[str, dict]:
    """Each statement that reads or changes a hot table → its plan, with sequential scans priced out (so the
    planner takes any index that serves it, tables this small notwithstanding)."""
    plans: dict[str, dict] = {}
    for sql, params in statements:
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE") or not any(f'"{table}"' in sql for table in HOT_TABLES):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plans[sql] = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return plans


def _partial_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE '%% WHERE %%'",
            [list(HOT_TABLES)],
        )
        return {row[0] for row in cursor.fetchall()}


def _unserved_scans(plans: dict[str, dict]) -> list[str]:
    """The scans of a hot table that no index narrows: a Seq Scan, or an index walked whole (an Index Scan
    with no Index Cond on an index that is not partial, which is how the planner avoids a priced-out Seq Scan)."""
    partial = _partial_indexes()
    hot_indexes = set().union(*HOT_TABLES.values())
    unserved: list[str] = []
    for sql, plan in plans.items():
        for node in _nodes(plan):
            index = node.get("Index Name")
            if node.get("Relation Name") in HOT_TABLES and node["Node Type"] == "Seq Scan":
                unserved.append(f"Seq Scan on {node['Relation Name']}: {sql}")
            elif index in hot_indexes and "Index Cond" not in node and index not in partial:
                unserved.append(f"{node['Node Type']} of all of {index}: {sql}")
    return unserved


def _nodes(plan: dict) -> list[dict]:
    """A plan's nodes, the plan's own first."""
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def _run(work) -> dict[str, dict]:
    statements = Statements()
    with connection.execute_wrapper(statements):
        work()
    plans = _explain_each(statements.seen)
    assert plans, "the code read none of the hot tables: nothing was checked"
    return plans


@pytest.fixture
def chat():
    staff = UserFactory()
    conversation = ConversationFactory(assignee=staff)
    MessageFactory(conversation=conversation)
    MessageFactory(conversation=conversation, direction="out", status=MessageStatus.QUEUED, sent_by=staff)
    MessageFactory(conversation=conversation, direction="out", status=MessageStatus.FAILED, error_code="20003")
    WebhookEvent.objects.create(
        provider="twilio", kind="message", url="https://x.test/", restaurant=conversation.restaurant
    )
    return conversation, staff


@pytest.mark.parametrize(
    "name",
    ["stale webhook sweep", "health backlog", "health failing senders", "stranded-send sweep"],
)
def test_the_sweeps_and_health_checks_read_through_an_index(chat, name: str) -> None:
    work = {
        "stale webhook sweep": lambda: webhook_events_stale(older_than_seconds=0),
        "health backlog": health._webhook_backlog,
        "health failing senders": health._failing_senders,
        "stranded-send sweep": lambda: messages_stranded(grace_seconds=-3600),
    }[name]
    assert _unserved_scans(_run(work)) == []


def test_the_inbox_and_a_chat_read_through_an_index(chat) -> None:
    conversation, staff = chat
    restaurant = conversation.restaurant

    def work() -> None:
        for filters in ({}, {"status": "open"}, {"assignee_id": staff.pk}, {"unassigned": True}):
            list(conversation_list(restaurant=restaurant, filters=filters)[:50])
        list(message_list(conversation=conversation)[:50])
        list(Message.objects.filter(restaurant=restaurant, created_at__gte=timezone.now() - timedelta(days=1)))

    assert _unserved_scans(_run(work)) == []


def test_deleting_a_user_a_conversation_or_a_restaurant_finds_their_rows_through_an_index(chat) -> None:
    conversation, staff = chat
    restaurant = Restaurant.objects.get(pk=conversation.restaurant_id)

    def work() -> None:
        staff.delete()  # their messages' sent_by and their conversations' assignee set to NULL
        Conversation.objects.get(pk=conversation.pk).delete()  # its messages with it
        # A restaurant with conversations cannot be deleted (their sender is PROTECTed); without, its
        # events' restaurant and sender are set to NULL and its senders deleted.
        restaurant.delete()

    plans = _run(work)
    assert any("sent_by_id" in sql for sql in plans) and any("assignee_id" in sql for sql in plans)
    assert _unserved_scans(plans) == []
    assert not Message.objects.filter(conversation=conversation).exists()


def test_the_new_indexes_are_built_without_holding_off_writes() -> None:
    """A plain CREATE INDEX on a deployment's messages table would hold every insert until it is built."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    migration = loader.get_migration("conversations", "0008_hot_table_indexes")
    state = loader.project_state(("conversations", "0007_message_media"))
    assert migration.atomic is False
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for operation in migration.operations:
            after = state.clone()
            operation.state_forwards("conversations", after)
            operation.database_forwards("conversations", editor, state, after)
            state = after
    creates = [sql for sql in editor.collected_sql if sql.startswith("CREATE INDEX")]
    assert len(creates) == 5 and all(sql.startswith("CREATE INDEX CONCURRENTLY") for sql in creates), creates
    # The replacements first: the fields' own indexes are dropped after them (by the AlterFields).
    kinds = [type(operation).__name__ for operation in migration.operations]
    assert kinds == ["AddIndexOnline"] * 5 + ["AlterField"] * (len(kinds) - 5), kinds


def test_a_platform_admins_message_list_pages_through_an_index_without_sorting(chat, admin_client, monkeypatch) -> None:
    """Every restaurant's messages at once: a page must not sort the whole table (created_at has no index)."""
    from django.contrib import admin

    monkeypatch.setattr(admin.site._registry[Message], "list_per_page", 2)  # more than a page: it is paged

    def work() -> None:
        assert admin_client.get("/admin/conversations/message/").status_code == 200

    plans = _run(work)
    pages = {
        sql: plan
        for sql, plan in plans.items()
        if '"conversations_message"' in sql.partition(" FROM ")[2][:40] and " LIMIT " in sql
    }
    assert pages, "the admin read no page of messages"
    for sql, plan in pages.items():
        kinds = [node["Node Type"] for node in _nodes(plan)]
        assert "Sort" not in kinds and "Seq Scan" not in kinds, (sql, kinds)
