"""Plain data that crosses the provider boundary: what came in, what goes out, what a status says.

No Django here: the bot engine and the provider adapters speak only these types.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

# WhatsApp's limits on interactive messages (Meta's documentation; Twilio relays the same).
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_LIST_BUTTON_LABEL = 20
MAX_INTERACTIVE_BODY = 1024
MAX_TEXT_BODY = 4096
MAX_SECTION_TITLE = 24


@dataclass(frozen=True)
class Button:
    id: str
    title: str


@dataclass(frozen=True)
class ListRow:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class ListSection:
    title: str
    rows: tuple[ListRow, ...]


@dataclass(frozen=True)
class OutboundContent:
    """One message to send. `kind` picks which of the optional parts matter."""

    kind: Literal["text", "buttons", "list", "image", "document", "template"]
    body: str
    buttons: tuple[Button, ...] = ()
    sections: tuple[ListSection, ...] = ()
    button_label: str = ""
    header: str = ""
    footer: str = ""
    # An image or document: the URL the provider fetches it from (a signed link to our copy, set when it is
    # sent), its file name (documents), and what the bot names instead of a URL ("menu_item:7"; the driver
    # resolves it to the stored photo).
    media_url: str = ""
    filename: str = ""
    media_ref: str = ""
    template_name: str = ""
    template_language: str = ""
    template_params: tuple[str, ...] = ()
    # A rendered template's exact request parts (templates.rendering): Twilio's ContentSid + ContentVariables,
    # Meta's {"type": "template", "template": {...}} without "to".
    template_twilio: dict[str, Any] = field(default_factory=dict)
    template_meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def text(cls, body: str) -> OutboundContent:
        return cls(kind="text", body=body)

    def options(self) -> list[tuple[str, str]]:
        """(id, title) of every choice, in the order a customer sees them numbered."""
        if self.kind in ("buttons", "template"):  # a template's quick replies: id = the payload it sends back
            return [(b.id, b.title) for b in self.buttons]
        if self.kind == "list":
            return [(r.id, r.title) for s in self.sections for r in s.rows]
        return []

    def as_plain_text(self) -> str:
        """The message for channels without native interactive messages: options numbered 1, 2, 3…"""
        parts = [p for p in (self.header, self.body) if p]
        if self.kind in ("buttons", "template") and self.buttons:
            parts.append("\n".join(f"{i}. {b.title}" for i, b in enumerate(self.buttons, 1)))
        elif self.kind == "list":
            lines, n = [], 0
            for section in self.sections:
                if section.title and len(self.sections) > 1:
                    lines.append(f"— {section.title} —")
                for row in section.rows:
                    n += 1
                    lines.append(f"{n}. {row.title}" + (f" — {row.description}" if row.description else ""))
            parts.append("\n".join(lines))
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundContent:
        data = dict(data)
        data["buttons"] = tuple(Button(**b) for b in data.get("buttons", ()))
        data["sections"] = tuple(
            ListSection(title=s.get("title", ""), rows=tuple(ListRow(**r) for r in s.get("rows", ())))
            for s in data.get("sections", ())
        )
        data["template_params"] = tuple(data.get("template_params", ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def limit_violations(self) -> list[str]:
        """Every way this message breaks WhatsApp's limits (empty when it fits)."""
        problems: list[str] = []
        if self.kind == "text" and not self.body.strip():
            problems.append("empty text body")
        if self.kind == "text" and len(self.body) > MAX_TEXT_BODY:
            problems.append(f"text body over {MAX_TEXT_BODY}")
        if self.kind in ("buttons", "list"):
            if not self.body.strip():
                problems.append("interactive message without body")
            if len(self.body) > MAX_INTERACTIVE_BODY:
                problems.append(f"interactive body over {MAX_INTERACTIVE_BODY}")
        if self.kind == "buttons":
            if not 1 <= len(self.buttons) <= MAX_BUTTONS:
                problems.append(f"{len(self.buttons)} buttons")
            for b in self.buttons:
                if not 1 <= len(b.title) <= MAX_BUTTON_TITLE:
                    problems.append(f"button title {b.title!r} length {len(b.title)}")
                if not 1 <= len(b.id) <= MAX_BUTTON_ID:
                    problems.append(f"button id {b.id!r}")
            if len({b.id for b in self.buttons}) != len(self.buttons):
                problems.append("duplicate button ids")
        if self.kind == "list":
            rows = [r for s in self.sections for r in s.rows]
            if not 1 <= len(self.sections) <= MAX_LIST_SECTIONS:
                problems.append(f"{len(self.sections)} sections")
            if not 1 <= len(rows) <= MAX_LIST_ROWS:
                problems.append(f"{len(rows)} rows")
            if not 1 <= len(self.button_label) <= MAX_LIST_BUTTON_LABEL:
                problems.append(f"list button label {self.button_label!r}")
            for s in self.sections:
                if len(s.title) > MAX_SECTION_TITLE:
                    problems.append(f"section title {s.title!r}")
            for r in rows:
                if not 1 <= len(r.title) <= MAX_ROW_TITLE:
                    problems.append(f"row title {r.title!r} length {len(r.title)}")
                if len(r.description) > MAX_ROW_DESCRIPTION:
                    problems.append(f"row description {r.description!r}")
                if not 1 <= len(r.id) <= MAX_ROW_ID:
                    problems.append(f"row id {r.id!r}")
            if len({r.id for r in rows}) != len(rows):
                problems.append("duplicate row ids")
        return problems


# C0 controls but tab, newline and carriage return: PostgreSQL text and jsonb refuse NUL, and none of them
# mean anything in a chat message.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control_chars(text: str) -> str:
    return _CONTROL_CHARS.sub("", text)


# Inbound kinds. The last four are events about the conversation, not things said in it: the bot stays quiet.
InboundKind = Literal[
    "text",
    "interactive",
    "location",
    "media",
    "contacts",
    "order",
    "unsupported",
    "reaction",
    "edit",
    "revoke",
    "system",
]
EVENT_KINDS = frozenset({"reaction", "edit", "revoke", "system"})


@dataclass
class InboundMessage:
    """One customer message, whatever provider brought it.

    `customer_id` is the customer's WhatsApp identity (the wa_id as E.164, or a business-scoped user id such as
    "US.13491208655302741918" when WhatsApp hides the number); `from_number` is the number when there is one.
    `details` holds what the kind carries beyond text (reaction, contacts, order items, location names, media
    file names, flow answers, the edited or revoked message, a number change), `context` the message it replies
    to, `referral` the click-to-WhatsApp ad it came from, `errors` what the provider reported about it.
    """

    provider: str
    provider_message_id: str
    to_number: str
    from_number: str
    profile_name: str = ""
    kind: InboundKind = "text"
    text: str = ""
    reply_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    media: list[dict[str, Any]] = field(default_factory=list)
    timestamp: datetime | None = None
    customer_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    referral: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.customer_id:
            self.customer_id = self.from_number

    @property
    def is_event(self) -> bool:
        """A reaction, an edit, a revoke or a system notice: nothing for the bot to answer."""
        return self.kind in EVENT_KINDS

    def sanitized(self) -> InboundMessage:
        """The same message with control characters removed from everything the customer typed."""
        return replace(
            self,
            text=strip_control_chars(self.text),
            profile_name=strip_control_chars(self.profile_name),
            reply_id=strip_control_chars(self.reply_id),
            address=strip_control_chars(self.address),
            details=_strip_deep(self.details),
            context=_strip_deep(self.context),
            referral=_strip_deep(self.referral),
            media=_strip_deep(self.media),
            errors=_strip_deep(self.errors),
        )

    def summary(self) -> str:
        """What a person sees of it in a list (also the stored body)."""
        if self.kind == "location":
            return self.address or f"📍 {self.latitude},{self.longitude}"
        if self.kind == "media" and not self.text:
            return "📎 " + ", ".join(m.get("filename") or m.get("content_type") or "file" for m in self.media)
        if self.kind == "reaction":
            return self.details.get("emoji") or "(reaction removed)"
        if self.kind == "contacts" and not self.text:
            names = [c.get("name", {}).get("formatted_name", "") for c in self.details.get("contacts", [])]
            return "👤 " + ", ".join(n for n in names if n)
        if self.kind == "order" and not self.text:
            return f"🛒 {len(self.details.get('items', []))} item(s)"
        if self.kind == "revoke":
            return "(message deleted)"
        if self.kind == "system" and not self.text:
            return str(self.details.get("body", ""))
        if self.kind == "unsupported" and not self.text:
            return "(unsupported message)"
        return self.text


def _strip_deep(value: Any) -> Any:
    if isinstance(value, str):
        return strip_control_chars(value)
    if isinstance(value, dict):
        return {strip_control_chars(str(k)): _strip_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_deep(v) for v in value]
    return value


@dataclass
class StatusUpdate:
    """A status of one of our messages. `status` is the provider's word, lower-cased: the conversations room
    decides which ones it knows (an unknown one, such as Meta's "played", is recorded and skipped)."""

    provider: str
    provider_message_id: str
    status: str
    error_code: str = ""
    error_message: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    recipient: str = ""


@dataclass
class TemplateStatusChange:
    """News about one of the business account's message templates (Meta's message_template_status_update):
    the change's value as sent; the templates room reads it (event, message_template_id, reason, ...)."""

    provider: str
    template_ref: str  # the provider's template id
    value: dict[str, Any]


@dataclass
class ItemFailure:
    """One item of a webhook that could not be understood: recorded with its reason, the rest go on."""

    provider: str
    ref: str
    reason: str


@dataclass
class SendResult:
    provider_message_id: str
    status: str = "sent"


class MalformedWebhook(ValueError):
    """A provider request that cannot be understood (any provider); the message says what is wrong."""


# Provider error codes that mean "these credentials are refused": Twilio 20003 (authenticate), Meta 190
# (access token invalid or expired), and a bare HTTP 401.
CREDENTIALS_REFUSED_CODES = frozenset({"20003", "190", "401"})


class SendError(Exception):
    """A provider refused or could not take a message. `retryable` says whether trying later may help."""

    def __init__(self, code: str, message: str, *, retryable: bool, ambiguous: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
        self.retryable = retryable
        # The request may have reached the provider (no answer within the read timeout, the connection
        # dropped after sending): resending blindly could send the customer the message twice.
        self.ambiguous = ambiguous
