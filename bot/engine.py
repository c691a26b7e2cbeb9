"""The ordering bot's brain: (stored session, one inbound message, plain context) → (new session, messages, actions).

Pure Python: no ORM, no request, no clock of its own (`now` is passed in). The driver (bot/services.py)
loads the context, runs `handle`, executes the actions through the services, feeds results back through
`handle_outcome` and stores the session, which is plain JSON so a restart continues where the customer was.

The engine is split along its seams: types (plain data), session (the stored JSON), intents (what the
customer meant), screens (one turn's steps), builders (WhatsApp-sized messages), texts (the words).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.content import (
    InboundMessage,
    OutboundContent,
)
from sufrahbot import reply_ids, texts
from sufrahbot.texts import t

from .intents import choose_language, resolve_choice
from .parsing import clean, keyword
from .screens import Turn
from .session import LANGUAGES, is_stale, load_session, reset_order
from .types import ActionFailed, BotContext, BotResult, OrderPlaced, Outcome, PlaceOrder, RecordRating, SetLanguage

# --- the conversation -------------------------------------------------------------------------------------


def handle(session: dict[str, Any] | None, inbound: InboundMessage, context: BotContext, now: datetime) -> BotResult:
    """Answer one inbound message. Always at least one message back, unless the reply is an action's
    (a rating: the orders app thanks the customer itself)."""
    s = load_session(session)
    turn = Turn(s, context)
    stale = is_stale(s, context, now)
    if stale:
        reset_order(s)
    typed = clean(inbound.text) if not inbound.reply_id else ""
    word = keyword(typed) if typed else None

    switched = choose_language(s, context, typed=typed, word=word)
    choice = resolve_choice(inbound, context.last_options, typed)

    if inbound.kind == "order":
        turn.add_catalog_order(list(inbound.details.get("items") or []))
    elif reply_ids.is_rating(choice) and turn.on_rating(choice):
        pass
    elif stale:
        turn.welcome(notice=t("session_expired", s["lang"]))
    elif switched:
        turn.render_step(notice=t("language_switched", s["lang"]))
    elif choice and turn.on_choice(choice):
        pass
    elif word and turn.on_keyword(word):
        pass
    else:
        turn.on_free_input(inbound, typed)

    s["at"] = now.isoformat()
    if s["lang"] != context.conversation_language:
        turn.actions.insert(0, SetLanguage(language=s["lang"]))
    return BotResult(session=s, outbound=turn.outbound, actions=turn.actions)


def handle_outcome(session: dict[str, Any], outcome: Outcome, context: BotContext, now: datetime) -> BotResult:
    """What to tell the customer once the driver has carried out an action."""
    s = load_session(session)
    turn = Turn(s, context)
    lang = s["lang"] or context.default_language
    if isinstance(outcome, OrderPlaced):
        reset_order(s)
        text = texts.order_confirmed_text(
            language=lang,
            number=outcome.number,
            restaurant_name=context.restaurant_name(lang),
            fulfilment=outcome.fulfilment,
            total=outcome.total,
            currency=context.currency,
        )
        turn.send(OutboundContent.text(text))
    elif isinstance(outcome, ActionFailed) and isinstance(outcome.action, PlaceOrder):
        turn.cart(notice=t("order_failed", lang))
    elif isinstance(outcome, ActionFailed) and isinstance(outcome.action, RecordRating):
        turn.send(OutboundContent.text(t("rate_failed", lang)))
    s["at"] = now.isoformat()
    return BotResult(session=s, outbound=turn.outbound, actions=turn.actions)


def fallback_reply(language: str) -> OutboundContent:
    """What the driver sends if the engine itself ever fails: never silence."""
    return OutboundContent.text(t("bot_error", language if language in LANGUAGES else "ar"))
