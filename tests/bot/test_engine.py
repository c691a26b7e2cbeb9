"""The bot engine on its own: plain data in, plain data out, no database."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import engine
from bot import session as bot_session
from bot.parsing import clean, fit, keyword, normalize, parse_number
from bot.types import (
    ActionFailed,
    BotContext,
    CategoryData,
    Handoff,
    MenuItemData,
    OrderPlaced,
    PlaceOrder,
    RatingLater,
    RecentOrder,
    RecordRating,
    SetLanguage,
)
from providers.content import (
    MAX_BUTTON_TITLE,
    MAX_LIST_BUTTON_LABEL,
    MAX_ROW_TITLE,
    InboundMessage,
    OutboundContent,
)
from sufrahbot import texts

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def dish(pk: int, en: str, ar: str, price: str = "10.00", **kw) -> MenuItemData:
    return MenuItemData(id=pk, name_ar=ar, name_en=en, price=Decimal(price), **kw)


MENU = (
    CategoryData(
        1,
        "مشويات",
        "Grills",
        (
            dish(11, "Shish Tawook", "شيش طاووق", "32.00", description_en="Chicken on charcoal"),
            dish(12, "Lamb Kebab", "كباب لحم", "38.00"),
        ),
    ),
    CategoryData(2, "مشروبات", "Drinks", (dish(21, "Mint Tea", "شاي بالنعناع", "6.00"),)),
    CategoryData(3, "فارغ", "Empty", ()),  # no available dishes: never shown
    CategoryData(4, "حلويات", "Sweets", tuple(dish(400 + n, f"Sweet {n}", f"حلوى {n}", "5.00") for n in range(23))),
)
CONTEXT = BotContext(
    restaurant_name_ar="مطبخ سفرة",
    restaurant_name_en="Sufrah Kitchen",
    welcome_text_ar="أهلاً بك في مطبخ سفرة!",
    welcome_text_en="Welcome to Sufrah Kitchen!",
    currency="SAR",
    delivery_fee=Decimal("10.00"),
    default_language="ar",
    support_contact="+966500000000",
    session_timeout_minutes=120,
    menu=MENU,
    recent_orders=(RecentOrder(id=7, number=1007, status="PREPARING", total=Decimal("42.00")),),
)


class Chat:
    """Drives the engine the way the driver does: last options fed back, actions answered."""

    def __init__(self, context: BotContext = CONTEXT, session: dict | None = None, now: datetime = NOW):
        self.context = context
        self.session = session or {}
        self.now = now
        self.last_options: tuple = ()
        self.actions: list = []

    def send(self, inbound: InboundMessage, *, place_as: int | None = 1001) -> list[OutboundContent]:
        context = dataclasses.replace(self.context, last_options=self.last_options)
        result = engine.handle(self.session, inbound, context, self.now)
        self.session, outbound, self.actions = result.session, list(result.outbound), result.actions
        for action in result.actions:
            if isinstance(action, SetLanguage):
                self.context = dataclasses.replace(self.context, conversation_language=action.language)
            if isinstance(action, PlaceOrder):
                outcome = (
                    OrderPlaced(order_id=1, number=place_as, total=Decimal("1.00"))
                    if place_as
                    else ActionFailed(action=action)
                )
                follow = engine.handle_outcome(self.session, outcome, context, self.now)
                self.session = follow.session
                outbound += follow.outbound
        for content in outbound:
            assert content.limit_violations() == [], (content, content.limit_violations())
        json.dumps(self.session, allow_nan=False)  # storable as-is in a JSON column
        if outbound:
            self.last_options = tuple(outbound[-1].options())
        return outbound

    def says(self, text: str, **kw) -> list[OutboundContent]:
        return self.send(InboundMessage("twilio", "SM1", "+1", "+2", text=text, **kw))

    def taps(self, reply_id: str, **kw) -> list[OutboundContent]:
        return self.send(InboundMessage("meta", "w1", "+1", "+2", kind="interactive", reply_id=reply_id, **kw))

    def shares(self, lat, lon, address: str = "") -> list[OutboundContent]:
        return self.send(
            InboundMessage("twilio", "SM1", "+1", "+2", kind="location", latitude=lat, longitude=lon, address=address)
        )


def ids(content: OutboundContent) -> list[str]:
    return [oid for oid, _ in content.options()]


def titles(content: OutboundContent) -> list[str]:
    return [title for _, title in content.options()]


def in_cart(**kw) -> Chat:
    chat = Chat(**kw)
    chat.says("hello")
    chat.taps("item:11")
    chat.taps("qty:2")
    return chat


# --- first contact and language ---------------------------------------------------------------------------


def test_any_first_message_gets_the_welcome_with_three_buttons_in_the_language_written():
    chat = Chat()
    [welcome] = chat.says("Hi")
    assert welcome.kind == "buttons" and welcome.body == "Welcome to Sufrah Kitchen!"
    assert ids(welcome) == ["menu:order", "menu:orders", "menu:help"]
    assert titles(welcome) == ["Order", "My orders", "Help"]
    assert chat.actions == [SetLanguage(language="en")]

    [welcome] = Chat().says("مرحبا")
    assert welcome.body == "أهلاً بك في مطبخ سفرة!" and titles(welcome) == ["اطلب الآن", "طلباتي", "مساعدة"]


@pytest.mark.parametrize("first", ["👋", "", "123", "?"])
def test_a_first_message_without_words_falls_back_to_the_conversation_then_the_restaurant_language(first):
    [welcome] = Chat().says(first)
    assert welcome.body == CONTEXT.welcome_text_ar
    known = Chat(context=dataclasses.replace(CONTEXT, conversation_language="en"))
    [welcome] = known.says(first)
    assert welcome.body == CONTEXT.welcome_text_en and known.actions == []


def test_the_customer_switches_language_by_keyword_and_the_current_step_is_shown_again():
    chat = Chat()
    chat.says("مرحبا")
    chat.taps("menu:order")
    [categories] = chat.says("English")
    assert categories.body.startswith("Switched to English.") and titles(categories)[:2] == ["Grills", "Drinks"]
    assert chat.session["lang"] == "en" and chat.actions == [SetLanguage(language="en")]
    [categories] = chat.says("عربي")
    assert categories.body.startswith("تم التحويل إلى العربية.") and titles(categories)[0] == "مشويات"


def test_a_word_or_two_does_not_flip_the_language_but_a_sentence_does():
    chat = Chat()
    chat.says("مرحبا")
    chat.says("ok")
    assert chat.session["lang"] == "ar"
    chat.says("I would like to order")
    assert chat.session["lang"] == "en"


# --- menu, paging, quantity, cart ------------------------------------------------------------------------


def test_categories_skip_empty_ones_and_items_show_price_and_description():
    chat = Chat()
    chat.says("hi")
    [categories] = chat.taps("menu:order")
    assert categories.kind == "list" and titles(categories) == ["Grills", "Drinks", "Sweets"]
    [grills] = chat.says("1")
    assert titles(grills) == ["Shish Tawook", "Lamb Kebab"]
    assert grills.sections[0].rows[0].description == "32.00 SAR · Chicken on charcoal"


def test_a_long_category_is_paged_with_a_more_row():
    chat = Chat()
    chat.says("hi")
    [page1] = chat.taps("cat:4")
    assert len(page1.options()) == 10 and ids(page1)[-1] == "items:page:4:1" and titles(page1)[-1] == "More →"
    [page2] = chat.says("10")
    assert titles(page2)[0] == "Sweet 9" and ids(page2)[-1] == "items:page:4:2"
    [page3] = chat.says("more")
    assert titles(page3) == [f"Sweet {n}" for n in range(18, 23)]
    [again] = chat.says("more")
    assert again.body.startswith("That's everything") and titles(again)[0] == "Sweet 0"
    [quantity] = chat.says("3")
    assert "Sweet 2" in quantity.body


def test_many_categories_are_paged_too():
    menu = tuple(CategoryData(n, f"قسم {n}", f"Section {n}", (dish(100 + n, f"D{n}", f"ط{n}"),)) for n in range(15))
    chat = Chat(context=dataclasses.replace(CONTEXT, menu=menu))
    chat.says("hi")
    [page1] = chat.taps("menu:order")
    assert len(page1.options()) == 10 and ids(page1)[-1] == "cats:page:1"
    [page2] = chat.says("10")
    assert titles(page2) == [f"Section {n}" for n in range(9, 15)]


def test_a_menu_with_one_category_goes_straight_to_its_dishes():
    chat = Chat(context=dataclasses.replace(CONTEXT, menu=MENU[:1]))
    chat.says("hi")
    [items] = chat.taps("menu:order")
    assert titles(items) == ["Shish Tawook", "Lamb Kebab"]


def test_an_empty_menu_says_so_and_offers_help():
    chat = Chat(context=dataclasses.replace(CONTEXT, menu=()))
    chat.says("hi")
    [reply] = chat.taps("menu:order")
    assert "menu isn't available" in reply.body and "menu:help" in ids(reply)


@pytest.mark.parametrize(("typed", "quantity"), [("7", 7), ("٧", 7), ("۷", 7), (" 12. ", 12), ("2", 2)])
def test_quantity_from_buttons_or_typed_in_any_digits(typed, quantity):
    chat = Chat()
    chat.says("hi")
    [ask] = chat.taps("item:12")
    assert titles(ask) == ["1", "2", "3"] and "Lamb Kebab — 38.00 SAR" in ask.body
    [cart] = chat.says(typed)
    assert chat.session["cart"] == [[12, quantity]]
    assert f"{quantity} × Lamb Kebab — {Decimal('38.00') * quantity:.2f} SAR" in cart.body
    assert ids(cart) == ["cart:add", "cart:checkout", "cart:clear"]


@pytest.mark.parametrize("typed", ["0", "51", "lots", "🍔", ""])
def test_a_wrong_quantity_is_asked_again(typed):
    chat = Chat()
    chat.says("hi")
    chat.taps("item:12")
    [again] = chat.says(typed)
    assert chat.session["step"] == "quantity" and chat.session["cart"] == []
    assert "1" in again.body and ids(again) == ["qty:1", "qty:2", "qty:3"]


def test_the_same_dish_twice_is_one_line_and_quantities_are_capped():
    chat = in_cart()
    chat.taps("item:11")
    chat.says("49")
    assert chat.session["cart"] == [[11, bot_session.MAX_QUANTITY]]


def test_the_cart_holds_at_most_ten_different_dishes():
    chat = Chat()
    chat.says("hi")
    for n in range(bot_session.MAX_CART_LINES):
        chat.taps(f"item:{400 + n}")
        chat.taps("qty:1")
    chat.taps("item:11")
    [full] = chat.taps("qty:1")
    assert "cart is full" in full.body and len(chat.session["cart"]) == bot_session.MAX_CART_LINES


def test_clear_empties_the_cart_and_checkout_of_an_empty_cart_shows_the_menu():
    chat = in_cart()
    [cleared] = chat.taps("cart:clear")
    assert cleared.body.startswith("Your cart is now empty") and chat.session["cart"] == []
    [menu] = chat.taps("cart:checkout")
    assert menu.body.startswith("Your cart is empty") and menu.kind == "list"


def test_a_dish_that_left_the_menu_leaves_the_cart_with_a_word_and_nothing_is_placed_unseen():
    chat = in_cart()
    chat.taps("item:21")
    chat.taps("qty:1")
    chat.taps("cart:checkout")
    chat.taps("ful:pickup")
    without_tea = tuple(
        dataclasses.replace(c, items=tuple(i for i in c.items if i.id != 21)) if c.id == 2 else c for c in MENU
    )
    chat.context = dataclasses.replace(chat.context, menu=without_tea)
    notice, summary = chat.taps("order:confirm")
    assert "no longer available" in notice.body
    assert "Mint Tea" not in summary.body and "Total: 64.00 SAR" in summary.body
    assert not any(isinstance(a, PlaceOrder) for a in chat.actions)
    chat.taps("order:confirm")
    assert chat.actions[-1] == PlaceOrder(lines=((11, 2),), fulfilment="pickup")


# --- checkout --------------------------------------------------------------------------------------------


def test_delivery_with_a_typed_address_then_confirm_places_the_order_and_gives_its_number():
    chat = in_cart()
    [ask] = chat.taps("cart:checkout")
    assert ids(ask) == ["ful:delivery", "ful:pickup", "order:cancel"]
    [address] = chat.taps("ful:delivery")
    assert address.kind == "text" and "location" in address.body
    [again] = chat.says("ab")
    assert "couldn't read an address" in again.body
    [summary] = chat.says("Building 12, Olaya Street, Riyadh")
    assert "Subtotal: 64.00 SAR" in summary.body and "Delivery fee: 10.00 SAR" in summary.body
    assert "Total: 74.00 SAR" in summary.body and "Olaya Street" in summary.body
    assert ids(summary) == ["order:confirm", "order:edit", "order:cancel"]
    [placed] = chat.says("1")
    assert chat.actions[-1] == PlaceOrder(
        lines=((11, 2),), fulfilment="delivery", address="Building 12, Olaya Street, Riyadh"
    )
    assert "#1001" in placed.body
    assert chat.session["cart"] == [] and chat.session["step"] == "start"


def test_a_shared_location_is_the_delivery_address_even_from_the_delivery_or_pickup_question():
    chat = in_cart()
    chat.taps("cart:checkout")
    [summary] = chat.shares(24.7, 46.6, "Olaya")
    assert chat.session["fulfilment"] == "delivery" and "Olaya" in summary.body
    chat.taps("order:confirm")
    assert chat.actions[-1] == PlaceOrder(
        lines=((11, 2),), fulfilment="delivery", address="Olaya", latitude=24.7, longitude=46.6
    )


@pytest.mark.parametrize(("lat", "lon"), [(float("nan"), 46.0), (24.0, float("inf")), (91.0, 0.0), (None, None)])
def test_a_broken_location_is_not_taken(lat, lon):
    chat = in_cart()
    chat.taps("cart:checkout")
    chat.taps("ful:delivery")
    [again] = chat.shares(lat, lon)
    assert chat.session["step"] == "address" and chat.session["lat"] is None
    assert "location" in again.body


def test_pickup_has_no_fee_and_yes_confirms():
    chat = in_cart()
    chat.taps("cart:checkout")
    [summary] = chat.taps("ful:pickup")
    assert "Delivery fee" not in summary.body and "Total: 64.00 SAR" in summary.body
    chat.says("yes")
    assert chat.actions[-1] == PlaceOrder(lines=((11, 2),), fulfilment="pickup")


def test_a_refused_order_keeps_the_cart_and_says_so():
    chat = in_cart()
    chat.taps("cart:checkout")
    chat.taps("ful:pickup")
    [cart] = chat.send(
        InboundMessage("meta", "w", "+1", "+2", kind="interactive", reply_id="order:confirm"), place_as=None
    )
    assert "couldn't place your order" in cart.body and chat.session["cart"] == [[11, 2]]


def test_an_old_confirm_button_does_nothing_outside_the_confirm_step():
    chat = in_cart()
    [again] = chat.taps("order:confirm")
    assert chat.actions == [] and "didn't get that" in again.body and chat.session["step"] == "cart"


# --- at any step ------------------------------------------------------------------------------------------


STEP_REACHERS = {
    "welcome": lambda c: c.says("hi"),
    "categories": lambda c: (c.says("hi"), c.taps("menu:order")),
    "items": lambda c: (c.says("hi"), c.taps("cat:1")),
    "quantity": lambda c: (c.says("hi"), c.taps("item:11")),
    "cart": lambda c: (c.says("hi"), c.taps("item:11"), c.taps("qty:1")),
    "fulfilment": lambda c: (c.says("hi"), c.taps("item:11"), c.taps("qty:1"), c.taps("cart:checkout")),
    "address": lambda c: (c.says("hi"), c.taps("item:11"), c.taps("qty:1"), c.taps("ful:delivery")),
    "confirm": lambda c: (c.says("hi"), c.taps("item:11"), c.taps("qty:1"), c.taps("ful:pickup")),
}


def at(step: str, language: str = "en") -> Chat:
    chat = Chat(context=dataclasses.replace(CONTEXT, default_language=language, conversation_language=language))
    STEP_REACHERS[step](chat)
    assert chat.session["step"] == step
    return chat


@pytest.mark.parametrize("step", STEP_REACHERS)
@pytest.mark.parametrize(("word", "language"), [("Cancel", "en"), ("إلغاء", "ar"), ("الغاء", "ar")])
def test_cancel_works_at_every_step(step, word, language):
    chat = at(step, language)
    [welcome] = chat.says(word)
    assert chat.session["cart"] == [] and welcome.kind == "buttons" and ids(welcome)[0] == "menu:order"


@pytest.mark.parametrize("step", STEP_REACHERS)
@pytest.mark.parametrize(("word", "language"), [("menu", "en"), ("القائمة", "ar")])
def test_menu_works_at_every_step_and_keeps_the_cart(step, word, language):
    chat = at(step, language)
    cart_before = list(chat.session["cart"])
    [categories] = chat.says(word)
    assert ids(categories) == ["cat:1", "cat:2", "cat:4"] and chat.session["cart"] == cart_before


@pytest.mark.parametrize("step", STEP_REACHERS)
@pytest.mark.parametrize(("word", "language"), [("cart", "en"), ("السلة", "ar")])
def test_cart_works_at_every_step(step, word, language):
    chat = at(step, language)
    [reply] = chat.says(word)
    if chat.session["cart"]:
        assert ids(reply) == ["cart:add", "cart:checkout", "cart:clear"]
    else:
        assert reply.kind == "list" and texts.t("cart_empty", language) in reply.body


@pytest.mark.parametrize("step", STEP_REACHERS)
@pytest.mark.parametrize(("word", "language"), [("help", "en"), ("مساعدة", "ar"), ("talk to staff", "en")])
def test_help_hands_over_to_staff_at_every_step(step, word, language):
    chat = at(step, language)
    [reply] = chat.says(word)
    assert Handoff() in chat.actions
    assert texts.t("handoff", language) in reply.body and "+966500000000" in reply.body


@pytest.mark.parametrize("step", STEP_REACHERS)
def test_unknown_text_at_every_step_gets_a_helpful_re_prompt(step):
    chat = at(step)
    replies = chat.says("🤖?!")
    assert replies and chat.session["step"] == step
    expected = "couldn't read an address" if step == "address" else "didn't get that"
    assert expected in replies[-1].body
    assert replies[-1].options() or step == "address"  # the step's own choices come again


@pytest.mark.parametrize("step", STEP_REACHERS)
def test_rating_replies_work_at_every_step_and_leave_the_order_in_progress_alone(step):
    chat = at(step)
    cart_before = list(chat.session["cart"])
    [stars] = chat.taps("rate:now:7")
    assert stars.kind == "list" and "#1007" in stars.body
    assert ids(stars) == [f"rate:stars:7:{n}" for n in (1, 2, 3, 4, 5)]
    assert titles(stars) == ["⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"]
    assert chat.says("4") == []  # four stars; the orders app answers with its thanks
    assert RecordRating(order_id=7, stars=4) in chat.actions
    [ack] = chat.taps("rate:later:7")
    assert RatingLater(order_id=7) in chat.actions and "remind you" in ack.body
    chat.taps("rate:help:7")
    assert Handoff() in chat.actions
    assert chat.session["cart"] == cart_before and chat.session["step"] == step


def test_a_typed_number_on_the_stars_list_is_the_number_of_stars():
    chat = Chat(CONTEXT)
    chat.taps("rate:now:7")

    assert chat.says("5") == []

    assert RecordRating(order_id=7, stars=5) in chat.actions


def test_an_out_of_range_number_says_which_numbers_are_valid():
    chat = Chat(CONTEXT)
    [welcome] = chat.says("hi")

    [again] = chat.says("9")

    assert f"from 1 to {len(welcome.options())}" in again.body


def test_cancel_with_an_empty_cart_does_not_claim_an_order_was_cancelled():
    chat = Chat(CONTEXT)
    chat.says("hi")

    [reply] = chat.says("cancel")

    assert "no order to cancel" in reply.body and "Cancelled" not in reply.body


def test_a_typed_number_on_the_rating_prompt_picks_its_button_and_4_or_5_are_stars():
    prompt = (("rate:now:7", "Rate now"), ("rate:later:7", "Later"), ("rate:help:7", "Help"))
    chat = Chat(context=dataclasses.replace(CONTEXT, conversation_language="en"))
    chat.says("hi")
    chat.last_options = prompt
    chat.says("2")
    assert chat.actions == [RatingLater(order_id=7)]
    chat.last_options = prompt
    chat.says("5")
    assert chat.actions == [RecordRating(order_id=7, stars=5)]


def test_a_refused_rating_is_explained():
    result = engine.handle_outcome({"lang": "en"}, ActionFailed(action=RecordRating(order_id=7, stars=5)), CONTEXT, NOW)
    assert "already been rated" in result.outbound[0].body


CART_CHOICES = ["cart:add", "cart:checkout", "cart:clear"]


@pytest.mark.parametrize(
    ("reply_id", "choices"),
    [
        ("rate:stars:7:9", CART_CHOICES),
        ("rate:stars:x:5", CART_CHOICES),
        ("rate:now:", CART_CHOICES),
        ("item:-1", CART_CHOICES),
        ("zzz", CART_CHOICES),
        ("cat:999", ["cat:1", "cat:2", "cat:4"]),  # an unknown category: the categories again
    ],
)
def test_malformed_or_unknown_reply_ids_get_a_re_prompt(reply_id, choices):
    chat = at("cart")
    cart_before = list(chat.session["cart"])

    [again] = chat.taps(reply_id)

    assert "didn't get that" in again.body and ids(again) == choices
    assert chat.actions == [] and chat.session["cart"] == cart_before


def test_typing_an_option_title_picks_it():
    chat = at("cart")
    [ask] = chat.says("checkout")
    assert ids(ask)[0] == "ful:delivery"


def test_my_orders_lists_recent_orders_with_their_status_in_the_customers_language():
    chat = Chat()
    chat.says("مرحبا")
    [orders] = chat.taps("menu:orders")
    assert "#1007 — قيد التحضير — 42.00 ر.س" in orders.body and ids(orders) == ["menu:order", "menu:help"]
    [none] = Chat(context=dataclasses.replace(CONTEXT, recent_orders=())).says("my orders")
    assert "no orders yet" in none.body


# --- sessions ---------------------------------------------------------------------------------------------


def test_a_stale_session_restarts_with_a_friendly_message():
    chat = at("cart")
    chat.now = NOW + timedelta(minutes=121)
    [welcome] = chat.taps("cart:checkout")
    assert welcome.body.startswith("It's been a while") and chat.session["cart"] == []
    assert ids(welcome)[0] == "menu:order"


def test_a_session_within_the_timeout_or_without_one_continues():
    chat = at("cart")
    chat.now = NOW + timedelta(minutes=119)
    [ask] = chat.taps("cart:checkout")
    assert ids(ask)[0] == "ful:delivery"
    forever = at("cart")
    forever.context = dataclasses.replace(forever.context, session_timeout_minutes=0)
    forever.now = NOW + timedelta(days=30)
    [ask] = forever.taps("cart:checkout")
    assert ids(ask)[0] == "ful:delivery"


def test_a_rating_reply_after_a_stale_session_still_counts():
    chat = at("cart")
    chat.now = NOW + timedelta(days=2)
    [stars] = chat.taps("rate:now:7")
    assert stars.kind == "list" and chat.session["cart"] == []


@pytest.mark.parametrize(
    "stored",
    [None, [], "garbage", {"step": "nowhere"}, {"cart": "x"}, {"cart": [[1, 2, 3], ["a", 1], [11, 999]]}, {"at": 5}],
)
def test_a_corrupt_session_starts_afresh(stored):
    result = engine.handle(stored, InboundMessage("twilio", "SM", "+1", "+2", text="hi"), CONTEXT, NOW)
    assert result.outbound and result.session["cart"] == []


# --- limits and parsing ------------------------------------------------------------------------------------


def test_long_names_in_arabic_and_english_are_cut_within_limits_without_breaking_a_letter():
    long_ar = "دَجَاجٌ " * 30  # harakat everywhere: a cut must not leave a lone mark
    long_en = "Extraordinarily long dish name " * 5
    menu = (
        CategoryData(1, long_ar, long_en, tuple(dish(n, long_en + str(n), long_ar + str(n), "1") for n in range(12))),
        CategoryData(2, "ب" * 99, "b" * 99, (dish(99, "x", "y", description_en="d" * 300, description_ar="و" * 300),)),
    )
    for language, greeting in (("ar", "مرحبا"), ("en", "hi")):
        chat = Chat(context=dataclasses.replace(CONTEXT, menu=menu, conversation_language=language))
        chat.says(greeting)
        cut_titles = []
        for reply_id in ("menu:order", "cat:1", "items:page:1:1", "cat:2", "item:5", "qty:3", "cart:checkout"):
            for content in chat.taps(reply_id):
                assert content.limit_violations() == [], (reply_id, content)
                cut_titles += [title for _, title in content.options() if title.endswith("…")]
        # The long names were cut (so the check below looks at real cuts), each before a whole letter.
        assert len(cut_titles) >= 3, (language, cut_titles)
        for title in cut_titles:
            assert len(title) > 1 and not unicodedata.combining(title[-2]) and not title[-2].isspace(), title


def test_every_button_and_label_text_fits_whatsapp():
    for key, variants in texts.TEXTS.items():
        for text in variants.values():
            if key.startswith("btn_"):
                assert len(text) <= MAX_BUTTON_TITLE, (key, text)
            if key.startswith("list_"):
                assert len(text) <= MAX_LIST_BUTTON_LABEL, (key, text)
            if key.startswith("row_") or key.startswith("stars_"):
                assert len(text) <= MAX_ROW_TITLE, (key, text)
        assert set(variants) == {"ar", "en"}, key


@pytest.mark.parametrize(
    ("text", "number"),
    [("2", 2), ("٢", 2), ("۲", 2), (" 10 ", 10), ("3.", 3), ("#4", 4), ("١٢", 12), ("2 please", None), ("", None)],
)
def test_parse_number(text, number):
    assert parse_number(text) == number


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("CANCEL!", "cancel"),
        ("إلغاء", "cancel"),
        ("الغاء", "cancel"),
        ("القائمة", "menu"),
        ("السلة", "cart"),
        ("مساعدة", "help"),
        ("Talk to staff", "help"),
        ("English", "english"),
        ("عربي", "arabic"),
        ("cancel my order please", None),
    ],
)
def test_keywords_in_either_language_however_written(text, word):
    assert keyword(text) == word


def test_fit_and_clean():
    assert fit("short", 24) == "short"
    assert fit("x" * 30, 24) == "x" * 23 + "…"
    assert fit("", 24) == "…"
    cut = fit("بِسْمِ " * 10, 24)
    assert len(cut) <= 24 and not unicodedata.combining(cut[-2])
    assert clean("a\x00b\u0007c\nd") == "abc\nd"
    assert normalize("  Ｍｅｎｕ  ") == "menu"


# --- property: whatever arrives, at whatever step -----------------------------------------------------------

REPLY_IDS = st.one_of(
    st.sampled_from(
        [
            "menu:order",
            "menu:orders",
            "menu:help",
            "cart:add",
            "cart:checkout",
            "cart:clear",
            "cart:view",
            "ful:delivery",
            "ful:pickup",
            "order:confirm",
            "order:edit",
            "order:cancel",
        ]
    ),
    st.builds(
        lambda prefix, a, b: prefix.format(a=a, b=b),
        st.sampled_from(
            ["cat:{a}", "item:{a}", "qty:{a}", "cats:page:{a}", "items:page:{a}:{b}", "rate:now:{a}", "rate:later:{a}"]
            + ["rate:help:{a}", "rate:stars:{a}:{b}", "{a}:{b}"]
        ),
        st.integers(-5, 10**15),
        st.integers(-5, 30),
    ),
    st.text(max_size=300),
)
TEXTS = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF), max_size=60),
    st.sampled_from(["1", "2", "3", "10", "٣", "۹", "0", "-1", "99999999", "more", "yes", "no", "English", "عربي"]),
    st.sampled_from(["cancel", "إلغاء", "menu", "القائمة", "cart", "السلة", "help", "مساعدة", "👍🏽", "🇸🇦", "‍"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["ا", "a", "😀", "ـ", "\u064b"]), st.integers(1000, 6000)),
    st.just(""),
)
INBOUNDS = st.one_of(
    st.builds(lambda text: InboundMessage("twilio", "SM", "+1", "+2", text=text), TEXTS),
    st.builds(
        lambda reply_id, text: InboundMessage(
            "meta", "w", "+1", "+2", kind="interactive", reply_id=reply_id, text=text
        ),
        REPLY_IDS,
        st.text(max_size=30),
    ),
    st.builds(
        lambda lat, lon, address: InboundMessage(
            "twilio", "SM", "+1", "+2", kind="location", latitude=lat, longitude=lon, address=address
        ),
        st.one_of(st.none(), st.floats()),
        st.one_of(st.none(), st.floats()),
        st.text(max_size=100),
    ),
    st.builds(
        lambda text: InboundMessage("twilio", "SM", "+1", "+2", kind="media", text=text, media=[{"url": "u"}]), TEXTS
    ),
    st.just(InboundMessage("meta", "w", "+1", "+2", kind="unsupported")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    step=st.sampled_from(sorted(STEP_REACHERS)),
    language=st.sampled_from(["ar", "en"]),
    messages=st.lists(INBOUNDS, min_size=1, max_size=6),
    place_as=st.one_of(st.none(), st.integers(1, 10**6)),
    minutes_later=st.integers(0, 400),
)
def test_whatever_arrives_at_whatever_step_gets_a_reply_within_the_limits(
    step, language, messages, place_as, minutes_later
):
    chat = at(step, language)
    chat.now = NOW + timedelta(minutes=minutes_later)
    for inbound in messages:
        outbound = chat.send(inbound, place_as=place_as)  # checks every message's limits and the session's JSON
        rated = any(isinstance(a, RecordRating) for a in chat.actions)
        assert outbound or rated, (chat.session, inbound)
        assert chat.session["step"] in bot_session.STEPS and chat.session["lang"] in ("ar", "en")
        for content in outbound:
            assert len({oid for oid, _ in content.options()}) == len(content.options())


def test_a_catalog_order_becomes_the_cart():
    chat = Chat()
    chat.says("hello")
    items = [
        {"product_retailer_id": "item-12", "quantity": 2, "item_price": "38", "currency": "SAR"},
        {"product_retailer_id": "21", "quantity": 3, "item_price": "6", "currency": "SAR"},
        {"product_retailer_id": "item-999", "quantity": 1, "item_price": "1", "currency": "SAR"},  # not on the menu
    ]
    (cart,) = chat.send(
        InboundMessage("meta", "w2", "+1", "+2", kind="order", details={"type": "order", "items": items})
    )
    assert chat.session["cart"] == [[12, 2], [21, 3]] and chat.session["step"] == "cart"
    # The language is the restaurant's default until the customer writes ("hello" made it English).
    assert cart.body.startswith("We put your catalog order in your cart (2 dish(es))") and "cart:checkout" in ids(cart)

    (menu,) = Chat().send(InboundMessage("meta", "w3", "+1", "+2", kind="order", details={"items": items[2:]}))
    assert "لم نجد أصناف طلبك" in menu.body and menu.kind == "list"


def test_opening_a_dish_with_a_photo_shows_it_first_named_for_the_driver_in_the_customers_language():
    photographed = dataclasses.replace(
        CONTEXT,
        menu=(
            CategoryData(
                1,
                "مشويات",
                "Grills",
                (dish(12, "Lamb Kebab", "كباب لحم", "38.00", description_ar="على الفحم", has_photo=True),),
            ),
        ),
    )
    chat = Chat(photographed)  # Arabic: the restaurant's default language

    chat.taps("menu:order")
    photo, question = chat.taps("item:12")

    assert photo.kind == "image" and photo.media_ref == "menu_item:12" and photo.media_url == ""
    assert photo.body.startswith("كباب لحم — ") and photo.body.endswith("\nعلى الفحم")
    assert question.kind == "buttons" and chat.session["step"] == "quantity"
    # The quantity asked again (a word it cannot read) does not repeat the photo.
    assert [c.kind for c in chat.says("كثير")] == ["buttons"]
    # A dish without one opens with the question alone.
    assert [c.kind for c in Chat().taps("item:12")] == ["buttons"]
