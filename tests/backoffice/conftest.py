"""A live ASGI server (uvicorn in a thread of the test process) for browser and websocket tests."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

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
