"""`manage.py run`: everything a user needs in one command (web + websockets, worker, beat)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sufrahbot.sweeps import sweep_forever


class Command(BaseCommand):
    help = "Migrate, seed the demo restaurant and start the ASGI server, a Celery worker and Celery beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true")

    async def _serve(self, server) -> None:
        # Without Redis, the sweeps (Celery beat's job) run on the server's own loop: see sufrahbot.sweeps.
        sweeper = asyncio.ensure_future(sweep_forever()) if settings.TASKS_IN_PROCESS else None
        try:
            await server.serve()
        finally:
            if sweeper is not None:
                sweeper.cancel()

    def handle(self, *args, **opts):
        import uvicorn

        call_command("migrate", interactive=False, verbosity=0)
        if not opts["no_seed"]:
            call_command("seed_demo")
        children: list[subprocess.Popen] = []
        database = (
            f"SQLite at {settings.DATABASES['default']['NAME']}"
            if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
            else settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        )
        if settings.TASKS_IN_PROCESS:
            mode = "Embedded mode (no DATABASE_URL / REDIS_URL)" if settings.EMBEDDED else "No REDIS_URL"
            self.stdout.write(
                self.style.WARNING(
                    f"{mode}: {database}; Celery tasks run in-process after each commit; "
                    "Channels' in-memory layer in this single server process; the scheduled sweeps "
                    f"(rating prompts, webhook replay) run here every {settings.SWEEP_INTERVAL_SECONDS:g}s."
                )
            )
        else:
            celery = [sys.executable, "-m", "celery", "-A", "sufrahbot"]
            children.append(
                subprocess.Popen(celery + ["worker", "-Q", settings.CELERY_WORKER_QUEUES, "-c", "2", "-l", "INFO"])
            )
            children.append(subprocess.Popen(celery + ["beat", "-l", "INFO"]))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Using {database} and Redis; "
                    "started a Celery worker (queues default, inbound, outbound, scheduled) and Celery beat."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Sufrah on http://{opts['host']}:{opts['port']}/  (admin: /admin/, webhooks: /webhooks/twilio/, "
                f"events: ws://{opts['host']}:{opts['port']}/ws/events/). Chat with the bot: "
                "`./dev manage simulate --restaurant sufrah-demo`."
            )
        )
        server = uvicorn.Server(
            uvicorn.Config(
                "sufrahbot.asgi:application",
                host=opts["host"],
                port=opts["port"],
                lifespan="off",
                ws="websockets",
                log_level=settings.LOG_LEVEL.lower(),
            )
        )
        try:
            asyncio.run(self._serve(server))
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
