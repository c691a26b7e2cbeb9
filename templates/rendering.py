"""The one template renderer: variables checked by name, WhatsApp's limits checked, both providers' payloads.

Pure (no Django, no database): `TemplateSpec` is what a template says, `render(spec, variables)` what one send
of it looks like, or a `TemplateRenderError` naming every missing, extra or unusable variable.

Variables are written `{{name}}` (named) or `{{1}}` (numbered, 1..n with no gap); one template uses one kind.
They may appear in the body, a text header, a quick reply's payload and at the end of a URL button.
Meta takes named parameters as such (parameter_format NAMED); Twilio's Content API numbers its variables, so a
named template's variables are numbered in order of first appearance (body, header, buttons): the same
numbering is used when the template is registered with Twilio and when it is sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# WhatsApp's template limits (Meta's message template documentation; Twilio relays them).
MAX_NAME = 512
MAX_BODY = 1024
MAX_HEADER_TEXT = 60
MAX_FOOTER = 60
MAX_BUTTONS = 10
MAX_URL_BUTTONS = 2
MAX_PHONE_BUTTONS = 1
MAX_BUTTON_TEXT = 25
MAX_URL = 2000
MAX_PAYLOAD = 256
MAX_VARIABLE_VALUE = 1024  # no documented per-parameter cap beyond the body's; keeps one value inside the body's

NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAMED = re.compile(r"^[a-z_][a-z0-9_]*$")
_NUMBERED = re.compile(r"^[1-9][0-9]*$")

HEADER_TYPES = ("none", "text", "image")
BUTTON_TYPES = ("quick_reply", "url", "phone_number")
CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")


class TemplateError(ValueError):
    """A template (or one rendering of it) that cannot go out; `details` maps field → messages."""

    def __init__(self, message: str, details: dict[str, list[str]]):
        super().__init__(message)
        self.message = message
        self.details = details


class TemplateInvalid(TemplateError):
    """The template itself breaks WhatsApp's rules (found before any variable is filled)."""


class TemplateRenderError(TemplateError):
    """The variables given do not fit the template: `missing`, `extra` and `invalid` name them."""

    def __init__(self, *, missing: list[str], extra: list[str], invalid: dict[str, str], too_long: list[str]):
        details: dict[str, list[str]] = {}
        for name in missing:
            details.setdefault(f"variables.{name}", []).append(f"Missing variable '{name}'.")
        for name in extra:
            details.setdefault(f"variables.{name}", []).append(f"Variable '{name}' is not in the template.")
        for name, why in invalid.items():
            details.setdefault(f"variables.{name}", []).append(why)
        for where in too_long:
            details.setdefault(where, []).append("Too long once the variables are filled in.")
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"'{n}'" for n in missing))
        if extra:
            parts.append("not in the template " + ", ".join(f"'{n}'" for n in extra))
        if invalid:
            parts.append("unusable " + ", ".join(f"'{n}'" for n in invalid))
        if too_long:
            parts.append("too long: " + ", ".join(too_long))
        super().__init__("Template variables do not fit: " + "; ".join(parts) + ".", details)
        self.missing, self.extra, self.invalid, self.too_long = missing, extra, invalid, too_long


@dataclass(frozen=True)
class TemplateSpec:
    """What one template says. `buttons`: dicts with type, text, and payload / url / phone_number."""

    body: str
    name: str = ""
    language: str = "en"
    category: str = "UTILITY"
    header_type: str = "none"
    header_text: str = ""
    header_image_url: str = ""
    footer: str = ""
    buttons: tuple[dict[str, str], ...] = ()
    content_sid: str = ""  # Twilio's reference once registered
    examples: dict[str, str] = field(default_factory=dict)  # sample values for submission

    # --- variables -------------------------------------------------------------------------------------

    def _places(self) -> list[tuple[str, str]]:
        """(where, text) of every piece of the template that may hold variables, in numbering order."""
        places = [("body", self.body)]
        if self.header_type == "text":
            places.append(("header_text", self.header_text))
        for i, button in enumerate(self.buttons):
            if button.get("type") == "quick_reply":
                places.append((f"buttons[{i}].payload", button.get("payload", "")))
            elif button.get("type") == "url":
                places.append((f"buttons[{i}].url", button.get("url", "")))
        return places

    def variables(self) -> list[str]:
        """Every variable, each once, in order of first appearance (numbered ones in number order)."""
        seen: list[str] = []
        for _, text in self._places():
            for match in _VARIABLE.finditer(text or ""):
                if match[1] not in seen:
                    seen.append(match[1])
        if seen and all(_NUMBERED.match(v) for v in seen):
            seen.sort(key=int)
        return seen

    def parameter_format(self) -> str:
        names = self.variables()
        return "POSITIONAL" if names and all(_NUMBERED.match(n) for n in names) else "NAMED"

    def twilio_numbers(self) -> dict[str, str]:
        """variable → the number Twilio knows it by."""
        names = self.variables()
        if self.parameter_format() == "POSITIONAL":
            return {n: n for n in names}
        return {n: str(i) for i, n in enumerate(names, 1)}

    # --- the template's own rules --------------------------------------------------------------------------

    def problems(self) -> dict[str, list[str]]:
        """Every way the template breaks WhatsApp's rules, by field (empty when it is fine)."""
        out: dict[str, list[str]] = {}

        def add(where: str, message: str) -> None:
            out.setdefault(where, []).append(message)

        if self.name and not NAME_PATTERN.match(self.name):
            add("name", "Lowercase letters, digits and underscores only, at most 512 characters.")
        if not LANGUAGE_PATTERN.match(self.language or ""):
            add("language", "A language code such as 'ar', 'en' or 'en_US'.")
        if self.category not in CATEGORIES:
            add("category", f"One of {', '.join(CATEGORIES)}.")
        if not self.body.strip():
            add("body", "The body may not be empty.")
        if len(self.body) > MAX_BODY:
            add("body", f"At most {MAX_BODY} characters (this one has {len(self.body)}).")
        if self.header_type not in HEADER_TYPES:
            add("header_type", f"One of {', '.join(HEADER_TYPES)}.")
        if self.header_type == "text":
            if not self.header_text.strip():
                add("header_text", "A text header needs its text.")
            if len(self.header_text) > MAX_HEADER_TEXT:
                add("header_text", f"At most {MAX_HEADER_TEXT} characters.")
            if len(_VARIABLE.findall(self.header_text)) > 1:
                add("header_text", "A header holds at most one variable.")
        if self.header_type == "image" and not re.match(r"^https://\S+$", self.header_image_url or ""):
            add("header_image_url", "An image header needs an https:// URL.")
        if len(self.footer) > MAX_FOOTER:
            add("footer", f"At most {MAX_FOOTER} characters.")
        if _VARIABLE.search(self.footer):
            add("footer", "A footer may not hold variables.")
        self._button_problems(add)
        self._variable_problems(add)
        return out

    def _button_problems(self, add) -> None:
        if len(self.buttons) > MAX_BUTTONS:
            add("buttons", f"At most {MAX_BUTTONS} buttons.")
        kinds = [b.get("type") for b in self.buttons]
        if kinds.count("url") > MAX_URL_BUTTONS:
            add("buttons", f"At most {MAX_URL_BUTTONS} URL buttons.")
        if kinds.count("phone_number") > MAX_PHONE_BUTTONS:
            add("buttons", f"At most {MAX_PHONE_BUTTONS} phone number button.")
        # Meta groups quick replies apart from call-to-action buttons: they may not be interleaved.
        groups = [k == "quick_reply" for k in kinds]
        if sum(1 for a, b in zip(groups, groups[1:], strict=False) if a != b) > 1:
            add("buttons", "Quick replies and URL/phone buttons must each stay together.")
        for i, button in enumerate(self.buttons):
            where = f"buttons[{i}]"
            kind = button.get("type")
            if kind not in BUTTON_TYPES:
                add(where, f"type: one of {', '.join(BUTTON_TYPES)}.")
                continue
            text = button.get("text", "")
            if not 1 <= len(text) <= MAX_BUTTON_TEXT or _VARIABLE.search(text):
                add(where, f"text: 1 to {MAX_BUTTON_TEXT} characters, no variables.")
            if kind == "quick_reply" and len(button.get("payload", "")) > MAX_PAYLOAD:
                add(where, f"payload: at most {MAX_PAYLOAD} characters.")
            if kind == "url":
                url = button.get("url", "")
                if not re.match(r"^https?://\S+$", url) or len(url) > MAX_URL:
                    add(where, "url: an http(s) URL.")
                found = list(_VARIABLE.finditer(url))
                if len(found) > 1 or (found and found[0].end() != len(url)):
                    add(where, "url: at most one variable, at its end.")
            if kind == "phone_number" and not re.match(r"^\+[1-9][0-9]{6,14}$", button.get("phone_number", "")):
                add(where, "phone_number: E.164, e.g. +966508034010.")

    def _variable_problems(self, add) -> None:
        names = self.variables()
        bad = [n for n in names if not (_NAMED.match(n) or _NUMBERED.match(n))]
        for name in bad:
            add("variables", f"'{{{{{name}}}}}': a variable is a lowercase name or a number.")
        numbered = [n for n in names if _NUMBERED.match(n)]
        if numbered and len(numbered) != len(names):
            add("variables", "Use numbered ({{1}}) or named ({{name}}) variables, not both.")
        elif numbered and sorted(int(n) for n in numbered) != list(range(1, len(numbered) + 1)):
            add("variables", "Numbered variables run 1, 2, 3… without gaps.")

    def submission_problems(self) -> dict[str, list[str]]:
        """problems() plus what only the providers' review refuses (a preview may still render these)."""
        out = self.problems()
        body = self.body.strip()
        if not self.name:
            out.setdefault("name", []).append("A template needs a name to be submitted.")
        # WhatsApp rejects a body that starts or ends with a variable, or with two variables side by side.
        if body and (_VARIABLE.match(body) or re.search(r"\}\}$", body)):
            out.setdefault("body", []).append("The body may not start or end with a variable.")
        if re.search(r"\}\}\s*\{\{", self.body):
            out.setdefault("body", []).append("Two variables may not stand side by side.")
        return out

    def check(self, *, for_submission: bool = False) -> None:
        problems = self.submission_problems() if for_submission else self.problems()
        if problems:
            raise TemplateInvalid("The template breaks WhatsApp's rules.", problems)


@dataclass(frozen=True)
class Rendered:
    """One send of a template: what the customer reads and each provider's exact request parts."""

    text: str
    header: str
    footer: str
    buttons: list[dict[str, str]]
    twilio: dict[str, Any]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "header": self.header,
            "footer": self.footer,
            "buttons": self.buttons,
            "twilio": self.twilio,
            "meta": self.meta,
        }


def _fill(text: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values[m[1]], text or "")


def _value_problem(value: Any) -> str | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return "A variable's value is text."
    text = str(value)
    if not text.strip():
        return "A variable's value may not be blank."
    if "\n" in text or "\t" in text or "    " in text:
        return "WhatsApp refuses new lines, tabs and more than three spaces in a row in a variable."
    if len(text) > MAX_VARIABLE_VALUE:
        return f"At most {MAX_VARIABLE_VALUE} characters."
    return None


def render(spec: TemplateSpec, variables: dict[str, Any]) -> Rendered:
    """Fill the template in. Raises TemplateInvalid for a broken template, TemplateRenderError naming every
    missing, extra or unusable variable; never sends a blank in place of a value."""
    spec.check()
    names = spec.variables()
    missing = [n for n in names if n not in variables]
    extra = sorted(k for k in variables if k not in names)
    invalid = {k: why for k in names if k in variables and (why := _value_problem(variables[k]))}
    if missing or extra or invalid:
        raise TemplateRenderError(missing=missing, extra=extra, invalid=invalid, too_long=[])
    values = {n: str(variables[n]) for n in names}
    text = _fill(spec.body, values)
    header = _fill(spec.header_text, values) if spec.header_type == "text" else ""
    too_long = []
    if len(text) > MAX_BODY:
        too_long.append("body")
    if len(header) > MAX_HEADER_TEXT:
        too_long.append("header_text")
    buttons = []
    for i, button in enumerate(spec.buttons):
        filled = dict(button)
        if button["type"] == "quick_reply":
            filled["payload"] = _fill(button.get("payload", ""), values) or button["text"]
            if len(filled["payload"]) > MAX_PAYLOAD:
                too_long.append(f"buttons[{i}].payload")
        elif button["type"] == "url":
            filled["url"] = _fill(button["url"], values)
        buttons.append(filled)
    if too_long:
        raise TemplateRenderError(missing=[], extra=[], invalid={}, too_long=too_long)
    return Rendered(
        text=text,
        header=header,
        footer=spec.footer,
        buttons=buttons,
        twilio=_twilio_payload(spec, values),
        meta=_meta_payload(spec, values, buttons),
    )


def _twilio_payload(spec: TemplateSpec, values: dict[str, str]) -> dict[str, Any]:
    """The Messages API parameters that select the content and fill it (ContentVariables is a JSON string)."""
    numbers = spec.twilio_numbers()
    return {
        "ContentSid": spec.content_sid or None,
        "ContentVariables": json.dumps({numbers[n]: v for n, v in values.items()}, ensure_ascii=False),
    }


def _text_parameters(spec: TemplateSpec, text: str, values: dict[str, str]) -> list[dict[str, str]]:
    named = spec.parameter_format() == "NAMED"
    names = []
    for match in _VARIABLE.finditer(text or ""):
        if match[1] not in names or not named:
            names.append(match[1])
    if not named:
        names = sorted(set(names), key=int)
    return [{"type": "text", **({"parameter_name": n} if named else {}), "text": values[n]} for n in names]


def _meta_payload(spec: TemplateSpec, values: dict[str, str], buttons: list[dict[str, str]]) -> dict[str, Any]:
    """The Graph API message body without `to`: type template, components with their parameters."""
    components: list[dict[str, Any]] = []
    if spec.header_type == "text" and _VARIABLE.search(spec.header_text):
        components.append({"type": "header", "parameters": _text_parameters(spec, spec.header_text, values)})
    elif spec.header_type == "image":
        components.append(
            {"type": "header", "parameters": [{"type": "image", "image": {"link": spec.header_image_url}}]}
        )
    body_parameters = _text_parameters(spec, spec.body, values)
    if body_parameters:
        components.append({"type": "body", "parameters": body_parameters})
    for index, (button, filled) in enumerate(zip(spec.buttons, buttons, strict=True)):
        if button["type"] == "quick_reply":
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": filled["payload"]}],
                }
            )
        elif button["type"] == "url" and (found := _VARIABLE.search(button["url"])):
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": str(index),
                    "parameters": [{"type": "text", "text": values[found[1]]}],
                }
            )
    return {
        "messaging_product": "whatsapp",
        "type": "template",
        "template": {"name": spec.name or None, "language": {"code": spec.language}, "components": components},
    }


# --- registration payloads (what submit sends) -----------------------------------------------------------------


def _examples(spec: TemplateSpec) -> dict[str, str]:
    return {n: str(spec.examples.get(n) or f"sample {n}") for n in spec.variables()}


def meta_create_payload(spec: TemplateSpec, *, header_handle: str = "") -> dict[str, Any]:
    """The body of POST /{waba-id}/message_templates. An image header's sample goes by `header_handle`, the
    handle the Resumable Upload API gave for the image's bytes (Meta refuses example.header_url for an image)."""
    if spec.header_type == "image" and not header_handle:
        raise ValueError("an image header is created with the uploaded image's handle")
    examples = _examples(spec)
    named = spec.parameter_format() == "NAMED"

    def example_for(text: str, kind: str) -> dict[str, Any]:
        names = []
        for match in _VARIABLE.finditer(text):
            if match[1] not in names:
                names.append(match[1])
        if not names:
            return {}
        if named:
            return {
                "example": {f"{kind}_text_named_params": [{"param_name": n, "example": examples[n]} for n in names]}
            }
        ordered = [examples[n] for n in sorted(names, key=int)]
        return {"example": {f"{kind}_text": [ordered] if kind == "body" else ordered}}

    components: list[dict[str, Any]] = []
    if spec.header_type == "text":
        components.append(
            {"type": "HEADER", "format": "TEXT", "text": spec.header_text, **example_for(spec.header_text, "header")}
        )
    elif spec.header_type == "image":
        components.append({"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [header_handle]}})
    components.append({"type": "BODY", "text": spec.body, **example_for(spec.body, "body")})
    if spec.footer:
        components.append({"type": "FOOTER", "text": spec.footer})
    if spec.buttons:
        meta_buttons = []
        for button in spec.buttons:
            if button["type"] == "quick_reply":
                meta_buttons.append({"type": "QUICK_REPLY", "text": button["text"]})
            elif button["type"] == "url":
                entry = {"type": "URL", "text": button["text"], "url": _VARIABLE.sub("{{1}}", button["url"])}
                if found := _VARIABLE.search(button["url"]):
                    entry["example"] = [_VARIABLE.sub(examples[found[1]], button["url"])]
                meta_buttons.append(entry)
            else:
                meta_buttons.append(
                    {"type": "PHONE_NUMBER", "text": button["text"], "phone_number": button["phone_number"]}
                )
        components.append({"type": "BUTTONS", "buttons": meta_buttons})
    return {
        "name": spec.name,
        "language": spec.language,
        "category": spec.category,
        "parameter_format": spec.parameter_format(),
        "components": components,
    }


def twilio_create_payload(spec: TemplateSpec) -> dict[str, Any]:
    """The body of POST https://content.twilio.com/v1/Content: variables renumbered as Twilio wants them."""
    numbers = spec.twilio_numbers()
    examples = _examples(spec)

    def numbered(text: str) -> str:
        return _VARIABLE.sub(lambda m: "{{" + numbers[m[1]] + "}}", text or "")

    body = numbered(spec.body)
    quick = [b for b in spec.buttons if b["type"] == "quick_reply"]
    calls = [b for b in spec.buttons if b["type"] != "quick_reply"]
    types: dict[str, Any]
    if spec.header_type == "image" or spec.header_type == "text":
        actions = [
            {"type": "QUICK_REPLY", "title": b["text"], "id": numbered(b.get("payload") or b["text"])} for b in quick
        ] + [_twilio_call_action(b, numbered) for b in calls]
        card: dict[str, Any] = {"title": numbered(spec.header_text) if spec.header_type == "text" else body}
        if spec.header_type == "text":
            card["body"] = body
        if spec.header_type == "image":
            card["media"] = [spec.header_image_url]
        if spec.footer:
            card["subtitle"] = spec.footer
        if actions:
            card["actions"] = actions
        types = {"twilio/card": card}
    elif quick:
        types = {
            "twilio/quick-reply": {
                "body": body,
                "actions": [{"title": b["text"], "id": numbered(b.get("payload") or b["text"])} for b in quick],
            }
        }
    elif calls:
        types = {"twilio/call-to-action": {"body": body, "actions": [_twilio_call_action(b, numbered) for b in calls]}}
    else:
        types = {"twilio/text": {"body": body}}
    return {
        "friendly_name": spec.name,
        "language": spec.language,
        "variables": {numbers[n]: examples[n] for n in spec.variables()},
        "types": types,
    }


def _twilio_call_action(button: dict[str, str], numbered) -> dict[str, str]:
    if button["type"] == "url":
        return {"type": "URL", "title": button["text"], "url": numbered(button["url"])}
    return {"type": "PHONE_NUMBER", "title": button["text"], "phone": button["phone_number"]}


def preview_text(rendered: Rendered) -> str:
    """The message as a person reads it: header, body, footer, then the buttons numbered."""
    parts = [p for p in (rendered.header, rendered.text, rendered.footer) if p]
    if rendered.buttons:
        parts.append("\n".join(f"{i}. {b['text']}" for i, b in enumerate(rendered.buttons, 1)))
    return "\n\n".join(parts)
