"""The one text table: every key in Arabic and English, one money format per language, one "order
confirmed" for the bot and the order notices; reply ids built and parsed in one module."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot import engine
from bot.types import OrderPlaced
from sufrahbot import reply_ids, texts
from tests.bot.test_engine import CONTEXT

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_every_text_is_in_arabic_and_english():
    for table in (texts.TEXTS, texts.STATUS_LABELS, texts.STATUS_PHRASES):
        for key, variants in table.items():
            assert set(variants) == {"ar", "en"} and all(v.strip() for v in variants.values()), key


@pytest.mark.parametrize("status", ["CONFIRMED", "OUT_FOR_DELIVERY", "DELIVERED", "CANCELLED", "PREPARING"])
def test_order_notices_in_arabic_name_the_money_as_the_bot_does(status):
    text = texts.order_status_text(
        language="ar",
        status=status,
        fulfilment="delivery",
        number=1001,
        restaurant_name="مطبخ سفرة",
        total=Decimal("72.5"),
        currency="SAR",
        driver_name="سالم",
    )
    assert "#1001" in text and "SAR" not in text
    assert status != "CONFIRMED" or "72.50 ر.س" in text


@pytest.mark.parametrize(("language", "fulfilment"), [("ar", "pickup"), ("en", "delivery")])
def test_the_bots_confirmation_is_the_order_confirmed_notice(language, fulfilment):
    context = dataclasses.replace(CONTEXT, conversation_language=language)
    outcome = OrderPlaced(order_id=7, number=1007, total=Decimal("42.00"), fulfilment=fulfilment)

    [reply] = engine.handle_outcome({"lang": language}, outcome, context, NOW).outbound

    assert reply.body == texts.order_status_text(
        language=language,
        status="CONFIRMED",
        fulfilment=fulfilment,
        number=1007,
        restaurant_name=context.restaurant_name(language),
        total=Decimal("42.00"),
        currency=context.currency,
    )


def test_rating_ids_built_for_a_prompt_are_the_ones_the_engine_parses():
    now, later, help_ = reply_ids.rating_buttons(7)

    assert [reply_ids.id_parts(i, p, 1) for i, p in ((now, reply_ids.RATE_NOW), (later, reply_ids.RATE_LATER))] == [
        [7],
        [7],
    ]
    assert reply_ids.id_parts(help_, reply_ids.RATE_HELP, 1) == [7]
    assert reply_ids.id_parts(reply_ids.rate_stars(7, 4), reply_ids.RATE_STARS, 2) == [7, 4]
    assert all(reply_ids.is_rating(i) for i in (now, later, help_)) and not reply_ids.is_rating("cart:add")
    assert reply_ids.id_parts("rate:now:7x", reply_ids.RATE_NOW, 1) is None
