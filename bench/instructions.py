"""Benchmark: instructions, not seconds, for the message path's steps in one process, counted by valgrind's
callgrind, against a bare request through the same middleware in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/instructions.py [--messages 60]

On a shared virtual machine the CPU seconds a process is charged swing by a third between back-to-back runs
of one tree (the host's other guests); callgrind counts the instructions executed, which repeat to a fraction
of a percent, so two trees (or two settings) compare on the same day without repeating runs. What it cannot
see: PostgreSQL's and Redis's own work (other processes), waiting, and the server and Celery around each step.

It re-runs itself under `valgrind --tool=callgrind` (apt-get install valgrind) with counting off, creates (and
drops) the database `<name>_instr_tmp` with production settings, and counts, a message at a time, for new
customers saying "hi" to a restaurant with a menu:
  bare       POST of a webhook-shaped form (urlencoded, as Twilio posts one) to the bare view (bench/urls.py)
             through Django's test client
  webhook    the signed Twilio webhook request: verified, stored, its processing queued
  process    the stored webhook processed: the message stored, the bot's answer, its reply queued
  send       the reply handed to the provider (the console provider: no HTTP)
With --served it counts instead the two requests as the production server serves them (uvicorn, one process of
`sufrahbot.processes.web_command`, under callgrind, the requests sent one at a time over a keep-alive
connection): what the server, the ASGI hand-off and the thread pool add to each (uvloop and httptools included).

Prints millions of instructions a message and each step's ratio to the bare request, the write-ahead log
PostgreSQL wrote a message in each step: bytes of rows, index entries and commits, which callgrind cannot see
and which repeat as the instructions do (PostgreSQL's CPU does not), and the round trips to PostgreSQL and
Redis a message in each step (counted in a further pass of ten messages outside the counted ones), whose
cost falls mostly outside the counted process (bench/roundtrip.py measures it). After the warm-up the process
freezes what it holds out of the collector's way, as the web and worker processes do (sufrahbot.startup), so a full
collection does not land in one step or another from run to run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STEPS = ("bare", "webhook", "process", "send")
FORM = "application/x-www-form-urlencoded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--served", action="store_true", help="the two requests through the production server")
    parser.add_argument("--port", type=int, default=17475, help="the served server's port (--served)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)  # the run under valgrind
    args = parser.parse_args()
    if args.inner:
        _count(args.messages)
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    if args.served:
        _served(args.messages, port=args.port)
        return
    work = Path(tempfile.mkdtemp(prefix="sufrah-instr-"))
    out = work / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--messages",
        str(args.messages),
        "--inner",
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    print(run.stdout, end="")
    if run.returncode:
        print(run.stderr[-3000:], file=sys.stderr)
        sys.exit(run.returncode)
    dumps = {step: _instructions(out.with_name(f"{out.name}.{n}")) for n, step in enumerate(STEPS, start=1)}
    per_message = {step: count / args.messages for step, count in dumps.items()}
    print(f'instructions a message, {args.messages} new customers\' "hi" (callgrind; M = millions):')
    for step in STEPS:
        ratio = per_message[step] / per_message["bare"]
        print(f"  {step:8} {per_message[step] / 1e6:8.2f} M   {ratio:5.1f} x bare")
    total = sum(per_message[step] for step in STEPS[1:])
    print(f"  the message's three steps: {total / 1e6:.2f} M ({total / per_message['bare']:.1f} x bare)")
    shutil.rmtree(work, ignore_errors=True)


def _instructions(dump: Path) -> int:
    """A callgrind dump's own instructions: every cost line but the inclusive cost after each calls= line."""
    total, after_call = 0, False
    for line in dump.read_text().splitlines():
        if line.startswith("calls="):
            after_call = True
            continue
        if re.match(r"^[0-9+\-*]", line):
            parts = line.split()
            if len(parts) >= 2:
                if not after_call:
                    total += int(parts[1])
                after_call = False
    return total


def _count(messages: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "sufrahbot.settings"
    os.environ["ROOT_URLCONF_OVERRIDE"] = "bench.urls"
    import logging

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    logging.disable(logging.CRITICAL)  # the counts are the work, not the log lines' formatting
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = "https://bench.sufrah.test"
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_instr_tmp"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _steps(messages, settings.PUBLIC_BASE_URL)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _steps(messages: int, public_base_url: str) -> None:
    from django.test import Client

    from bench.ingest import _purge_queues  # as bench/e2e.py and bench/campaign.py do
    from conversations.models import Message
    from conversations.services.delivery import message_deliver
    from integrations.registry import registry_rebuild
    from providers import twilio
    from sufrahbot.startup import freeze_startup_objects
    from tests.factories import ConsoleSenderFactory, MenuCategoryFactory, MenuItemFactory
    from webhooks.models import WebhookEvent
    from webhooks.processing import webhook_event_process
    from webhooks.tasks import webhook_batches

    sender = ConsoleSenderFactory(messages_per_minute=1_000_000)
    for _ in range(2):
        MenuItemFactory.create_batch(3, category=MenuCategoryFactory(restaurant=sender.restaurant))
    registry_rebuild()  # as beat keeps it: no subscriptions, so events need no database lookup
    client = Client()
    numbers = iter(range(10**6))

    def params() -> dict:
        return {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:+9665{next(numbers):08d}",
            "To": f"whatsapp:{sender.phone_number}",
            "Body": "hi",
            "NumMedia": "0",
            "ProfileName": "Bench",
        }

    def webhook() -> None:
        forged = twilio.webhook_forge(
            auth_token=sender.credentials["auth_token"], public_base_url=public_base_url, params=params()
        )
        assert client.post(forged.path, **forged.test_client_kwargs()).status_code == 200

    def bare() -> None:
        # The form encoding Twilio posts (and the webhook step sends), not the test client's default multipart.
        body = urlencode(params())
        assert client.post("/bench/bare/", body, content_type=FORM).status_code == 200

    def unprocessed() -> list[int]:
        return list(WebhookEvent.objects.filter(processed_at__isnull=True).order_by("id").values_list("id", flat=True))

    def queued() -> list[int]:
        return list(
            Message.objects.filter(direction="out", status="queued").order_by("id").values_list("id", flat=True)
        )

    def process(ids: list[int]) -> None:
        for event_id in ids:
            assert webhook_event_process(event_id=event_id) == "processed"

    def send(ids: list[int]) -> None:
        for message_id in ids:
            assert message_deliver(message_id=message_id).result == "sent"

    for _ in range(10):  # warm-up: imports, connections, the statements built once per process
        bare()
        webhook()
    process(unprocessed())
    send(queued())
    # As the web and worker processes do once started: otherwise a full collection of the 130,000-170,000
    # objects startup made (120-155 ms, a dozen messages' processing) may land in one step of one run only.
    freeze_startup_objects()

    wal: dict[str, int] = {}

    def counted(step: str, work) -> None:
        before = _wal_inserted()
        _callgrind("-i", "on")
        work()
        _callgrind("-i", "off")
        _callgrind("-d", step)
        wal[step] = _wal_inserted() - before

    counted("bare", lambda: [bare() for _ in range(messages)])
    counted("webhook", lambda: [webhook() for _ in range(messages)])
    events = unprocessed()
    counted("process", lambda: process(events))
    replies = queued()
    counted("send", lambda: send(replies))
    assert len(events) == len(replies) == messages, (len(events), len(replies))
    # Round trips in a pass of their own, after the counted ones: the counting hooks cost instructions too.
    trips = {step: RoundTrips() for step in STEPS}
    sample = min(messages, ROUND_TRIP_MESSAGES)
    with trips["bare"]:
        [bare() for _ in range(sample)]
    with trips["webhook"]:
        [webhook() for _ in range(sample)]
        webhook_batches.flush()  # the last window's publish, which the timer thread would send after the block
    sampled = unprocessed()
    with trips["process"]:
        process(sampled)
    sampled = queued()
    with trips["send"]:
        send(sampled)
    _purge_queues()
    print(f"{messages} webhooks stored and processed, {len(replies)} replies sent")
    print("PostgreSQL's write-ahead log a message:")
    for step in STEPS:
        print(f"  {step:8} {wal[step] / messages:8.0f} B")
    print(f"  the message's three steps: {sum(wal[step] for step in STEPS[1:]) / messages:.0f} B")
    print(f"round trips a message ({sample} more messages, uncounted): SQL statements + transaction commands, Redis")
    for step in STEPS:
        print(f"  {step:8} {trips[step].describe(sample)}")
    total = RoundTrips.total(trips[step] for step in STEPS[1:])
    print(f"  the message's three steps: {total.describe(sample)}")


# Messages in the round-trip pass: the SQL counts repeat from one message to the next; the webhooks'
# batched publishes (one per window) vary a little.
ROUND_TRIP_MESSAGES = 10


class RoundTrips:
    """Counts this process's round trips to PostgreSQL and Redis while in its block: each SQL statement
    (Django's execute wrapper), each transaction command psycopg sends on its own (BEGIN, COMMIT, ROLLBACK),
    and each write of commands to Redis (a pipeline is one), from sync code and from an event loop (publishes
    return once handed to Redis, so the block's own are in).
    (Django's savepoints are statements.) Each one costs both sides a wake-up: on this VM about 0.16 ms of the
    client's CPU and 0.07 ms of PostgreSQL's for a `SELECT 1` through Django (bench/roundtrip.py), most of
    which instruction counts cannot see."""

    _active: list[RoundTrips] = []

    def __init__(self) -> None:
        self.statements = self.commands = self.redis = 0

    @classmethod
    def total(cls, parts) -> RoundTrips:
        combined = cls()
        for part in parts:
            combined.statements += part.statements
            combined.commands += part.commands
            combined.redis += part.redis
        return combined

    def describe(self, messages: int) -> str:
        sql, redis = (self.statements + self.commands) / messages, self.redis / messages
        statements, commands = self.statements / messages, self.commands / messages
        return f"{sql + redis:5.1f} trips: SQL {sql:4.1f} ({statements:.1f} + {commands:.1f}), Redis {redis:4.1f}"

    def __enter__(self) -> RoundTrips:
        from django.db import connection

        _install_round_trip_hooks()
        self._wrapper = connection.execute_wrapper(self._statement)
        self._wrapper.__enter__()
        RoundTrips._active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        RoundTrips._active.remove(self)
        self._wrapper.__exit__(*exc)

    def _statement(self, execute, sql, params, many, context):
        self.statements += 1
        return execute(sql, params, many, context)


def _install_round_trip_hooks() -> None:
    import psycopg
    import redis.asyncio.connection
    import redis.connection

    if getattr(psycopg.Connection, "_sufrah_counted", False):
        return
    exec_command = psycopg.Connection._exec_command

    def counted_command(self, command, *args, **kwargs):
        for trips in RoundTrips._active:
            trips.commands += 1
        return exec_command(self, command, *args, **kwargs)

    psycopg.Connection._exec_command = counted_command
    psycopg.Connection._sufrah_counted = True
    sync_send = redis.connection.AbstractConnection.send_packed_command
    async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    def counted_send(self, command, *args, **kwargs):
        for trips in RoundTrips._active:
            trips.redis += 1
        return sync_send(self, command, *args, **kwargs)

    async def counted_async_send(self, command, *args, **kwargs):
        for trips in RoundTrips._active:
            trips.redis += 1
        return await async_send(self, command, *args, **kwargs)

    redis.connection.AbstractConnection.send_packed_command = counted_send
    redis.asyncio.connection.AbstractConnection.send_packed_command = counted_async_send


def _wal_inserted() -> int:
    """Bytes of write-ahead log the server has inserted so far: the whole server's, so nothing else may write."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def _callgrind(*args: str, pid: int | None = None) -> None:
    subprocess.run(["callgrind_control", *args, str(pid or os.getpid())], capture_output=True, check=True)


def _served(messages: int, *, port: int) -> None:
    """The bare and the webhook request through one production web process under callgrind."""
    import http.client
    import time

    os.environ["DJANGO_SETTINGS_MODULE"] = "sufrahbot.settings"
    os.environ["ROOT_URLCONF_OVERRIDE"] = "bench.urls"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from bench.ingest import _purge_queues, bench_sender, forge, params_for, server_env, start_server
    from sufrahbot.processes import web_command

    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_served_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    work = Path(tempfile.mkdtemp(prefix="sufrah-served-"))
    out = work / "callgrind.out"
    server = None
    try:
        bench_sender()
        with override_settings(WEB_PROCESSES=1):  # uvicorn serves in its own process: the one counted
            argv = web_command(host="127.0.0.1", port=port)
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *argv]
        log = (work / "server.log").open("w")
        server = start_server(server_env(test_db), log, command, port=port, timeout=300)  # valgrind starts slowly
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        numbers = iter(range(10**6))

        def post(path: str, body: str, headers: dict) -> None:
            client.request("POST", path, body=body, headers={"Content-Type": FORM, **headers})
            response = client.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)

        def bare() -> None:
            post("/bench/bare/", urlencode(params_for(f"SM{uuid.uuid4().hex}", next(numbers))), {})

        def webhook() -> None:
            forged = forge(params_for(f"SM{uuid.uuid4().hex}", next(numbers)))
            post(forged.path, forged.body, {"X-Twilio-Signature": forged.signature})

        for _ in range(20):  # warm-up, as in process; the server froze its startup objects on import
            bare()
            webhook()
        counts = {}
        for n, (step, work_one) in enumerate((("bare", bare), ("webhook", webhook)), start=1):
            _callgrind("-i", "on", pid=server.pid)
            for _ in range(messages):
                work_one()
            time.sleep(settings.WEBHOOK_BATCH_WINDOW_MS / 1000 * 4)  # the last batch is published
            _callgrind("-i", "off", pid=server.pid)
            _callgrind("-d", step, pid=server.pid)
            counts[step] = _instructions(out.with_name(f"{out.name}.{n}")) / messages
        print(f"instructions a request through the production server, {messages} of each (callgrind):")
        for step, count in counts.items():
            print(f"  {step:8} {count / 1e6:8.2f} M   {count / counts['bare']:5.1f} x bare")
        _purge_queues()
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=60)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
