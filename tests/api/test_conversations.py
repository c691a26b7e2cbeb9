"""Conversations in the dashboard: list and filters, detail and update, history, staff replies, stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from sufrahbot.events import events_in, restaurant_group
from tests.factories import ConversationFactory, MessageFactory, RestaurantFactory, SenderFactory, UserFactory

from .conftest import auth, error_of, staff, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def restaurant():
    return RestaurantFactory()


@pytest.fixture
def agent(restaurant):
    return staff(restaurant, role="AGENT")


def _conversation(restaurant, *, minutes_ago: float = 0, **kwargs):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    kwargs.setdefault("last_inbound_at", at)
    return ConversationFactory(sender=SenderFactory(restaurant=restaurant), last_message_at=at, **kwargs)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- list ----------------------------------------------------------------------------------------------------


def test_list_is_newest_activity_first_with_preview_and_unread_count(api, restaurant, agent):
    old = _conversation(restaurant, minutes_ago=30, customer_name="Old")
    new = _conversation(restaurant, minutes_ago=1, unread_count=2)
    MessageFactory(conversation=new, body="first")
    MessageFactory(conversation=new, body="x" * 300)
    _conversation(RestaurantFactory())  # another tenant's

    response = api.get(url(restaurant.pk, "conversations/"), **auth(agent))

    assert _ids(response) == [new.pk, old.pk]
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    first = body["results"][0]
    assert first["unread_count"] == 2 and first["last_message"]["direction"] == "in"
    assert first["last_message"]["preview"] == "x" * 119 + "…"
    assert body["results"][1]["last_message"] is None


def test_list_filters_status_assignee_unread_and_search(api, restaurant, agent):
    colleague = staff(restaurant)
    mine = _conversation(restaurant, assignee=agent, customer_name="Layla Hassan", customer_phone="+966508034010")
    theirs = _conversation(restaurant, assignee=colleague, unread_count=3)
    resolved = _conversation(restaurant, status="resolved")
    get = lambda **params: _ids(api.get(url(restaurant.pk, "conversations/"), params, **auth(agent)))  # noqa: E731

    assert get(status="resolved") == [resolved.pk]
    assert set(get(status="open")) == {mine.pk, theirs.pk}
    assert get(assignee="me") == [mine.pk]
    assert get(assignee=str(colleague.pk)) == [theirs.pk]
    assert get(assignee="none") == [resolved.pk]
    assert get(unread="true") == [theirs.pk]
    assert set(get(unread="false")) == {mine.pk, resolved.pk}
    assert get(search="layla") == [mine.pk]
    assert get(search="050 803") == [mine.pk]
    assert get(search="+966508034010") == [mine.pk]


def test_list_rejects_bad_filters_with_field_messages(api, restaurant, agent):
    response = api.get(url(restaurant.pk, "conversations/"), {"status": "closed", "assignee": "bob"}, **auth(agent))

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"status", "assignee"}


def test_list_pages_with_a_cursor(api, restaurant, agent):
    conversations = [_conversation(restaurant, minutes_ago=n) for n in range(5)]

    first = api.get(url(restaurant.pk, "conversations/"), {"page_size": 2}, **auth(agent))
    second = api.get(first.json()["next"], **auth(agent))
    third = api.get(second.json()["next"], **auth(agent))

    assert _ids(first) + _ids(second) + _ids(third) == [c.pk for c in conversations]
    assert third.json()["next"] is None and second.json()["previous"] is not None


# --- detail and update ---------------------------------------------------------------------------------------


def test_detail_shows_the_service_window(api, restaurant, agent):
    open_one = _conversation(restaurant, minutes_ago=5)
    closed_one = _conversation(restaurant, last_inbound_at=timezone.now() - timedelta(hours=30))

    opened = api.get(url(restaurant.pk, f"conversations/{open_one.pk}/"), **auth(agent)).json()
    closed = api.get(url(restaurant.pk, f"conversations/{closed_one.pk}/"), **auth(agent)).json()

    assert opened["id"] == open_one.pk and opened["service_window_open"] is True
    assert opened["sender_phone_number"] == open_one.sender.phone_number
    assert closed["service_window_open"] is False


def test_patch_changes_status_assignee_bot_pause_and_read(api, restaurant, agent):
    conversation = _conversation(restaurant, unread_count=4)

    response = api.patch(
        url(restaurant.pk, f"conversations/{conversation.pk}/"),
        {"status": "resolved", "assignee": agent.pk, "bot_paused": True, "mark_read": True},
        format="json",
        **auth(agent),
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "resolved" and body["assignee"]["id"] == agent.pk and body["bot_paused"] is True
    assert body["unread_count"] == 0
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id, conversation.bot_paused, conversation.unread_count) == (
        "resolved",
        agent.pk,
        True,
        0,
    )

    unassigned = api.patch(
        url(restaurant.pk, f"conversations/{conversation.pk}/"),
        {"assignee": None, "bot_paused": False},
        format="json",
        **auth(agent),
    )
    assert unassigned.json()["assignee"] is None and unassigned.json()["bot_paused"] is False
    conversation.refresh_from_db()
    assert conversation.assignee_id is None and conversation.status == "resolved"


def test_patch_refuses_an_assignee_from_another_restaurant_and_bad_values(api, restaurant, agent):
    conversation = _conversation(restaurant)
    outsider = staff(RestaurantFactory())

    response = api.patch(
        url(restaurant.pk, f"conversations/{conversation.pk}/"),
        {"assignee": outsider.pk, "status": "archived", "bot_paused": "maybe"},
        format="json",
        **auth(agent),
    )

    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"assignee", "status", "bot_paused"}
    conversation.refresh_from_db()
    assert conversation.assignee_id is None and conversation.status == "open"


@pytest.mark.django_db(transaction=True)
def test_patch_announces_conversation_updated_to_the_restaurant(api, restaurant, agent, listen_groups):
    conversation = _conversation(restaurant)
    listener = listen_groups(restaurant_group(restaurant.pk))
    api.patch(
        url(restaurant.pk, f"conversations/{conversation.pk}/"),
        {"status": "resolved"},
        format="json",
        **auth(agent),
    )
    message = listener.next_message()

    event = events_in(message)[0]
    assert event["type"] == "conversation.updated" and event["restaurant_id"] == restaurant.pk
    assert event["conversation"]["id"] == conversation.pk and event["conversation"]["status"] == "resolved"


# --- history -------------------------------------------------------------------------------------------------


def test_history_is_newest_first_and_pages_backwards(api, restaurant, agent):
    conversation = _conversation(restaurant)
    messages = [MessageFactory(conversation=conversation, body=f"m{n}") for n in range(5)]
    MessageFactory()  # another conversation's

    first = api.get(url(restaurant.pk, f"conversations/{conversation.pk}/messages/"), {"page_size": 3}, **auth(agent))
    older = api.get(first.json()["next"], **auth(agent))

    assert _ids(first) + _ids(older) == [m.pk for m in reversed(messages)]
    assert first.json()["results"][0]["body"] == "m4" and older.json()["next"] is None


# --- staff replies -------------------------------------------------------------------------------------------


def _reply(api, user, conversation, body="On its way!", **headers):
    return api.post(
        url(conversation.restaurant_id, f"conversations/{conversation.pk}/messages/"),
        {"body": body},
        format="json",
        **auth(user),
        **headers,
    )


@pytest.mark.django_db(transaction=True)
def test_a_staff_reply_is_sent_through_the_provider_and_pauses_the_bot(api, restaurant, agent, fake_twilio):
    conversation = _conversation(restaurant)

    response = _reply(api, agent, conversation)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "out" and body["body"] == "On its way!" and body["sent_by"]["id"] == agent.pk
    message = Message.objects.get(pk=body["id"])
    assert message.status == "sent" and message.sent_by_id == agent.pk
    assert [sent["body"] for sent in fake_twilio.sent] == ["On its way!"]
    conversation.refresh_from_db()
    assert conversation.bot_paused is True and conversation.first_response_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_twice_sends_once(api, restaurant, agent, fake_twilio):
    conversation = _conversation(restaurant)

    first = _reply(api, agent, conversation, HTTP_IDEMPOTENCY_KEY="key-1")
    again = _reply(api, agent, conversation, HTTP_IDEMPOTENCY_KEY="key-1")
    other = _reply(api, agent, conversation, HTTP_IDEMPOTENCY_KEY="key-2")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert other.json()["id"] != first.json()["id"]
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 2
    assert len(fake_twilio.sent) == 2


def test_a_reply_outside_the_24_hour_window_is_refused_and_nothing_is_queued(api, restaurant, agent):
    conversation = _conversation(restaurant, last_inbound_at=timezone.now() - timedelta(hours=25))

    response = _reply(api, agent, conversation)

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "outside_service_window" and "24 hours" in error["message"]
    assert not Message.objects.filter(conversation=conversation).exists()
    conversation.refresh_from_db()
    assert conversation.bot_paused is False


def test_a_reply_needs_a_body_and_a_sane_idempotency_key(api, restaurant, agent):
    conversation = _conversation(restaurant)

    blank = _reply(api, agent, conversation, body="   ")
    huge = _reply(api, agent, conversation, body="x" * 5000)
    long_key = _reply(api, agent, conversation, HTTP_IDEMPOTENCY_KEY="k" * 201)

    assert blank.status_code == huge.status_code == long_key.status_code == 400
    assert "body" in error_of(blank)["details"] and "body" in error_of(huge)["details"]
    assert "Idempotency-Key" in error_of(long_key)["details"]
    assert not Message.objects.filter(conversation=conversation).exists()


# --- stats ---------------------------------------------------------------------------------------------------


def test_stats_count_by_status_sum_unread_and_take_the_median_first_response(api, restaurant, agent):
    now = timezone.now()
    for minutes, unread in ((2, 1), (4, 0), (30, 5)):
        conversation = _conversation(restaurant, unread_count=unread)
        inbound = MessageFactory(conversation=conversation)
        Message.objects.filter(pk=inbound.pk).update(created_at=now - timedelta(hours=1))
        Conversation.objects.filter(pk=conversation.pk).update(
            first_response_at=now - timedelta(hours=1) + timedelta(minutes=minutes)
        )
    _conversation(restaurant, status="resolved")  # no staff reply: not in the median
    _conversation(RestaurantFactory(), unread_count=50)  # another tenant's

    response = api.get(url(restaurant.pk, "conversations/stats/"), **auth(agent))

    assert response.status_code == 200
    assert response.json() == {
        "by_status": {"open": 3, "resolved": 1},
        "unread_total": 6,
        "unread_conversations": 2,
        "median_first_response_seconds": 240.0,
        "responded_conversations": 3,
    }


def test_stats_without_any_reply_have_no_median(api, restaurant, agent):
    response = api.get(url(restaurant.pk, "conversations/stats/"), **auth(agent))

    assert response.json()["median_first_response_seconds"] is None
    assert response.json()["by_status"] == {"open": 0, "resolved": 0}


def test_platform_admins_see_any_restaurant(api, restaurant):
    conversation = _conversation(restaurant)
    admin = UserFactory(is_superuser=True, is_staff=True)

    assert _ids(api.get(url(restaurant.pk, "conversations/"), **auth(admin))) == [conversation.pk]
