"""What an integration's API key carries into a request: plain types, no DRF (the authentication class that
makes them is imported while DRF loads its settings)."""

from __future__ import annotations

from dataclasses import dataclass


class ApiKeyScope:
    """What an integration's API key may do (chosen when it is created)."""

    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    MESSAGES_SEND = "messages:send"
    MENU_MANAGE = "menu:manage"

    CHOICES = {
        ORDERS_READ: "Read orders",
        ORDERS_WRITE: "Read orders and move them between statuses",
        MESSAGES_SEND: "Read conversations and send messages",
        MENU_MANAGE: "Read and change the menu",
    }


ORDER_READERS = frozenset({ApiKeyScope.ORDERS_READ, ApiKeyScope.ORDERS_WRITE})


@dataclass(frozen=True)
class ApiKeyCredential:
    """`request.auth` of a request made with an API key (`request.user` is the key's own user)."""

    key_id: int
    restaurant_id: int
    scopes: frozenset[str]
    name: str
