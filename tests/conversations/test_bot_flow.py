"""Whole conversations with the ordering bot through the signed Twilio webhook: greeting → order → delivery →
rating, in English and in Arabic; a restart mid-order; a stale session."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from conversations.models import BotSession, Message
from orders.models import Order, OrderStatus, Rating
from orders.services import order_transition, rating_prompts_send_due
from tests.conversations.factories import TwilioCustomer, option_number, restaurant_with_menu
from tests.factories import ConsoleSenderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def only(replies):
    assert len(replies) == 1, [r.body for r in replies]
    return replies[0]


def assert_all_within_limits(restaurant):
    for message in Message.objects.filter(restaurant=restaurant, direction="out"):
        from providers.content import OutboundContent

        assert OutboundContent.from_dict(message.content).limit_violations() == [], message.content


def test_a_whole_order_in_english_from_greeting_to_rated(client, fake_twilio):
    restaurant = restaurant_with_menu(promo_links="https://example.com/offers")
    customer = TwilioCustomer(client, restaurant=restaurant)

    welcome = only(customer.says("Hi there"))
    assert welcome.body == restaurant.welcome_text_en
    assert [b.title for b in welcome.buttons] == ["Order", "My orders", "Help"]
    assert customer.conversation.language == "en"
    # Twilio has no free-form buttons: the options went out numbered.
    assert "1. Order\n2. My orders\n3. Help" in fake_twilio.sent[-1]["body"]

    categories = only(customer.says(option_number(welcome, "menu:order")))
    assert [title for _, title in categories.options()] == ["Grills", "Drinks"]
    grills = only(customer.says("1"))
    assert [title for _, title in grills.options()] == ["Shish Tawook", "Lamb Kebab"]
    assert grills.sections[0].rows[1].description.startswith("38.00 SAR")
    quantity = only(customer.says("2"))
    assert "Lamb Kebab" in quantity.body
    cart = only(customer.says("2"))
    assert "2 × Lamb Kebab — 76.00 SAR" in cart.body
    assert [b.title for b in cart.buttons] == ["Add more", "Checkout", "Clear"]

    customer.says(option_number(cart, "cart:add"))
    customer.says("2")  # Drinks
    customer.says("Mint Tea")  # a dish typed by name is picked too
    cart = only(customer.says("3"))
    assert "3 × Mint Tea — 18.00 SAR" in cart.body and "Subtotal: 94.00 SAR" in cart.body

    fulfilment = only(customer.says(option_number(cart, "cart:checkout")))
    assert [b.title for b in fulfilment.buttons] == ["Delivery", "Pickup", "Cancel"]
    ask_address = only(customer.says("1"))
    assert ask_address.kind == "text" and "location" in ask_address.body
    summary = only(customer.shares_location(24.7136, 46.6753, "Olaya St, Riyadh"))
    assert "Delivery fee: 10.00 SAR" in summary.body and "Total: 104.00 SAR" in summary.body
    assert "Olaya St, Riyadh" in summary.body

    placed = only(customer.says(option_number(summary, "order:confirm")))
    order = Order.objects.get(restaurant=restaurant)
    assert f"#{order.number}" in placed.body and "104.00 SAR" in placed.body
    assert order.status == OrderStatus.CONFIRMED and order.total == Decimal("104.00")
    assert (order.fulfilment, order.latitude, order.longitude) == ("delivery", 24.7136, 46.6753)
    assert sorted((i.name_en, i.quantity) for i in order.items.all()) == [("Lamb Kebab", 2), ("Mint Tea", 3)]
    assert order.language == "en"

    for status in (OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
        order = order_transition(order=order, to_status=status)
    customer.new_replies()  # the status news
    assert rating_prompts_send_due() == 1
    prompt = only(customer.new_replies())
    assert [b.id for b in prompt.buttons][0] == f"rate:now:{order.pk}"

    stars = only(customer.says("1"))  # "Rate now", typed as its number
    assert [title for _, title in stars.options()] == ["⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"]
    thanks = only(customer.says("5"))  # five stars: on the stars list a typed number is the stars
    assert "Thank you" in thanks.body and "https://example.com/offers" in thanks.body
    order.refresh_from_db()
    assert order.status == OrderStatus.RATED and Rating.objects.get(order=order).stars == 5
    assert_all_within_limits(restaurant)


def test_a_whole_order_in_arabic_with_arabic_indic_digits_and_pickup(client, fake_twilio):
    restaurant = restaurant_with_menu(default_language="en", support_contact="+966500000009")
    customer = TwilioCustomer(client, restaurant=restaurant, phone="+966501112233")

    welcome = only(customer.says("السلام عليكم"))
    assert welcome.body == restaurant.welcome_text_ar
    assert [b.title for b in welcome.buttons] == ["اطلب الآن", "طلباتي", "مساعدة"]
    assert customer.conversation.language == "ar"

    categories = only(customer.says("١"))
    assert [title for _, title in categories.options()] == ["مشويات", "مشروبات"]
    drinks = only(customer.says("٢"))
    assert [title for _, title in drinks.options()] == ["شاي بالنعناع", "عصير ليمون"]
    only(customer.says("٢"))  # lemonade
    cart = only(customer.says("٤"))  # four: more than the quick buttons offer
    assert "4 × عصير ليمون — 48.00 ر.س" in cart.body
    fulfilment = only(customer.says("٢"))  # إتمام الطلب
    assert [b.title for b in fulfilment.buttons] == ["توصيل", "استلام من المطعم", "إلغاء"]
    summary = only(customer.says("٢"))  # pickup: no address, no delivery fee
    assert "الإجمالي: 48.00 ر.س" in summary.body and "رسوم التوصيل" not in summary.body
    placed = only(customer.says("نعم"))
    order = Order.objects.get(restaurant=restaurant)
    assert f"تم تأكيد طلبك رقم #{order.number}" in placed.body and "(استلام من المطعم)" in placed.body
    assert "48.00 ر.س" in placed.body
    assert (order.fulfilment, order.total, order.language) == ("pickup", Decimal("48.00"), "ar")

    for status in (OrderStatus.PREPARING, OrderStatus.DELIVERED):
        order = order_transition(order=order, to_status=status)
    assert rating_prompts_send_due() == 1
    customer.new_replies()
    stars = only(customer.taps(f"rate:now:{order.pk}", "قيّم الآن"))
    assert stars.kind == "list" and f"#{order.number}" in stars.body
    apology = only(customer.taps(f"rate:stars:{order.pk}:2", "⭐⭐"))
    assert "نأسف" in apology.body and "+966500000009" in apology.body
    order.refresh_from_db()
    assert order.status == OrderStatus.RATED and Rating.objects.get(order=order).stars == 2
    assert_all_within_limits(restaurant)


def test_a_restart_mid_order_continues_the_cart_in_a_new_process(client, fake_twilio):
    """The cart is built here, then a separate Python process (fresh memory, fresh connections) continues the
    chat through the simulator and the same webhook, against the same database."""
    restaurant = restaurant_with_menu()
    customer = TwilioCustomer(client, sender=ConsoleSenderFactory(restaurant=restaurant))
    for typed in ("hello", "1", "1", "1", "2"):  # two Shish Tawook
        customer.says(typed)
    stored = BotSession.objects.get(conversation=customer.conversation).state
    assert stored["step"] == "cart" and stored["cart"] == [[stored["cart"][0][0], 2]]
    connections.close_all()

    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sufrahbot.settings_test"}
    env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    done = subprocess.run(
        [sys.executable, "manage.py", "simulate", "--restaurant", restaurant.slug, "--phone", customer.phone],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        input="cart\n2\n2\n1\n",  # the cart, then Checkout → Pickup → Confirm
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 × Shish Tawook — 64.00 SAR" in done.stdout
    order = Order.objects.get(conversation=customer.conversation)
    assert (order.fulfilment, order.total) == ("pickup", Decimal("64.00"))
    assert f"Your order #{order.number} from {customer.conversation.restaurant.name_en} is confirmed" in done.stdout


def test_a_stale_session_restarts_with_a_friendly_word_and_an_empty_cart(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    customer.says("1")
    customer.says("1")
    customer.says("1")
    customer.says("2")
    session = BotSession.objects.get(conversation=customer.conversation)
    timeout = customer.sender.restaurant.session_timeout_minutes
    session.state = {**session.state, "at": (timezone.now() - timedelta(minutes=timeout + 1)).isoformat()}
    session.save()

    welcome = only(customer.says("2"))
    assert welcome.body.startswith("It's been a while") and welcome.kind == "buttons"
    assert BotSession.objects.get(pk=session.pk).state["cart"] == []
    empty = customer.says("cart")
    assert "Your cart is empty" in empty[-1].body


def test_my_orders_lists_the_customers_orders_with_their_status(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    for typed in ("1", "1", "1", "1", "2", "2"):
        customer.says(typed)  # one Shish Tawook, pickup
    customer.says("1")
    order = Order.objects.get(conversation=customer.conversation)
    order_transition(order=order, to_status=OrderStatus.PREPARING)
    customer.new_replies()

    replies = customer.says("my orders")
    assert f"#{order.number} — Preparing — 32.00 SAR" in replies[-1].body
