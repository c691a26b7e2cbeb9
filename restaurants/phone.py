"""Phone numbers: everything inside Sufrah is E.164 ("+966508034010")."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


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
