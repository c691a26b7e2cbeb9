"""A live ASGI server (uvicorn in a thread of the test process) for browser and websocket tests."""

from __future__ import annotations

import gc
import threading
import time

import pytest
import uvicorn
from asgiref.sync import SyncToAsync
from django.db import connections

from sufrahbot.wsgi_pool import ThreadPoolWSGI
from tests.ports import free_port

PORTS = range(17740, 17800)  # the port range this work's test servers use


def _free_port() -> int:
    return free_port(PORTS)


@pytest.fixture
def server(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["*"]
    port = _free_port()
    config = uvicorn.Config(
        "sufrahbot.asgi:application", host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)
    _close_pool_connections()


def _close_pool_connections() -> None:
    """The application's threads are this process's and outlive the server: the WSGI pool's (HTTP) and
    asgiref's one thread for the consumers' database calls (websockets). Close the persistent database
    connections they keep, or they hold the test database open and pytest cannot drop it after the run."""
    from sufrahbot.asgi import application

    pool = application.application_mapping["http"]
    executors = [SyncToAsync.single_thread_executor]
    if isinstance(pool, ThreadPoolWSGI):  # embedded serves HTTP on Django's ASGI handler instead
        executors.append(pool.executor)
    for executor in executors:
        workers = executor._max_workers
        barrier = threading.Barrier(workers)

        def close(barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=10)  # each task waits for the others: one lands on each of the threads
            connections.close_all()

        for future in [executor.submit(close) for _ in range(workers)]:
            future.result(timeout=20)
    # A thread that ended (a consumer's, a timer's) leaves its connection in reference cycles: collected, closed.
    gc.collect()
