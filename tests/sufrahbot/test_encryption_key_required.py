"""Services mode refuses to start without FIELD_ENCRYPTION_KEYS (no silent key derived from SECRET_KEY)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    base.update(SECRET_KEY="settings-test-secret", SUFRAH_VAR_DIR=os.environ.get("TMPDIR", "/tmp") + "/sufrah-var")
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import sufrahbot.settings as s; print('keys', len(s.FIELD_ENCRYPTION_KEYS))"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"},
        {"REDIS_URL": "redis://127.0.0.1:6379/0"},
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/0"},
    ],
)
def test_services_mode_without_keys_refuses_to_start_and_says_how_to_make_one(env):
    result = _load_settings(**env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {},  # the embedded default
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "DEBUG": "1"},
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
            "FIELD_ENCRYPTION_KEYS": "S5jw5d9TKJLRDlzQr2hxilw92I-adP9DCfUgkNNnYUM=",
        },
    ],
)
def test_embedded_debug_or_a_key_given_starts(env):
    result = _load_settings(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("keys")
