"""Provider adapters: one module per provider, each with everything that provider needs (verify, parse, send).

`provider_for(name)` is the single switch; callers never branch on the provider themselves.
"""

from __future__ import annotations

from types import ModuleType


def provider_for(name: str) -> ModuleType:
    from . import console, meta, twilio

    adapters = {"twilio": twilio, "meta": meta, "console": console}
    try:
        return adapters[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}") from None
