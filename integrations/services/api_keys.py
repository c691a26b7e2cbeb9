"""API keys for integrations: created (the key returned once), found by the key itself, revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from restaurants.api_keys import ApiKeyScope
from restaurants.audit import audit_record
from restaurants.models import Restaurant

from ..models import ApiKey

KEY_PREFIX = "sfk_"
# last_used_at is written at most this often per key (not on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_KEYS_PER_RESTAURANT = 50


def key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass
class ApiKeyWithSecret:
    api_key: ApiKey
    key: str  # shown to the caller this once; only its digest is stored


def api_key_create(
    *, restaurant: Restaurant, name: str, scopes: list[str], requests_per_minute: int | None = None, by=None
) -> ApiKeyWithSecret:
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["Name the key after what uses it (e.g. POS)."]})
    unknown = sorted(set(scopes) - set(ApiKeyScope.CHOICES))
    if not scopes or unknown:
        raise ValidationError({"scopes": [f"Choose from {', '.join(ApiKeyScope.CHOICES)}."]})
    if ApiKey.objects.filter(restaurant=restaurant, revoked_at__isnull=True).count() >= MAX_KEYS_PER_RESTAURANT:
        raise ValidationError({"name": [f"A restaurant has at most {MAX_KEYS_PER_RESTAURANT} active keys."]})
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    with transaction.atomic():
        # The key's own user: what the services record as actor / sender. No password, no membership, not
        # staff: it can do nothing but be this key's identity.
        user = get_user_model().objects.create(
            username=f"apikey-{prefix}", first_name=f"API key: {name}"[:150], is_staff=False, is_active=True
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        api_key = ApiKey.objects.create(
            restaurant=restaurant,
            name=name,
            prefix=prefix,
            key_hash=key_digest(raw_key),
            scopes=sorted(set(scopes)),
            user=user,
            created_by=by if getattr(by, "is_authenticated", False) else None,
            requests_per_minute=requests_per_minute or settings.API_KEY_REQUESTS_PER_MINUTE,
        )
        audit_record(
            restaurant_id=restaurant.pk,
            actor=by,
            action="apikey.created",
            target=api_key,
            changes={"name": {"before": None, "after": name}, "scopes": {"before": None, "after": api_key.scopes}},
        )
    return ApiKeyWithSecret(api_key, raw_key)


def api_key_revoke(*, api_key: ApiKey, by=None) -> ApiKey:
    """From now on the key is refused (401). Kept, with its history, as revoked."""
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            get_user_model().objects.filter(pk=locked.user_id).update(is_active=False)
            audit_record(restaurant_id=locked.restaurant_id, actor=by, action="apikey.revoked", target=locked)
    return locked


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The live key `raw_key` is, or None. Records when it was last used (to the minute)."""
    parts = raw_key.removeprefix(KEY_PREFIX).split("_", 1)
    if not raw_key.startswith(KEY_PREFIX) or len(parts) != 2:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=parts[0]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, key_digest(raw_key)):
        return None
    if api_key.revoked_at is not None or not api_key.user.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
