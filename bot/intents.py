"""What the customer meant: the language they write in, the option they picked (tapped, numbered or named),
a usable location, and the parts of a reply id."""

from __future__ import annotations

import math
from typing import Any

from providers.content import (
    InboundMessage,
)
from sufrahbot import reply_ids

from .language import detect_language
from .parsing import clean, normalize, parse_number
from .session import LANGUAGES
from .types import BotContext


def choose_language(s: dict[str, Any], context: BotContext, *, typed: str, word: str | None) -> bool:
    """Set the session language; True when the customer asked to switch."""
    if word in ("english", "arabic"):
        s["lang"] = "en" if word == "english" else "ar"
        return True
    if not s["lang"]:
        # A first message decides on whatever it shows ("hi" is English); later ones need more to switch.
        fallback = context.conversation_language or context.default_language
        s["lang"] = detect_language(typed) or (fallback if fallback in LANGUAGES else "ar")
    elif detected := _clear_language(typed):
        s["lang"] = detected
    return False


def _clear_language(text: str) -> str | None:
    """The language of a typed message when there is enough of it to tell (three letters or more), so a
    stray "ok" does not flip an Arabic conversation to English."""
    language = detect_language(text)
    if language is None:
        return None
    letters = sum(1 for ch in text if ch.isalpha())
    return language if letters >= 3 else None


def resolve_choice(inbound: InboundMessage, last_options: tuple[tuple[str, str], ...], typed: str) -> str:
    """The option id the customer picked: a tapped reply, a typed number, or a typed option title."""
    if inbound.reply_id:
        return clean(inbound.reply_id).strip()[:256]
    if not typed:
        return ""
    number = parse_number(typed)
    if number is not None:
        # On the stars list a typed number is the number of stars, whatever order the rows are in.
        stars = next(
            (oid for oid, _ in last_options if oid.startswith(reply_ids.RATE_STARS) and oid.endswith(f":{number}")),
            "",
        )
        if stars:
            return stars
        if 1 <= number <= len(last_options):
            return last_options[number - 1][0]
        # The rating prompt says "1 to 5" but shows three buttons: 4 or 5 typed there are stars.
        rate_now = next((oid for oid, _ in last_options if oid.startswith(reply_ids.RATE_NOW)), "")
        if rate_now and 1 <= number <= 5:
            return reply_ids.rate_stars(rate_now.removeprefix(reply_ids.RATE_NOW), number)
        return ""
    wanted = normalize(typed)
    for option_id, title in last_options:
        if wanted and normalize(title) == wanted:
            return option_id
    return ""


def valid_location(inbound: InboundMessage) -> bool:
    lat, lon = inbound.latitude, inbound.longitude
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
