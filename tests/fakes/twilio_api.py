"""A local fake of Twilio's Messages API (the real twilio Client is pointed at it) and Content API.

It answers POST /2010-04-01/Accounts/{AccountSid}/Messages.json like Twilio does (Body, or ContentSid +
ContentVariables of an approved content), records every request, and can be told to fail the next N requests
with a status (500, 429, or a 400 with a Twilio error code). Content: POST /v1/Content (an HX sid),
POST /v1/Content/{sid}/ApprovalRequests/whatsapp, GET /v1/Content/{sid}/ApprovalRequests; `review()` ends
a review.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

from .server import FakeFile, JsonHandler, LocalServer

_CONTENT = re.compile(r"^/v1/Content$")
_APPROVAL_CREATE = re.compile(r"^/v1/Content/(?P<sid>HX[0-9a-f]{32})/ApprovalRequests/whatsapp$")
_APPROVAL_FETCH = re.compile(r"^/v1/Content/(?P<sid>HX[0-9a-f]{32})/ApprovalRequests$")
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")
_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages/MM[0-9a-f]{32}/Media/(?P<me>ME[0-9a-f]{32})$"
)
_STORE = re.compile(r"^/media-store/(?P<me>ME[0-9a-f]{32})$")


@dataclass
class FakeTwilioState:
    requests: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    failures: list[tuple[int, int | None, str]] = field(default_factory=list)  # (status, code, message)
    # Seconds to wait before answering the next sends: the message is accepted (in `sent`) at once, the answer
    # comes late, as a Twilio that answers after the client's read timeout.
    delays: list[float] = field(default_factory=list)
    # Seconds every send to one recipient ("whatsapp:+…") waits before its answer: a provider that hangs.
    hangs: dict[str, float] = field(default_factory=dict)
    # Seconds every other send waits before its answer: Twilio's own answer time (~0.1–0.3 s; bench/e2e.py).
    latency: float = 0.0
    contents: dict[str, dict] = field(default_factory=dict)  # HX sid → the created content + its approval
    # ME sid → (the Authorization header it needs, the file): inbound media, behind a redirect to the store.
    media: dict[str, tuple[str, FakeFile]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delay_next(self, times: int, seconds: float) -> None:
        with self.lock:
            self.delays.extend([seconds] * times)

    def hang_for(self, to: str, seconds: float) -> None:
        with self.lock:
            self.hangs[to] = seconds

    def fail_next(self, times: int, status: int = 500, code: int | None = None, message: str = "boom") -> None:
        with self.lock:
            self.failures.extend([(status, code, message)] * times)


class FakeTwilio(LocalServer):
    def __init__(self, *, keep_alive: bool = False) -> None:
        """keep_alive: HTTP/1.1 with kept-alive connections, as Twilio's API answers (the benches); the
        default HTTP/1.0 closes each connection, which the fault cases rely on."""
        self.state = FakeTwilioState()
        state = self.state

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def _account(self) -> str | None:
                header = self.headers.get("Authorization") or ""
                if not header.startswith("Basic "):
                    return None
                user = base64.b64decode(header.removeprefix("Basic ")).decode().split(":", 1)[0]
                return user if re.match(r"^AC[0-9a-fA-F]{32}$", user) else None

            def _approval_get(self, sid: str):
                with state.lock:
                    state.requests.append(
                        {"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")}
                    )
                content = state.contents.get(sid)
                if content is None:
                    return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                if self._account() != content["account_sid"]:
                    return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return self.reply(
                    200, {"sid": sid, "account_sid": content["account_sid"], "whatsapp": content["whatsapp"]}
                )

            def _media(self, me: str):
                """Twilio's media URL: the account's basic auth, then a 307 to the media store on another host
                (here "localhost" instead of "127.0.0.1"), whose URL needs no credentials."""
                auth, file = state.media.get(me, (None, None))
                if file is None:
                    return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                if self.headers.get("Authorization") != auth:
                    return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                port = self.server.server_address[1]
                self.send_response(307)
                self.send_header("Location", f"http://localhost:{port}/media-store/{me}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None

            def do_GET(self):
                """The Messages list (To / From filters, newest first), as Twilio pages it; a content's approval;
                inbound media (the API's URL, then the media store it redirects to)."""
                if (media := _MEDIA.match(self.path)) is not None:
                    return self._media(media["me"])
                if (stored := _STORE.match(self.path)) is not None:
                    entry = state.media.get(stored["me"])
                    if entry is None:
                        return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                    return entry[1].serve(self)
                if (approval := _APPROVAL_FETCH.match(self.path)) is not None:
                    return self._approval_get(approval["sid"])
                split = urlsplit(self.path)
                match = _PATH.match(split.path)
                if not match:
                    return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                with state.lock:
                    records = [
                        r
                        for r in reversed(state.sent)
                        if r["account_sid"] == match["sid"]
                        and r["to"] == query.get("To", r["to"])
                        and r["from"] == query.get("From", r["from"])
                    ]
                size = int(query.get("PageSize", 50))
                return self.reply(
                    200,
                    {
                        "messages": records[:size],
                        "first_page_uri": split.path,
                        "next_page_uri": None,
                        "previous_page_uri": None,
                        "page": 0,
                        "page_size": size,
                        "uri": self.path,
                        "start": 0,
                        "end": min(size, len(records)),
                    },
                )

            def do_POST(self):
                raw = self.read_body().decode()
                if _CONTENT.match(self.path) or _APPROVAL_CREATE.match(self.path):
                    return self._content(json.loads(raw or "{}"))
                form = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw).items()}
                match = _PATH.match(self.path)
                with state.lock:
                    state.requests.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
                    failure = state.failures.pop(0) if state.failures and match else None
                if not match:
                    return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"code": code or status, "message": message, "status": status})
                # An E.164 number, or a business-scoped user id ("whatsapp:US.1349…") for a customer whose number
                # WhatsApp hides.
                if not re.match(r"^whatsapp:(\+\d{6,15}|[A-Z]{2}\.[0-9A-Za-z]{4,})$", form.get("To", "")):
                    return self.reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                content_sid = form.get("ContentSid")
                if content_sid:
                    content = state.contents.get(content_sid)
                    if content is None or content["whatsapp"]["status"] != "approved":
                        return self.reply(400, {"code": 63016, "message": "template not approved", "status": 400})
                    try:
                        json.loads(form.get("ContentVariables") or "{}")
                    except ValueError:
                        return self.reply(400, {"code": 21656, "message": "ContentVariables invalid", "status": 400})
                sid = "SM" + uuid.uuid4().hex
                record = {
                    "content_sid": content_sid,
                    "content_variables": form.get("ContentVariables"),
                    "sid": sid,
                    "status": "queued",
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body", ""),
                    "account_sid": match["sid"],
                    "status_callback": form.get("StatusCallback"),
                    "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                    "received_monotonic": time.monotonic(),  # for bench/e2e.py's latencies (same process)
                }
                with state.lock:
                    state.sent.append(record)
                    delay = state.delays.pop(0) if state.delays else state.hangs.get(record["to"], state.latency)
                if delay:
                    time.sleep(delay)
                try:
                    return self.reply(201, record)
                except OSError:
                    return None  # the client gave up waiting (its read timeout): it never reads the answer

            def _content(self, body: dict):
                account = self._account()
                with state.lock:
                    state.requests.append({"path": self.path, "json": body, "auth": self.headers.get("Authorization")})
                    failure = state.failures.pop(0) if state.failures else None
                if account is None:
                    return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if failure:
                    status, code, message = failure
                    return self.reply(status, {"code": code or status, "message": message, "status": status})
                if (approval := _APPROVAL_CREATE.match(self.path)) is not None:
                    content = state.contents.get(approval["sid"])
                    if content is None:
                        return self.reply(404, {"code": 20404, "message": "not found", "status": 404})
                    if not re.match(r"^[a-z0-9_]+$", str(body.get("name", ""))) or not body.get("category"):
                        return self.reply(400, {"code": 20001, "message": "Invalid name or category", "status": 400})
                    with state.lock:
                        content["whatsapp"] = {
                            "name": body["name"],
                            "category": body["category"],
                            "status": "received",
                            "rejection_reason": "",
                        }
                    return self.reply(201, content["whatsapp"])
                if not body.get("friendly_name") or not body.get("types"):
                    return self.reply(
                        400, {"code": 20001, "message": "friendly_name and types are required", "status": 400}
                    )
                sid = "HX" + uuid.uuid4().hex
                with state.lock:
                    state.contents[sid] = {
                        **body,
                        "sid": sid,
                        "account_sid": account,
                        "whatsapp": {"status": "unsubmitted", "rejection_reason": ""},
                    }
                return self.reply(201, {**body, "sid": sid, "account_sid": account})

        self._serve(Handler)

    @property
    def sent(self) -> list[dict]:
        return self.state.sent

    def fail_next(self, times: int, status: int = 500, code: int | None = None, message: str = "boom") -> None:
        self.state.fail_next(times, status, code, message)

    def delay_next(self, times: int, seconds: float) -> None:
        self.state.delay_next(times, seconds)

    def hang_for(self, to: str, seconds: float) -> None:
        self.state.hang_for(to, seconds)

    def add_media(self, *, account_sid: str, auth_token: str, file: FakeFile) -> str:
        """Serve `file` as one inbound message's media; returns its MediaUrl0 (needs the account's auth)."""
        me = "ME" + uuid.uuid4().hex
        auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        with self.state.lock:
            self.state.media[me] = (auth, file)
        return f"{self.base_url}/2010-04-01/Accounts/{account_sid}/Messages/MM{uuid.uuid4().hex}/Media/{me}"

    def review(self, content_sid: str, status: str, reason: str = "") -> None:
        """End a WhatsApp review of a registered content the way Twilio reports it."""
        with self.state.lock:
            self.state.contents[content_sid]["whatsapp"].update(status=status, rejection_reason=reason)
