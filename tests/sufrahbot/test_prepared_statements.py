"""PostgreSQL with server-side binding and prepared statements (settings: DB_PREPARE_THRESHOLD)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from webhooks.models import WebhookEvent

ROOT = Path(__file__).resolve().parents[2]


def _options(**env: str) -> dict:
    """settings.DATABASES["default"]["OPTIONS"] as a fresh process with `env` loads them."""
    base = {k: v for k, v in os.environ.items() if k not in {"DB_PREPARE_THRESHOLD", "DJANGO_SETTINGS_MODULE"}}
    base.update(SECRET_KEY="settings-test-secret", **env)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sufrahbot.settings as s; print(json.dumps(s.DATABASES['default']['OPTIONS']))",
        ],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_options_keep_what_the_database_url_carries():
    url = "postgres://postgres@127.0.0.1:5432/x?sslmode=require&connect_timeout=3"
    assert _options(DATABASE_URL=url) == {
        "sslmode": "require",
        "connect_timeout": 3,
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    assert _options(DATABASE_URL=url, DB_PREPARE_THRESHOLD="0")["prepare_threshold"] is None
    assert _options(DATABASE_URL=url, DB_PREPARE_THRESHOLD="2")["prepare_threshold"] == 2


@pytest.mark.django_db
def test_a_statement_past_five_runs_is_prepared_on_the_connection():
    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    def exists(n: int) -> bool:
        return WebhookEvent.objects.filter(pk=n + 1, attempts__lt=5).exists()  # parameters, not literals

    for n in range(5):
        exists(n)
    assert not any('FROM "webhooks_webhookevent"' in sql for sql in prepared())
    exists(5)  # the sixth run of the statement on this connection
    assert any('FROM "webhooks_webhookevent"' in sql and "$1" in sql for sql in prepared())
