"""`manage.py serve PROCESS`: exec one process of the production layout (sufrahbot.processes) — what
docker-compose runs per service, the same commands `./dev run` supervises. `--check` is the container
healthcheck: a worker is healthy while its heartbeat is fresh, the web while /health/ answers."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sufrahbot.heartbeat import redis_client, worker_key
from sufrahbot.processes import PROCESS_NAMES, process_command


class Command(BaseCommand):
    help = "Run one process of the production layout: " + ", ".join(PROCESS_NAMES)

    def add_arguments(self, parser):
        parser.add_argument("process", choices=PROCESS_NAMES)
        parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # in a container
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--check", action="store_true", help="exit 0 when this process is healthy")

    def handle(self, *args, **opts):
        name = opts["process"]
        if opts["check"]:
            sys.exit(0 if self._healthy(name, opts["port"]) else 1)
        argv = process_command(name, host=opts["host"], port=opts["port"])
        os.execv(argv[0], argv)  # our own fixed command line

    def _healthy(self, name: str, port: int) -> bool:
        if name == "web":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
                    return response.status == 200
            except OSError as exc:
                self.stderr.write(f"web unhealthy: {exc}")
                return False
        if name == "beat":
            return True  # beat keeps no heartbeat; the container restarts it when it exits
        pool = name.removeprefix("worker-")
        if not settings.REDIS_URL:
            raise CommandError("workers need REDIS_URL")
        alive = bool(redis_client(settings.REDIS_URL).exists(worker_key(f"{pool}@{socket.gethostname()}")))
        if not alive:
            self.stderr.write(f"no fresh heartbeat from {pool}@{socket.gethostname()}")
        return alive
