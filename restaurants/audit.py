"""The audit trail: one call per staff action, from the services (API and admin alike) and the admin's
generic saves. System work (the bot, sweeps) has no actor and is not audited."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.db import models

from .models import AuditEntry

# Never stored: only the fact that one of these changed.
SECRET_MARKERS = ("token", "secret", "password", "key")
MAX_VALUE = 500


def _is_secret(field: str) -> bool:
    return any(marker in field.lower() for marker in SECRET_MARKERS)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, models.Model):
        return {"id": value.pk, "repr": str(value)[:MAX_VALUE]}
    if isinstance(value, decimal.Decimal | dt.date | dt.datetime | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set) or hasattr(value, "__iter__") and not isinstance(value, str | dict):
        return [_plain(v) for v in value][:50]
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def audit_changes(
    before: dict[str, Any], after: dict[str, Any], *, secret: set[str] | frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """{field: {"before", "after"}} for the fields whose value differs; secrets (named in `secret`, or by a
    name like *token*, *secret*, *password*, *key*) as {"changed": true}."""
    out: dict[str, dict[str, Any]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if _plain(old) == _plain(new):
            continue
        hidden = field in secret or _is_secret(field)
        out[field] = {"changed": True} if hidden else {"before": _plain(old), "after": _plain(new)}
    return out


def audit_record(
    *,
    restaurant_id: int,
    actor,
    action: str,
    target: models.Model,
    changes: dict[str, dict[str, Any]] | None = None,
    source: str = "",
) -> AuditEntry | None:
    """Store one entry in the caller's transaction (it commits or rolls back with the action itself)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return AuditEntry.objects.create(
        restaurant_id=restaurant_id,
        actor=actor,
        action=action[:64],
        target_type=target._meta.model_name,
        target_id=str(target.pk or "")[:64],
        target_repr=str(target)[:200],
        changes=changes or {},
        source=source[:16],
    )
