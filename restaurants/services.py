from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError

from .models import MenuCategory, MenuItem, Provider, Restaurant, Sender
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


def sender_credentials_validate(*, provider: str, fields: dict, exclude_pk: int | None = None) -> None:
    """The provider's credentials are complete and well-formed; a Meta number id routes to one sender only."""
    errors = {}
    if provider == Provider.TWILIO:
        sid = fields.get("twilio_account_sid") or ""
        if not (sid.startswith("AC") and len(sid) == 34):
            errors["twilio_account_sid"] = "A Twilio account SID starts with 'AC' and has 34 characters."
        if not fields.get("twilio_auth_token"):
            errors["twilio_auth_token"] = "The Twilio auth token is required."
    elif provider == Provider.META:
        number_id = fields.get("meta_phone_number_id") or ""
        if not number_id:
            errors["meta_phone_number_id"] = "The Meta phone number id is required."
        elif Sender.objects.filter(meta_phone_number_id=number_id).exclude(pk=exclude_pk).exists():
            errors["meta_phone_number_id"] = f"Meta phone number id {number_id} is already registered."
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


# --- menu CRUD and sender updates from the dashboard API ---------------------------------------------------


class InUse(Exception):
    """The row is still referenced (e.g. a sender by its conversations) and cannot be deleted."""


def _save_validated(instance, *, exclude: list[str] | None = None):
    instance.full_clean(exclude=exclude, validate_unique=False)
    instance.save()
    return instance


def menu_category_create(
    *, restaurant: Restaurant, name_ar: str, name_en: str, sort_order: int = 0, active: bool = True
) -> MenuCategory:
    category = MenuCategory(
        restaurant=restaurant, name_ar=name_ar, name_en=name_en, sort_order=sort_order, active=active
    )
    return _save_validated(category)


MENU_CATEGORY_FIELDS = ("name_ar", "name_en", "sort_order", "active")


def menu_category_update(*, category: MenuCategory, data: dict) -> MenuCategory:
    for field in MENU_CATEGORY_FIELDS:
        if field in data:
            setattr(category, field, data[field])
    return _save_validated(category)


def menu_category_delete(*, category: MenuCategory) -> None:
    """Deletes the category with its items (placed orders keep their own copies of names and prices)."""
    category.delete()


MENU_ITEM_FIELDS = (
    "category",
    "name_ar",
    "name_en",
    "description_ar",
    "description_en",
    "price",
    "available",
    "image_url",
    "sort_order",
)


def _menu_item_category_check(item: MenuItem) -> None:
    if item.category.restaurant_id != item.restaurant_id:
        raise ValidationError({"category": "The category belongs to another restaurant."})


def menu_item_create(
    *,
    restaurant: Restaurant,
    category: MenuCategory,
    name_ar: str,
    name_en: str,
    price,
    description_ar: str = "",
    description_en: str = "",
    available: bool = True,
    image_url: str = "",
    sort_order: int = 0,
) -> MenuItem:
    item = MenuItem(
        restaurant=restaurant,
        category=category,
        name_ar=name_ar,
        name_en=name_en,
        price=price,
        description_ar=description_ar,
        description_en=description_en,
        available=available,
        image_url=image_url,
        sort_order=sort_order,
    )
    _menu_item_category_check(item)
    return _save_validated(item)


def menu_item_update(*, item: MenuItem, data: dict) -> MenuItem:
    for field in MENU_ITEM_FIELDS:
        if field in data:
            setattr(item, field, data[field])
    _menu_item_category_check(item)
    return _save_validated(item)


def menu_item_delete(*, item: MenuItem) -> None:
    """Deletes the item (placed orders keep their own copies of its name and price)."""
    item.delete()


SENDER_SECRET_FIELDS = ("twilio_auth_token", "meta_access_token", "meta_app_secret")
SENDER_CREDENTIAL_FIELDS = ("twilio_account_sid", "meta_phone_number_id", *SENDER_SECRET_FIELDS)


@transaction.atomic
def sender_update(*, sender: Sender, data: dict) -> Sender:
    """Change a sender: number (re-normalised, still unique), provider, credentials, rate, active.

    Credentials not given keep their stored values; the resulting set must be complete for the provider.
    """
    if "phone_number" in data:
        sender.phone_number = sender_number_validate(phone_number=data["phone_number"], exclude_pk=sender.pk)
    if "provider" in data:
        sender.provider = data["provider"]
    for field in SENDER_CREDENTIAL_FIELDS:
        if field in data:
            setattr(sender, field, (data[field] or "").strip())
    sender_credentials_validate(
        provider=sender.provider,
        fields={field: getattr(sender, field) for field in SENDER_CREDENTIAL_FIELDS},
        exclude_pk=sender.pk,
    )
    if "messages_per_minute" in data:
        if data["messages_per_minute"] < 1:
            raise ValidationError({"messages_per_minute": "Must be at least 1."})
        sender.messages_per_minute = data["messages_per_minute"]
    if "active" in data:
        sender.active = bool(data["active"])
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError:
        raise ValidationError({"phone_number": f"{sender.phone_number} is already registered."}) from None
    return sender


def sender_delete(*, sender: Sender) -> None:
    """Refused (InUse) once the number has conversations: deactivate it instead, history stays."""
    try:
        with transaction.atomic():
            sender.delete()
    except (ProtectedError, RestrictedError):
        raise InUse("This sender has conversations: deactivate it instead.") from None
