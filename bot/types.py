"""The engine's plain data: what the driver fills in (the context), what the engine asks it to do (actions)
and what the driver reports back (outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from providers.content import (
    OutboundContent,
)

# --- plain data the driver fills in -----------------------------------------------------------------------


@dataclass(frozen=True)
class MenuItemData:
    id: int
    name_ar: str
    name_en: str
    price: Decimal
    description_ar: str = ""
    description_en: str = ""
    has_photo: bool = False  # an uploaded photo (MenuItem.image): shown when the customer opens the dish

    def name(self, language: str) -> str:
        return (self.name_ar if language == "ar" else self.name_en) or self.name_en or self.name_ar

    def description(self, language: str) -> str:
        return self.description_ar if language == "ar" else self.description_en


@dataclass(frozen=True)
class CategoryData:
    id: int
    name_ar: str
    name_en: str
    items: tuple[MenuItemData, ...] = ()

    def name(self, language: str) -> str:
        return (self.name_ar if language == "ar" else self.name_en) or self.name_en or self.name_ar


@dataclass(frozen=True)
class RecentOrder:
    id: int
    number: int
    status: str
    total: Decimal


@dataclass(frozen=True)
class BotContext:
    restaurant_name_ar: str
    restaurant_name_en: str
    welcome_text_ar: str
    welcome_text_en: str
    currency: str = "SAR"
    delivery_fee: Decimal = Decimal("0")
    default_language: str = "ar"
    support_contact: str = ""
    session_timeout_minutes: int = 120  # 0: sessions never expire
    menu: tuple[CategoryData, ...] = ()
    recent_orders: tuple[RecentOrder, ...] = ()
    # (id, title) of the options of the last message the customer got, as numbered on text-only channels.
    last_options: tuple[tuple[str, str], ...] = ()
    conversation_language: str = ""

    def restaurant_name(self, language: str) -> str:
        return self.restaurant_name_ar if language == "ar" else self.restaurant_name_en

    def welcome_text(self, language: str) -> str:
        return (self.welcome_text_ar if language == "ar" else self.welcome_text_en) or self.restaurant_name(language)


# --- what the engine asks the driver to do ----------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOrder:
    lines: tuple[tuple[int, int], ...]  # (menu item id, quantity)
    fulfilment: str  # delivery | pickup
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    notes: str = ""


@dataclass(frozen=True)
class RecordRating:
    order_id: int
    stars: int


@dataclass(frozen=True)
class RatingLater:
    order_id: int


@dataclass(frozen=True)
class Handoff:
    """Pause the bot for this conversation: staff take over until they resume it."""


@dataclass(frozen=True)
class SetLanguage:
    language: str


Action = PlaceOrder | RecordRating | RatingLater | Handoff | SetLanguage


# --- what the driver reports back -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    number: int
    total: Decimal
    fulfilment: str = "delivery"


@dataclass(frozen=True)
class ActionFailed:
    action: Action
    reason: str = ""


Outcome = OrderPlaced | ActionFailed


@dataclass
class BotResult:
    session: dict[str, Any]
    outbound: list[OutboundContent] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
