"""Reply ids: what a tapped button or list row sends back. The ids that cross apps are built and parsed here
only: the rating buttons (sent by orders and the rating template, answered by the bot) and the marketing
opt-out payload (campaigns). Pure: the bot engine imports it too."""

from __future__ import annotations

RATING_PREFIX = "rate:"
RATE_NOW, RATE_LATER, RATE_HELP, RATE_STARS = "rate:now:", "rate:later:", "rate:help:", "rate:stars:"
# The payload of the opt-out quick reply a marketing template may carry (Meta's "marketing opt-out" button
# sends back the payload given at send time; Twilio relays it as ButtonPayload).
MARKETING_OPT_OUT = "marketing:optout"


def rate_now(order_id: int | str) -> str:
    return f"{RATE_NOW}{order_id}"


def rate_later(order_id: int | str) -> str:
    return f"{RATE_LATER}{order_id}"


def rate_help(order_id: int | str) -> str:
    return f"{RATE_HELP}{order_id}"


def rate_stars(order_id: int | str, stars: int) -> str:
    return f"{RATE_STARS}{order_id}:{stars}"


def rating_buttons(order_id: int | str) -> tuple[str, str, str]:
    """(rate now, later, help) of one order; `order_id` may be a template variable ("{{order_id}}")."""
    return rate_now(order_id), rate_later(order_id), rate_help(order_id)


def is_rating(reply_id: str | None) -> bool:
    return (reply_id or "").startswith(RATING_PREFIX)


def id_parts(reply_id: str, prefix: str, count: int) -> list[int] | None:
    """The integer parts of an id like "items:page:3:1" after `prefix`, or None when malformed."""
    if not reply_id.startswith(prefix):
        return None
    parts = reply_id[len(prefix) :].split(":")
    if len(parts) != count or not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        return None
    return [int(p) for p in parts]
