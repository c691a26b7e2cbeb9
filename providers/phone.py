"""Phone numbers: everything inside Sufrah is E.164 ("+966508034010")."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


# Parsing costs ~50 µs and every webhook parses its two numbers: a pure function, so remember recent ones.
@lru_cache(maxsize=65536)
def normalize_e164(raw: str) -> str:
    """'+966 50 803 4010', 'whatsapp:+966508034010', '00966508034010' → '+966508034010'."""
    if raw is None:
        raise InvalidPhoneNumber("a phone number is required")
    text = str(raw).strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :].strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and text.isdigit():
        # Meta's wa_id is E.164 without the plus.
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"'{raw}' is not a phone number in international format (+CC...): {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"'{raw}' is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A business-scoped user id: two-letter country, a period, then letters/digits (a parent BSUID adds "ENT.").
_BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")
MAX_IDENTITY = 160


def is_business_scoped_id(raw: str) -> bool:
    return bool(_BSUID.match(raw))


def whatsapp_number(raw: str) -> str:
    """A customer's number as WhatsApp sends it, normalised the way WhatsApp does, never refused.

    Mexico's legacy mobile prefix: WhatsApp reports Mexican mobiles as 521 + 10 digits (the "1" once dialled
    before mobiles); the number is +52 + the 10 digits, which is also what WhatsApp accepts to send to. A value
    that still fails strict parsing is kept as given (digits with a "+"), so one odd number never costs a
    webhook: the conversation still has an identity and staff can still see it.
    """
    text = str(raw or "").strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :].strip()
    digits = text.lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.isdigit() and len(digits) == 13 and digits.startswith("521"):
        digits = "52" + digits[3:]
    try:
        return normalize_e164("+" + digits if digits.isdigit() else text)
    except InvalidPhoneNumber:
        return ("+" + digits if digits.isdigit() else text)[:MAX_IDENTITY]


def whatsapp_identity(raw: str) -> tuple[str, str]:
    """(identity, number) of a customer: a business-scoped id has no number; a number is its own identity."""
    text = str(raw or "").strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :].strip()
    if is_business_scoped_id(text):
        return text, ""
    number = whatsapp_number(text)
    return number, number
