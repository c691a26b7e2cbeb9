"""The bot's session: plain JSON stored per conversation (conversations.BotSession), read defensively."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from .types import BotContext

SESSION_VERSION = 1
MAX_QUANTITY = 50
MAX_CART_LINES = 10
MAX_ADDRESS = 500
LANGUAGES = ("ar", "en")
STEPS = ("start", "welcome", "categories", "items", "quantity", "cart", "fulfilment", "address", "confirm")


# --- the session (plain JSON) -----------------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def load_session(raw: Any) -> dict[str, Any]:
    """A well-formed session from whatever was stored (a corrupt or older one yields sane defaults)."""
    raw = raw if isinstance(raw, dict) else {}
    cart = []
    for line in raw.get("cart") or []:
        if isinstance(line, list | tuple) and len(line) == 2:
            item_id, quantity = _int_or_none(line[0]), _int_or_none(line[1])
            if item_id is not None and quantity is not None and 1 <= quantity <= MAX_QUANTITY:
                cart.append([item_id, quantity])
    fulfilment = raw.get("fulfilment")
    return {
        "v": SESSION_VERSION,
        "step": raw.get("step") if raw.get("step") in STEPS else "start",
        "lang": raw.get("lang") if raw.get("lang") in LANGUAGES else "",
        "cart": cart[:MAX_CART_LINES],
        "category": _int_or_none(raw.get("category")),
        "page": max(_int_or_none(raw.get("page")) or 0, 0),
        "item": _int_or_none(raw.get("item")),
        "fulfilment": fulfilment if fulfilment in ("delivery", "pickup") else "",
        "address": raw.get("address") if isinstance(raw.get("address"), str) else "",
        "lat": _float_or_none(raw.get("lat")),
        "lon": _float_or_none(raw.get("lon")),
        "at": raw.get("at") if isinstance(raw.get("at"), str) else "",
    }


def reset_order(s: dict[str, Any]) -> None:
    s.update(step="start", cart=[], category=None, page=0, item=None, fulfilment="", address="", lat=None, lon=None)


def is_stale(s: dict[str, Any], context: BotContext, now: datetime) -> bool:
    if not context.session_timeout_minutes or not s["at"]:
        return False
    if s["step"] in ("start", "welcome") and not s["cart"]:
        return False  # nothing to lose: no need to apologise for a restart
    try:
        last = datetime.fromisoformat(s["at"])
        return now - last > timedelta(minutes=context.session_timeout_minutes)
    except (ValueError, TypeError):
        return True
