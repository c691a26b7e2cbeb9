"""Handing a conversation to staff: the bot pauses (and says so on the dashboard), stays silent while paused,
and answers again once staff resume it; a staff reply pauses it too."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message
from conversations.services.handoff import conversation_bot_resume, conversation_handoff
from conversations.services.outbound import message_send
from orders.models import OrderStatus
from orders.services import order_transition, rating_prompts_send_due
from providers.content import OutboundContent
from tests.conversations.factories import TwilioCustomer
from tests.factories import UserFactory
from tests.orders.factories import placed_order

pytestmark = pytest.mark.django_db(transaction=True)


def conversation_updates(events: list[dict]) -> list[bool]:
    return [e["conversation"]["bot_paused"] for e in events if e["type"] == "conversation.updated"]


def test_help_pauses_the_bot_which_then_stays_silent_until_staff_resume_it(client, fake_twilio, listen_groups):
    customer = TwilioCustomer(client)
    customer.says("hello")
    drain = listen_groups(f"restaurant.{customer.sender.restaurant_id}").events

    [handoff] = customer.says("3")  # Help
    assert "member of staff will reply" in handoff.body
    conversation = customer.conversation
    assert conversation.bot_paused is True

    assert customer.says("hello? I want to order") == []
    assert customer.says("menu") == []
    assert Message.objects.filter(conversation=conversation, direction="in").count() == 4
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 4

    conversation_bot_resume(conversation=conversation, by=UserFactory())
    [categories] = customer.says("menu")
    assert categories.kind == "list" and [t for _, t in categories.options()] == ["Grills", "Drinks"]

    # The dashboard saw it: not paused (the "Help" arriving), paused, then resumed.
    updates = conversation_updates(drain())
    assert [u for i, u in enumerate(updates) if i == 0 or updates[i - 1] != u] == [False, True, False]


def test_talk_to_staff_in_arabic_pauses_too_and_gives_the_support_contact(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("مرحبا")
    [handoff] = customer.says("مساعدة")
    assert "سيرد عليك أحد الموظفين" in handoff.body
    assert customer.sender.restaurant.support_contact in handoff.body
    assert customer.conversation.bot_paused is True


def test_a_staff_reply_pauses_the_bot(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    customer.says("1")
    staff = UserFactory(is_staff=True)

    message_send(conversation=customer.conversation, content=OutboundContent.text("Hi, this is Sara."), sent_by=staff)

    assert customer.conversation.bot_paused is True
    customer.new_replies()
    assert customer.says("1") == []


def test_a_bot_message_does_not_pause_and_handoff_twice_announces_once(client, fake_twilio, listen_groups):
    customer = TwilioCustomer(client)
    customer.says("hello")
    assert customer.conversation.bot_paused is False
    drain = listen_groups(f"restaurant.{customer.sender.restaurant_id}").events

    conversation_handoff(conversation=customer.conversation)
    conversation_handoff(conversation=customer.conversation)

    assert conversation_updates(drain()) == [True]


def test_help_on_a_rating_prompt_hands_over(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    order = placed_order(conversation=customer.conversation)
    for status in (OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
        order = order_transition(order=order, to_status=status)
    assert rating_prompts_send_due() == 1
    customer.new_replies()

    [handoff] = customer.says("3")  # the prompt's Help button, typed as its number
    assert "member of staff" in handoff.body and customer.conversation.bot_paused is True


def test_the_admin_resume_bot_action(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    customer.says("help")
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)

    response = client.post(
        "/admin/conversations/conversation/",
        {"action": "resume_bot", "_selected_action": [customer.conversation.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert b"The bot answers again in 1 conversation(s)." in response.content
    assert customer.conversation.bot_paused is False
    client.logout()
    assert customer.says("menu")[0].kind == "list"

    client.force_login(admin_user)
    client.post(
        "/admin/conversations/conversation/",
        {"action": "hand_over_to_staff", "_selected_action": [customer.conversation.pk]},
    )
    assert customer.conversation.bot_paused is True


def _change_form_data(page, conversation) -> dict:
    """What the admin's conversation page posts back unchanged (its form and the messages inline)."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value not in (None, False, ""):
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for i, inline_form in enumerate(formset.forms):
            data[f"{formset.prefix}-{i}-id"] = inline_form.instance.pk
            data[f"{formset.prefix}-{i}-conversation"] = conversation.pk
    return data


def test_staff_reply_from_the_admin_reaches_the_customer_and_pauses_the_bot(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    conversation = customer.conversation
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"

    page = client.get(url)
    response = client.post(url, {**_change_form_data(page, conversation), "reply": "Hi, Sara here."}, follow=True)

    assert response.status_code == 200
    assert b"Reply queued; the bot is paused" in response.content
    reply = Message.objects.filter(conversation=conversation, direction="out").latest("id")
    assert (reply.body, reply.sent_by, reply.status) == ("Hi, Sara here.", staff, "sent")
    assert fake_twilio.sent[-1]["body"] == "Hi, Sara here."
    assert Conversation.objects.get(pk=conversation.pk).bot_paused is True
    client.logout()
    customer.new_replies()
    assert customer.says("thanks!") == []
