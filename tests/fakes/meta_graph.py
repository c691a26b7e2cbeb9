"""A local fake of the WhatsApp Cloud API: the send endpoint (POST /{version}/{phone_number_id}/messages), the
template endpoints (POST /{version}/{waba_id}/message_templates, GET /{version}/{template_id}), the Resumable
Upload API that an image header's sample goes through (POST /{version}/{app_id}/uploads, POST
/{version}/upload:{session}), plus the `message_template_status_update` webhook body Meta posts when a
review ends."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

from .server import FakeFile, JsonHandler, LocalServer

_PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<phone_number_id>\d+)/messages$")
_TEMPLATES = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<waba_id>\d+)/message_templates$")
_TEMPLATE = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<template_id>\d+)$")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LOOKASIDE = re.compile(r"^/whatsapp_business/attachments/$")
_UPLOADS = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<app_id>\d+)/uploads$")
_UPLOAD = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<session>upload:[A-Za-z0-9_=-]+)$")
# What the Resumable Upload API takes (Meta's "Upload a file" guide).
UPLOAD_FILE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"})
APP_ID = "634974688087057"


class FakeMetaGraph(LocalServer):
    def __init__(self, access_token: str, *, app_id: str = APP_ID) -> None:
        self.access_token = access_token
        self.app_id = app_id
        self.upload_sessions: dict[str, dict] = {}  # session id → {"sig", "file_name", "file_length", …}
        self.uploads: dict[str, dict] = {}  # handle → {"file_name", "file_type", "data"}
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.failures: list[tuple[int, int, str]] = []
        self.upload_failures: list[tuple[str, int, int, str]] = []
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
                split = urlsplit(self.path)
                if (uploads := _UPLOADS.match(split.path)) is not None:
                    return self._upload_session_create(uploads["app_id"], parse_qs(split.query))
                if (upload := _UPLOAD.match(split.path)) is not None:
                    return self._upload(upload["session"], parse_qs(split.query))
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

            def _invalid(self, message: str, user_message: str = ""):
                error = {"message": message, "type": "OAuthException", "code": 100}
                if user_message:
                    error["error_user_msg"] = user_message
                return self.reply(400, {"error": error})

            def _upload_failure(self, step: str):
                with lock:
                    due = bool(fake.upload_failures) and fake.upload_failures[0][0] in (step, "any")
                    failure = fake.upload_failures.pop(0) if due else None
                if failure:
                    _step, status, code, message = failure
                    self.reply(status, {"error": {"message": message, "code": code}})
                return failure

            def _upload_session_create(self, app_id: str, query: dict):
                """POST /{app-id}/uploads?file_name&file_length&file_type: the token (as access_token or in the
                Authorization header, as anywhere on the Graph API), the app, the file's description."""
                self.read_body()
                token = (query.get("access_token") or [""])[0]
                auth = self.headers.get("Authorization") or ""
                with lock:
                    fake.requests.append({"method": "POST", "path": self.path, "auth": auth})
                accepted = (f"Bearer {fake.access_token}", f"OAuth {fake.access_token}")
                if token != fake.access_token and auth not in accepted:
                    return self.reply(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                if self._upload_failure("session"):
                    return None
                if app_id != fake.app_id:
                    return self._invalid(f"Unsupported post request. Object with ID '{app_id}' does not exist")
                length = (query.get("file_length") or [""])[0]
                file_type = (query.get("file_type") or [""])[0]
                if not length.isdigit() or int(length) <= 0:
                    return self._invalid("(#100) The parameter file_length is required and must be positive")
                if file_type not in UPLOAD_FILE_TYPES:
                    return self._invalid(f"(#100) Param file_type must be one of {sorted(UPLOAD_FILE_TYPES)}")
                key = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()
                sig = uuid.uuid4().hex
                with lock:
                    fake.upload_sessions[f"upload:{key}"] = {
                        "sig": sig,
                        "app_id": app_id,
                        "file_name": (query.get("file_name") or [""])[0],
                        "file_length": int(length),
                        "file_type": file_type,
                        "received": b"",
                    }
                # Meta signs the session id it gives out: the next call uses it as it is, query and all.
                return self.reply(200, {"id": f"upload:{key}?sig={sig}"})

            def _upload(self, session_id: str, query: dict):
                """POST /upload:{session}?sig=…: `Authorization: OAuth <token>`, `file_offset` where the bytes
                start (what the session holds so far), and bytes that do not run past the declared length.
                Once all of them are in, the answer is the file's handle."""
                data = self.read_body()
                auth = self.headers.get("Authorization") or ""
                offset = self.headers.get("file_offset")
                with lock:
                    fake.requests.append(
                        {"method": "POST", "path": self.path, "auth": auth, "file_offset": offset, "bytes": len(data)}
                    )
                    session = fake.upload_sessions.get(session_id)
                if auth != f"OAuth {fake.access_token}":
                    return self.reply(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                if self._upload_failure("bytes"):
                    return None
                if session is None or (query.get("sig") or [""])[0] != session["sig"]:
                    return self._invalid("Unsupported post request. The upload session does not exist")
                received = len(session["received"])
                if offset is None or not offset.isdigit() or int(offset) != received:
                    return self._invalid(f"(#100) file_offset must be {received}, the bytes received so far")
                if received + len(data) > session["file_length"]:
                    return self._invalid("(#100) More bytes than the session's file_length")
                with lock:
                    session["received"] += data
                    if len(session["received"]) < session["file_length"]:
                        return self.reply(200, {"id": session_id, "file_offset": len(session["received"])})
                    handle = "4::" + base64.b64encode(session["file_type"].encode()).decode() + ":" + uuid.uuid4().hex
                    fake.uploads[handle] = {
                        "file_name": session["file_name"],
                        "file_type": session["file_type"],
                        "data": session["received"],
                    }
                return self.reply(200, {"h": handle})

            def _header_problem(self, components: list) -> str:
                """What Meta says of an IMAGE header: its sample must be the handle of an uploaded image."""
                for component in components:
                    if not isinstance(component, dict) or component.get("type") != "HEADER":
                        continue
                    if component.get("format") != "IMAGE":
                        continue
                    handles = (component.get("example") or {}).get("header_handle") or []
                    if not handles:
                        return "An IMAGE header needs example.header_handle (a URL is not a sample)"
                    upload = fake.uploads.get(handles[0])
                    if upload is None or not upload["file_type"].startswith("image/"):
                        return "The header_handle is not an uploaded image"
                return ""

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
                if problem := self._header_problem(body["components"]):
                    return self._invalid("Invalid parameter", problem)
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

    def fail_next_upload(
        self, times: int, status: int = 500, code: int = 2, message: str = "Service unavailable", step: str = "any"
    ):
        """The next upload calls fail like this instead: `step` "session" (POST /{app}/uploads), "bytes"
        (POST /upload:…) or "any"."""
        self.upload_failures.extend([(step, status, code, message)] * times)

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
