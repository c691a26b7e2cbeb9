"""A local fake of the WhatsApp Cloud API: the send endpoint (POST /{version}/{phone_number_id}/messages) and
the template endpoints (POST /{version}/{waba_id}/message_templates, GET /{version}/{template_id}), plus the
`message_template_status_update` webhook body Meta posts when a review ends."""

from __future__ import annotations

import json
import re
import threading
import uuid
from urllib.parse import urlsplit

from .server import FakeFile, JsonHandler, LocalServer

_PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<phone_number_id>\d+)/messages$")
_TEMPLATES = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<waba_id>\d+)/message_templates$")
_TEMPLATE = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<template_id>\d+)$")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LOOKASIDE = re.compile(r"^/whatsapp_business/attachments/$")


class FakeMetaGraph(LocalServer):
    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.failures: list[tuple[int, int, str]] = []
        self.templates: dict[str, dict] = {}  # id → {"waba_id", "status", "rejected_reason", **the request}
        self.media: dict[str, FakeFile] = {}  # media id → the file (GET /{version}/{id} → its url)
        lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    self.reply(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                    return False
                return True

            def do_GET(self):
                split = urlsplit(self.path)
                path = split.path
                with lock:
                    fake.requests.append(
                        {"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")}
                    )
                if _LOOKASIDE.match(path):
                    # The media file itself (Meta's lookaside host): the same bearer token.
                    if not self._authorised():
                        return None
                    media_id = dict(p.split("=", 1) for p in split.query.split("&") if "=" in p).get("mid", "")
                    file = fake.media.get(media_id)
                    if file is None:
                        return self.reply(404, {"error": {"message": "Media not found", "code": 100}})
                    return file.serve(self)
                match = _TEMPLATE.match(path)
                if match and match["template_id"] in fake.media:
                    if not self._authorised():
                        return None
                    return self.reply(200, media_metadata(fake.base_url, match["template_id"], fake.media))
                if not match:
                    return self.reply(404, {"error": {"message": "Unknown path", "code": 803}})
                if not self._authorised():
                    return None
                template = fake.templates.get(match["template_id"])
                if template is None:
                    return self.reply(400, {"error": {"message": "Unsupported get request", "code": 100}})
                return self.reply(
                    200,
                    {
                        "id": match["template_id"],
                        "name": template["name"],
                        "language": template["language"],
                        "status": template["status"],
                        "category": template["category"],
                        "rejected_reason": template["rejected_reason"],
                    },
                )

            def do_POST(self):
                body = json.loads(self.read_body() or b"{}")
                with lock:
                    fake.requests.append({"path": self.path, "json": body, "auth": self.headers.get("Authorization")})
                    failure = fake.failures.pop(0) if fake.failures else None
                if (templates := _TEMPLATES.match(self.path)) is not None:
                    return self._template_create(templates["waba_id"], body, failure)
                match = _PATH.match(self.path)
                if not match:
                    return self.reply(404, {"error": {"message": "Unknown path", "code": 803}})
                if not self._authorised():
                    return None
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"error": {"message": message, "code": code}})
                # A number in "to", or a business-scoped user id in "recipient" ("to" wins when both are there);
                # the answer names the one used: wa_id for a number, user_id for a BSUID.
                if body.get("to"):
                    contact = {"input": body["to"], "wa_id": body["to"]}
                elif body.get("recipient"):
                    contact = {"input": body["recipient"], "user_id": body["recipient"]}
                else:
                    return self.reply(400, {"error": {"message": "(#100) The parameter to is required.", "code": 100}})
                wamid = "wamid." + uuid.uuid4().hex
                with lock:
                    fake.sent.append({"id": wamid, "phone_number_id": match["phone_number_id"], **body})
                return self.reply(
                    200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
                )

            def _template_create(self, waba_id: str, body: dict, failure):
                if not self._authorised():
                    return None
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"error": {"message": message, "code": code}})
                if not _NAME.match(str(body.get("name", ""))) or not body.get("components"):
                    return self.reply(
                        400, {"error": {"message": "Invalid parameter", "code": 100, "error_user_msg": "bad name"}}
                    )
                with lock:
                    clash = any(
                        t["waba_id"] == waba_id and t["name"] == body["name"] and t["language"] == body.get("language")
                        for t in fake.templates.values()
                    )
                    if clash:
                        return self.reply(
                            400,
                            {
                                "error": {
                                    "message": "Invalid parameter",
                                    "code": 100,
                                    "error_subcode": 2388023,
                                    "error_user_msg": "Message template already exists in this language",
                                }
                            },
                        )
                    template_id = str(10**15 + len(fake.templates) + 1)
                    fake.templates[template_id] = {
                        **body,
                        "waba_id": waba_id,
                        "status": "PENDING",
                        "rejected_reason": "NONE",
                    }
                return self.reply(200, {"id": template_id, "status": "PENDING", "category": body.get("category")})

        self._serve(Handler)

    def fail_next(self, times: int, status: int = 500, code: int = 131000, message: str = "Something went wrong"):
        self.failures.extend([(status, code, message)] * times)

    def add_media(self, file: FakeFile) -> str:
        """Serve `file` under a new media id (what an inbound webhook names); returns the id."""
        media_id = str(10**14 + len(self.media) + 1)
        self.media[media_id] = file
        return media_id

    def review(self, template_id: str, status: str, reason: str = "NONE") -> dict:
        """End a review the way Meta does, and return the webhook body Meta would post about it."""
        template = self.templates[template_id]
        template["status"], template["rejected_reason"] = status, reason
        return template_status_webhook(
            waba_id=template["waba_id"],
            template_id=template_id,
            name=template["name"],
            language=template["language"],
            event=status,
            reason=reason,
        )


def template_status_webhook(
    *, waba_id: str, template_id: str, name: str, language: str, event: str, reason: str = "NONE"
) -> dict:
    """The `message_template_status_update` webhook as Meta documents it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": 1764633600,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": event,
                            "message_template_id": int(template_id),
                            "message_template_name": name,
                            "message_template_language": language,
                            "reason": reason,
                        },
                    }
                ],
            }
        ],
    }


def media_metadata(base_url: str, media_id: str, media: dict[str, FakeFile]) -> dict:
    """GET /{version}/{media-id} as the Cloud API answers it: a short-lived URL on its lookaside host."""
    file = media[media_id]
    metadata = {
        "messaging_product": "whatsapp",
        "url": f"{base_url}/whatsapp_business/attachments/?mid={media_id}&ext=1764633600&hash=ATtest",
        "mime_type": file.content_type,
        "sha256": "",
        "id": media_id,
    }
    if file.announce_length:  # a file that hides its length hides it here too
        metadata["file_size"] = len(file.data) + file.stream_bytes
    return metadata
