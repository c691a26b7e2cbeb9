"""`manage.py run`: everything a user needs in one command (web + websockets, worker, beat)."""

from __future__ import annotations

import asyncio
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from sufrahbot.processes import UVICORN_LOG_CONFIG, production_processes, supervise
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
        database = (
            f"SQLite at {settings.DATABASES['default']['NAME']}"
            if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
            else settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        )
        banner = (
            f"Sufrah on http://{opts['host']}:{opts['port']}/  (admin: /admin/, webhooks: /webhooks/twilio/, "
            f"events: ws://{opts['host']}:{opts['port']}/ws/events/). Chat with the bot: "
            "`./dev manage simulate --restaurant sufrah-demo`."
        )
        if not settings.TASKS_IN_PROCESS:
            # The production layout (sufrahbot.processes, docs/operations.md), supervised: a child that dies is
            # restarted, SIGTERM stops them all.
            specs = production_processes(host=opts["host"], port=opts["port"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"Using {database} and Redis; started the web server ({settings.WEB_PROCESSES} processes × "
                    f"{settings.WEB_THREADS} threads), a Celery worker per pool "
                    f"({', '.join(f'{k}: {v}' for k, v in settings.CELERY_WORKER_POOLS.items())}) and Celery beat."
                )
            )
            self.stdout.write(self.style.SUCCESS(banner))
            self.stdout.flush()
            connections.close_all()  # the supervisor itself needs no database connection
            sys.exit(supervise(specs, metrics_dir=settings.VAR_DIR / f"metrics-{opts['port']}"))
        mode = "Embedded mode (no DATABASE_URL / REDIS_URL)" if settings.EMBEDDED else "No REDIS_URL"
        self.stdout.write(
            self.style.WARNING(
                f"{mode}: {database}; Celery tasks run in-process after each commit; "
                "Channels' in-memory layer in this single server process; the scheduled sweeps "
                f"(rating prompts, webhook replay) run here every {settings.SWEEP_INTERVAL_SECONDS:g}s."
            )
        )
        self.stdout.write(self.style.SUCCESS(banner))
        server = uvicorn.Server(
            uvicorn.Config(
                "sufrahbot.asgi:application",
                host=opts["host"],
                port=opts["port"],
                lifespan="off",
                ws="websockets",
                log_config=str(UVICORN_LOG_CONFIG),
                access_log=False,  # sufrahbot.middleware writes the access line
                log_level=settings.LOG_LEVEL.lower(),
            )
        )
        asyncio.run(self._serve(server))
