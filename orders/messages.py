"""What customers read about their orders, in Arabic and English. Plain functions over plain values."""

from __future__ import annotations

from decimal import Decimal

from restaurants.models import Language

from .models import Fulfilment, OrderStatus

AR, EN = Language.ARABIC, Language.ENGLISH


def _pick(language: str, *, ar: str, en: str) -> str:
    return ar if language == AR else en


def money(amount: Decimal, currency: str) -> str:
    return f"{Decimal(amount):.2f} {currency}"


def order_status_text(
    *,
    language: str,
    status: str,
    fulfilment: str,
    number: int,
    restaurant_name: str,
    total: Decimal,
    currency: str,
    driver_name: str = "",
    driver_phone: str = "",
) -> str | None:
    """The customer's message for an order that just reached `status`; None where there is nothing to say
    (a draft; a rating, which rating_record answers itself)."""
    n = f"#{number}"
    pickup = fulfilment == Fulfilment.PICKUP
    if status == OrderStatus.CONFIRMED:
        how = (
            _pick(language, ar="استلام من المطعم", en="pickup")
            if pickup
            else _pick(language, ar="توصيل", en="delivery")
        )
        return _pick(
            language,
            ar=f"تم تأكيد طلبك رقم {n} من {restaurant_name} ({how}). الإجمالي: {money(total, currency)}. شكراً لك!",
            en=f"Your order {n} from {restaurant_name} is confirmed ({how}). Total: {money(total, currency)}. "
            "Thank you!",
        )
    if status == OrderStatus.PREPARING:
        return _pick(language, ar=f"طلبك رقم {n} قيد التحضير 👨‍🍳", en=f"Your order {n} is being prepared 👨‍🍳")
    if status == OrderStatus.OUT_FOR_DELIVERY:
        if driver_name:
            phone = f" ({driver_phone})" if driver_phone else ""
            return _pick(
                language,
                ar=f"طلبك رقم {n} في الطريق إليك 🛵 يوصله لك {driver_name}{phone}.",
                en=f"Your order {n} is on its way 🛵 {driver_name}{phone} is bringing it.",
            )
        return _pick(language, ar=f"طلبك رقم {n} في الطريق إليك 🛵", en=f"Your order {n} is on its way 🛵")
    if status == OrderStatus.DELIVERED:
        if pickup:
            return _pick(
                language,
                ar=f"تم استلام طلبك رقم {n} من {restaurant_name}. بالعافية!",
                en=f"Your order {n} has been picked up from {restaurant_name}. Enjoy your meal!",
            )
        return _pick(
            language,
            ar=f"تم توصيل طلبك رقم {n}. بالعافية!",
            en=f"Your order {n} has been delivered. Enjoy your meal!",
        )
    if status == OrderStatus.CANCELLED:
        return _pick(
            language,
            ar=f"تم إلغاء طلبك رقم {n} من {restaurant_name}. نعتذر عن أي إزعاج.",
            en=f"Your order {n} from {restaurant_name} has been cancelled. We are sorry for any inconvenience.",
        )
    return None


def order_status_label(*, language: str, status: str) -> str:
    """A short name of the order's new state: the {{status}} of the order-status template."""
    labels = {
        OrderStatus.CONFIRMED: ("تم تأكيده", "confirmed"),
        OrderStatus.PREPARING: ("قيد التحضير", "being prepared"),
        OrderStatus.OUT_FOR_DELIVERY: ("في الطريق إليك", "on its way"),
        OrderStatus.DELIVERED: ("تم تسليمه", "delivered"),
        OrderStatus.CANCELLED: ("تم إلغاؤه", "cancelled"),
    }
    ar, en = labels.get(status, (status, status))
    return _pick(language, ar=ar, en=en)


def rating_prompt_text(
    *, language: str, number: int, restaurant_name: str, reminder: bool, fulfilment: str = Fulfilment.DELIVERY
) -> str:
    if reminder:
        return _pick(
            language,
            ar=f"تذكير: كيف كان طلبك رقم #{number} من {restaurant_name}؟ رأيك يهمنا.",
            en=f"A quick reminder: how was your order #{number} from {restaurant_name}? Your feedback helps us.",
        )
    if fulfilment == Fulfilment.PICKUP:
        return _pick(
            language,
            ar=f"تم استلام طلبك رقم #{number}. كيف كانت تجربتك مع {restaurant_name}؟ اختر «قيّم الآن» لتقييمنا.",
            en=(
                f"You collected your order #{number}. How was your experience with {restaurant_name}? "
                "Tap 'Rate now' to rate us."
            ),
        )
    return _pick(
        language,
        ar=f"تم توصيل طلبك رقم #{number}. كيف كانت تجربتك مع {restaurant_name}؟ اختر «قيّم الآن» لتقييمنا.",
        en=(
            f"Your order #{number} was delivered. How was your experience with {restaurant_name}? "
            "Tap 'Rate now' to rate us."
        ),
    )


def rating_button_titles(*, language: str) -> tuple[str, str, str]:
    """(rate now, later, help): each within WhatsApp's 20-character button title limit."""
    if language == AR:
        return ("قيّم الآن", "لاحقاً", "مساعدة")
    return ("Rate now", "Later", "Help")


def rating_thanks_text(*, language: str, restaurant_name: str, promo_links: list[str]) -> str:
    text = _pick(
        language,
        ar=f"شكراً لتقييمك! يسعدنا أن طلبك من {restaurant_name} نال إعجابك ⭐",
        en=f"Thank you for your rating! We are glad you enjoyed your order from {restaurant_name} ⭐",
    )
    if promo_links:
        lead = _pick(language, ar="عروض لك:", en="Something for your next visit:")
        text += "\n\n" + lead + "\n" + "\n".join(promo_links)
    return text


def rating_apology_text(*, language: str, restaurant_name: str, support_contact: str) -> str:
    text = _pick(
        language,
        ar=f"نأسف لأن تجربتك مع {restaurant_name} لم تكن كما تستحق. شكراً لصراحتك.",
        en=f"We are sorry your experience with {restaurant_name} was not what it should be. Thank you for telling us.",
    )
    if support_contact:
        text += "\n" + _pick(
            language,
            ar=f"تواصل معنا لنصلح الأمر: {support_contact}",
            en=f"Please contact us so we can make it right: {support_contact}",
        )
    return text
