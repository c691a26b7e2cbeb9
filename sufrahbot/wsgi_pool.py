"""Django's WSGI handler on a fixed pool of threads inside the ASGI server, with one hand-off each way.

a2wsgi's WSGIMiddleware (which this replaces on the hot path) blocks the request's thread on a round trip to
the event loop for every piece of the exchange: reading the body, the response's start, each body chunk and
its end. Each round trip is two thread wake-ups and two GIL hand-overs; under load the threads spent most of
their time waiting for the event loop to take its turn, and the server's two cores sat a third idle while
webhooks queued (py-spy: 7 of 8 threads in `WSGIResponder.send`). Here the event loop reads a body of known,
bounded length before the request goes to a thread, the thread runs Django and hands back the whole response
of a non-streaming HttpResponse, and the loop sends it: one hand-off in, one out.

What does not fit stays streamed, through a2wsgi's own pieces: a body of unknown or large length is read
from the thread as Django asks for it (a2wsgi's Body), and a streaming response (files, StreamingHttpResponse)
is sent chunk by chunk from the request's thread as the app produces them.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import itertools
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import Body, build_environ

# Bodies up to this size are read whole by the event loop before the request is handed to a thread (every
# webhook, API and admin form); larger ones (uploads) are streamed to Django as it reads.
BUFFERED_BODY_MAX = 1024 * 1024


class _Response:
    """What the app told start_response, and what it wrote through the legacy write() callable."""

    __slots__ = ("status", "headers", "written")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.written: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        # Nothing is sent before the app returns, so a second call (with exc_info) simply replaces the first.
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(k.strip().lower().encode("latin1"), v.strip().encode("latin1")) for k, v in headers]
        return self.written.append


class ThreadPoolWSGI:
    """ASGI HTTP application running a WSGI app on `workers` threads (see the module's docstring)."""

    def __init__(self, app, *, workers: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="WSGI")

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"ThreadPoolWSGI serves HTTP, not {scope['type']!r}")
        loop = asyncio.get_running_loop()
        length = _content_length(scope)
        if length is not None and length <= BUFFERED_BODY_MAX:
            body = await _read_body(receive)
            if body is None:
                return  # the client went away before its body arrived
            wsgi_input = io.BytesIO(body)
        else:
            wsgi_input = Body(loop, receive)  # read from the thread as Django asks
        environ = build_environ(scope, wsgi_input)
        environ["wsgi.errors"] = sys.stderr
        response = _Response()
        context = contextvars.copy_context()
        body = await loop.run_in_executor(self.executor, context.run, self._run, environ, response, loop, send)
        if body is not None:
            await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            await send({"type": "http.response.body", "body": body})

    def _run(self, environ: dict, response: _Response, loop, send) -> bytes | None:
        """In a pool thread: the whole body of a plain response, for the event loop to send; a streaming one
        (a file, a StreamingHttpResponse, any iterable but a plain HttpResponse or a list) is sent from here,
        chunk by chunk, and None returned. Either way the iterable is closed in this thread, where Django's
        request_finished (which releases this thread's database connection) must run."""
        iterable = self.app(environ, response.start_response)
        try:
            if isinstance(iterable, list | tuple) or getattr(iterable, "streaming", True) is False:
                return b"".join([*response.written, *iterable])

            def blocking_send(message: dict) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            blocking_send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            for chunk in itertools.chain(response.written, _nonempty(iterable)):  # as the app produces them
                blocking_send({"type": "http.response.body", "body": chunk, "more_body": True})
            blocking_send({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()


def _nonempty(iterable):
    return (chunk for chunk in iterable if chunk)


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return 0  # no body announced: nothing to read
    return None


async def _read_body(receive) -> bytes | None:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)
