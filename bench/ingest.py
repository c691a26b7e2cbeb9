"""Benchmark: webhook ingest (store, route, verify, enqueue) under the production server config, against a
bare Django view served by the same server, command and middleware, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_perf REDIS_URL=redis://127.0.0.1:6379/4 \\
        /work/venv/bin/python bench/ingest.py [--seconds 15] [--connections 32] [--tenants 10000]

It creates (and drops) the database `<name>_ingest_tmp`, starts `uvicorn sufrahbot.asgi:application` with
the arguments `./dev run` uses (sufrahbot.processes.web_command) on 127.0.0.1:17480, and drives it with wrk
for --seconds per phase, from a pool of --requests pre-built distinct requests per phase (a thread that runs
out is reported: its rate is then a lower bound). Earlier versions stopped each wrk thread after a fixed
share while wrk's clock ran on to -d, so the req/s they printed was requests ÷ seconds, not the server's.
Phases:
  bare       POST of a webhook-shaped form body to a bare view (bench/urls.py): the baseline
  webhooks   distinct, validly signed Twilio webhooks (each a new MessageSid)
  duplicates one signed webhook redelivered over and over (each request is still stored: the audit log)
  tenants    (with --tenants N) N restaurants with a sender each registered, then distinct webhooks again
After each phase it counts the stored rows: every answered request must be stored exactly once.
Workers are not running: this measures the web tier; the queued tasks are purged at the end.
It needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")

PORT = 17480
PUBLIC_BASE_URL = "https://bench.sufrah.test"
AUTH_TOKEN = "b" * 32  # a Twilio auth token's shape
SENDER_NUMBER = "+15550108888"

LUA = r"""
-- Requests are pre-built in Python (signatures can't be computed in wrk's Lua); each thread takes every
-- THREADSth one, so no two threads send the same request. The run is bounded by wrk's -d: req/s is
-- answered requests over the whole duration, so a thread must never run out of requests (it would idle
-- while the clock runs): one that does stops and is reported as EXHAUSTED, the rate then a lower bound.
local requests_file = "%(requests)s"
local threads = %(threads)d
local counter = 0
local thread_list = {}
function setup(thread)
  thread:set("id", counter)
  table.insert(thread_list, thread)
  counter = counter + 1
end
function init(args)
  local bodies = {}
  local i = 0
  for line in io.lines(requests_file) do
    if i %% threads == id then
      local signature, body = line:match("^(%%S+) (.*)$")
      table.insert(bodies, wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body))
    end
    i = i + 1
  end
  reqs = bodies
  sent = 0
  answered = 0
  non2xx = 0
  exhausted = 0
end
function request()
  sent = sent + 1
  if sent > #reqs then
    exhausted = 1
    wrk.thread:stop()
    sent = #reqs
  end
  return reqs[sent]
end
function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local a, n, x = 0, 0, 0
  for _, t in ipairs(thread_list) do
    a = a + t:get("answered")
    n = n + t:get("non2xx")
    x = x + t:get("exhausted")
  end
  io.write(string.format("ANSWERED %%d NON2XX %%d P50 %%.2f P99 %%.2f RPS %%.1f EXHAUSTED %%d\n", a, n,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), x))
end
"""


def forge(params: dict):
    from providers import twilio

    return twilio.webhook_forge(auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL, params=params)


def params_for(sid: str, i: int, to: str = SENDER_NUMBER) -> dict:
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Bench",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": f"9665{i % 100000:08d}",
        "SmsStatus": "received",
        "Body": "مرحبا hello",
        "To": f"whatsapp:{to}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:+9665{i % 100000:08d}",
        "ApiVersion": "2010-04-01",
    }


def bench_sender() -> None:
    """The bench's restaurant and its Twilio sender, whose AUTH_TOKEN signs the forged webhooks."""
    from restaurants.models import Restaurant, Sender

    restaurant = Restaurant.objects.create(slug="bench", name_en="Bench", name_ar="مقعد")
    Sender.objects.create(
        restaurant=restaurant,
        provider="twilio",
        phone_number=SENDER_NUMBER,
        credentials={"account_sid": "AC" + "0" * 32, "auth_token": AUTH_TOKEN},
    )


def server_env(test_db: str) -> dict[str, str]:
    """A production web server's environment on the bench's database, with bench/urls.py's bare view."""
    from django.conf import settings

    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sufrahbot.settings",
        "DATABASE_URL": f"{db_url}/{test_db}",
        "ROOT_URLCONF_OVERRIDE": "bench.urls",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production"),
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def write_requests(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for params in rows:
            webhook = forge(params)
            f.write(f"{webhook.signature} {webhook.body}\n")


def wrk(url: str, requests_file: Path, *, connections: int, threads: int, seconds: int) -> dict:
    script = requests_file.with_suffix(".lua")
    script.write_text(LUA % {"requests": requests_file, "threads": threads})
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    found = re.search(r"ANSWERED (\d+) NON2XX (\d+) P50 ([\d.]+) P99 ([\d.]+) RPS ([\d.]+) EXHAUSTED (\d+)", out)
    if not found:
        raise RuntimeError("wrk said:\n" + out)
    answered, non2xx, p50, p99, rps, exhausted = found.groups()
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "answered": int(answered),
        "non2xx": int(non2xx),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "rps": float(rps),
        "exhausted": int(exhausted) > 0,
        "socket_errors": errors.group(1) if errors else "none",
    }


def server_command(server: str) -> list[str]:
    from django.conf import settings

    from sufrahbot.processes import web_command

    if server == "production":
        return web_command(host="127.0.0.1", port=PORT)
    worker_class = {"gunicorn-gthread": "gthread", "gunicorn-sync": "sync"}[server]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "sufrahbot.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--workers",
        str(settings.WEB_PROCESSES),
        "--worker-class",
        worker_class,
        "--threads",
        str(settings.WEB_THREADS),
        "--backlog",
        "2048",
    ]


def start_server(env: dict, log, command: list[str], *, port: int = PORT, timeout: float = 60) -> subprocess.Popen:
    """`command` started, once it answers bench/urls.py's bare view on `port`."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=2)  # loopback
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the server did not start; its log: {log.name}")


def stored(sids: list[str]) -> tuple[int, int]:
    """(rows stored for these requests, requests stored more than once)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) - count(DISTINCT headers->>'X-Twilio-Signature') FROM webhooks_webhookevent"
            " WHERE id > %s",
            [stored.last_id],
        )
        return cursor.fetchone()


def webhook_queries() -> int:
    """SQL queries one signed webhook request makes (Django test client, in this process)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sufrahbot.celery import app

    settings_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # as in production: the request queues the task, a worker runs it
    client = Client()
    warm = forge(params_for(f"SM{uuid.uuid4().hex}", 1))
    client.post(warm.path, **warm.test_client_kwargs())  # warm (caches)
    counted = forge(params_for(f"SM{uuid.uuid4().hex}", 2))
    with CaptureQueriesContext(connection) as queries:
        response = client.post(counted.path, **counted.test_client_kwargs())
    app.conf.task_always_eager = settings_eager
    assert response.status_code == 200, response.content
    return len(queries)


def register_tenants(n: int) -> None:
    from restaurants.models import Restaurant, Sender

    batch = 2000
    for start in range(0, n, batch):
        restaurants = Restaurant.objects.bulk_create(
            Restaurant(slug=f"tenant-{i}", name_en=f"Tenant {i}", name_ar=f"مطعم {i}")
            for i in range(start, min(n, start + batch))
        )
        Sender.objects.bulk_create(
            Sender(
                restaurant=r,
                provider="twilio",
                phone_number=f"+1555{2000000 + start + k:07d}",
                credentials={"account_sid": "AC" + "1" * 32, "auth_token": uuid.uuid4().hex},
            )
            for k, r in enumerate(restaurants)
        )


def main() -> None:
    from bench import host

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--requests", type=int, default=30000, help="distinct requests built per phase (more than it can send)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=int, default=15, help="length of each phase")
    parser.add_argument(
        "--server",
        choices=["production", "gunicorn-gthread", "gunicorn-sync"],
        default="production",
        help="production: sufrahbot.processes.web_command; the others for comparison",
    )
    parser.add_argument("--tenants", type=int, default=0, help="register this many tenants, then measure again")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/ingest.py needs wrk (apt-get install wrk)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the server, drop the database

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_ingest_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    work = Path(tempfile.mkdtemp(prefix="sufrah-ingest-"))
    log = (work / "server.log").open("w")
    server = None
    try:
        bench_sender()
        queries = webhook_queries()
        server = start_server(server_env(test_db), log, server_command(args.server))
        n, c, t = args.requests, args.connections, args.threads

        spare = 2 * c  # requests in flight when a thread stops: never a resend of an earlier one

        def phase(label: str, path: str, rows: list[dict]) -> dict:
            requests_file = work / f"{label}.txt"
            write_requests(requests_file, rows)
            with connection.cursor() as cursor:
                cursor.execute("SELECT coalesce(max(id), 0) FROM webhooks_webhookevent")
                stored.last_id = cursor.fetchone()[0]
            load, steal = os.getloadavg()[0], host.Steal()
            with host.Sampler() as sampler:
                result = wrk(
                    f"http://127.0.0.1:{PORT}{path}", requests_file, connections=c, threads=t, seconds=args.seconds
                )
            stolen, probe = steal.share(), sampler.mean
            time.sleep(1.0)  # requests in flight when wrk stopped finish
            rows_stored, twice = stored([])
            result.update(
                label=label, stored=rows_stored, stored_twice=twice, load_before=load, probe_ms=probe, steal=stolen
            )
            return result

        warm = [params_for(f"SM{uuid.uuid4().hex}", i) for i in range(500)]
        wrk(
            f"http://127.0.0.1:{PORT}/bench/bare/",
            _tmp(work, "warm1", warm),
            connections=c,
            threads=t,
            seconds=3,
        )
        wrk(
            f"http://127.0.0.1:{PORT}/webhooks/twilio/",
            _tmp(work, "warm2", warm),
            connections=c,
            threads=t,
            seconds=3,
        )

        distinct = [params_for(f"SM{uuid.uuid4().hex}", i) for i in range(n + spare)]
        bare = phase("bare", "/bench/bare/", distinct)
        bare["stored"] = bare["stored_twice"] = 0
        rows = [
            bare,
            phase("webhooks", "/webhooks/twilio/", [params_for(f"SM{uuid.uuid4().hex}", i) for i in range(n + spare)]),
        ]
        repeated = params_for(f"SM{uuid.uuid4().hex}", 0)
        dup = phase("duplicates", "/webhooks/twilio/", [repeated] * (n + spare))
        dup["stored_twice"] = 0  # the same request on purpose: each redelivery is its own audit row
        rows.append(dup)
        if args.tenants:
            register_tenants(args.tenants)
            rows.append(
                phase(
                    f"webhooks, {args.tenants} tenants",
                    "/webhooks/twilio/",
                    [params_for(f"SM{uuid.uuid4().hex}", i) for i in range(n + spare)],
                )
            )
            rows.append(phase("bare (again)", "/bench/bare/", distinct))
            rows[-1]["stored"] = rows[-1]["stored_twice"] = 0
        report(rows, queries=queries, args=args)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        log.close()
        _purge_queues()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        print(f"(database {test_db} dropped; server log in {work / 'server.log'})")


def _tmp(work: Path, name: str, rows: list[dict]) -> Path:
    path = work / f"{name}.txt"
    write_requests(path, rows)
    return path


def _purge_queues() -> None:
    from sufrahbot.celery import app

    with app.connection_for_write() as conn:
        for queue in ("inbound", "default", "outbound", "scheduled"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # a queue that was never declared
                pass


def report(rows: list[dict], *, queries: int, args) -> None:
    from django.conf import settings

    bare = rows[0]["rps"]
    print(
        f"\nserver: {' '.join(server_command(args.server)[2:4])}, {settings.WEB_PROCESSES} processes x "
        f"{settings.WEB_THREADS} threads ({args.server}); wrk -t{args.threads} -c{args.connections}, "
        f"{args.seconds} s per phase; {os.cpu_count()} CPUs"
    )
    print(
        f"{'phase':28} {'req/s':>9} {'x bare':>7} {'p50 ms':>8} {'p99 ms':>8} {'answered':>9} {'non-2xx':>8} "
        f"{'stored':>7} {'twice':>6} {'load':>5} {'probe':>6} {'steal':>6}"
    )
    for r in rows:
        print(
            f"{r['label']:28} {r['rps']:9.1f} {r['rps'] / bare:7.2f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['answered']:9d} {r['non2xx']:8d} {r['stored']:7d} {r['stored_twice']:6d} {r['load_before']:5.2f} "
            f"{r['probe_ms']:6.1f} {100 * r['steal']:5.1f}%"
        )
        if r.get("exhausted"):
            print("  ran out of pre-built requests before the end: the rate is a lower bound (raise --requests)")
        if r["socket_errors"] != "none":
            print(f"  socket errors: {r['socket_errors']}")
    print("probe: ms of fixed work, mean over the phase; steal: the hypervisor's share during it (bench/host.py)")
    print(f"SQL queries in one webhook request: {queries}")
    tenants = [r for r in rows if "tenants" in r["label"]]
    if tenants:
        print(f"ingest with {args.tenants} tenants / with one: {tenants[0]['rps'] / rows[1]['rps']:.3f}")


if __name__ == "__main__":
    main()
