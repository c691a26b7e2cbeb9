"""Writes of the orders room: placing orders, moving them through their states, and ratings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.services.outbound import OutsideServiceWindow, message_send, service_window_open
from providers.content import Button, OutboundContent
from restaurants.audit import audit_changes, audit_record
from restaurants.selectors import menu_item_get
from sufrahbot import reply_ids, texts
from sufrahbot.errors import IllegalTransition
from sufrahbot.events import publish
from templates.models import MessageTemplate, TemplatePurpose
from templates.selectors import template_for_purpose
from templates.services import TemplateNotSendable, template_send

from .events import order_event_data, rating_event_data
from .models import (
    FIRST_ORDER_NUMBER,
    Fulfilment,
    Order,
    OrderEvent,
    OrderItem,
    OrderNumberCounter,
    OrderStatus,
    Rating,
    RatingPrompt,
    next_statuses,
)

logger = logging.getLogger(__name__)

MAX_LINES = 50
MAX_QUANTITY = 99
# One sweep sends at most this many prompts; the next beat picks up the rest.
PROMPTS_PER_SWEEP = 500


# --- placing ------------------------------------------------------------------------------------------


def _lines_validate(lines: list[tuple[int, int]]) -> dict[int, int]:
    """{menu_item_id: quantity} in the customer's order; the same item twice is one line."""
    if not lines:
        raise ValidationError({"lines": "An order needs at least one item."})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": f"An order has at most {MAX_LINES} lines."})
    quantities: dict[int, int] = {}
    for line in lines:
        try:
            item_id, quantity = line
        except (TypeError, ValueError):
            raise ValidationError({"lines": f"Each line is (menu_item_id, quantity), not {line!r}."}) from None
        for value in (item_id, quantity):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError({"lines": f"Each line is (menu_item_id, quantity), not {line!r}."})
        if quantity < 1:
            raise ValidationError({"lines": f"Quantity must be at least 1 (got {quantity})."})
        quantities[item_id] = quantities.get(item_id, 0) + quantity
        if quantities[item_id] > MAX_QUANTITY:
            raise ValidationError({"lines": f"At most {MAX_QUANTITY} of one item per order."})
    return quantities


def _order_number_allocate(*, restaurant_id: int) -> int:
    """The restaurant's next order number. The UPDATE takes the counter row's lock before reading it, so
    concurrent orders of one restaurant queue up here and never share a number."""
    bumped = OrderNumberCounter.objects.filter(restaurant_id=restaurant_id).update(last_number=F("last_number") + 1)
    if not bumped:
        try:
            with transaction.atomic():
                OrderNumberCounter.objects.create(restaurant_id=restaurant_id, last_number=FIRST_ORDER_NUMBER)
            return FIRST_ORDER_NUMBER
        except IntegrityError:  # another order created the counter first: take the next number after it
            OrderNumberCounter.objects.filter(restaurant_id=restaurant_id).update(last_number=F("last_number") + 1)
    return OrderNumberCounter.objects.get(restaurant_id=restaurant_id).last_number


def order_place(
    *,
    conversation: Conversation,
    lines: list[tuple[int, int]],
    fulfilment: str,
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    notes: str = "",
    notify_customer: bool = True,
) -> Order:
    """Place a confirmed order from a conversation's cart.

    Names and prices are copied from the menu now, so later menu edits never change the order. The order
    is created DRAFT and confirmed in the same transaction; the customer is told (unless notify_customer
    is False, for a caller that sends its own confirmation).
    """
    restaurant = conversation.restaurant
    quantities = _lines_validate(lines)
    if fulfilment not in Fulfilment.values:
        raise ValidationError({"fulfilment": f"Fulfilment is one of {', '.join(Fulfilment.values)}."})
    if (latitude is None) != (longitude is None):
        raise ValidationError({"latitude": "A location needs both latitude and longitude."})
    address = address.strip()
    if fulfilment == Fulfilment.DELIVERY and not address and latitude is None:
        raise ValidationError({"address": "A delivery order needs an address or a location."})

    menu_items = []
    for item_id in quantities:
        item = menu_item_get(restaurant=restaurant, item_id=item_id)
        if item is None:
            raise ValidationError({"lines": f"Menu item {item_id} is not on {restaurant.name_en}'s menu."})
        if not item.available:
            raise ValidationError({"lines": f"{item.name_en} is not available at the moment."})
        menu_items.append(item)

    items = [
        OrderItem(
            menu_item=item,
            name_ar=item.name_ar,
            name_en=item.name_en,
            unit_price=item.price,
            quantity=quantities[item.pk],
            line_total=item.price * quantities[item.pk],
        )
        for item in menu_items
    ]
    subtotal = sum((i.line_total for i in items), Decimal("0.00"))
    delivery_fee = Decimal(str(restaurant.delivery_fee)) if fulfilment == Fulfilment.DELIVERY else Decimal("0.00")

    with transaction.atomic():
        order = Order.objects.create(
            restaurant=restaurant,
            conversation=conversation,
            number=_order_number_allocate(restaurant_id=restaurant.pk),
            status=OrderStatus.DRAFT,
            fulfilment=fulfilment,
            address=address,
            latitude=latitude,
            longitude=longitude,
            notes=notes.strip(),
            subtotal=subtotal,
            delivery_fee=delivery_fee,
            total=subtotal + delivery_fee,
            currency=restaurant.currency,
            language=conversation.language or restaurant.default_language,
        )
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        OrderEvent.objects.create(order=order, from_status="", to_status=OrderStatus.DRAFT)
        _order_move(order=order, to_status=OrderStatus.CONFIRMED, notify_customer=notify_customer)
        publish(order.restaurant_id, {"type": "order.created", "order": order_event_data(order)})
    return order


# --- the state machine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    name: str
    phone: str = ""


def _order_move(
    *, order: Order, to_status: str, actor=None, note: str = "", notify_customer: bool = True, driver=None
) -> None:
    """Apply one transition to an order whose row the caller has locked (or just created)."""
    if to_status not in next_statuses(status=order.status, fulfilment=order.fulfilment):
        raise IllegalTransition(
            f"Cannot move order #{order.number} from {order.status} to {to_status}.",
            from_status=order.status,
            to_status=to_status,
            allowed=next_statuses(status=order.status, fulfilment=order.fulfilment),
        )
    from_status = order.status
    order.status = to_status
    fields = ["status", "updated_at"]
    if to_status == OrderStatus.OUT_FOR_DELIVERY:
        order.left_at = timezone.now()
        fields.append("left_at")
        if driver is not None:
            order.driver_name, order.driver_phone = driver.name.strip()[:100], driver.phone.strip()[:20]
            fields += ["driver_name", "driver_phone"]
    elif to_status == OrderStatus.DELIVERED:
        order.arrived_at = timezone.now()
        fields.append("arrived_at")
    order.save(update_fields=fields)
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, actor=actor, note=note)
    restaurant = order.restaurant
    if to_status == OrderStatus.DELIVERED:
        RatingPrompt.objects.create(
            order=order,
            kind=RatingPrompt.Kind.PROMPT,
            due_at=timezone.now() + timedelta(minutes=restaurant.rating_prompt_delay_minutes),
        )
    if notify_customer:
        language = _customer_language(order)
        text = texts.order_status_text(
            language=language,
            status=to_status,
            fulfilment=order.fulfilment,
            number=order.number,
            restaurant_name=restaurant.name_in(language),
            total=order.total,
            currency=order.currency,
            driver_name=order.driver_name,
            driver_phone=order.driver_phone,
        )
        if text:
            _customer_tell(
                order=order,
                content=OutboundContent.text(text),
                key=f"order:{order.pk}:{to_status}",
                template_purpose=TemplatePurpose.ORDER_STATUS,
                template_variables={"status": texts.order_status_label(language=language, status=to_status)},
            )


def order_transition(
    *,
    order: Order,
    to_status: str,
    actor=None,
    note: str = "",
    notify_customer: bool = True,
    driver: Driver | None = None,
) -> Order:
    """Move an order to `to_status`: the one place that applies the transition table.

    Locks the order's row, writes an OrderEvent in the same transaction, tells the customer in their
    language (skipped, never failing the move, outside the 24-hour window) and announces order.updated.
    Going OUT_FOR_DELIVERY records when it left and the driver (the customer is told who is coming) and
    announces delivery.started; DELIVERED of a delivery order records the arrival and delivery.completed.
    Raises IllegalTransition, with nothing written, for a move the table does not allow.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = {"status": locked.status, "driver_name": locked.driver_name, "driver_phone": locked.driver_phone}
        _order_move(
            order=locked,
            to_status=to_status,
            actor=actor,
            note=note,
            notify_customer=notify_customer,
            driver=driver,
        )
        after = {"status": locked.status, "driver_name": locked.driver_name, "driver_phone": locked.driver_phone}
        audit_record(
            restaurant_id=locked.restaurant_id,
            actor=actor,
            action="order.moved",
            target=locked,
            changes=audit_changes(before, after),
        )
        data = order_event_data(locked)
        publish(locked.restaurant_id, {"type": "order.updated", "order": data})
        if to_status == OrderStatus.OUT_FOR_DELIVERY:
            publish(locked.restaurant_id, {"type": "delivery.started", "order": data})
        elif to_status == OrderStatus.DELIVERED and locked.fulfilment == "delivery":
            publish(locked.restaurant_id, {"type": "delivery.completed", "order": data})
    order.status, order.updated_at = locked.status, locked.updated_at
    return locked


def _customer_language(order: Order) -> str:
    return order.conversation.language or order.restaurant.default_language


def _customer_tell(
    *,
    order: Order,
    content: OutboundContent,
    key: str,
    template_purpose: str = "",
    template_variables: dict[str, str] | None = None,
) -> Message | None:
    """Send the customer a message about their order. Outside the 24-hour window it goes as the restaurant's
    approved template for `template_purpose` when there is one; else log and move on. The idempotency key
    makes a repeat of the same news a no-op."""
    try:
        return message_send(conversation=order.conversation, content=content, idempotency_key=key)
    except OutsideServiceWindow:
        if template_purpose:
            message = _order_template_send(
                order=order, purpose=template_purpose, key=key, extra_variables=template_variables or {}
            )
            if message is not None:
                return message
        logger.info(
            "customer not told: outside the 24-hour window",
            extra={"order_id": order.pk, "order_number": order.number, "message_key": key},
        )
        return None


def _order_template_send(*, order: Order, purpose: str, key: str, extra_variables: dict[str, str]) -> Message | None:
    """The approved template for `purpose` in the customer's language, filled from the order; None when the
    restaurant has none that fits (it stays a log line, never a failed order move)."""
    language = _customer_language(order)
    restaurant = order.restaurant
    template: MessageTemplate | None = template_for_purpose(
        restaurant_id=order.restaurant_id,
        purpose=purpose,
        language=language,
        fallback_language=restaurant.default_language,
    )
    if template is None:
        return None
    template_language = template.language.split("_")[0]
    available = {
        "order_number": str(order.number),
        "order_id": str(order.pk),
        "restaurant_name": restaurant.name_in(template_language),
        **extra_variables,
    }
    # A restaurant may word its template with fewer of these: fill in only what the template asks for.
    variables = {name: available[name] for name in template.spec().variables() if name in available}
    try:
        message, _ = template_send(
            conversation=order.conversation, template=template, variables=variables, idempotency_key=key
        )
    except (TemplateNotSendable, ValidationError) as exc:
        logger.warning(
            "order template not sendable",
            extra={"order_id": order.pk, "template_id": template.pk, "error": str(exc)[:300]},
        )
        return None
    return message


# --- ratings ------------------------------------------------------------------------------------------


def rating_record(*, order: Order, stars: int, comment: str = "") -> Rating:
    """Store the customer's rating, move the order to RATED and answer: thanks and the restaurant's promo
    links for 4-5 stars, an apology and the support contact for 1-3.

    ValidationError for stars outside 1..5 or a second rating; IllegalTransition for an order that has not
    been delivered.
    """
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationError({"stars": "A rating is 1 to 5 stars."})
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if Rating.objects.filter(order=locked).exists():
            raise ValidationError({"order": f"Order #{locked.number} has already been rated."})
        rating = Rating.objects.create(order=locked, stars=stars, comment=comment.strip())
        locked = order_transition(order=locked, to_status=OrderStatus.RATED, note=f"{stars} stars")
        RatingPrompt.objects.filter(order=locked, status=RatingPrompt.Status.PENDING).update(
            status=RatingPrompt.Status.DONE
        )
        publish(
            locked.restaurant_id,
            {"type": "rating.received", "rating": rating_event_data(rating), "order": order_event_data(locked)},
        )
        restaurant = locked.restaurant
        language = _customer_language(locked)
        name = restaurant.name_in(language)
        if stars >= 4:
            promo_links = [line.strip() for line in restaurant.promo_links.splitlines() if line.strip()]
            text = texts.rating_thanks_text(language=language, restaurant_name=name, promo_links=promo_links)
        else:
            text = texts.rating_apology_text(
                language=language, restaurant_name=name, support_contact=restaurant.support_contact
            )
        _customer_tell(order=locked, content=OutboundContent.text(text), key=f"order:{locked.pk}:rating-reply")
    order.status = locked.status
    return rating


def rating_later(*, order: Order) -> RatingPrompt | None:
    """The customer tapped "Later": schedule the one reminder. A second "Later" (or one for an order that
    is rated or not delivered) schedules nothing and returns None."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OrderStatus.DELIVERED:
            return None
        if RatingPrompt.objects.filter(order=locked, kind=RatingPrompt.Kind.REMINDER).exists():
            return None
        # A prompt not sent yet would arrive next to the reminder: the reminder replaces it.
        RatingPrompt.objects.filter(order=locked, status=RatingPrompt.Status.PENDING).update(
            status=RatingPrompt.Status.DONE
        )
        return RatingPrompt.objects.create(
            order=locked,
            kind=RatingPrompt.Kind.REMINDER,
            due_at=timezone.now() + timedelta(minutes=locked.restaurant.rating_reminder_delay_minutes),
        )


def rating_prompt_content(*, order: Order, language: str, reminder: bool) -> OutboundContent:
    rate_now, later, help_ = texts.rating_button_titles(language=language)
    body = texts.rating_prompt_text(
        language=language,
        number=order.number,
        restaurant_name=order.restaurant.name_in(language),
        reminder=reminder,
        fulfilment=order.fulfilment,
    )
    ids = reply_ids.rating_buttons(order.pk)
    return OutboundContent(
        kind="buttons",
        body=body,
        buttons=tuple(Button(id=i, title=title) for i, title in zip(ids, (rate_now, later, help_), strict=True)),
    )


def _rating_prompt_send_next(*, now) -> str | None:
    """Claim one due prompt and deal with it; returns its new status, or None when nothing is due.

    skip_locked: a prompt another sweep is handling is passed over, so no prompt is sent twice.
    """
    with transaction.atomic():
        prompt = (
            RatingPrompt.objects.select_for_update(skip_locked=True)
            .filter(status=RatingPrompt.Status.PENDING, due_at__lte=now)
            .order_by("due_at", "id")
            .first()
        )
        if prompt is None:
            return None
        order = prompt.order
        conversation = order.conversation
        if order.status != OrderStatus.DELIVERED:  # rated or otherwise moved on meanwhile
            prompt.status = RatingPrompt.Status.DONE
        elif not service_window_open(conversation=conversation, at=now):
            # Outside the window only an approved template may go: the rating template, whose buttons send
            # back the same rate:now/later/help payloads as the in-window prompt.
            message = _order_template_send(
                order=order, purpose=TemplatePurpose.RATING, key=f"rating-prompt:{prompt.pk}", extra_variables={}
            )
            if message is None:
                prompt.status = RatingPrompt.Status.EXPIRED
            else:
                prompt.status, prompt.sent_at, prompt.message = RatingPrompt.Status.SENT, timezone.now(), message
        else:
            content = rating_prompt_content(
                order=order,
                language=_customer_language(order),
                reminder=prompt.kind == RatingPrompt.Kind.REMINDER,
            )
            try:
                message = message_send(
                    conversation=conversation, content=content, idempotency_key=f"rating-prompt:{prompt.pk}"
                )
            except OutsideServiceWindow:
                prompt.status = RatingPrompt.Status.EXPIRED
            else:
                prompt.status, prompt.sent_at, prompt.message = RatingPrompt.Status.SENT, timezone.now(), message
        if prompt.status == RatingPrompt.Status.EXPIRED:
            logger.info(
                "rating prompt expired: outside the 24-hour window",
                extra={"prompt_id": prompt.pk, "order_id": order.pk},
            )
        prompt.save(update_fields=["status", "sent_at", "message"])
        return prompt.status


def rating_prompts_send_due(*, now=None) -> int:
    """Send every rating prompt that is due (the beat's sweep). Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for _ in range(PROMPTS_PER_SWEEP):
        status = _rating_prompt_send_next(now=now)
        if status is None:
            break
        sent += status == RatingPrompt.Status.SENT
    return sent
