"""Log hygiene: a filter that masks anything shaped like a provider secret before a line is written."""

from __future__ import annotations

import logging
import re

# Twilio auth tokens are 32 hex chars; Meta tokens start with EAA; Fernet tokens start with gAAAAA.
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
            except Exception:  # noqa: BLE001 - a bad format string must not drop the line
                record.msg = str(record.msg)
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
