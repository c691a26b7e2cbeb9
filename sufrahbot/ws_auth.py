"""Websocket guards: the Origin check and JWT authentication (the API's own access tokens).

Browsers cannot set an Authorization header on a websocket, so the token travels as the second value of
the `Sec-WebSocket-Protocol` header (`new WebSocket(url, ["sufrah.jwt", token])`), or, as a fallback for
clients that cannot set subprotocols, as `?token=` (query strings end up in access logs: prefer the
subprotocol). See docs/events.md.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

JWT_SUBPROTOCOL = "sufrah.jwt"


class SettingsOriginValidator(OriginValidator):
    """OriginValidator over settings.WEBSOCKET_ALLOWED_ORIGINS, read per connection (not frozen at import).

    Patterns follow OriginValidator: "https://dash.example.com", "dash.example.com", ".example.com", "*".
    A connection without an Origin header is refused unless "*" is allowed.

    A refused handshake answers HTTP 403 with the error body saying why (servers that support the ASGI
    websocket denial response, such as uvicorn); a browser only ever sees close code 1006 either way.
    """

    def __init__(self, application):
        super().__init__(application, allowed_origins=())

    async def __call__(self, scope, receive, send):
        self.allowed_origins = list(settings.WEBSOCKET_ALLOWED_ORIGINS)
        origin_header = dict(scope.get("headers") or []).get(b"origin")
        try:
            parsed = urlparse(origin_header.decode("latin1")) if origin_header is not None else None
        except UnicodeDecodeError:
            parsed = None
        if self.valid_origin(parsed):
            return await self.application(scope, receive, send)
        return await _deny_origin(scope, receive, send, origin_header)


async def _deny_origin(scope, receive, send, origin_header: bytes | None) -> None:
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        return await WebsocketDenier()(scope, receive, send)
    message = await receive()
    if message["type"] != "websocket.connect":
        return None
    origin = origin_header.decode("latin1", "replace") if origin_header is not None else None
    reason = (
        f"Origin {origin!r} is not allowed: add it to WEBSOCKET_ALLOWED_ORIGINS."
        if origin
        else "No Origin header: send one listed in WEBSOCKET_ALLOWED_ORIGINS."
    )
    body = json.dumps({"error": {"code": "origin_not_allowed", "message": reason, "details": {}}}).encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})
    return None


def token_from_scope(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """(raw token, subprotocol to echo on accept). The subprotocol wins over the query string."""
    subprotocols = list(scope.get("subprotocols") or [])
    if JWT_SUBPROTOCOL in subprotocols:
        index = subprotocols.index(JWT_SUBPROTOCOL)
        token = subprotocols[index + 1] if index + 1 < len(subprotocols) else None
        return token or None, JWT_SUBPROTOCOL
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    token = (query.get("token") or [None])[0]
    return token or None, None


@database_sync_to_async
def _user_for_token(raw_token: str):
    # The API's authentication class itself: same signature, expiry, token type, active-user and
    # revocation checks as a REST request carrying this token.
    authentication = JWTAuthentication()
    validated = authentication.get_validated_token(raw_token)
    return authentication.get_user(validated), validated


class JWTAuthMiddleware:
    """Fills scope["user"] (AnonymousUser when the token is missing or invalid), scope["token_expires_at"]
    (unix seconds), scope["auth_error"] and scope["accept_subprotocol"]. The consumer decides how to close."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        raw_token, subprotocol = token_from_scope(scope)
        scope = dict(scope, user=AnonymousUser(), token_expires_at=None, auth_error=None)
        scope["accept_subprotocol"] = subprotocol
        if raw_token is None:
            scope["auth_error"] = "missing token"
        else:
            try:
                user, validated = await _user_for_token(raw_token)
            except (InvalidToken, TokenError, AuthenticationFailed) as exc:
                scope["auth_error"] = getattr(exc, "default_code", "invalid token")
            else:
                scope["user"] = user
                scope["token_expires_at"] = validated.get("exp")
        return await self.application(scope, receive, send)


def websocket_guard(application):
    """Origin check outermost (a refused origin costs no database work), then JWT authentication."""
    return SettingsOriginValidator(JWTAuthMiddleware(application))
