from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .models import Provider, Restaurant, Sender
from .phone import InvalidPhoneNumber, normalize_e164


def sender_number_validate(*, phone_number: str, exclude_pk: int | None = None) -> str:
    """Normalise to E.164 and refuse a number another sender already has."""
    try:
        number = normalize_e164(phone_number)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"phone_number": str(exc)}) from None
    clash = Sender.objects.filter(phone_number=number).exclude(pk=exclude_pk).select_related("restaurant").first()
    if clash is not None:
        raise ValidationError(
            {"phone_number": f"{number} is already registered (restaurant '{clash.restaurant.slug}')."}
        )
    return number


def sender_credentials_validate(*, provider: str, fields: dict) -> None:
    errors = {}
    if provider == Provider.TWILIO:
        sid = fields.get("twilio_account_sid") or ""
        if not (sid.startswith("AC") and len(sid) == 34):
            errors["twilio_account_sid"] = "A Twilio account SID starts with 'AC' and has 34 characters."
        if not fields.get("twilio_auth_token"):
            errors["twilio_auth_token"] = "The Twilio auth token is required."
    elif provider == Provider.META:
        if not fields.get("meta_phone_number_id"):
            errors["meta_phone_number_id"] = "The Meta phone number id is required."
        if not fields.get("meta_access_token"):
            errors["meta_access_token"] = "The Meta access token is required."
        if not fields.get("meta_app_secret"):
            errors["meta_app_secret"] = "The Meta app secret is required (it signs webhooks)."
    elif provider != Provider.CONSOLE:
        errors["provider"] = f"Unknown provider '{provider}'."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def sender_register(
    *,
    restaurant: Restaurant,
    provider: str,
    phone_number: str,
    twilio_account_sid: str = "",
    twilio_auth_token: str = "",
    meta_phone_number_id: str = "",
    meta_access_token: str = "",
    meta_app_secret: str = "",
    messages_per_minute: int = 600,
) -> Sender:
    number = sender_number_validate(phone_number=phone_number)
    fields = {
        "twilio_account_sid": twilio_account_sid.strip(),
        "twilio_auth_token": twilio_auth_token.strip(),
        "meta_phone_number_id": meta_phone_number_id.strip(),
        "meta_access_token": meta_access_token.strip(),
        "meta_app_secret": meta_app_secret.strip(),
    }
    sender_credentials_validate(provider=provider, fields=fields)
    if messages_per_minute < 1:
        raise ValidationError({"messages_per_minute": "Must be at least 1."})
    try:
        with transaction.atomic():
            return Sender.objects.create(
                restaurant=restaurant,
                provider=provider,
                phone_number=number,
                messages_per_minute=messages_per_minute,
                **fields,
            )
    except IntegrityError:
        raise ValidationError({"phone_number": f"{number} is already registered."}) from None
