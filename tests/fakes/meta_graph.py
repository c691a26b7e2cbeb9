"""A local fake of the WhatsApp Cloud API's send endpoint (POST /{version}/{phone_number_id}/messages)."""

from __future__ import annotations

import json
import re
import threading
import uuid

from .server import JsonHandler, LocalServer

_PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<phone_number_id>\d+)/messages$")


class FakeMetaGraph(LocalServer):
    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.failures: list[tuple[int, int, str]] = []
        lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.read_body() or b"{}")
                match = _PATH.match(self.path)
                with lock:
                    fake.requests.append({"path": self.path, "json": body, "auth": self.headers.get("Authorization")})
                    failure = fake.failures.pop(0) if fake.failures else None
                if not match:
                    return self.reply(404, {"error": {"message": "Unknown path", "code": 803}})
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self.reply(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"error": {"message": message, "code": code}})
                wamid = "wamid." + uuid.uuid4().hex
                with lock:
                    fake.sent.append({"id": wamid, "phone_number_id": match["phone_number_id"], **body})
                return self.reply(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"wa_id": body.get("to")}],
                        "messages": [{"id": wamid}],
                    },
                )

        self._serve(Handler)

    def fail_next(self, times: int, status: int = 500, code: int = 131000, message: str = "Something went wrong"):
        self.failures.extend([(status, code, message)] * times)
