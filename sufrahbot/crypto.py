"""Secrets at rest: a model field that stores Fernet tokens (MultiFernet, so keys can rotate)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "••••••••"


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        # Embedded/dev only: derive a stable key from SECRET_KEY so a fresh checkout just works.
        digest = hashlib.sha256(("sufrah-field-encryption:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None


def reset_key_cache() -> None:
    _fernet.cache_clear()
    _decrypt_cached.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _decrypt_cached(token)


# Every webhook reads its sender's secret. Keyed by the ciphertext, so a changed or rotated secret is a new
# entry (never a stale plaintext), and only code already holding the ciphertext gets the plaintext; it stays
# in this process's memory, as the secret does while in use anyway.
@lru_cache(maxsize=20000)
def _decrypt_cached(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS") from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


def mask(secret: str | None) -> str:
    """What admin pages and API responses show instead of a secret."""
    if not secret:
        return ""
    return f"{MASK}{secret[-4:]}" if len(secret) >= 12 else MASK


class Secret(str):
    """A decrypted secret whose repr never shows the value (so it cannot leak through a traceback)."""

    def __repr__(self) -> str:
        return "Secret('" + MASK + "')"


class EncryptedTextField(models.TextField):
    """Stores the Fernet token; Python code sees the plaintext (as a `Secret`)."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return Secret(decrypt(value))

    def to_python(self, value):
        if value in (None, "") or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A dict of strings stored as one Fernet token of its JSON: structured secrets (a provider's credentials)
    encrypted as a whole, so no part of them, names included, is readable at rest."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return _secrets(json.loads(decrypt(value)))

    def to_python(self, value):
        if value in (None, ""):
            return {}
        if isinstance(value, dict):
            return _secrets(value)
        return _secrets(json.loads(value))

    def get_prep_value(self, value):
        if not value:
            return ""
        return encrypt(json.dumps({str(k): str(v) for k, v in dict(value).items()}, sort_keys=True))

    def value_to_string(self, obj):  # never serialise the plaintext (dumpdata, admin history)
        return ""


def _secrets(data: dict) -> dict:
    return {str(k): Secret(v) for k, v in data.items()}
