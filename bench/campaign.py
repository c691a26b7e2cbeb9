"""Benchmark: a campaign to N opted-in customers (default 10,000) created and drained against the local Twilio
fake, reported next to the sender's rate cap measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_bench REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/campaign.py [--recipients 10000] [--cap-per-minute 60000] [--workers]

It creates (and drops) its own database `<name>_bench_tmp`. Prints: recipient rows created per second and the
peak Python memory of creating them (streamed in batches, so it stays flat as N grows: compare two N), then
the drain rate (recipients queued and handed to the fake per second) against the cap, and whether anyone
got two messages. The sends run inline in this process by default; with --workers this process only runs the
campaign's send task (queueing, as the `scheduled` pool does) and the production outbound pool
(sufrahbot.processes.worker_command("outbound"), its own process) sends, as in a deployment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--cap-per-minute", type=int, default=60_000)
    parser.add_argument("--workers", action="store_true", help="send through the production outbound pool")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.PUBLIC_BASE_URL = ""
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.recipients, args.cap_per_minute, workers=args.workers, database=test_db)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        print(f"(database {test_db} dropped)")


def _outbound_pool(fake, database: str):
    """The production outbound pool in its own process, against this run's database and the fake."""
    import subprocess
    import tempfile

    from django.conf import settings

    from sufrahbot.heartbeat import workers_alive
    from sufrahbot.processes import worker_command

    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sufrahbot.settings",
        "DATABASE_URL": f"{db_url}/{database}",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production"),
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "TWILIO_API_BASE_URL": fake.base_url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tempfile.NamedTemporaryFile(prefix="sufrah-campaign-worker-", suffix=".log", delete=False)
    process = subprocess.Popen(
        worker_command("outbound"), cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not any("outbound" in w["queues"] for w in workers_alive()):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the outbound pool did not start; its log: {log.name}")
        time.sleep(0.5)
    print(
        f"outbound pool: {settings.OUTBOUND_POOL} -c {settings.OUTBOUND_CONCURRENCY} (one process, pid "
        f"{process.pid}); log {log.name}"
    )
    return process


def run(n: int, cap_per_minute: int, *, workers: bool = False, database: str = "") -> None:
    import logging
    import signal
    import subprocess

    import redis
    from django.conf import settings
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignRecipient, ConsentSource, MarketingConsent
    from campaigns.selectors import campaign_progress
    from campaigns.sending import campaign_recipients_create, campaign_send_run
    from campaigns.services import campaign_create
    from conversations.models import Conversation
    from restaurants.models import Restaurant, Sender
    from templates.models import MessageTemplate
    from templates.services import template_create, template_submit
    from tests.fakes.twilio_api import FakeTwilio

    # One INFO line per inline task would bury the figures (and time the log formatter).
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("sufrah:ratelimit:*"):
        client.delete(key)
    fake = FakeTwilio(keep_alive=True).start()  # as Twilio's API: pooled connections stay open
    settings.TWILIO_API_BASE_URL = settings.TWILIO_CONTENT_BASE_URL = fake.base_url
    pool = None
    try:
        restaurant = Restaurant.objects.create(name_ar="مطعم", name_en="Bench", slug="bench")
        sender = Sender.objects.create(
            restaurant=restaurant,
            provider="twilio",
            phone_number="+15550100000",
            credentials={"account_sid": "AC" + "0" * 32, "auth_token": "bench-token"},
            messages_per_minute=cap_per_minute,
            daily_unique_customers=n + 1,
        )
        template = template_create(
            restaurant=restaurant,
            data={"name": "bench_offer", "language": "en", "category": "MARKETING", "body": "Hi {{name}}, 20% off."},
        )
        template = template_submit(template=template)
        fake.review(template.twilio_content_sid, "approved")
        MessageTemplate.objects.filter(pk=template.pk).update(status="approved")
        template.refresh_from_db()

        now = timezone.now()
        for start in range(0, n, 2000):
            conversations = Conversation.objects.bulk_create(
                Conversation(
                    restaurant=restaurant,
                    sender=sender,
                    customer_phone=f"+9665{i:08d}",
                    customer_id=f"+9665{i:08d}",
                    customer_name=f"Customer {i}",
                    last_message_at=now,
                )
                for i in range(start, min(n, start + 2000))
            )
            MarketingConsent.objects.bulk_create(
                MarketingConsent(
                    restaurant=restaurant, conversation=c, opted_in=True, source=ConsentSource.API, changed_at=now
                )
                for c in conversations
            )
        campaign = campaign_create(
            restaurant=restaurant,
            data={
                "name": "bench",
                "template": template,
                "sender": sender,
                "variables": {"name": {"field": "customer_name", "fallback": "friend"}},
            },
        )
        Campaign.objects.filter(pk=campaign.pk).update(state="scheduled")

        tracemalloc.start()
        started = time.perf_counter()
        created = campaign_recipients_create(campaign_id=campaign.pk)
        create_s = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"recipients created: {created} in {create_s:.2f} s ({created / create_s:,.0f}/s), "
            f"peak Python memory {peak / 1024:,.0f} KiB ({peak / created:,.1f} bytes per recipient)"
        )

        if workers:
            from integrations.registry import registry_rebuild
            from sufrahbot.celery import app

            registry_rebuild()  # as the sweep keeps it: publishing a message.sent asks no SQL
            pool = _outbound_pool(fake, database)
            app.conf.task_always_eager = False  # queue to the pool, as the campaign task does in production
        Campaign.objects.filter(pk=campaign.pk).update(state="sending")
        load = os.getloadavg()[0]
        started = time.perf_counter()
        while campaign_send_run(campaign_id=campaign.pk, budget_seconds=30).result == "sent":
            pass
        queued_s = time.perf_counter() - started
        if workers:
            last, moved = len(fake.sent), time.perf_counter()
            while len(fake.sent) < created and time.perf_counter() - moved < 30:
                time.sleep(0.2)
                if len(fake.sent) != last:
                    last, moved = len(fake.sent), time.perf_counter()
            print(f"queued in {queued_s:.1f} s ({created / queued_s:,.1f}/s), load average {load:.2f} before")
        drain_s = time.perf_counter() - started
        cap_per_s = cap_per_minute / 60
        rate = len(fake.sent) / drain_s
        print(
            f"drained ({'outbound pool' if workers else 'inline'}): {len(fake.sent)} of {created} recipients "
            f"handed to the fake in {drain_s:.1f} s = {rate:,.1f} recipients/s; sender cap {cap_per_s:,.1f}/s; "
            f"ratio to cap {rate / cap_per_s:.2f}; load average {os.getloadavg()[0]:.2f} after"
        )
        tos = Counter(s["to"] for s in fake.sent if s.get("content_sid"))
        print(
            f"messages handed to the fake: {sum(tos.values())}; customers messaged twice: "
            f"{sum(1 for v in tos.values() if v > 1)}"
        )
        print(f"progress: {campaign_progress(campaign=campaign)}")
        assert CampaignRecipient.objects.filter(campaign=campaign, status="pending").count() == 0
    finally:
        if pool is not None:
            from bench.ingest import _purge_queues

            _purge_queues()  # anything unsent: not for the next run's pool
            os.killpg(pool.pid, signal.SIGTERM)
            try:
                pool.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(pool.pid, signal.SIGKILL)
        fake.stop()


if __name__ == "__main__":
    main()
