"""Logs: one JSON line per event for web and worker alike, carrying the request id and the ids of what the
line is about (restaurant, conversation, message), and a filter masking anything shaped like a secret.

The ids live in context variables: the request middleware sets the request id (and restaurant/… once known
via `bind`), Celery tasks get the request id of the request that queued them (sufrahbot.celery).
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CONTEXT_FIELDS = ("request_id", "restaurant_id", "conversation_id", "message_id", "task_id", "task")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("sufrah_log_context", default=None)


def bind(**fields: Any) -> None:
    """Add ids to every following line of this request or task."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def current(name: str) -> Any:
    return (_context.get() or {}).get(name)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """A fresh context (a request, a task) holding these ids; the previous one comes back after."""
    token = _context.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(_JsonFormatter):
    """time, level, logger, message, the context ids, then the record's extras."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        # The context's ids, unless the call passed its own (a record's extras must never clash with them:
        # logging refuses an extra that is already an attribute, so they are added here, at format time).
        for key, value in (_context.get() or {}).items():
            log_record.setdefault(key, value)


# Twilio auth tokens are 32 hex chars; Meta tokens start with EAA; Fernet tokens start with gAAAAA.
# Twilio SIDs (SM…, AC…) and Meta message ids (wamid.…) do not match: they are ids, not secrets.
_SECRET_PATTERNS = [
    re.compile(r"\b[0-9a-f]{32}\b"),
    re.compile(r"\bEAA[A-Za-z0-9]{20,}\b"),
    re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{10,}"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except Exception:  # a bad format string must not drop the line
                record.msg = str(record.msg)
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
