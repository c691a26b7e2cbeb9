"""A local fake of 360dialog's Cloud API proxy send endpoint (POST /messages, D360-API-KEY header)."""

from __future__ import annotations

import json
import threading
import uuid

from .server import JsonHandler, LocalServer


class FakeDialog360(LocalServer):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.failures: list[tuple[int, int, str]] = []
        lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_POST(self):
                body = json.loads(self.read_body() or b"{}")
                with lock:
                    fake.requests.append({"path": self.path, "json": body, "api_key": self.headers.get("D360-API-KEY")})
                    failure = fake.failures.pop(0) if fake.failures else None
                if self.path != "/messages":
                    return self.reply(404, {"error": {"message": "Unknown path", "code": 803}})
                if self.headers.get("D360-API-KEY") != fake.api_key:
                    # 360dialog answers a wrong key with 401 and a Meta-shaped error body.
                    return self.reply(401, {"error": {"message": "Invalid api key", "code": 0}})
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"error": {"message": message, "code": code}})
                wamid = "wamid." + uuid.uuid4().hex
                with lock:
                    fake.sent.append({"id": wamid, **body})
                return self.reply(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                        "messages": [{"id": wamid}],
                    },
                )

        self._serve(Handler)

    def fail_next(self, times: int, status: int = 500, code: int = 131000, message: str = "Something went wrong"):
        self.failures.extend([(status, code, message)] * times)
