"""The events added with the integrations: sender.disconnected / sender.connected when a sender's
credentials start failing or work again, rating.received, menu.updated; each from its real service, sent to
the websocket group and written as a webhook delivery (the test settings also check each against the
catalogue's schema)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from conversations.services.outbound import message_send
from integrations.models import WebhookDelivery
from orders.models import OrderStatus
from orders.services import order_transition, rating_record
from providers.content import OutboundContent
from restaurants.models import Sender
from restaurants.services import menu_item_delete, menu_item_update
from tests.factories import ConversationFactory, MenuCategoryFactory, MenuItemFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def _bodies(event_type: str) -> list[dict]:
    return [json.loads(d.body) for d in WebhookDelivery.objects.filter(event_type=event_type).order_by("id")]


def test_refused_credentials_disconnect_the_sender_once_and_a_good_send_reconnects_it(fake_twilio):
    conversation = ConversationFactory(last_inbound_at=timezone.now())
    sender = conversation.sender
    subscribe(sender.restaurant, "https://pos.example.com/hooks", events=["sender.disconnected", "sender.connected"])
    fake_twilio.fail_next(2, status=401, code=20003, message="Authenticate")

    first = message_send(conversation=conversation, content=OutboundContent.text("one"))
    second = message_send(conversation=conversation, content=OutboundContent.text("two"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.error_code) == (second.status, second.error_code) == ("failed", "20003")
    sender.refresh_from_db()
    assert sender.credentials_refused_since is not None and sender.credentials_refused_code == "20003"
    [disconnected] = _bodies("sender.disconnected")  # two failures, one event
    assert disconnected["data"]["sender"] == {
        "id": sender.pk,
        "phone_number": sender.phone_number,
        "provider": "twilio",
        "error_code": "20003",
        "since": sender.credentials_refused_since.isoformat(),
    }
    assert disconnected["subject"] == f"sender:{sender.pk}"

    third = message_send(conversation=conversation, content=OutboundContent.text("three"))

    third.refresh_from_db()
    assert third.status == "sent"
    sender.refresh_from_db()
    assert sender.credentials_refused_since is None
    [connected] = _bodies("sender.connected")
    assert connected["data"]["sender"]["id"] == sender.pk and connected["sequence"] == disconnected["sequence"] + 1
    message_send(conversation=conversation, content=OutboundContent.text("four"))
    assert len(_bodies("sender.connected")) == 1  # already connected: nothing more


def test_other_failures_do_not_disconnect(fake_twilio):
    conversation = ConversationFactory(last_inbound_at=timezone.now())
    fake_twilio.fail_next(1, status=400, code=21211, message="Invalid To")
    message_send(conversation=conversation, content=OutboundContent.text("one"))
    assert Sender.objects.get(pk=conversation.sender_id).credentials_refused_since is None


def test_a_rating_is_announced_with_its_order(fake_twilio):
    conversation = customer_conversation()
    subscribe(conversation.restaurant, "https://pos.example.com/hooks", events=["rating.received"])
    order = placed_order(conversation=conversation)
    for status in (OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
        order = order_transition(order=order, to_status=status)

    rating = rating_record(order=order, stars=5, comment="  ممتاز ")

    [body] = _bodies("rating.received")
    assert body["data"]["rating"] == {
        "id": rating.pk,
        "order_id": order.pk,
        "stars": 5,
        "comment": "ممتاز",
        "created_at": rating.created_at.isoformat(),
    }
    assert body["data"]["order"]["status"] == "RATED" and body["subject"] == f"order:{order.pk}"


def test_menu_item_changes_and_deletes_are_announced():
    category = MenuCategoryFactory()
    item = MenuItemFactory(category=category, price="25.00")
    subscribe(category.restaurant, "https://pos.example.com/hooks")

    item_id = item.pk
    menu_item_update(item=item, data={"price": "27.5", "available": False})
    menu_item_delete(item=item)

    changed, deleted = (body["data"]["menu"] for body in _bodies("menu.updated"))
    assert changed == {
        "object": "item",
        "action": "changed",
        "id": item_id,
        "category_id": category.pk,
        "name_ar": item.name_ar,
        "name_en": item.name_en,
        "price": "27.50",
        "available": False,
    }
    assert deleted["action"] == "deleted" and deleted["id"] == item_id
