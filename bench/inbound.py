"""Benchmark: the inbound path (signed Twilio webhook → stored → verified → processed → reply sent through the
console provider), against a baseline measured in the same run (a bare Django view through the same stack).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_bench REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/inbound.py [--requests 300]

It creates (and drops) its own database `<name>_bench_tmp`; prints requests/s, ms per request, peak Python
memory, the SQL queries one request makes, and the ratios to the baseline. Tasks run inline (eager), so
each figure is the whole work a message costs in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    import django
    from django.test.utils import get_runner  # noqa: F401 - ensures test utilities are importable

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = "https://bench.sufrah.test"
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.requests, settings.PUBLIC_BASE_URL)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        print(f"(database {test_db} dropped)")


def _measure(label: str, n: int, one) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    durations = []
    tracemalloc.start()
    for i in range(n):
        started = time.perf_counter()
        one(i)
        durations.append(time.perf_counter() - started)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with CaptureQueriesContext(connection) as queries:  # one more run, counted (not timed)
        one(n)
    total = sum(durations)
    return {
        "label": label,
        "rps": n / total,
        "median_ms": statistics.median(durations) * 1000,
        "p95_ms": sorted(durations)[int(n * 0.95) - 1] * 1000,
        "peak_kib": peak / 1024,
        "queries": len(queries),
    }


def run(n: int, public_base_url: str) -> None:

    from django.test import Client

    from conversations.models import Message
    from providers import twilio
    from restaurants.models import Restaurant, Sender

    restaurant = Restaurant.objects.create(slug="bench", name_en="Bench", name_ar="مقعد")
    sender = Sender.objects.create(
        restaurant=restaurant,
        provider="console",
        phone_number="+15550109999",
        credentials={"auth_token": uuid.uuid4().hex},
        messages_per_minute=1_000_000,
    )
    client = Client()

    def post(params: dict):
        webhook = twilio.webhook_forge(
            auth_token=sender.credentials["auth_token"], public_base_url=public_base_url, params=params
        )
        response = client.post(webhook.path, **webhook.test_client_kwargs())
        assert response.status_code == 200, response.content

    def params(i: int, sid: str | None = None) -> dict:
        return {
            "MessageSid": sid or f"SM{uuid.uuid4().hex}",
            "From": f"whatsapp:+9665{i % 1000:08d}",
            "To": f"whatsapp:{sender.phone_number}",
            "Body": "مرحبا hello",
            "NumMedia": "0",
            "ProfileName": "Bench",
        }

    for i in range(20):  # warm-up: imports, connections, caches
        client.get("/healthz")
        post(params(i))

    baseline = _measure("baseline: GET /healthz", n, lambda i: client.get("/healthz"))
    inbound = _measure("new message, full pipeline", n, lambda i: post(params(i)))
    repeated_sid = f"SM{uuid.uuid4().hex}"
    duplicate = _measure("redelivered duplicate", n, lambda i: post(params(0, sid=repeated_sid)))
    assert Message.objects.filter(provider_message_id=repeated_sid).count() == 1

    print(
        f"{'case':34} {'req/s':>9} {'median ms':>10} {'p95 ms':>8} {'peak KiB':>9} {'queries':>8} "
        f"{'x baseline time':>16}"
    )
    for row in (baseline, inbound, duplicate):
        ratio = baseline["rps"] / row["rps"]
        print(
            f"{row['label']:34} {row['rps']:9.1f} {row['median_ms']:10.2f} {row['p95_ms']:8.2f} "
            f"{row['peak_kib']:9.0f} {row['queries']:8d} {ratio:16.1f}"
        )


if __name__ == "__main__":
    main()
