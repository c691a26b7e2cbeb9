from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from providers.phone import InvalidPhoneNumber, normalize_e164
from providers.registry import UnknownProvider, provider_for
from sufrahbot.errors import InUse
from sufrahbot.events import publish

from .audit import audit_changes, audit_record
from .models import MenuCategory, MenuItem, Restaurant, Sender
from .photos import PhotoRejected, photo_prepare
from .plans import plan_sender_check


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


def sender_credentials_clean(*, provider: str, credentials: dict, exclude_pk: int | None = None) -> dict[str, str]:
    """The provider's credentials, stripped and checked against its schema: complete, well-formed, nothing
    else; an id webhooks are routed by (Meta's phone number id) belongs to one sender only."""
    try:
        spec = provider_for(provider)
    except UnknownProvider:
        raise ValidationError({"provider": f"Unknown provider '{provider}'."}) from None
    names = {f.name for f in spec.credentials}
    unknown = sorted(set(credentials) - names)
    if unknown:
        raise ValidationError({name: f"'{name}' is not a {spec.label} credential." for name in unknown})
    cleaned = {name: str(credentials.get(name) or "").strip() for name in names}
    errors = spec.credential_errors(cleaned)
    routing_id = spec.routing_id(cleaned)
    if routing_id and not errors:
        clash = Sender.objects.filter(provider=provider, routing_id=routing_id).exclude(pk=exclude_pk).exists()
        if clash:
            field = next(f for f in spec.credentials if f.routing)
            errors[field.name] = f"{field.label} {routing_id} is already registered."
    if errors:
        raise ValidationError(errors)
    return {name: value for name, value in cleaned.items() if value}


@transaction.atomic
def sender_register(
    *,
    restaurant: Restaurant,
    provider: str,
    phone_number: str,
    credentials: dict,
    messages_per_minute: int = 600,
    active: bool = True,
    by=None,
    source: str = "",
) -> Sender:
    """A new sender; an active one within the plan's senders (PlanLimitReached over it). Audited with `by`
    (the credentials only as changed: never their values)."""
    number = sender_number_validate(phone_number=phone_number)
    cleaned = sender_credentials_clean(provider=provider, credentials=credentials)
    if messages_per_minute < 1:
        raise ValidationError({"messages_per_minute": "Must be at least 1."})
    if active:
        plan_sender_check(restaurant=restaurant)
    try:
        with transaction.atomic():
            sender = Sender.objects.create(
                restaurant=restaurant,
                provider=provider,
                phone_number=number,
                messages_per_minute=messages_per_minute,
                active=active,
                credentials=cleaned,
                routing_id=provider_for(provider).routing_id(cleaned),
            )
    except IntegrityError:
        raise ValidationError({"phone_number": f"{number} is already registered."}) from None
    after, secret = _sender_snapshot(sender)
    audit_record(
        restaurant_id=sender.restaurant_id,
        actor=by,
        action="sender.created",
        target=sender,
        changes=audit_changes({}, after, secret=secret),
        source=source,
    )
    return sender


# --- menu CRUD and sender updates from the dashboard API ---------------------------------------------------


def _save_validated(instance, *, exclude: list[str] | None = None):
    instance.full_clean(exclude=exclude, validate_unique=False)
    instance.save()
    return instance


def _snapshot(instance, fields) -> dict:
    return {field: getattr(instance, field) for field in fields}


def menu_event_data(instance: MenuCategory | MenuItem, *, action: str) -> dict:
    """The `menu` object of a menu.updated event: what changed, and its main fields."""
    is_item = isinstance(instance, MenuItem)
    return {
        "object": "item" if is_item else "category",
        "action": action,
        "id": instance.pk,
        "category_id": instance.category_id if is_item else instance.pk,
        "name_ar": instance.name_ar,
        "name_en": instance.name_en,
        "price": f"{Decimal(str(instance.price)):.2f}" if is_item else None,
        "available": instance.available if is_item else instance.active,
    }


def _menu_announce(instance: MenuCategory | MenuItem, *, action: str) -> None:
    publish(instance.restaurant_id, {"type": "menu.updated", "menu": menu_event_data(instance, action=action)})


def _audited_save(instance, *, by, action: str, fields, before: dict | None = None, source: str = ""):
    """Save (validated), record who changed which fields and announce menu.updated, in one transaction."""
    with transaction.atomic():
        _save_validated(instance)
        after = _snapshot(instance, fields)
        audit_record(
            restaurant_id=instance.restaurant_id,
            actor=by,
            action=action,
            target=instance,
            changes=audit_changes(before or {}, after),
            source=source,
        )
        _menu_announce(instance, action="created" if action.endswith(".created") else "changed")
    return instance


def menu_category_create(
    *,
    restaurant: Restaurant,
    name_ar: str,
    name_en: str,
    sort_order: int = 0,
    active: bool = True,
    by=None,
    source: str = "",
) -> MenuCategory:
    """`source` names where staff did it for the audit trail ("admin"; the API's are unnamed)."""
    category = MenuCategory(
        restaurant=restaurant, name_ar=name_ar, name_en=name_en, sort_order=sort_order, active=active
    )
    return _audited_save(category, by=by, action="menucategory.created", fields=MENU_CATEGORY_FIELDS, source=source)


MENU_CATEGORY_FIELDS = ("name_ar", "name_en", "sort_order", "active")


def menu_category_update(*, category: MenuCategory, data: dict, by=None, source: str = "") -> MenuCategory:
    before = _snapshot(category, MENU_CATEGORY_FIELDS)
    for field in MENU_CATEGORY_FIELDS:
        if field in data:
            setattr(category, field, data[field])
    return _audited_save(
        category, by=by, action="menucategory.changed", fields=MENU_CATEGORY_FIELDS, before=before, source=source
    )


def menu_category_delete(*, category: MenuCategory, by=None, source: str = "") -> None:
    """Deletes the category with its items (placed orders keep their own copies of names and prices)."""
    with transaction.atomic():
        audit_record(
            restaurant_id=category.restaurant_id,
            actor=by,
            action="menucategory.deleted",
            target=category,
            source=source,
        )
        _menu_announce(category, action="deleted")
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


def menu_item_category_check(*, restaurant_id: int, category: MenuCategory) -> None:
    """A dish belongs to a category of its own restaurant (the API and the admin's form both ask here)."""
    if category.restaurant_id != restaurant_id:
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
    by=None,
    source: str = "",
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
    menu_item_category_check(restaurant_id=restaurant.pk, category=category)
    return _audited_save(item, by=by, action="menuitem.created", fields=MENU_ITEM_FIELDS, source=source)


def menu_item_update(*, item: MenuItem, data: dict, by=None, source: str = "") -> MenuItem:
    before = _snapshot(item, MENU_ITEM_FIELDS)
    for field in MENU_ITEM_FIELDS:
        if field in data:
            setattr(item, field, data[field])
    menu_item_category_check(restaurant_id=item.restaurant_id, category=item.category)
    return _audited_save(
        item, by=by, action="menuitem.changed", fields=MENU_ITEM_FIELDS, before=before, source=source
    )


def menu_item_photo_set(*, item: MenuItem, upload, by=None) -> MenuItem:
    """Check and resize an uploaded photo (restaurants.photos) and make it the item's: the WhatsApp-size
    image and the list thumbnail. Raises ValidationError({"image": ...}) for an oversized or non-image file."""
    try:
        prepared = photo_prepare(upload)
    except PhotoRejected as exc:
        raise ValidationError({"image": str(exc)}) from None
    before = {"image": item.image.name or None}
    # The old files stay in storage: messages already sent (or queued) with the photo still name them.
    with transaction.atomic():
        item.image.save(prepared.whatsapp.name, prepared.whatsapp, save=False)
        item.image_thumbnail.save(prepared.thumbnail.name, prepared.thumbnail, save=False)
        item.save(update_fields=["image", "image_thumbnail"])
        audit_record(
            restaurant_id=item.restaurant_id,
            actor=by,
            action="menuitem.photo_changed",
            target=item,
            changes=audit_changes(before, {"image": item.image.name}),
        )
    return item


def menu_item_photo_clear(*, item: MenuItem, by=None) -> MenuItem:
    if not item.image:
        return item
    with transaction.atomic():
        before = {"image": item.image.name or None}
        MenuItem.objects.filter(pk=item.pk).update(image="", image_thumbnail="")
        item.image, item.image_thumbnail = "", ""
        audit_record(
            restaurant_id=item.restaurant_id,
            actor=by,
            action="menuitem.photo_changed",
            target=item,
            changes=audit_changes(before, {"image": None}),
        )
    return item


def menu_item_delete(*, item: MenuItem, by=None, source: str = "") -> None:
    """Deletes the item (placed orders keep their own copies of its name and price)."""
    with transaction.atomic():
        audit_record(
            restaurant_id=item.restaurant_id, actor=by, action="menuitem.deleted", target=item, source=source
        )
        _menu_announce(item, action="deleted")
        item.delete()


def sender_event_data(sender: Sender, *, since) -> dict:
    return {
        "id": sender.pk,
        "phone_number": sender.phone_number,
        "provider": sender.provider,
        "error_code": sender.credentials_refused_code,
        "since": since.isoformat(),
    }


def sender_credentials_refused(*, sender: Sender, error_code: str) -> bool:
    """The provider refused this sender's credentials: the first refusal after working ones announces
    sender.disconnected (one conditional UPDATE, so two failing workers announce it once)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Sender.objects.filter(pk=sender.pk, credentials_refused_since__isnull=True).update(
            credentials_refused_since=now, credentials_refused_code=error_code[:32]
        )
        sender.credentials_refused_since, sender.credentials_refused_code = now, error_code[:32]
        if changed:
            event = {"type": "sender.disconnected", "sender": sender_event_data(sender, since=now)}
            publish(sender.restaurant_id, event)
    return bool(changed)


def sender_credentials_accepted(*, sender: Sender) -> bool:
    """A send went through for a sender whose credentials had been refused: sender.connected, once."""
    now = timezone.now()
    with transaction.atomic():
        changed = Sender.objects.filter(pk=sender.pk, credentials_refused_since__isnull=False).update(
            credentials_refused_since=None, credentials_refused_code=""
        )
        sender.credentials_refused_since, sender.credentials_refused_code = None, ""
        if changed:
            publish(sender.restaurant_id, {"type": "sender.connected", "sender": sender_event_data(sender, since=now)})
    return bool(changed)


SENDER_AUDIT_FIELDS = ("phone_number", "provider", "messages_per_minute", "active")


def _sender_snapshot(sender: Sender) -> tuple[dict, set[str]]:
    """The sender's audited fields, credentials flattened as "credentials.<name>"; and which are secret
    (per the provider's schema), so the trail says only that those changed."""
    snapshot = _snapshot(sender, SENDER_AUDIT_FIELDS)
    secret: set[str] = set()
    try:
        schema = {field.name: field for field in provider_for(sender.provider).credentials}
    except UnknownProvider:
        schema = {}
    for name, value in (sender.credentials or {}).items():
        key = f"credentials.{name}"
        snapshot[key] = value
        if name not in schema or schema[name].secret:
            secret.add(key)
    return snapshot, secret


@transaction.atomic
def sender_update(*, sender: Sender, data: dict, by=None, source: str = "") -> Sender:
    """Change a sender: number (re-normalised, still unique), provider, credentials, rate, active.

    `data["credentials"]` holds only the credentials that change: the others keep their stored values (a
    provider change starts from none); the resulting set must be complete for the provider.
    """
    before, secret_before = _sender_snapshot(sender)
    if "phone_number" in data:
        sender.phone_number = sender_number_validate(phone_number=data["phone_number"], exclude_pk=sender.pk)
    credentials = {} if data.get("provider", sender.provider) != sender.provider else dict(sender.credentials)
    if "provider" in data:
        sender.provider = data["provider"]
    credentials.update(data.get("credentials") or {})
    sender.credentials = sender_credentials_clean(
        provider=sender.provider, credentials=credentials, exclude_pk=sender.pk
    )
    sender.routing_id = provider_for(sender.provider).routing_id(sender.credentials)
    if "messages_per_minute" in data:
        if data["messages_per_minute"] < 1:
            raise ValidationError({"messages_per_minute": "Must be at least 1."})
        sender.messages_per_minute = data["messages_per_minute"]
    if "active" in data:
        if bool(data["active"]) and not Sender.objects.filter(pk=sender.pk, active=True).exists():
            plan_sender_check(restaurant=sender.restaurant, exclude_pk=sender.pk)  # switched back on
        sender.active = bool(data["active"])
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError:
        raise ValidationError({"phone_number": f"{sender.phone_number} is already registered."}) from None
    # Secrets appear only as {"changed": true}: audit_changes never stores a token's value.
    after, secret_after = _sender_snapshot(sender)
    changes = audit_changes(before, after, secret=secret_before | secret_after)
    audit_record(
        restaurant_id=sender.restaurant_id,
        actor=by,
        action="sender.changed",
        target=sender,
        changes=changes,
        source=source,
    )
    return sender


def sender_delete(*, sender: Sender) -> None:
    """Refused (InUse) once the number has conversations: deactivate it instead, history stays."""
    try:
        with transaction.atomic():
            sender.delete()
    except (ProtectedError, RestrictedError):
        raise InUse("This sender has conversations: deactivate it instead.", code="sender_in_use") from None
