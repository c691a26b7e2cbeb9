"""The providers this installation speaks, named in settings.SUFRAH_PROVIDERS ({name: "module.Class"}).

`provider_for(name)` is the single switch: callers never branch on a provider's name themselves.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import CredentialField, Provider


class UnknownProvider(ValueError):
    pass


@cache
def _load(path: str) -> Provider:
    provider = import_string(path)()
    if not isinstance(provider, Provider):
        raise TypeError(f"{path} does not implement providers.base.Provider")
    return provider


def provider_names() -> list[str]:
    return list(settings.SUFRAH_PROVIDERS)


def provider_for(name: str) -> Provider:
    try:
        path = settings.SUFRAH_PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(f"unknown provider {name!r}") from None
    return _load(path)


def providers() -> list[Provider]:
    return [provider_for(name) for name in provider_names()]


def provider_choices() -> list[tuple[str, str]]:
    return [(p.name, p.label) for p in providers()]


def credential_fields() -> dict[str, CredentialField]:
    """Every credential field of every provider, by name (a name means the same thing wherever it is used)."""
    fields: dict[str, CredentialField] = {}
    for provider in providers():
        for f in provider.credentials:
            known = fields.setdefault(f.name, f)
            if known.secret != f.secret:
                raise TypeError(f"credential {f.name!r} is secret for one provider and not for another")
    return fields


def secret_names() -> frozenset[str]:
    """The one list of secret credential names (masking, logs, admin widgets all read it)."""
    return frozenset(name for name, f in credential_fields().items() if f.secret)
