"""`Authorization: Bearer sfk_…`: an integration's API key, on the same routes as the staff's JWTs.

Listed before the JWT class: it answers only for tokens that look like keys and leaves every other token
to simplejwt. Each key has its own request rate (a token bucket per key): over it, 429 with Retry-After.
"""

from __future__ import annotations

import math

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from conversations.ratelimit import limiter
from restaurants.api_keys import ApiKeyCredential

from .services.api_keys import KEY_PREFIX, api_key_authenticate


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        header = get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer" or not header[1].startswith(KEY_PREFIX.encode()):
            return None
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        wait = limiter().reserve(f"apikey:{api_key.pk}", api_key.requests_per_minute)
        if wait > 0:
            raise exceptions.Throttled(
                wait=math.ceil(wait),
                detail=f"This API key is over its {api_key.requests_per_minute} requests a minute.",
            )
        credential = ApiKeyCredential(
            key_id=api_key.pk, restaurant_id=api_key.restaurant_id, scopes=frozenset(api_key.scopes), name=api_key.name
        )
        return api_key.user, credential

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
