"""A local fake of 360dialog's Cloud API proxy send endpoint (POST /messages, D360-API-KEY header)."""

from __future__ import annotations

import json
import threading
import uuid
from urllib.parse import urlsplit

from .server import FakeFile, JsonHandler, LocalServer


class FakeDialog360(LocalServer):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.failures: list[tuple[int, int, str]] = []
        self.media: dict[str, FakeFile] = {}
        lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self):
                """GET /{media_id}: the metadata with Meta's lookaside URL; the file itself from this host under
                that URL's path (360dialog's documented way to download media)."""
                split = urlsplit(self.path)
                with lock:
                    fake.requests.append({"path": self.path, "api_key": self.headers.get("D360-API-KEY")})
                if self.headers.get("D360-API-KEY") != fake.api_key:
                    return self.reply(401, {"error": {"message": "Invalid api key", "code": 0}})
                if split.path == "/whatsapp_business/attachments/":
                    media_id = dict(p.split("=", 1) for p in split.query.split("&") if "=" in p).get("mid", "")
                    if media_id not in fake.media:
                        return self.reply(404, {"error": {"message": "Media not found", "code": 100}})
                    return fake.media[media_id].serve(self)
                media_id = split.path.strip("/")
                if media_id not in fake.media:
                    return self.reply(404, {"error": {"message": "Media not found", "code": 100}})
                file = fake.media[media_id]
                return self.reply(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "url": f"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={media_id}&ext=1",
                        "mime_type": file.content_type,
                        "file_size": len(file.data) + file.stream_bytes,
                        "id": media_id,
                    },
                )

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

    def add_media(self, file: FakeFile) -> str:
        media_id = str(10**14 + len(self.media) + 1)
        self.media[media_id] = file
        return media_id
