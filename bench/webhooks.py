"""Benchmark: what outgoing webhooks cost the code that publishes events, and how fast deliveries go out.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_bench REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/webhooks.py [--events 1000] [--deliveries 200]

It creates (and drops) its own database `<name>_bench_tmp` and a local receiver on loopback. Prints, as
ratios to a baseline measured in the same run (publish() with no sinks): an event of a restaurant without
subscriptions (the Redis registry lookup only), and one with a subscription (delivery row + sequence, in the
event's transaction); then signed deliveries a second to the local receiver, one worker, sequential.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")

EVENT = {
    "type": "menu.updated",
    "menu": {
        "object": "category",
        "action": "created",
        "id": 1,
        "category_id": 1,
        "name_ar": "س",
        "name_en": "S",
        "price": None,
        "available": True,
    },
}


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.events, args.deliveries)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        print(f"(database {test_db} dropped)")


def _per_call(n: int, fn) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def run(n: int, deliveries: int) -> None:
    from django.conf import settings
    from django.db import transaction

    from integrations.models import WebhookDelivery
    from integrations.registry import registry_rebuild
    from integrations.services import deliveries as deliveries_module
    from integrations.services.sending import delivery_attempt
    from integrations.services.subscriptions import subscription_create
    from restaurants.models import Restaurant
    from sufrahbot.events import publish

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    quiet = Restaurant.objects.create(slug="bench-quiet", name_ar="م", name_en="Quiet")
    busy = Restaurant.objects.create(slug="bench-busy", name_ar="م", name_en="Busy")
    subscription_create(restaurant=busy, url=f"http://127.0.0.1:{server.server_address[1]}/", events=["menu.updated"])
    registry_rebuild()
    # The tasks are queued after commit; here they are not run inline, so the first figures are the
    # publishing side's own cost and the deliveries are timed apart.
    deliveries_module._enqueue = lambda ids: None

    def publish_in_transaction(restaurant_id: int):
        def once():
            with transaction.atomic():
                publish(restaurant_id, EVENT)

        return once

    sinks = list(settings.SUFRAH_EVENT_SINKS)
    settings.SUFRAH_EVENT_SINKS = []
    baseline = _per_call(n, publish_in_transaction(quiet.pk))
    settings.SUFRAH_EVENT_SINKS = [s for s in sinks if "check_event" not in s]
    without = _per_call(n, publish_in_transaction(quiet.pk))
    with_one = _per_call(n, publish_in_transaction(busy.pk))
    print(f"baseline: publish() with no sinks       {baseline * 1e6:8.0f} µs/event")
    print(f"no subscription (registry lookup)       {without * 1e6:8.0f} µs/event  {without / baseline:5.2f}× baseline")
    print(
        f"one subscription (delivery row written) {with_one * 1e6:8.0f} µs/event  {with_one / baseline:5.2f}× baseline"
    )
    ids = list(WebhookDelivery.objects.order_by("id").values_list("id", flat=True)[:deliveries])
    started = time.perf_counter()
    results = [delivery_attempt(delivery_id=delivery_id) for delivery_id in ids]
    took = time.perf_counter() - started
    delivered = results.count("delivered")
    print(f"signed deliveries to a local receiver    {len(ids) / took:8.1f} /s (one worker), {delivered} delivered")
    server.shutdown()


if __name__ == "__main__":
    main()
