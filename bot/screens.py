"""The bot's screens: one turn of the conversation renders the step the customer is on (welcome, menu,
items, quantity, cart, fulfilment, address, summary, orders, rating)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from providers.content import (
    MAX_LIST_ROWS,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_TITLE,
    MAX_TEXT_BODY,
    InboundMessage,
    ListRow,
    OutboundContent,
)
from sufrahbot import reply_ids, texts
from sufrahbot.reply_ids import id_parts
from sufrahbot.texts import t

from .builders import PAGE_SIZE_WHEN_PAGED, buttons_message, join_notices, list_message, page_rows, with_notice
from .intents import valid_location
from .parsing import clean, fit, fit_text, normalize, parse_number
from .session import MAX_ADDRESS, MAX_CART_LINES, MAX_QUANTITY, reset_order
from .types import (
    Action,
    BotContext,
    Handoff,
    PlaceOrder,
    RatingLater,
    RecordRating,
)

QUICK_QUANTITIES = (1, 2, 3)


class Turn:
    """One turn of the conversation: collects the messages and actions while steps render themselves."""

    def __init__(self, s: dict[str, Any], context: BotContext):
        self.s = s
        self.context = context
        self.outbound: list[OutboundContent] = []
        self.actions: list[Action] = []
        self.categories = tuple(c for c in context.menu if c.items)
        self.items_by_id = {item.id: item for c in self.categories for item in c.items}
        # Dishes that left the menu since they were added leave the cart now; the customer is told once.
        kept = [line for line in s["cart"] if line[0] in self.items_by_id]
        self.dropped = len(kept) != len(s["cart"])
        s["cart"] = kept

    @property
    def lang(self) -> str:
        return self.s["lang"] or self.context.default_language

    def money(self, amount: Decimal) -> str:
        return texts.money(amount, self.context.currency, self.lang)

    def send(self, content: OutboundContent) -> None:
        if self.dropped:
            self.dropped = False
            self.outbound.append(OutboundContent.text(t("items_dropped", self.lang)))
        self.outbound.append(content)

    # --- dispatch ---

    def on_choice(self, choice: str) -> bool:
        s = self.s
        simple = {
            "menu:order": lambda: self.start_ordering(),
            "menu:orders": lambda: self.my_orders(),
            "menu:help": lambda: self.handoff(),
            "cart:add": lambda: self.categories_list(),
            "cart:checkout": lambda: self.checkout(),
            "cart:clear": lambda: self.clear_cart(),
            "cart:view": lambda: self.cart(),
            "ful:delivery": lambda: self.choose_fulfilment("delivery"),
            "ful:pickup": lambda: self.choose_fulfilment("pickup"),
            "order:confirm": lambda: self.confirm(),
            "order:edit": lambda: self.cart(),
            "order:cancel": lambda: self.cancel(),
        }
        if choice in simple:
            simple[choice]()
            return True
        if (parts := id_parts(choice, "cats:page:", 1)) is not None:
            self.categories_list(page=parts[0])
            return True
        if (parts := id_parts(choice, "cat:", 1)) is not None:
            self.items_list(category_id=parts[0], page=0)
            return True
        if (parts := id_parts(choice, "items:page:", 2)) is not None:
            self.items_list(category_id=parts[0], page=parts[1])
            return True
        if (parts := id_parts(choice, "item:", 1)) is not None:
            self.ask_quantity(item_id=parts[0], show_photo=True)
            return True
        if (parts := id_parts(choice, "qty:", 1)) is not None:
            if s["item"] in self.items_by_id:
                self.add_to_cart(parts[0])
            else:
                self.render_step(notice=t("not_understood", self.lang))
            return True
        return False

    def on_rating(self, choice: str) -> bool:
        if (parts := id_parts(choice, reply_ids.RATE_NOW, 1)) is not None:
            self.stars_list(order_id=parts[0])
            return True
        if (parts := id_parts(choice, reply_ids.RATE_LATER, 1)) is not None:
            self.actions.append(RatingLater(order_id=parts[0]))
            self.send(OutboundContent.text(t("rate_later_ack", self.lang)))
            return True
        if id_parts(choice, reply_ids.RATE_HELP, 1) is not None:
            self.handoff()
            return True
        if (parts := id_parts(choice, reply_ids.RATE_STARS, 2)) is not None and 1 <= parts[1] <= 5:
            self.actions.append(RecordRating(order_id=parts[0], stars=parts[1]))
            return True
        return False

    def on_keyword(self, word: str) -> bool:
        step = self.s["step"]
        if word == "cancel":
            self.cancel()
        elif word == "menu":
            self.start_ordering()
        elif word == "cart":
            self.cart()
        elif word == "help":
            self.handoff()
        elif word == "orders":
            self.my_orders()
        elif word == "greeting":
            self.welcome()  # hello again: the start, without "didn't get that"
        elif word == "more" and step == "items":
            self.items_list(category_id=self.s["category"], page=self.s["page"] + 1, notice_at_end=True)
        elif word == "more" and step == "categories":
            self.categories_list(page=self.s["page"] + 1)
        elif word == "yes" and step == "confirm":
            self.confirm()
        elif word == "no" and step == "confirm":
            self.cart()
        else:
            return False
        return True

    def on_free_input(self, inbound: InboundMessage, typed: str) -> None:
        s, lang = self.s, self.lang
        step = s["step"]
        if step == "start":
            self.welcome()
            return
        if step == "quantity" and (number := parse_number(typed)) is not None:
            if 1 <= number <= MAX_QUANTITY and s["item"] in self.items_by_id:
                self.add_to_cart(number)
            else:
                self.ask_quantity(s["item"], notice=t("not_understood_quantity", lang, max=MAX_QUANTITY))
            return
        if inbound.kind == "location" and valid_location(inbound) and step in ("fulfilment", "address"):
            s.update(fulfilment="delivery", lat=inbound.latitude, lon=inbound.longitude)
            s["address"] = fit_text(clean(inbound.address), MAX_ADDRESS)
            self.summary()
            return
        if step == "address":
            address = fit_text(typed, MAX_ADDRESS)
            if sum(ch.isalnum() for ch in address) >= 3 and parse_number(address) is None:
                s.update(address=address, lat=None, lon=None)
                self.summary()
            else:
                self.ask_address(notice=t("not_understood_address", lang))
            return
        if step in ("welcome", "categories", "items") and typed and self.pick_by_name(typed):
            return
        if parse_number(typed) is not None and self.context.last_options:
            # A number that is not on the list: say which numbers are.
            self.render_step(notice=t("not_understood_range", lang, max=len(self.context.last_options)))
            return
        self.render_step(notice=t("not_understood", lang))

    def pick_by_name(self, typed: str) -> bool:
        """A dish or category typed by name (either language) is as good as picking it."""
        wanted = normalize(typed)
        for category in self.categories:
            if wanted in (normalize(category.name_ar), normalize(category.name_en)):
                self.items_list(category_id=category.id, page=0)
                return True
            for item in category.items:
                if wanted in (normalize(item.name_ar), normalize(item.name_en)):
                    self.ask_quantity(item.id, show_photo=True)
                    return True
        return False

    # --- steps ---

    def render_step(self, notice: str = "") -> None:
        s = self.s
        step = s["step"]
        if step == "categories":
            self.categories_list(page=s["page"], notice=notice)
        elif step == "items":
            self.items_list(category_id=s["category"], page=s["page"], notice=notice)
        elif step == "quantity":
            self.ask_quantity(s["item"], notice=notice)
        elif step == "cart":
            self.cart(notice=notice)
        elif step == "fulfilment":
            self.ask_fulfilment(notice=notice)
        elif step == "address":
            self.ask_address(notice=notice)
        elif step == "confirm":
            self.summary(notice=notice)
        else:
            self.welcome(notice=notice)

    def welcome(self, notice: str = "") -> None:
        lang = self.lang
        self.s["step"] = "welcome"
        self.send(
            buttons_message(
                with_notice(notice, self.context.welcome_text(lang)),
                [
                    ("menu:order", t("btn_order", lang)),
                    ("menu:orders", t("btn_my_orders", lang)),
                    ("menu:help", t("btn_help", lang)),
                ],
                footer=t("welcome_footer", lang),
            )
        )

    def start_ordering(self) -> None:
        if len(self.categories) == 1:
            self.items_list(category_id=self.categories[0].id, page=0)
        else:
            self.categories_list()

    def categories_list(self, page: int = 0, notice: str = "") -> None:
        lang = self.lang
        if not self.categories:
            self.welcome(notice=join_notices(notice, t("menu_empty", lang)))
            return
        rows = [ListRow(id=f"cat:{c.id}", title=fit(c.name(lang), MAX_ROW_TITLE)) for c in self.categories]
        rows, page = page_rows(rows, page, lambda n: ListRow(id=f"cats:page:{n}", title=t("row_more", lang)))
        self.s.update(step="categories", page=page, category=None)
        self.send(
            list_message(
                with_notice(notice, t("choose_category", lang)),
                rows,
                label=t("list_categories", lang),
                footer=t("tips", lang),
            )
        )

    def items_list(self, *, category_id: int | None, page: int, notice: str = "", notice_at_end: bool = False) -> None:
        lang = self.lang
        category = next((c for c in self.categories if c.id == category_id), None)
        if category is None:
            self.categories_list(notice=notice or t("not_understood", lang))
            return
        rows = [
            ListRow(
                id=f"item:{item.id}",
                title=fit(item.name(lang), MAX_ROW_TITLE),
                description=fit(
                    " · ".join(p for p in (self.money(item.price), item.description(lang)) if p), MAX_ROW_DESCRIPTION
                ),
            )
            for item in category.items
        ]
        last_page = max((len(rows) - 1) // PAGE_SIZE_WHEN_PAGED, 0) if len(rows) > MAX_LIST_ROWS else 0
        if notice_at_end and page > last_page:
            notice, page = t("no_more_pages", lang), 0
        rows, page = page_rows(
            rows, page, lambda n: ListRow(id=f"items:page:{category.id}:{n}", title=t("row_more", lang))
        )
        self.s.update(step="items", category=category.id, page=page)
        body = t("choose_item", lang, category=fit(category.name(lang), 100))
        self.send(list_message(with_notice(notice, body), rows, label=t("list_items", lang)))

    def ask_quantity(self, item_id: int | None, notice: str = "", show_photo: bool = False) -> None:
        lang = self.lang
        item = self.items_by_id.get(item_id) if item_id is not None else None
        if item is None:
            self.categories_list(notice=notice or t("not_understood", lang))
            return
        self.s.update(step="quantity", item=item.id)
        if show_photo and item.has_photo:
            # The dish's photo as it is opened: the engine names it, the driver sends the stored image.
            caption = f"{fit(item.name(lang), 100)} — {self.money(item.price)}"
            if item.description(lang):
                caption += "\n" + fit(item.description(lang), 900)  # a caption holds at most 1024
            self.send(OutboundContent(kind="image", body=caption, media_ref=f"menu_item:{item.id}"))
        body = t("ask_quantity", lang, item=fit(item.name(lang), 100), price=self.money(item.price), max=MAX_QUANTITY)
        self.send(buttons_message(with_notice(notice, body), [(f"qty:{n}", str(n)) for n in QUICK_QUANTITIES]))

    def add_catalog_order(self, items: list[dict[str, Any]]) -> None:
        """A WhatsApp catalog order (product items, quantities) becomes the cart: each product retailer id
        names a dish ("item-7", "item:7" or "7"); what is not on the menu is left out, and the cart is shown."""
        s, lang = self.s, self.lang
        added = 0
        for row in items:
            digits = str(row.get("product_retailer_id", "")).removeprefix("item").lstrip("-:")
            item = self.items_by_id.get(int(digits)) if digits.isdigit() else None
            quantity = row.get("quantity")
            if item is None or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
                continue
            line = next((line for line in s["cart"] if line[0] == item.id), None)
            if line is not None:
                line[1] = min(line[1] + quantity, MAX_QUANTITY)
            elif len(s["cart"]) < MAX_CART_LINES:
                s["cart"].append([item.id, quantity])
            else:
                continue
            added += 1
        s["item"] = None
        if not added:
            self.categories_list(notice=t("catalog_order_unknown", lang))
            return
        self.cart(notice=t("catalog_order_added", lang, count=added))

    def add_to_cart(self, quantity: int) -> None:
        s, lang = self.s, self.lang
        item = self.items_by_id[s["item"]]
        if not 1 <= quantity <= MAX_QUANTITY:
            self.ask_quantity(item.id, notice=t("not_understood_quantity", lang, max=MAX_QUANTITY))
            return
        for line in s["cart"]:
            if line[0] == item.id:
                line[1] = min(line[1] + quantity, MAX_QUANTITY)
                break
        else:
            if len(s["cart"]) >= MAX_CART_LINES:
                s["item"] = None
                self.cart(notice=t("cart_full", lang, max=MAX_CART_LINES))
                return
            s["cart"].append([item.id, quantity])
        s["item"] = None
        self.cart(notice=t("added_to_cart", lang, quantity=quantity, item=fit(item.name(lang), 100)))

    def _cart_lines(self) -> tuple[list[str], Decimal]:
        """Readable cart lines and the subtotal."""
        lines, subtotal = [], Decimal("0")
        for item_id, quantity in self.s["cart"]:
            item = self.items_by_id[item_id]
            amount = item.price * quantity
            subtotal += amount
            lines.append(f"{quantity} × {fit(item.name(self.lang), 40)} — {self.money(amount)}")
        return lines, subtotal

    def cart(self, notice: str = "") -> None:
        lang = self.lang
        lines, subtotal = self._cart_lines()
        if not lines:
            self.categories_list(notice=join_notices(notice, t("cart_empty", lang)))
            return
        self.s.update(step="cart", item=None)
        body = "\n".join([t("cart_title", lang), *lines, "", t("cart_subtotal", lang, amount=self.money(subtotal))])
        self.send(
            buttons_message(
                with_notice(notice, body),
                [
                    ("cart:add", t("btn_add_more", lang)),
                    ("cart:checkout", t("btn_checkout", lang)),
                    ("cart:clear", t("btn_clear", lang)),
                ],
            )
        )

    def checkout(self) -> None:
        if not self.s["cart"] or self.dropped:
            self.cart()  # shows what is left (or that nothing is) before going on
            return
        self.ask_fulfilment()

    def ask_fulfilment(self, notice: str = "") -> None:
        lang = self.lang
        if not self.s["cart"]:
            self.cart(notice=notice)
            return
        self.s["step"] = "fulfilment"
        self.send(
            buttons_message(
                with_notice(notice, t("ask_fulfilment", lang)),
                [
                    ("ful:delivery", t("btn_delivery", lang)),
                    ("ful:pickup", t("btn_pickup", lang)),
                    ("order:cancel", t("btn_cancel", lang)),
                ],
            )
        )

    def choose_fulfilment(self, fulfilment: str) -> None:
        if not self.s["cart"]:
            self.cart()
            return
        self.s.update(fulfilment=fulfilment, address="", lat=None, lon=None)
        if fulfilment == "delivery":
            self.ask_address()
        else:
            self.summary()

    def ask_address(self, notice: str = "") -> None:
        self.s.update(step="address", fulfilment="delivery")
        self.send(OutboundContent.text(with_notice(notice, t("ask_address", self.lang), limit=MAX_TEXT_BODY)))

    def _delivery_ready(self) -> bool:
        s = self.s
        if s["fulfilment"] == "pickup":
            return True
        return s["fulfilment"] == "delivery" and (bool(s["address"]) or s["lat"] is not None)

    def summary(self, notice: str = "") -> None:
        s, lang = self.s, self.lang
        lines, subtotal = self._cart_lines()
        if not lines:
            self.cart(notice=notice)
            return
        if not self._delivery_ready():
            self.ask_fulfilment(notice=notice)
            return
        s["step"] = "confirm"
        fee = self.context.delivery_fee if s["fulfilment"] == "delivery" else Decimal("0")
        parts = [t("summary_title", lang, restaurant=self.context.restaurant_name(lang)), *lines, ""]
        parts.append(t("cart_subtotal", lang, amount=self.money(subtotal)))
        if s["fulfilment"] == "delivery":
            parts.append(t("summary_delivery_fee", lang, amount=self.money(fee)))
        parts.append(t("summary_total", lang, amount=self.money(subtotal + fee)))
        if s["fulfilment"] == "delivery":
            where = fit(s["address"], 200) if s["address"] else t("summary_location", lang)
            parts.append(t("summary_delivery_to", lang, address=where))
        else:
            parts.append(t("summary_pickup", lang))
        parts += ["", t("summary_confirm", lang)]
        self.send(
            buttons_message(
                with_notice(notice, "\n".join(parts)),
                [
                    ("order:confirm", t("btn_confirm", lang)),
                    ("order:edit", t("btn_edit_cart", lang)),
                    ("order:cancel", t("btn_cancel", lang)),
                ],
            )
        )

    def confirm(self) -> None:
        s = self.s
        if self.dropped and s["cart"]:
            self.summary()  # the order changed under them: show the new summary before placing anything
            return
        if s["step"] != "confirm" or not s["cart"] or not self._delivery_ready():
            self.render_step(notice=t("not_understood", self.lang))
            return
        self.actions.append(
            PlaceOrder(
                lines=tuple((item_id, quantity) for item_id, quantity in s["cart"]),
                fulfilment=s["fulfilment"],
                address=s["address"] if s["fulfilment"] == "delivery" else "",
                latitude=s["lat"] if s["fulfilment"] == "delivery" else None,
                longitude=s["lon"] if s["fulfilment"] == "delivery" else None,
            )
        )

    def clear_cart(self) -> None:
        reset_order(self.s)
        self.welcome(notice=t("cart_cleared", self.lang))

    def cancel(self) -> None:
        had_order = bool(self.s["cart"]) or self.s["step"] not in ("start", "welcome", "categories", "items")
        reset_order(self.s)
        self.welcome(notice=t("order_cancelled" if had_order else "nothing_to_cancel", self.lang))

    def my_orders(self) -> None:
        lang = self.lang
        orders = self.context.recent_orders[:5]
        if orders:
            lines = [t("my_orders_title", lang)] + [
                t(
                    "my_orders_line",
                    lang,
                    number=o.number,
                    status=texts.status_label(o.status, lang),
                    amount=self.money(o.total),
                )
                for o in orders
            ]
        else:
            lines = [t("my_orders_none", lang)]
        self.s["step"] = "welcome"
        body = "\n".join([*lines, "", t("what_next", lang)])
        self.send(buttons_message(body, [("menu:order", t("btn_order", lang)), ("menu:help", t("btn_help", lang))]))

    def handoff(self) -> None:
        lang = self.lang
        body = t("handoff", lang)
        if self.context.support_contact:
            body += "\n" + t("handoff_contact", lang, contact=fit(self.context.support_contact, 200))
        self.actions.append(Handoff())
        self.send(OutboundContent.text(body))

    def stars_list(self, *, order_id: int) -> None:
        lang = self.lang
        order = next((o for o in self.context.recent_orders if o.id == order_id), None)
        body = t("rate_ask", lang, number=order.number) if order else t("rate_ask_no_number", lang)
        rows = [
            ListRow(id=reply_ids.rate_stars(order_id, n), title="⭐" * n, description=t(f"stars_{n}", lang))
            for n in (1, 2, 3, 4, 5)  # row n is n stars: a customer who types "5" means five stars
        ]
        self.send(list_message(body, rows, label=t("list_stars", lang)))
