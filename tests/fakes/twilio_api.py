"""A local fake of Twilio's Messages API that the real twilio Client is pointed at.

It answers POST /2010-04-01/Accounts/{AccountSid}/Messages.json like Twilio does, records every request,
and can be told to fail the next N requests with a status (500, 429, or a 400 with a Twilio error code).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

from .server import JsonHandler, LocalServer

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")


@dataclass
class FakeTwilioState:
    requests: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    failures: list[tuple[int, int | None, str]] = field(default_factory=list)  # (status, code, message)
    # Seconds to wait before answering the next sends: the message is accepted (in `sent`) at once, the answer
    # comes late, as a Twilio that answers after the client's read timeout.
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delay_next(self, times: int, seconds: float) -> None:
        with self.lock:
            self.delays.extend([seconds] * times)

    def fail_next(self, times: int, status: int = 500, code: int | None = None, message: str = "boom") -> None:
        with self.lock:
            self.failures.extend([(status, code, message)] * times)


class FakeTwilio(LocalServer):
    def __init__(self) -> None:
        self.state = FakeTwilioState()
        state = self.state

        class Handler(JsonHandler):
            def do_GET(self):  # noqa: N802
                """The Messages list (To / From filters, newest first), as Twilio pages it."""
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

            def do_POST(self):  # noqa: N802
                raw = self.read_body().decode()
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
                if not form.get("To", "").startswith("whatsapp:+"):
                    return self.reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                sid = "SM" + uuid.uuid4().hex
                record = {
                    "sid": sid,
                    "status": "queued",
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body", ""),
                    "account_sid": match["sid"],
                    "status_callback": form.get("StatusCallback"),
                    "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                }
                with state.lock:
                    state.sent.append(record)
                    delay = state.delays.pop(0) if state.delays else 0.0
                if delay:
                    time.sleep(delay)
                try:
                    return self.reply(201, record)
                except OSError:
                    return None  # the client gave up waiting (its read timeout): it never reads the answer

        self._serve(Handler)

    @property
    def sent(self) -> list[dict]:
        return self.state.sent

    def fail_next(self, times: int, status: int = 500, code: int | None = None, message: str = "boom") -> None:
        self.state.fail_next(times, status, code, message)

    def delay_next(self, times: int, seconds: float) -> None:
        self.state.delay_next(times, seconds)
