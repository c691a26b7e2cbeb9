"""What the local provider fakes share: a threaded HTTP server on a free loopback port answering JSON."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    # TCP_NODELAY, as a real API's server runs: http.server writes the headers and the body in two sends,
    # and with Nagle on the body waited for the client's delayed ACK, 40 ms on every kept-alive request.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # keep test output clean
        pass

    def reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class LocalServer:
    """Serves `handler_class` on 127.0.0.1 in a daemon thread; subclasses build the handler."""

    def _serve(self, handler_class: type[JsonHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class FakeFile:
    """A file a fake provider serves: its bytes (then `stream_bytes` of filler for the oversized case, with
    or without a Content-Length), its declared type, and a status to answer instead (404)."""

    data: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    stream_bytes: int = 0
    announce_length: bool = True
    filename: str = ""
    requests: list[dict] = field(default_factory=list)
    bytes_written: int = 0

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append({"path": handler.path, "headers": dict(handler.headers.items())})
        if self.status != 200:
            data = json.dumps({"error": {"message": "not found", "code": self.status}}).encode()
            handler.send_response(self.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", self.content_type)
        if self.filename:
            handler.send_header("Content-Disposition", f'attachment; filename="{self.filename}"')
        if not self.stream_bytes:
            handler.send_header("Content-Length", str(len(self.data)))
            handler.end_headers()
            handler.wfile.write(self.data)
            self.bytes_written = len(self.data)
            return
        if self.announce_length:
            handler.send_header("Content-Length", str(len(self.data) + self.stream_bytes))
        # else: HTTP/1.0, the body runs until the connection closes (no length to refuse it by up front)
        handler.end_headers()
        chunk = b"\0" * 65536
        try:
            self._write(handler, self.data)
            while self.bytes_written < self.stream_bytes:
                self._write(handler, chunk)
        except OSError:
            pass  # the client hung up: how much it took is in bytes_written

    def _write(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        if not data:
            return
        handler.wfile.write(data)
        handler.wfile.flush()
        self.bytes_written += len(data)
