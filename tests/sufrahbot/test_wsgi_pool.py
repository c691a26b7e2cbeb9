"""sufrahbot.wsgi_pool.ThreadPoolWSGI: Django's WSGI handler on a fixed thread pool inside the ASGI server, one
hand-off each way for a plain request, streamed where the body or the response does not fit. Driven here by
hand-made ASGI receive/send (what uvicorn gives an application); tests/test_scale_out.py and the browser
tests run it under uvicorn itself."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.core.signals import request_finished
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, StreamingHttpResponse

from sufrahbot import wsgi_pool
from sufrahbot.wsgi_pool import ThreadPoolWSGI


def _scope(method: str = "POST", path: str = "/echo", headers: list[tuple[bytes, bytes]] = ()) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"a=1",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _call(app, scope: dict, chunks: list[bytes], *, disconnect: bool = False) -> list[dict]:
    """Run one request through `app`; the messages it sent. `chunks` arrive as the request body's parts."""
    sent: list[dict] = []
    parts = list(chunks) or [b""]

    async def receive() -> dict:
        if disconnect:
            return {"type": "http.disconnect"}
        if parts:
            body = parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(parts)}
        await asyncio.sleep(3600)  # uvicorn blocks until the client goes away

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _body(sent: list[dict]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


class Recorder:
    """A WSGI app that echoes what it was given and records the threads it ran in."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.environ: dict = {}

    def __call__(self, environ, start_response):
        self.threads.append(threading.get_ident())
        self.environ = environ
        body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", str(len(body)))])
        return [b"got:", body]


def test_a_plain_request_is_read_whole_and_answered_in_two_messages():
    app = Recorder()
    body = "تمام&Body=hi".encode()
    sent = _call(
        ThreadPoolWSGI(app, workers=2),
        _scope(headers=[(b"content-length", str(len(body)).encode())]),
        [
            body[:5],
            body[5:],
        ],
    )
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 201 and (b"x-seen", str(len(body)).encode()) in sent[0]["headers"]
    assert sent[1]["body"] == b"got:" + body and not sent[1].get("more_body")
    environ = app.environ
    assert environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/echo"
    assert environ["QUERY_STRING"] == "a=1" and environ["CONTENT_LENGTH"] == str(len(body))
    assert environ["REMOTE_ADDR"] == "127.0.0.1" and environ["HTTP_HOST"] == "testserver"
    assert app.threads[0] != threading.get_ident()  # ran on the pool, not the event loop's thread


@pytest.mark.parametrize("length", [None, "big"], ids=["no content-length (chunked)", "over the buffered limit"])
def test_a_body_of_unknown_or_large_length_is_streamed_to_the_app(length, monkeypatch):
    monkeypatch.setattr(wsgi_pool, "BUFFERED_BODY_MAX", 8)
    parts = [b"0123456789", b"abcdefghij", b"KLMNO"]
    headers = [] if length is None else [(b"content-length", b"25")]
    sent = _call(ThreadPoolWSGI(Recorder(), workers=1), _scope(headers=headers), parts)
    assert _body(sent) == b"got:" + b"".join(parts)


def test_nothing_runs_when_the_client_leaves_before_its_body():
    app = Recorder()
    sent = _call(ThreadPoolWSGI(app, workers=1), _scope(headers=[(b"content-length", b"10")]), [], disconnect=True)
    assert sent == [] and app.threads == []


def test_a_streaming_response_is_sent_chunk_by_chunk_and_closed_in_its_thread():
    closed_in: list[int] = []
    ran_in: list[int] = []

    class Chunks:
        def __iter__(self):
            yield b"one,"
            yield b""  # an empty chunk is not sent
            yield b"two"

        def close(self):
            closed_in.append(threading.get_ident())

    def app(environ, start_response):
        ran_in.append(threading.get_ident())
        write = start_response("200 OK", [("Content-Type", "text/csv")])
        write(b"head,")  # the legacy write() callable: sent before the iterable
        return Chunks()

    sent = _call(ThreadPoolWSGI(app, workers=2), _scope(method="GET"), [])
    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 4
    assert [m["body"] for m in sent[1:]] == [b"head,", b"one,", b"two", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert closed_in == ran_in


def test_a_streaming_response_is_not_read_whole_before_it_is_sent():
    """Each chunk is on its way before the next is produced: a large file never sits in memory whole."""
    sent: list[dict] = []
    seen_when_producing: list[int] = []

    def chunks():
        for n in range(3):
            seen_when_producing.append(len(sent))
            yield f"chunk {n};".encode()

    def app(environ, start_response):
        start_response("200 OK", [])
        return chunks()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(ThreadPoolWSGI(app, workers=1)(_scope(method="GET"), receive, send))
    assert seen_when_producing == [1, 2, 3]  # the start, then each chunk before the next was asked for
    assert _body(sent) == b"chunk 0;chunk 1;chunk 2;"


def test_at_most_workers_requests_run_at_once():
    running, peak, lock = [0], [0], threading.Lock()

    def app(environ, start_response):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        start_response("200 OK", [])
        return [b"ok"]

    pool = ThreadPoolWSGI(app, workers=2)

    async def many() -> list[list[dict]]:
        async def one() -> list[dict]:
            sent: list[dict] = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)

            await pool(_scope(method="GET"), receive, send)
            return sent

        return await asyncio.gather(*(one() for _ in range(6)))

    results = asyncio.run(many())
    assert all(_body(sent) == b"ok" for sent in results)
    assert peak[0] == 2


@pytest.mark.django_db(transaction=True)
def test_django_answers_and_finishes_each_request_in_the_thread_that_ran_it(settings):
    """request_finished (Django closes or keeps the thread's database connection there) runs on the request's
    own pool thread, for a plain and for a streaming response."""
    settings.ALLOWED_HOSTS = ["*"]
    finished_in: list[int] = []

    def on_finished(**kwargs):
        finished_in.append(threading.get_ident())

    request_finished.connect(on_finished)
    try:
        django_app = get_wsgi_application()
        recorder = Recorder()

        def app(environ, start_response):
            recorder.threads.append(threading.get_ident())
            return django_app(environ, start_response)

        pool = ThreadPoolWSGI(app, workers=4)
        sent = _call(pool, _scope(method="GET", path="/healthz"), [])
        assert sent[0]["status"] in (200, 503) and b'"status"' in _body(sent)
        assert finished_in == recorder.threads[-1:]
    finally:
        request_finished.disconnect(on_finished)


def test_a_django_streaming_response_and_a_plain_one_are_told_apart():
    def plain(environ, start_response):
        response = HttpResponse(b"whole")
        start_response("200 OK", [("Content-Length", "5")])
        return response

    def streaming(environ, start_response):
        response = StreamingHttpResponse(iter([b"a", b"b"]))
        start_response("200 OK", [])
        return response

    assert [m["type"] for m in _call(ThreadPoolWSGI(plain, workers=1), _scope(method="GET"), [])] == [
        "http.response.start",
        "http.response.body",
    ]
    sent = _call(ThreadPoolWSGI(streaming, workers=1), _scope(method="GET"), [])
    assert [m["body"] for m in sent[1:]] == [b"a", b"b", b""]
