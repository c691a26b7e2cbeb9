"""Orders: placing, the state machine, what the customer is told, ratings and the rating-prompt sweep.

Real commits (transaction=True): messages are queued on commit and the eager send task hands them to the
fake Twilio, so `fake_twilio.sent` holds exactly what the customer's phone would receive.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from conversations.models import Conversation, Message
from orders.models import Order, OrderEvent, Rating, RatingPrompt
from orders.services import (
    IllegalTransition,
    order_place,
    order_transition,
    rating_later,
    rating_prompts_send_due,
    rating_record,
)
from tests.factories import ConsoleSenderFactory, ConversationFactory, MenuItemFactory, RestaurantFactory, UserFactory

from .factories import customer_conversation, order_in, placed_order

pytestmark = pytest.mark.django_db(transaction=True)


def sent_bodies(fake_twilio) -> list[str]:
    return [m["body"] for m in fake_twilio.sent]


def window_closes(conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))


# --- placing ------------------------------------------------------------------------------------------


def test_placing_snapshots_the_menu_computes_totals_and_confirms_in_the_customers_language(fake_twilio):
    restaurant = RestaurantFactory(delivery_fee="10.00", currency="SAR", name_en="Sufrah Kitchen", name_ar="مطبخ سفرة")
    conversation = customer_conversation(restaurant=restaurant, language="ar")
    shawarma = MenuItemFactory(category__restaurant=restaurant, name_en="Shawarma", name_ar="شاورما", price="25.00")
    juice = MenuItemFactory(category__restaurant=restaurant, name_en="Juice", name_ar="عصير", price="12.50")

    order = order_place(
        conversation=conversation,
        lines=[(shawarma.pk, 2), (juice.pk, 1)],
        fulfilment="delivery",
        address=" 12 King Fahd Rd ",
        latitude=24.71,
        longitude=46.67,
        notes="No onions",
    )

    order = Order.objects.get(pk=order.pk)
    assert (order.number, order.status, order.fulfilment, order.language) == (1001, "CONFIRMED", "delivery", "ar")
    assert (order.subtotal, order.delivery_fee, order.total, order.currency) == (
        Decimal("62.50"),
        Decimal("10.00"),
        Decimal("72.50"),
        "SAR",
    )
    assert (order.address, order.latitude, order.longitude, order.notes) == (
        "12 King Fahd Rd",
        24.71,
        46.67,
        "No onions",
    )
    assert [(i.name_en, i.name_ar, i.unit_price, i.quantity, i.line_total) for i in order.items.all()] == [
        ("Shawarma", "شاورما", Decimal("25.00"), 2, Decimal("50.00")),
        ("Juice", "عصير", Decimal("12.50"), 1, Decimal("12.50")),
    ]
    assert [(e.from_status, e.to_status) for e in order.events.all()] == [("", "DRAFT"), ("DRAFT", "CONFIRMED")]
    # The one "order confirmed" text, money as Arabic reads it (the bot's own screens say ر.س too).
    assert sent_bodies(fake_twilio) == [
        "✅ تم تأكيد طلبك رقم #1001 من مطبخ سفرة (توصيل). الإجمالي: 72.50 ر.س.\nسنبلغك بكل تحديث. شكراً لك!"
    ]

    # The order keeps what the customer was shown, whatever happens to the menu afterwards.
    shawarma.name_en, shawarma.price = "Big shawarma", "30.00"
    shawarma.save()
    juice.delete()
    assert [(i.name_en, i.unit_price, i.menu_item_id) for i in order.items.all()] == [
        ("Shawarma", Decimal("25.00"), shawarma.pk),
        ("Juice", Decimal("12.50"), None),
    ]


def test_the_same_item_on_two_lines_is_one_line_with_both_quantities(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    item = MenuItemFactory(category__restaurant=conversation.restaurant, price="8.00")

    order = order_place(conversation=conversation, lines=[(item.pk, 1), (item.pk, 2)], fulfilment="pickup")

    assert [(i.quantity, i.line_total) for i in order.items.all()] == [(3, Decimal("24.00"))]


def test_pickup_orders_pay_no_delivery_fee_and_need_no_address(fake_twilio):
    restaurant = RestaurantFactory(delivery_fee="15.00", name_en="Sufrah Kitchen")

    order = placed_order(
        conversation=customer_conversation(restaurant=restaurant), fulfilment="pickup", price="20.00", quantity=3
    )

    assert (order.subtotal, order.delivery_fee, order.total) == (Decimal("60.00"), Decimal("0.00"), Decimal("60.00"))
    assert sent_bodies(fake_twilio) == [
        "✅ Your order #1001 from Sufrah Kitchen is confirmed (pickup). Total: 60.00 SAR.\n"
        "We'll keep you posted. Thank you!"
    ]


def test_numbers_count_up_per_restaurant_from_1001(fake_twilio):
    first, second = RestaurantFactory(), RestaurantFactory()
    at_first = customer_conversation(restaurant=first)
    at_second = customer_conversation(restaurant=second)

    numbers = [
        placed_order(conversation=at_first).number,
        placed_order(conversation=at_first).number,
        placed_order(conversation=at_second).number,
        placed_order(conversation=at_first).number,
    ]

    assert numbers == [1001, 1002, 1001, 1003]


@pytest.mark.parametrize(
    "case",
    ["other_restaurants_item", "unknown_item", "unavailable", "no_lines", "zero_quantity", "no_address", "fulfilment"],
)
def test_invalid_orders_are_refused_and_use_up_no_number(case, fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    item = MenuItemFactory(category__restaurant=conversation.restaurant)
    place = {"lines": [(item.pk, 1)], "fulfilment": "delivery", "address": "Olaya St"}
    if case == "other_restaurants_item":
        place["lines"] = [(MenuItemFactory().pk, 1)]
    elif case == "unknown_item":
        place["lines"] = [(item.pk, 1), (999_999, 1)]
    elif case == "unavailable":
        place["lines"] = [(MenuItemFactory(category__restaurant=conversation.restaurant, available=False).pk, 1)]
    elif case == "no_lines":
        place["lines"] = []
    elif case == "zero_quantity":
        place["lines"] = [(item.pk, 0)]
    elif case == "no_address":
        place["address"] = "  "
    elif case == "fulfilment":
        place["fulfilment"] = "drone"

    with pytest.raises(ValidationError):
        order_place(conversation=conversation, **place)

    assert not Order.objects.exists() and fake_twilio.sent == []
    assert placed_order(conversation=conversation).number == 1001


def test_a_delivery_with_a_shared_location_needs_no_typed_address(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    item = MenuItemFactory(category__restaurant=conversation.restaurant)

    order = order_place(
        conversation=conversation, lines=[(item.pk, 1)], fulfilment="delivery", latitude=24.7, longitude=46.6
    )

    assert (order.address, order.latitude, order.longitude) == ("", 24.7, 46.6)


def test_concurrent_orders_of_one_restaurant_never_share_a_number():
    restaurant = RestaurantFactory()
    sender = ConsoleSenderFactory(restaurant=restaurant)
    item = MenuItemFactory(category__restaurant=restaurant)
    threads = 12
    conversations = [ConversationFactory(sender=sender, last_inbound_at=timezone.now()) for _ in range(threads)]

    def wave() -> list[int]:
        start = threading.Barrier(threads)

        def place(conversation) -> int:
            try:
                start.wait(timeout=30)
                return order_place(conversation=conversation, lines=[(item.pk, 1)], fulfilment="pickup").number
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(place, conversations))

    first = wave()  # the restaurant's counter does not exist yet: they race to create it
    second = wave()  # now they race to bump it

    assert sorted(first) == list(range(1001, 1001 + threads))
    assert sorted(second) == list(range(1001 + threads, 1001 + 2 * threads))
    assert sorted(Order.objects.values_list("number", flat=True)) == list(range(1001, 1001 + 2 * threads))


# --- the state machine --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fulfilment", "path", "texts"),
    [
        (
            "delivery",
            ["PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"],
            [
                "Your order #1001 is being prepared 👨‍🍳",
                "Your order #1001 is on its way 🛵",
                "Your order #1001 has been delivered. Enjoy your meal!",
            ],
        ),
        (
            "pickup",
            ["PREPARING", "DELIVERED"],
            [
                "Your order #1001 is being prepared 👨‍🍳",
                "Your order #1001 has been picked up from Sufrah Kitchen. Enjoy your meal!",
            ],
        ),
    ],
)
def test_every_legal_move_writes_an_event_and_tells_the_customer(fulfilment, path, texts, fake_twilio):
    staff = UserFactory()
    conversation = customer_conversation(restaurant=RestaurantFactory(name_en="Sufrah Kitchen"), language="en")
    order = placed_order(conversation=conversation, fulfilment=fulfilment)

    previous = "CONFIRMED"
    for to_status in path:
        moved = order_transition(order=order, to_status=to_status, actor=staff, note="from the kitchen")
        assert moved.status == to_status == order.status
        assert Order.objects.get(pk=order.pk).status == to_status
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.from_status, event.to_status, event.actor, event.note) == (
            previous,
            to_status,
            staff,
            "from the kitchen",
        )
        previous = to_status

    assert sent_bodies(fake_twilio)[1:] == texts
    outbound = Message.objects.filter(conversation=conversation, direction="out").order_by("id")
    assert [m.body for m in outbound][1:] == texts
    assert {m.status for m in outbound} == {"sent"}


def test_the_customer_is_told_in_arabic_and_a_conversation_without_a_language_gets_the_restaurants(fake_twilio):
    arabic = customer_conversation(restaurant=RestaurantFactory(default_language="en"), language="ar")
    unknown = customer_conversation(restaurant=RestaurantFactory(default_language="ar"), language="")

    for conversation in (arabic, unknown):
        order_transition(order=placed_order(conversation=conversation), to_status="PREPARING")

    preparing = [m["body"] for m in fake_twilio.sent if "قيد التحضير" in m["body"]]
    assert preparing == ["طلبك رقم #1001 قيد التحضير 👨‍🍳"] * 2
    assert [m["to"] for m in fake_twilio.sent if "قيد التحضير" in m["body"]] == [
        f"whatsapp:{arabic.customer_phone}",
        f"whatsapp:{unknown.customer_phone}",
    ]


ILLEGAL_MOVES = [
    ("delivery", "CONFIRMED", "OUT_FOR_DELIVERY"),
    ("delivery", "CONFIRMED", "DELIVERED"),
    ("delivery", "CONFIRMED", "CONFIRMED"),
    ("delivery", "CONFIRMED", "RATED"),
    ("delivery", "PREPARING", "DELIVERED"),  # a delivery order must go out for delivery first
    ("delivery", "PREPARING", "CONFIRMED"),
    ("pickup", "PREPARING", "OUT_FOR_DELIVERY"),  # pickup orders never go out
    ("delivery", "OUT_FOR_DELIVERY", "PREPARING"),
    ("delivery", "DELIVERED", "PREPARING"),
    ("delivery", "DELIVERED", "CANCELLED"),
    ("pickup", "DELIVERED", "DRAFT"),
    ("delivery", "CANCELLED", "PREPARING"),
    ("delivery", "CANCELLED", "CONFIRMED"),
    ("delivery", "CONFIRMED", "EATEN"),
]


@pytest.mark.parametrize(("fulfilment", "from_status", "to_status"), ILLEGAL_MOVES)
def test_an_illegal_move_raises_and_changes_nothing(fulfilment, from_status, to_status, fake_twilio):
    order = order_in(from_status, fulfilment=fulfilment)
    events = list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True))
    prompts = RatingPrompt.objects.filter(order=order).count()
    messages_before = Message.objects.count()
    sent_before = len(fake_twilio.sent)

    with pytest.raises(IllegalTransition) as raised:
        order_transition(order=order, to_status=to_status)

    assert str(raised.value) == f"Cannot move order #1001 from {from_status} to {to_status}."
    assert Order.objects.get(pk=order.pk).status == from_status
    assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True)) == events
    assert RatingPrompt.objects.filter(order=order).count() == prompts
    assert Message.objects.count() == messages_before and len(fake_twilio.sent) == sent_before


@pytest.mark.parametrize(
    ("fulfilment", "status"),
    [("delivery", "CONFIRMED"), ("delivery", "PREPARING"), ("delivery", "OUT_FOR_DELIVERY"), ("pickup", "PREPARING")],
)
def test_an_order_can_be_cancelled_in_every_state_before_delivery(fulfilment, status, fake_twilio):
    restaurant = RestaurantFactory(name_en="Sufrah Kitchen")
    order = order_in(status, fulfilment=fulfilment, conversation=customer_conversation(restaurant=restaurant))

    order_transition(order=order, to_status="CANCELLED", note="customer called")

    assert Order.objects.get(pk=order.pk).status == "CANCELLED"
    assert OrderEvent.objects.filter(order=order).last().to_status == "CANCELLED"
    assert fake_twilio.sent[-1]["body"] == (
        "Your order #1001 from Sufrah Kitchen has been cancelled. We are sorry for any inconvenience."
    )


def test_outside_the_24h_window_the_move_happens_and_the_customer_is_not_messaged(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    order = placed_order(conversation=conversation)
    window_closes(conversation)

    order_transition(order=order, to_status="PREPARING")

    assert Order.objects.get(pk=order.pk).status == "PREPARING"
    assert OrderEvent.objects.filter(order=order, to_status="PREPARING").exists()
    assert len(fake_twilio.sent) == 1  # only the confirmation, sent while the window was open
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1


def test_an_order_placed_outside_the_window_is_placed_without_a_confirmation(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory(), in_window=False)

    order = placed_order(conversation=conversation)

    assert Order.objects.get(pk=order.pk).status == "CONFIRMED"
    assert fake_twilio.sent == []


def test_placing_and_moving_announce_order_events_to_the_restaurants_dashboard(fake_twilio, listen_groups):
    restaurant = RestaurantFactory(delivery_fee="10.00")
    listener = listen_groups(f"restaurant.{restaurant.pk}")
    conversation = customer_conversation(restaurant=restaurant)

    order = placed_order(conversation=conversation, price="25.00", quantity=2)
    order_transition(order=order, to_status="PREPARING")

    events = [e for e in listener.events(quiet=1) if e["type"].startswith("order.")]
    assert [(e["type"], e["order"]["status"]) for e in events] == [
        ("order.created", "CONFIRMED"),
        ("order.updated", "PREPARING"),
    ]
    created = events[0]["order"]
    assert created["number"] == 1001 and created["restaurant_id"] == restaurant.pk
    assert (created["subtotal"], created["delivery_fee"], created["total"]) == ("50.00", "10.00", "60.00")
    assert created["customer_phone"] == conversation.customer_phone
    assert [(i["quantity"], i["line_total"]) for i in created["items"]] == [(2, "50.00")]


# --- delivery and ratings ------------------------------------------------------------------------------


def test_delivery_schedules_a_rating_prompt_after_the_restaurants_delay(fake_twilio):
    restaurant = RestaurantFactory(rating_prompt_delay_minutes=30)
    before = timezone.now()

    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant))

    prompt = RatingPrompt.objects.get(order=order)
    assert (prompt.kind, prompt.status) == ("PROMPT", "PENDING")
    assert before + timedelta(minutes=30) <= prompt.due_at <= timezone.now() + timedelta(minutes=30)
    assert rating_prompts_send_due() == 0  # not due yet
    assert rating_prompts_send_due(now=timezone.now() + timedelta(minutes=31)) == 1


def test_five_stars_thanks_the_customer_with_the_promo_links(fake_twilio):
    restaurant = RestaurantFactory(
        name_en="Sufrah Kitchen", promo_links="https://sufrah.test/offer\n\n  https://sufrah.test/app \n"
    )
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant))

    rating = rating_record(order=order, stars=5, comment=" Great shawarma! ")

    assert Rating.objects.get(order=order) == rating and (rating.stars, rating.comment) == (5, "Great shawarma!")
    assert Order.objects.get(pk=order.pk).status == "RATED" and order.status == "RATED"
    assert OrderEvent.objects.filter(order=order).last().to_status == "RATED"
    assert fake_twilio.sent[-1]["body"] == (
        "Thank you for your rating! We are glad you enjoyed your order from Sufrah Kitchen ⭐\n\n"
        "Something for your next visit:\nhttps://sufrah.test/offer\nhttps://sufrah.test/app"
    )
    # The prompt had not gone out yet: it never will.
    assert RatingPrompt.objects.get(order=order).status == "DONE"
    assert rating_prompts_send_due() == 0


def test_two_stars_apologises_with_the_support_contact_in_the_customers_language(fake_twilio):
    restaurant = RestaurantFactory(
        name_ar="مطبخ سفرة", support_contact="+966 11 000 0000", promo_links="https://sufrah.test/offer"
    )
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant, language="ar"))

    rating_record(order=order, stars=2, comment="cold")

    body = fake_twilio.sent[-1]["body"]
    assert body == (
        "نأسف لأن تجربتك مع مطبخ سفرة لم تكن كما تستحق. شكراً لصراحتك.\nتواصل معنا لنصلح الأمر: +966 11 000 0000"
    )
    assert "sufrah.test" not in body
    assert Order.objects.get(pk=order.pk).status == "RATED"


@pytest.mark.parametrize("stars", [0, 6, -1, "5", True, 4.5])
def test_a_rating_outside_1_to_5_stars_is_refused(stars, fake_twilio):
    order = order_in("DELIVERED")
    sent_before = len(fake_twilio.sent)

    with pytest.raises(ValidationError):
        rating_record(order=order, stars=stars)

    assert not Rating.objects.exists() and Order.objects.get(pk=order.pk).status == "DELIVERED"
    assert len(fake_twilio.sent) == sent_before


def test_the_database_itself_refuses_stars_outside_1_to_5(fake_twilio):
    order = order_in("DELIVERED")

    with pytest.raises(IntegrityError):
        Rating.objects.create(order=order, stars=6)


def test_an_order_is_rated_once(fake_twilio):
    order = order_in("DELIVERED")
    rating_record(order=order, stars=4)
    sent_before = len(fake_twilio.sent)

    with pytest.raises(ValidationError, match="already been rated"):
        rating_record(order=order, stars=1)

    assert list(Rating.objects.values_list("stars", flat=True)) == [4]
    assert len(fake_twilio.sent) == sent_before


def test_an_order_that_was_not_delivered_cannot_be_rated(fake_twilio):
    order = order_in("OUT_FOR_DELIVERY")

    with pytest.raises(IllegalTransition, match="from OUT_FOR_DELIVERY to RATED"):
        rating_record(order=order, stars=5)

    assert not Rating.objects.exists() and Order.objects.get(pk=order.pk).status == "OUT_FOR_DELIVERY"


def test_later_schedules_one_reminder_and_a_second_later_schedules_nothing(fake_twilio):
    restaurant = RestaurantFactory(rating_reminder_delay_minutes=60, name_en="Sufrah Kitchen")
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant))
    assert rating_prompts_send_due() == 1  # the first prompt (no delay)

    reminder = rating_later(order=order)
    again = rating_later(order=order)

    assert reminder.kind == "REMINDER" and reminder.status == "PENDING"
    assert timezone.now() + timedelta(minutes=59) < reminder.due_at <= timezone.now() + timedelta(minutes=60)
    assert again is None
    assert RatingPrompt.objects.filter(order=order, kind="REMINDER").count() == 1
    assert rating_prompts_send_due() == 0  # not due yet

    later = timezone.now() + timedelta(minutes=61)
    assert rating_prompts_send_due(now=later) == 1
    assert fake_twilio.sent[-1]["body"].startswith(
        "A quick reminder: how was your order #1001 from Sufrah Kitchen? Your feedback helps us."
    )
    assert rating_later(order=order) is None  # still only the one reminder, even after it went out
    assert rating_prompts_send_due(now=later) == 0
    assert list(RatingPrompt.objects.filter(order=order).values_list("kind", "status")) == [
        ("PROMPT", "SENT"),
        ("REMINDER", "SENT"),
    ]


def test_later_on_a_rated_order_schedules_nothing(fake_twilio):
    order = order_in("DELIVERED")
    rating_record(order=order, stars=5)

    assert rating_later(order=order) is None
    assert not RatingPrompt.objects.filter(kind="REMINDER").exists()


# --- the rating-prompt sweep ---------------------------------------------------------------------------


def test_a_due_prompt_is_sent_once_with_rate_now_later_and_help_buttons(fake_twilio):
    restaurant = RestaurantFactory(name_en="Sufrah Kitchen")
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant, language="en"))

    assert rating_prompts_send_due() == 1
    assert rating_prompts_send_due() == 0

    prompt = RatingPrompt.objects.get(order=order)
    assert prompt.status == "SENT" and prompt.sent_at is not None
    message = prompt.message
    assert message.kind == "buttons" and message.status == "sent"
    assert [(b["id"], b["title"]) for b in message.content["buttons"]] == [
        (f"rate:now:{order.pk}", "Rate now"),
        (f"rate:later:{order.pk}", "Later"),
        (f"rate:help:{order.pk}", "Help"),
    ]
    # Twilio has no free-form buttons: the customer sees them numbered.
    prompts_sent = [b for b in sent_bodies(fake_twilio) if "was delivered. How was" in b]
    assert prompts_sent == [
        "Your order #1001 was delivered. How was your experience with Sufrah Kitchen? Tap 'Rate now' to rate us."
        "\n\n1. Rate now\n2. Later\n3. Help"
    ]


def test_an_arabic_customer_gets_arabic_prompt_buttons(fake_twilio):
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=RestaurantFactory(), language="ar"))

    rating_prompts_send_due()

    message = RatingPrompt.objects.get(order=order).message
    assert [b["title"] for b in message.content["buttons"]] == ["قيّم الآن", "لاحقاً", "مساعدة"]
    assert message.body.startswith("تم توصيل طلبك رقم #1001.")


def test_a_prompt_outside_the_24h_window_expires_and_nothing_is_sent(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    order = order_in("DELIVERED", conversation=conversation)
    window_closes(conversation)
    sent_before, messages_before = len(fake_twilio.sent), Message.objects.count()

    assert rating_prompts_send_due() == 0
    assert rating_prompts_send_due() == 0

    prompt = RatingPrompt.objects.get(order=order)
    assert (prompt.status, prompt.message, prompt.sent_at) == ("EXPIRED", None, None)
    assert len(fake_twilio.sent) == sent_before and Message.objects.count() == messages_before


def test_a_prompt_due_after_the_window_has_closed_expires(fake_twilio):
    restaurant = RestaurantFactory(rating_prompt_delay_minutes=25 * 60)
    order = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant))

    assert rating_prompts_send_due(now=timezone.now() + timedelta(hours=25, minutes=1)) == 0

    assert RatingPrompt.objects.get(order=order).status == "EXPIRED"
    assert not [b for b in sent_bodies(fake_twilio) if "How was" in b]


def test_four_sweeps_at_once_send_each_prompt_exactly_once(fake_twilio):
    restaurant = RestaurantFactory()
    orders = [order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant)) for _ in range(8)]
    sweeps = 4
    start = threading.Barrier(sweeps)

    def sweep(_: int) -> int:
        try:
            start.wait(timeout=30)
            return rating_prompts_send_due()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=sweeps) as pool:
        counts = list(pool.map(sweep, range(sweeps)))

    assert sum(counts) == len(orders)
    assert set(RatingPrompt.objects.values_list("status", flat=True)) == {"SENT"}
    prompted = sorted(m["to"] for m in fake_twilio.sent if "How was" in m["body"])
    assert prompted == sorted(f"whatsapp:{o.conversation.customer_phone}" for o in orders)
    assert Message.objects.filter(kind="buttons").count() == len(orders)
