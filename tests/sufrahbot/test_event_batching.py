"""sufrahbot.events sends one transaction's events together: one group_send per group, in publish order,
after commit; a savepoint that rolls back takes its own events with it; outside a transaction an event goes
at once. Real Redis channel layer, real commits."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.services.inbound import message_receive
from providers.content import InboundMessage
from sufrahbot.events import DirectPublisher, access_changed, events_in, publish, restaurant_group, user_group
from tests.factories import RestaurantFactory, SenderFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _transport_only(settings):
    """These cases test how events travel, with marker payloads: no sinks (the catalogue check would refuse the
    markers as conversation.updated payloads; the outgoing webhooks have their own tests)."""
    settings.SUFRAH_EVENT_SINKS = []


def _event(marker: str) -> dict:
    return {"type": "conversation.updated", "conversation": {"id": 0, "customer_name": marker}}


@pytest.fixture
def group_sends(monkeypatch) -> list[tuple[str, dict]]:
    """Every group message sent (then sent for real): the pub/sub layer's PUBLISHes (DirectPublisher), or
    the group_sends another layer is asked for."""
    layer = get_channel_layer()
    calls: list[tuple[str, dict]] = []
    real_group_send, real_direct = layer.group_send, DirectPublisher.send

    async def recording(group, message):
        calls.append((group, message))
        await real_group_send(group, message)

    def recording_direct(layer, sends):
        calls.extend(sends)
        real_direct(layer, sends)

    monkeypatch.setattr(layer, "group_send", recording)
    monkeypatch.setattr(DirectPublisher, "send", recording_direct)
    return calls


def _names(messages: list[dict]) -> list[tuple[int, str]]:
    return [(e["restaurant_id"], e["conversation"]["customer_name"]) for m in messages for e in events_in(m)]


def test_one_transactions_events_go_out_as_one_send_per_group_in_order(group_sends, listen_groups):
    first, second = RestaurantFactory(), RestaurantFactory()
    user = UserFactory()
    listener = listen_groups(restaurant_group(first.pk), restaurant_group(second.pk), user_group(user.pk))
    group_sends.clear()  # what making the user announced
    with transaction.atomic():
        publish(first.pk, _event("a1"))
        publish(second.pk, _event("b1"))
        try:
            with transaction.atomic():  # a savepoint that rolls back: its event goes with it
                publish(first.pk, _event("rolled back"))
                raise RuntimeError
        except RuntimeError:
            pass
        publish(first.pk, _event("a2"))
        access_changed(user.pk)
        with transaction.atomic():  # a savepoint that is released: its event stays, in its place
            publish(first.pk, _event("a3"))
        assert group_sends == []  # nothing before commit
    assert [group for group, _ in group_sends] == [
        restaurant_group(first.pk),
        restaurant_group(second.pk),
        user_group(user.pk),
    ]
    assert group_sends[0][1]["type"] == "events.push" and len(group_sends[0][1]["messages"]) == 3
    assert group_sends[1][1]["type"] == "event.push" and group_sends[2][1] == {"type": "access.recheck"}
    received = listener.drain()
    assert _names(received) == [(first.pk, "a1"), (first.pk, "a2"), (first.pk, "a3"), (second.pk, "b1")]
    assert {"type": "access.recheck"} in received


def test_a_rolled_back_transaction_sends_nothing_and_the_next_one_sends_its_own(group_sends, listen_groups):
    restaurant = RestaurantFactory()
    listener = listen_groups(restaurant_group(restaurant.pk))
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(restaurant.pk, _event("never"))
        raise RuntimeError
    with transaction.atomic():
        publish(restaurant.pk, _event("next"))
    assert len(group_sends) == 1
    assert _names(listener.drain()) == [(restaurant.pk, "next")]


def test_outside_a_transaction_each_event_goes_at_once(group_sends, listen_groups):
    restaurant = RestaurantFactory()
    listener = listen_groups(restaurant_group(restaurant.pk))
    publish(restaurant.pk, _event("one"))
    assert len(group_sends) == 1
    publish(restaurant.pk, _event("two"))
    assert len(group_sends) == 2
    assert _names(listener.drain()) == [(restaurant.pk, "one"), (restaurant.pk, "two")]


def test_a_stored_message_and_its_conversation_update_are_one_send(group_sends, listen_groups):
    """Storing an inbound message publishes message.received and conversation.updated: one send."""
    sender = SenderFactory()
    inbound = InboundMessage(
        provider="twilio",
        provider_message_id="SM" + "c" * 32,
        to_number=sender.phone_number,
        from_number="+966508034011",
        customer_id="+966508034011",
        text="hi",
    )
    listener = listen_groups(restaurant_group(sender.restaurant_id))
    _, created = message_receive(sender=sender, inbound=inbound)
    assert created
    assert len(group_sends) == 1 and group_sends[0][1]["type"] == "events.push"
    assert [e["type"] for m in listener.drain() for e in events_in(m)] == ["message.received", "conversation.updated"]
