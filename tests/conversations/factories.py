"""Test support for the bot: a restaurant with a bilingual menu, and a customer who chats through the real,
signed Twilio webhook."""

from __future__ import annotations

import uuid

from conversations.models import Conversation, Message
from providers.content import OutboundContent
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import MenuCategoryFactory, MenuItemFactory, RestaurantFactory, SenderFactory

MENU = [
    (
        ("مشويات", "Grills"),
        [(("شيش طاووق", "Shish Tawook"), "32.00"), (("كباب لحم", "Lamb Kebab"), "38.00")],
    ),
    (("مشروبات", "Drinks"), [(("شاي بالنعناع", "Mint Tea"), "6.00"), (("عصير ليمون", "Lemonade"), "12.00")]),
]


def restaurant_with_menu(**kwargs):
    """A restaurant (delivery fee 10.00) with two categories of two dishes each, in menu order."""
    restaurant = RestaurantFactory(**kwargs)
    for position, ((cat_ar, cat_en), items) in enumerate(MENU):
        category = MenuCategoryFactory(restaurant=restaurant, name_ar=cat_ar, name_en=cat_en, sort_order=position)
        for item_position, ((name_ar, name_en), price) in enumerate(items):
            MenuItemFactory(category=category, name_ar=name_ar, name_en=name_en, price=price, sort_order=item_position)
    return restaurant


class TwilioCustomer:
    """A WhatsApp customer writing to a Twilio sender: every message is a signed webhook POST, and what
    comes back is read from the outbound Message rows (the bot's structured content)."""

    def __init__(self, client, *, sender=None, restaurant=None, phone: str = "+966508034010"):
        self.client = client
        self.sender = sender or SenderFactory(restaurant=restaurant or restaurant_with_menu())
        self.phone = phone
        self.seen_id = 0

    @property
    def conversation(self) -> Conversation:
        return Conversation.objects.get(restaurant=self.sender.restaurant, customer_phone=self.phone)

    def says(self, body: str = "", **extra) -> list[OutboundContent]:
        """Send one message; return the bot's replies to it (structured, in order)."""
        params = twilio_inbound_params(
            sender=self.sender, from_number=self.phone, body=body, sid="SM" + uuid.uuid4().hex, **extra
        )
        response = signed_post(self.client, sender=self.sender, params=params)
        assert response.status_code == 200, response.content
        return self.new_replies()

    def shares_location(self, latitude: float, longitude: float, address: str = "") -> list[OutboundContent]:
        extra = {"Latitude": str(latitude), "Longitude": str(longitude), "MessageType": "location"}
        if address:
            extra["Address"] = address
        return self.says("", **extra)

    def taps(self, reply_id: str, title: str = "") -> list[OutboundContent]:
        """A tapped button or list row, as Twilio reports interactive replies."""
        return self.says(title, ButtonPayload=reply_id, ButtonText=title or reply_id)

    def new_replies(self) -> list[OutboundContent]:
        messages = list(
            Message.objects.filter(
                restaurant=self.sender.restaurant,
                conversation__customer_phone=self.phone,
                direction=Message.Direction.OUTBOUND,
                pk__gt=self.seen_id,
            ).order_by("id")
        )
        if messages:
            self.seen_id = messages[-1].pk
        return [OutboundContent.from_dict(m.content) for m in messages]


def option_number(content: OutboundContent, option_id: str) -> str:
    """The number a customer types to pick `option_id` on a text-only channel."""
    ids = [oid for oid, _ in content.options()]
    return str(ids.index(option_id) + 1)
