"""Benchmark: end to end under the production config, and outbound sending against per-sender caps.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_perf REDIS_URL=redis://127.0.0.1:6379/4 \\
        /work/venv/bin/python bench/e2e.py [--rate 100] [--seconds 60] [--outbound-senders 4]

It creates (and drops) the database `<name>_e2e_tmp`, runs the fake Twilio API (tests/fakes) in this process
and starts the production processes (sufrahbot.processes: the web server, the inbound and the outbound
worker pools) against it, then:
  e2e       signed Twilio webhooks at --rate for --seconds (open loop: sent on a clock, not when the last one
            is answered), each from a new customer saying "hi"; latency is webhook sent → the bot's reply
            handed to the fake provider. After the run it counts rows and provider calls: every message must
            be stored once and answered once (none lost, none doubled).
  outbound  --outbound-senders senders, each capped at --cap messages a minute, a backlog of queued replies
            each; the rate each sender achieves, the most any one sent in a second, and whether any sent more
            than its token bucket allows (the cap's minute of burst plus its refill).
  memory    the resident set of each web and worker process after the run.
Figures on a shared machine say little alone: the load average is printed with each.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")

PORT = 17490  # --port: the coordinator's inbound runs use this one
PUBLIC_BASE_URL = "https://bench.sufrah.test"
AUTH_TOKEN = "c" * 32
ACCOUNT_SID = "AC" + "0" * 32
SENDER_NUMBER = "+15550109999"


def sign(params: dict) -> str:
    from providers import twilio

    return twilio.sign(auth_token=AUTH_TOKEN, url=PUBLIC_BASE_URL + "/webhooks/twilio/", params=params)


def inbound_params(sid: str, phone: str) -> dict:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "To": f"whatsapp:{SENDER_NUMBER}",
        "Body": "hi",
        "NumMedia": "0",
        "ProfileName": "Bench",
        "WaId": phone.lstrip("+"),
        "MessageType": "text",
    }


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes and their ended children have used so far (/proc/<pid>/stat utime,
    stime, cutime, cstime). The children count because PostgreSQL's backends and autovacuum workers come and
    go: one that ends between two readings took its CPU out of the live processes' sum (round 10 and 11 read
    PostgreSQL at 1.1-4.5 ms a message between runs of one tree), and the postmaster that waited for it holds
    that CPU in its cutime/cstime."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def processes_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def cpu_snapshot(processes: dict) -> dict[str, float]:
    """CPU seconds by part: each of our process trees, this process (the driver and the fake provider), and
    PostgreSQL and Redis as a whole (shared servers: other users of the machine count too)."""
    parts = {name: process_tree(process.pid) for name, process in processes.items()}
    parts["bench (driver + fake)"] = [os.getpid()]
    parts["postgres (all)"] = processes_named("postgres")
    parts["redis-server (all)"] = processes_named("redis-server")
    return {name: cpu_seconds(pids) for name, pids in parts.items()}


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn's and Celery's children do the work)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Driver:
    """Open-loop webhook sender: request i goes out at start + i / rate, over keep-alive connections."""

    def __init__(self, rate: float, seconds: float, *, port: int = PORT, threads: int = 8) -> None:
        self.rate, self.seconds, self.threads, self.port = rate, seconds, threads, port
        self.sent_at: dict[str, float] = {}
        self.statuses: list[int] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        total = int(self.rate * self.seconds)
        phones = [f"+9665{n:08d}" for n in range(total)]
        bodies = []
        for phone in phones:
            params = inbound_params("SM" + uuid.uuid4().hex, phone)
            bodies.append((phone, urlencode(params), sign(params)))
        start = time.monotonic() + 0.5

        def worker(offset: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            for i in range(offset, total, self.threads):
                phone, body, signature = bodies[i]
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent = time.monotonic()
                try:
                    connection.request(
                        "POST",
                        "/webhooks/twilio/",
                        body=body,
                        headers={
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": signature,
                        },
                    )
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except OSError:
                    status = 0
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                with self.lock:
                    self.sent_at[phone] = sent
                    self.statuses.append(status)
            connection.close()

        pool = [threading.Thread(target=worker, args=(k,)) for k in range(self.threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()


def _drain(count, expected: int, *, stall: float = 30.0, limit: float = 600.0) -> None:
    """Wait until `expected` are done, or nothing has moved for `stall` seconds (or `limit` in all)."""
    began = last_move = time.monotonic()
    seen = count()
    while seen < expected and time.monotonic() - last_move < stall and time.monotonic() - began < limit:
        time.sleep(0.5)
        now = count()
        if now != seen:
            seen, last_move = now, time.monotonic()


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks a second (e2e)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the e2e run")
    parser.add_argument("--outbound-senders", type=int, default=4)
    parser.add_argument("--outbound-messages", type=int, default=1500, help="queued per sender")
    parser.add_argument("--cap", type=int, default=6000, help="each outbound sender's messages_per_minute")
    parser.add_argument("--port", type=int, default=PORT, help="the web server's port")
    parser.add_argument(
        "--dashboards", type=int, default=0, help="staff websockets open on the restaurant's events during the e2e run"
    )
    parser.add_argument(
        "--provider-latency-ms",
        type=float,
        default=0.0,
        help="the fake Twilio answers each send this late (Twilio's own: ~100-300 ms); 0: at once",
    )
    parser.add_argument(
        "--outbound-only", action="store_true", help="only the outbound phase: no web server, no inbound pool"
    )
    args = parser.parse_args()

    # A SIGTERM (a `timeout` around the run) unwinds through the finally below: the servers are stopped and
    # the database dropped, not left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_e2e_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    work = Path(tempfile.mkdtemp(prefix="sufrah-e2e-"))

    from integrations.registry import registry_rebuild
    from sufrahbot.celery import app
    from sufrahbot.processes import production_processes
    from tests.fakes.twilio_api import FakeTwilio

    fake = FakeTwilio(keep_alive=True).start()  # as Twilio's API: the workers' pooled connections stay open
    fake.state.latency = args.provider_latency_ms / 1000
    app.conf.task_always_eager = False  # this process queues (outbound phase) like a web process
    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sufrahbot.settings",
        "DATABASE_URL": f"{db_url}/{test_db}",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production"),
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "TWILIO_API_BASE_URL": fake.base_url,
        "BOT_CUSTOMER_MESSAGES_PER_MINUTE": "600",
        "LOG_LEVEL": "WARNING",
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],  # the dashboards' tokens are minted here
        "WEBSOCKET_ALLOWED_ORIGINS": DASHBOARD_ORIGIN,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    processes: dict[str, subprocess.Popen] = {}
    try:
        from restaurants.models import Restaurant, Sender

        restaurant = Restaurant.objects.create(slug="bench-e2e", name_en="Bench", name_ar="مقعد")
        Sender.objects.create(
            restaurant=restaurant,
            provider="twilio",
            phone_number=SENDER_NUMBER,
            credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            messages_per_minute=60000,  # the e2e run measures the pipeline, not a sender's cap
        )
        # Built as beat's deliver-due-webhooks sweep keeps it (every 10 s; beat does not run here): without the
        # set every event published asks PostgreSQL for the restaurant's subscriptions.
        registry_rebuild()
        # The layout `./dev run` starts, but beat (its sweeps would run mid-measurement); the webhooks pool
        # too, as /health/ wants every queue served.
        commands = {
            spec.name: spec.argv
            for spec in production_processes(host="127.0.0.1", port=args.port)
            if spec.name != "beat"
        }
        if args.outbound_only:
            commands = {name: argv for name, argv in commands.items() if name.startswith("worker-outbound")}
        for name, argv in commands.items():
            log = (work / f"{name}.log").open("ab")
            processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        ready = (lambda: _outbound_alive()) if args.outbound_only else (lambda: _healthy(args.port))
        if not wait_for(ready, 90):
            raise RuntimeError(f"the processes did not become healthy; logs in {work}")
        time.sleep(2)

        print(
            f"\nprocesses: sufrahbot.processes (web {settings.WEB_PROCESSES}x{settings.WEB_THREADS} threads, "
            f"inbound -c {settings.INBOUND_CONCURRENCY}, outbound {settings.OUTBOUND_PROCESSES}x "
            f"{settings.OUTBOUND_POOL} -c {settings.OUTBOUND_CONCURRENCY}); "
            f"{os.cpu_count()} CPUs; the fake provider answers in {args.provider_latency_ms:g} ms"
        )
        if not args.outbound_only:
            e2e(args, fake, processes, restaurant)
        if args.outbound_senders:
            outbound(args, fake, restaurant)
        print("memory (RSS MB, after the runs):")
        for name, process in processes.items():
            sizes = [round(rss_mb(pid), 1) for pid in process_tree(process.pid)]
            print(f"  {name:16} each process: {sizes}  largest {max(sizes):.1f}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        fake.stop()
        from bench.ingest import _purge_queues

        _purge_queues()
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        print(f"(database {test_db} dropped; logs in {work})")


def _outbound_alive() -> bool:
    from sufrahbot.heartbeat import workers_alive

    return any("outbound" in worker["queues"] for worker in workers_alive())


DASHBOARD_ORIGIN = "https://dash.bench.test"


class Dashboards:
    """`count` staff dashboards: websockets on /ws/events/ of the web server (spread over its processes by the
    kernel), each counting the events it is sent, in a thread of their own."""

    def __init__(self, count: int, restaurant, *, port: int) -> None:
        import asyncio

        from django.contrib.auth import get_user_model
        from rest_framework_simplejwt.tokens import AccessToken

        from restaurants.models import StaffMembership

        user = get_user_model().objects.create_user(username=f"bench-{uuid.uuid4().hex[:8]}", password=None)
        StaffMembership.objects.create(user=user, restaurant=restaurant)
        self.token, self.port = str(AccessToken.for_user(user)), port
        self.events = [0] * count
        self.last_frame = time.monotonic()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Barrier(count + 1)
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._all(count),), daemon=True)
        self.thread.start()
        self.ready.wait(30)

    async def _all(self, count: int) -> None:
        import asyncio

        self.stopping = asyncio.Event()
        await asyncio.gather(*(self._one(k) for k in range(count)))

    async def _one(self, k: int) -> None:
        import asyncio
        import json

        import websockets

        async with websockets.connect(
            f"ws://127.0.0.1:{self.port}/ws/events/",
            subprotocols=["sufrah.jwt", self.token],
            origin=DASHBOARD_ORIGIN,
        ) as socket:
            frame = json.loads(await socket.recv())
            assert frame["type"] == "subscribed", frame
            await asyncio.get_running_loop().run_in_executor(None, self.ready.wait, 30)
            while not self.stopping.is_set():
                try:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 0.2))
                except TimeoutError:
                    continue
                self.last_frame = time.monotonic()
                self.events[k] += 1  # one frame an event (sufrahbot.consumers)

    def quiet(self, seconds: float) -> None:
        """Wait until no socket got a frame for `seconds`."""
        while time.monotonic() - self.last_frame < seconds:
            time.sleep(0.2)

    def stop(self) -> list[int]:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(30)
        return self.events


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health/")
        return conn.getresponse().status == 200
    except OSError:
        return False


def e2e(args, fake, processes: dict, restaurant) -> None:
    from bench import host
    from conversations.models import Message

    dashboards = Dashboards(args.dashboards, restaurant, port=args.port) if args.dashboards else None
    load = os.getloadavg()[0]
    steal = host.Steal()
    cpu_before = cpu_snapshot(processes)
    with host.Sampler() as sampler:  # the host's speed through the phase, beside its CPU seconds
        driver = Driver(args.rate, args.seconds, port=args.port)
        began = time.monotonic()
        driver.run()
        sending_took = time.monotonic() - began
        expected = len(driver.sent_at)
        drain_began = time.monotonic()
        _drain(lambda: len(fake.sent), expected)
        drained_in = time.monotonic() - drain_began
        if dashboards:
            dashboards.quiet(2.0)  # the last events reach the sockets
        cpu_after = cpu_snapshot(processes)
    stolen = steal.share()
    time.sleep(2)  # anything doubled would show now
    replies: dict[str, list[float]] = {}
    for record in fake.sent:
        replies.setdefault(record["to"].removeprefix("whatsapp:"), []).append(record["received_monotonic"])
    latencies = [(min(replies[phone]) - sent) * 1000 for phone, sent in driver.sent_at.items() if phone in replies]
    lost = [phone for phone in driver.sent_at if phone not in replies]
    doubled = [phone for phone, times in replies.items() if len(times) > 1]
    inbound_rows = Message.objects.filter(direction="in").count()
    outbound_rows = Message.objects.filter(direction="out").count()
    non2xx = sum(1 for status in driver.statuses if not 200 <= status < 300)
    achieved = expected / sending_took
    print(
        f"e2e: {expected} webhooks at {args.rate:.0f}/s for {args.seconds:.0f} s (sent at {achieved:.1f}/s), "
        f"load average {load:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"  reply latency p50 {statistics.median(latencies) if latencies else float('nan'):.0f} ms, "
        f"p99 {percentile(latencies, 99):.0f} ms, max {max(latencies, default=float('nan')):.0f} ms"
    )
    print(
        f"  non-2xx {non2xx}; stored {inbound_rows} inbound, {outbound_rows} replies; provider calls "
        f"{len(fake.sent)}; unanswered {len(lost)}, doubled {len(doubled)}; the backlog drained "
        f"{drained_in:.1f} s after the last webhook"
    )
    used = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    print(
        f"  CPU per message (ms; {os.cpu_count()} CPUs give {os.cpu_count() * 1000 / max(args.rate, 1):.1f} ms "
        f"at {args.rate:.0f}/s): "
        + ", ".join(f"{name} {1000 * seconds / max(expected, 1):.1f}" for name, seconds in used.items())
        + f"; total {1000 * sum(used.values()) / max(expected, 1):.1f}"
    )
    print(f"  host: {sampler.describe()}; steal {100 * stolen:.1f} % of the CPUs' time")
    if dashboards:
        frames = dashboards.stop()
        print(
            f"  dashboards: {len(frames)} sockets on the restaurant's events; events each: "
            f"{sorted(set(frames))} ({expected} messages stored and replied)"
        )
    fake.state.sent.clear()


def outbound(args, fake, restaurant) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from conversations.models import STATUS_RANK, Conversation, Message, MessageStatus
    from conversations.services.delivery import message_deliver
    from conversations.tasks import send_message
    from providers.content import OutboundContent
    from restaurants.models import Sender
    from sufrahbot.heartbeat import redis_client

    settings.TWILIO_API_BASE_URL = fake.base_url  # for the probe send below, made in this process
    client = redis_client(settings.REDIS_URL)
    for key in client.scan_iter("sufrah:ratelimit:sender:*"):  # a run before this one, same sender ids
        client.delete(key)
    senders = [
        Sender.objects.create(
            restaurant=restaurant,
            provider="twilio",
            phone_number=f"+1555011{k:04d}",
            credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            messages_per_minute=args.cap,
        )
        for k in range(args.outbound_senders)
    ]
    conversations = {
        sender.pk: [
            Conversation.objects.create(
                restaurant=restaurant,
                sender=sender,
                customer_id=f"+9667{sender.pk:03d}{n:05d}",
                customer_phone=f"+9667{sender.pk:03d}{n:05d}",
                last_inbound_at=timezone.now(),
            )
            for n in range(50)
        ]
        for sender in senders
    }

    def row(conversation, n: int) -> Message:
        content = OutboundContent.text(f"bench {n}")
        return Message(
            restaurant_id=restaurant.pk,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            provider="twilio",
            kind=content.kind,
            body=content.body,
            content=content.to_dict(),
            status=MessageStatus.QUEUED,
            status_rank=STATUS_RANK[MessageStatus.QUEUED],
        )

    # The queries of one send, here in this process (the workers send the same way).
    probe = Message.objects.bulk_create([row(conversations[senders[0].pk][0], -1)])[0]
    with CaptureQueriesContext(connection) as queries:
        message_deliver(message_id=probe.pk)
    fake.state.sent.clear()
    # The backlog is stored first (as replies_queue stores a bot's answer) and then handed to the workers,
    # interleaved, so every sender has a backlog from the start and the queueing does not pace the sends.
    messages = Message.objects.bulk_create(
        [row(conversations[sender.pk][n % 50], n) for n in range(args.outbound_messages) for sender in senders]
    )
    load = os.getloadavg()[0]
    began = time.monotonic()
    for message in messages:
        send_message.delay(message.pk)
    queued_in = time.monotonic() - began
    total = len(messages)
    _drain(lambda: len(fake.sent), total)
    took = time.monotonic() - began
    by_sender: dict[str, list[float]] = {}
    for record in fake.sent:
        by_sender.setdefault(record["from"].removeprefix("whatsapp:"), []).append(record["received_monotonic"])
    print(
        f"outbound: {len(senders)} senders x {args.outbound_messages} queued (tasks published in {queued_in:.1f} s), "
        f"cap {args.cap}/min each ({args.cap / 60:.0f}/s), {len(queries)} queries to send one, "
        f"load average {load:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    for sender in senders:
        times = sorted(by_sender.get(sender.phone_number, []))
        span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
        # The most sent in any 60 s and any 1 s (sliding windows): the cap is per minute.
        busiest_minute = _busiest(times, 60.0)
        # A token bucket holding a minute's worth: at most cap + refill in any stretch from the start.
        allowed = args.cap + args.cap / 60 * (times[-1] - began if times else 0)
        print(
            f"  {sender.phone_number}: {len(times)} sent, {len(times) / span:.1f}/s, busiest second "
            f"{_busiest(times, 1.0)}, busiest minute {busiest_minute} (cap {args.cap}), within its bucket: "
            f"{len(times) <= allowed}, within the cap: {busiest_minute <= args.cap}"
        )
    sends = sorted(record["received_monotonic"] for record in fake.sent)
    span = (sends[-1] - sends[0]) if len(sends) > 1 else float("nan")
    print(
        f"  across senders: {len(sends) / span:.1f}/s first to last send ({len(sends) / took:.1f}/s from the "
        f"first task published; {len(sends)} of {total} in {took:.1f} s)"
    )


def _busiest(times: list[float], window: float) -> int:
    """The most of the sorted `times` within any `window` seconds."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


if __name__ == "__main__":
    main()
