"""Every word a customer reads, in Arabic and English: the bot's screens, the order notices, ratings,
marketing consent and the default templates' bodies. One table, one money format per language.

Pure (no Django): the bot engine and every app may import it. Button titles stay within 20 characters and
list-row titles within 24 (WhatsApp's limits); a test checks.
"""

from __future__ import annotations

from decimal import Decimal

AR, EN = "ar", "en"

TEXTS: dict[str, dict[str, str]] = {
    # --- buttons and labels ---
    "btn_order": {AR: "اطلب الآن", EN: "Order"},
    "btn_my_orders": {AR: "طلباتي", EN: "My orders"},
    "btn_help": {AR: "مساعدة", EN: "Help"},
    "btn_add_more": {AR: "إضافة المزيد", EN: "Add more"},
    "btn_checkout": {AR: "إتمام الطلب", EN: "Checkout"},
    "btn_clear": {AR: "إفراغ السلة", EN: "Clear"},
    "btn_delivery": {AR: "توصيل", EN: "Delivery"},
    "btn_pickup": {AR: "استلام من المطعم", EN: "Pickup"},
    "btn_confirm": {AR: "تأكيد الطلب", EN: "Confirm"},
    "btn_edit_cart": {AR: "تعديل السلة", EN: "Edit cart"},
    "btn_cancel": {AR: "إلغاء", EN: "Cancel"},
    "list_categories": {AR: "الأقسام", EN: "Categories"},
    "list_items": {AR: "الأصناف", EN: "Dishes"},
    "list_stars": {AR: "التقييم", EN: "Rate"},
    "row_more": {AR: "المزيد ←", EN: "More →"},
    "row_more_description": {AR: "عرض الصفحة التالية", EN: "Show the next page"},
    "stars_5": {AR: "ممتاز", EN: "Excellent"},
    "stars_4": {AR: "جيد جداً", EN: "Very good"},
    "stars_3": {AR: "جيد", EN: "Good"},
    "stars_2": {AR: "مقبول", EN: "Fair"},
    "stars_1": {AR: "سيئ", EN: "Poor"},
    # --- prompts ---
    "welcome_footer": {AR: "For English, type: English", EN: "للعربية اكتب: عربي"},
    "choose_category": {AR: "اختر قسماً من القائمة 👇", EN: "Pick a category from the menu 👇"},
    "choose_item": {AR: "{category}: اختر ما يعجبك 👇", EN: "{category}: pick one 👇"},
    "ask_quantity": {
        AR: "{item} — {price}\nكم الكمية؟ اختر أو اكتب رقماً (1-{max}).",
        EN: "{item} — {price}\nHow many? Pick one or type a number (1-{max}).",
    },
    "added_to_cart": {
        AR: "تمت إضافة {quantity} × {item} إلى السلة ✅",
        EN: "Added {quantity} × {item} to your cart ✅",
    },
    "cart_title": {AR: "🛒 سلتك:", EN: "🛒 Your cart:"},
    "cart_subtotal": {AR: "المجموع: {amount}", EN: "Subtotal: {amount}"},
    "cart_empty": {
        AR: "سلتك فارغة. اختر ما تحب من القائمة 👇",
        EN: "Your cart is empty. Pick something from the menu 👇",
    },
    "cart_cleared": {AR: "أفرغنا سلتك.", EN: "Your cart is now empty."},
    "catalog_order_added": {
        AR: "أضفنا طلبك من الكتالوج إلى السلة ({count} صنف) ✅",
        EN: "We put your catalog order in your cart ({count} dish(es)) ✅",
    },
    "catalog_order_unknown": {
        AR: "لم نجد أصناف طلبك من الكتالوج في قائمتنا. اختر من القائمة:",
        EN: "We could not find your catalog order's dishes on our menu. Pick from the menu:",
    },
    "cart_full": {
        AR: "السلة ممتلئة ({max} أصناف كحد أقصى). أكمل الطلب أو أفرغ السلة.",
        EN: "Your cart is full (at most {max} different dishes). Check out or clear it.",
    },
    "items_dropped": {
        AR: "بعض الأصناف لم تعد متوفرة وأزلناها من سلتك.",
        EN: "Some dishes are no longer available and were removed from your cart.",
    },
    "ask_fulfilment": {AR: "توصيل أم استلام من المطعم؟", EN: "Delivery or pickup?"},
    "ask_address": {
        AR: "أرسل موقعك 📍 (مشاركة الموقع في واتساب) أو اكتب عنوان التوصيل.",
        EN: "Share your location 📍 (WhatsApp attachment → Location) or type your delivery address.",
    },
    "summary_title": {AR: "📋 ملخص طلبك من {restaurant}:", EN: "📋 Your order from {restaurant}:"},
    "summary_delivery_fee": {AR: "رسوم التوصيل: {amount}", EN: "Delivery fee: {amount}"},
    "summary_total": {AR: "الإجمالي: {amount}", EN: "Total: {amount}"},
    "summary_delivery_to": {AR: "🛵 توصيل إلى: {address}", EN: "🛵 Delivery to: {address}"},
    "summary_pickup": {AR: "🏃 استلام من المطعم", EN: "🏃 Pickup at the restaurant"},
    "summary_location": {AR: "الموقع المرسل 📍", EN: "your shared location 📍"},
    "summary_confirm": {AR: "هل نؤكد الطلب؟", EN: "Shall we place it?"},
    "order_placed": {
        AR: "✅ تم استلام طلبك رقم #{number}. الإجمالي: {amount}.\nسنبلغك بكل تحديث. شكراً لك!",
        EN: "✅ Your order #{number} is placed. Total: {amount}.\nWe'll keep you posted. Thank you!",
    },
    "order_failed": {
        AR: "عذراً، لم نتمكن من تسجيل طلبك الآن. راجع سلتك وحاول مجدداً.",
        EN: "Sorry, we couldn't place your order just now. Please check your cart and try again.",
    },
    "order_cancelled": {AR: "ألغينا الطلب وأفرغنا السلة.", EN: "Cancelled: your cart is empty again."},
    "my_orders_title": {AR: "طلباتك الأخيرة:", EN: "Your recent orders:"},
    "my_orders_none": {AR: "لا توجد طلبات بعد.", EN: "You have no orders yet."},
    "my_orders_line": {AR: "#{number} — {status} — {amount}", EN: "#{number} — {status} — {amount}"},
    "what_next": {AR: "ماذا تحب أن تفعل؟", EN: "What would you like to do?"},
    "handoff": {
        AR: "تم تحويلك إلى فريقنا 🙋 سيرد عليك أحد الموظفين هنا قريباً.",
        EN: "You're through to our team 🙋 A member of staff will reply here shortly.",
    },
    "handoff_contact": {AR: "أو تواصل معنا: {contact}", EN: "Or reach us at: {contact}"},
    "not_understood": {
        AR: "عذراً، لم أفهم. اختر من الخيارات أو اكتب رقمها.",
        EN: "Sorry, I didn't get that. Pick an option or type its number.",
    },
    "not_understood_range": {
        AR: "اختر رقماً من 1 إلى {max}.",
        EN: "Please pick a number from 1 to {max}.",
    },
    "slow_down": {
        AR: "رسائلك سريعة جداً 🙏 انتظر لحظة ثم أرسل اختيارك مرة أخرى.",
        EN: "That's a lot of messages at once 🙏 Give me a moment, then send your choice again.",
    },
    "nothing_to_cancel": {
        AR: "لا يوجد طلب لإلغائه، سلتك فارغة.",
        EN: "There is no order to cancel: your cart is empty.",
    },
    "not_understood_quantity": {
        AR: "اكتب الكمية رقماً من 1 إلى {max}.",
        EN: "Please type the quantity as a number from 1 to {max}.",
    },
    "not_understood_address": {
        AR: "لم أتمكن من قراءة العنوان. أرسل موقعك أو اكتب العنوان بالتفصيل.",
        EN: "I couldn't read an address there. Share your location or type the address in full.",
    },
    "tips": {
        AR: "في أي وقت اكتب: القائمة، السلة، إلغاء، مساعدة.",
        EN: "Any time, type: menu, cart, cancel, help.",
    },
    "session_expired": {
        AR: "مر وقت طويل منذ آخر رسالة، فبدأنا من جديد 🙂",
        EN: "It's been a while, so we've started afresh 🙂",
    },
    "language_switched": {AR: "تم التحويل إلى العربية.", EN: "Switched to English."},
    "menu_empty": {
        AR: "القائمة غير متاحة حالياً. اكتب «مساعدة» للتحدث مع فريقنا.",
        EN: 'The menu isn\'t available right now. Type "help" to talk to our team.',
    },
    "no_more_pages": {AR: "هذه كل الأصناف.", EN: "That's everything in this category."},
    "rate_ask": {AR: "كيف تقيّم طلبك رقم #{number}؟", EN: "How would you rate order #{number}?"},
    "rate_ask_no_number": {AR: "كيف تقيّم طلبك؟", EN: "How would you rate your order?"},
    "rate_later_ack": {AR: "لا مشكلة، سنذكّرك لاحقاً 👍", EN: "No problem, we'll remind you later 👍"},
    "rate_failed": {
        AR: "شكراً! هذا الطلب تم تقييمه من قبل أو لم يعد بالإمكان تقييمه.",
        EN: "Thank you! This order has already been rated or can no longer be rated.",
    },
    # --- orders: status changes, ratings (orders.services sends them) ---
    "how_delivery": {AR: "توصيل", EN: "delivery"},
    "how_pickup": {AR: "استلام من المطعم", EN: "pickup"},
    # The one "order confirmed": the bot's answer to a placed order and the notice of an order confirmed.
    "order_confirmed": {
        AR: "✅ تم تأكيد طلبك رقم #{number} من {restaurant} ({how}). الإجمالي: {amount}.\nسنبلغك بكل تحديث. شكراً لك!",
        EN: "✅ Your order #{number} from {restaurant} is confirmed ({how}). Total: {amount}.\n"
        "We'll keep you posted. Thank you!",
    },
    "order_preparing": {AR: "طلبك رقم #{number} قيد التحضير 👨‍🍳", EN: "Your order #{number} is being prepared 👨‍🍳"},
    "order_on_its_way": {AR: "طلبك رقم #{number} في الطريق إليك 🛵", EN: "Your order #{number} is on its way 🛵"},
    "order_on_its_way_driver": {
        AR: "طلبك رقم #{number} في الطريق إليك 🛵 يوصله لك {driver}.",
        EN: "Your order #{number} is on its way 🛵 {driver} is bringing it.",
    },
    "order_collected": {
        AR: "تم استلام طلبك رقم #{number} من {restaurant}. بالعافية!",
        EN: "Your order #{number} has been picked up from {restaurant}. Enjoy your meal!",
    },
    "order_delivered": {
        AR: "تم توصيل طلبك رقم #{number}. بالعافية!",
        EN: "Your order #{number} has been delivered. Enjoy your meal!",
    },
    "order_cancelled_notice": {
        AR: "تم إلغاء طلبك رقم #{number} من {restaurant}. نعتذر عن أي إزعاج.",
        EN: "Your order #{number} from {restaurant} has been cancelled. We are sorry for any inconvenience.",
    },
    "rating_prompt": {
        AR: "تم توصيل طلبك رقم #{number}. كيف كانت تجربتك مع {restaurant}؟ اختر «قيّم الآن» لتقييمنا.",
        EN: "Your order #{number} was delivered. How was your experience with {restaurant}? Tap 'Rate now' to rate us.",
    },
    "rating_prompt_pickup": {
        AR: "تم استلام طلبك رقم #{number}. كيف كانت تجربتك مع {restaurant}؟ اختر «قيّم الآن» لتقييمنا.",
        EN: "You collected your order #{number}. How was your experience with {restaurant}? Tap 'Rate now' to rate us.",
    },
    "rating_reminder": {
        AR: "تذكير: كيف كان طلبك رقم #{number} من {restaurant}؟ رأيك يهمنا.",
        EN: "A quick reminder: how was your order #{number} from {restaurant}? Your feedback helps us.",
    },
    "btn_rate_now": {AR: "قيّم الآن", EN: "Rate now"},
    "btn_rate_later": {AR: "لاحقاً", EN: "Later"},
    "btn_rate_help": {AR: "مساعدة", EN: "Help"},
    "rating_thanks": {
        AR: "شكراً لتقييمك! يسعدنا أن طلبك من {restaurant} نال إعجابك ⭐",
        EN: "Thank you for your rating! We are glad you enjoyed your order from {restaurant} ⭐",
    },
    "rating_promo_lead": {AR: "عروض لك:", EN: "Something for your next visit:"},
    "rating_apology": {
        AR: "نأسف لأن تجربتك مع {restaurant} لم تكن كما تستحق. شكراً لصراحتك.",
        EN: "We are sorry your experience with {restaurant} was not what it should be. Thank you for telling us.",
    },
    "rating_apology_contact": {
        AR: "تواصل معنا لنصلح الأمر: {contact}",
        EN: "Please contact us so we can make it right: {contact}",
    },
    # --- campaigns: marketing consent ---
    "opted_out": {
        AR: "تم إيقاف رسائل العروض. لن تصلك منا رسائل تسويقية بعد الآن، وستبقى رسائل طلباتك كما هي. "
        "لإعادة الاشتراك أرسل: اشتراك",
        EN: "You will no longer receive promotions from us. Messages about your orders are not affected. "
        "To subscribe again, send: START",
    },
    "opted_in": {
        AR: "تم الاشتراك في العروض. لإيقافها في أي وقت أرسل: إيقاف",
        EN: "You are subscribed to our offers. To stop them at any time, send: STOP",
    },
    # --- templates: the default templates' bodies ({{...}} are the template's variables) ---
    "template_rating_body": {
        AR: "كيف كان طلبك رقم {{order_number}} من {{restaurant_name}}؟ اضغط أحد الأزرار أدناه لتقييمه.",
        EN: "How was your order #{{order_number}} from {{restaurant_name}}? Tap a button below to rate it.",
    },
    "template_order_status_body": {
        AR: "تحديث على طلبك رقم {{order_number}} من {{restaurant_name}}: {{status}}. رد هنا للتواصل معنا.",
        EN: "Update on your order #{{order_number}} from {{restaurant_name}}: {{status}}. Reply here to talk to us.",
    },
    "bot_error": {
        AR: "عذراً، حدث خطأ من جهتنا. اكتب «القائمة» للبدء من جديد أو «مساعدة» للتحدث مع فريقنا.",
        EN: 'Sorry, something went wrong on our side. Type "menu" to start again or "help" to reach our team.',
    },
}

STATUS_LABELS: dict[str, dict[str, str]] = {
    "DRAFT": {AR: "مسودة", EN: "Draft"},
    "CONFIRMED": {AR: "مؤكد", EN: "Confirmed"},
    "PREPARING": {AR: "قيد التحضير", EN: "Preparing"},
    "OUT_FOR_DELIVERY": {AR: "في الطريق", EN: "On its way"},
    "DELIVERED": {AR: "تم التسليم", EN: "Delivered"},
    "RATED": {AR: "تم التقييم", EN: "Rated"},
    "CANCELLED": {AR: "ملغي", EN: "Cancelled"},
}

# The {{status}} of the order-status template: what the order's new state is, as a phrase.
STATUS_PHRASES: dict[str, dict[str, str]] = {
    "CONFIRMED": {AR: "تم تأكيده", EN: "confirmed"},
    "PREPARING": {AR: "قيد التحضير", EN: "being prepared"},
    "OUT_FOR_DELIVERY": {AR: "في الطريق إليك", EN: "on its way"},
    "DELIVERED": {AR: "تم تسليمه", EN: "delivered"},
    "CANCELLED": {AR: "تم إلغاؤه", EN: "cancelled"},
}

# How the currency reads in each language; the ISO code where we know no better.
CURRENCY_NAMES: dict[str, dict[str, str]] = {
    "SAR": {AR: "ر.س", EN: "SAR"},
    "AED": {AR: "د.إ", EN: "AED"},
    "KWD": {AR: "د.ك", EN: "KWD"},
    "QAR": {AR: "ر.ق", EN: "QAR"},
    "BHD": {AR: "د.ب", EN: "BHD"},
    "OMR": {AR: "ر.ع", EN: "OMR"},
    "EGP": {AR: "ج.م", EN: "EGP"},
    "JOD": {AR: "د.أ", EN: "JOD"},
}


def t(key: str, language: str, **values: object) -> str:
    text = TEXTS[key].get(language) or TEXTS[key][EN]
    return text.format(**values) if values else text


def status_label(status: str, language: str) -> str:
    labels = STATUS_LABELS.get(status.upper())
    return (labels.get(language) or labels[EN]) if labels else status


def money(amount: Decimal, currency: str, language: str) -> str:
    """The one money format: two decimals and the currency as it reads in the customer's language."""
    name = CURRENCY_NAMES.get(currency, {}).get(language, currency)
    return f"{Decimal(amount):.2f} {name}"


# --- orders: what the customer is told about an order ------------------------------------------------------


def order_confirmed_text(
    *, language: str, number: int, restaurant_name: str, fulfilment: str, total: Decimal, currency: str
) -> str:
    how = t("how_pickup" if fulfilment == "pickup" else "how_delivery", language)
    amount = money(total, currency, language)
    return t("order_confirmed", language, number=number, restaurant=restaurant_name, how=how, amount=amount)


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
    if status == "CONFIRMED":
        return order_confirmed_text(
            language=language,
            number=number,
            restaurant_name=restaurant_name,
            fulfilment=fulfilment,
            total=total,
            currency=currency,
        )
    if status == "PREPARING":
        return t("order_preparing", language, number=number)
    if status == "OUT_FOR_DELIVERY":
        if driver_name:
            driver = f"{driver_name} ({driver_phone})" if driver_phone else driver_name
            return t("order_on_its_way_driver", language, number=number, driver=driver)
        return t("order_on_its_way", language, number=number)
    if status == "DELIVERED":
        if fulfilment == "pickup":
            return t("order_collected", language, number=number, restaurant=restaurant_name)
        return t("order_delivered", language, number=number)
    if status == "CANCELLED":
        return t("order_cancelled_notice", language, number=number, restaurant=restaurant_name)
    return None


def order_status_label(*, language: str, status: str) -> str:
    """A short name of the order's new state: the {{status}} of the order-status template."""
    phrases = STATUS_PHRASES.get(status)
    return (phrases.get(language) or phrases[EN]) if phrases else status


def rating_prompt_text(
    *, language: str, number: int, restaurant_name: str, reminder: bool, fulfilment: str = "delivery"
) -> str:
    key = "rating_reminder" if reminder else "rating_prompt_pickup" if fulfilment == "pickup" else "rating_prompt"
    return t(key, language, number=number, restaurant=restaurant_name)


def rating_button_titles(*, language: str) -> tuple[str, str, str]:
    """(rate now, later, help): the in-window prompt's buttons and the rating template's quick replies."""
    return (t("btn_rate_now", language), t("btn_rate_later", language), t("btn_rate_help", language))


def rating_thanks_text(*, language: str, restaurant_name: str, promo_links: list[str]) -> str:
    text = t("rating_thanks", language, restaurant=restaurant_name)
    if promo_links:
        text += "\n\n" + t("rating_promo_lead", language) + "\n" + "\n".join(promo_links)
    return text


def rating_apology_text(*, language: str, restaurant_name: str, support_contact: str) -> str:
    text = t("rating_apology", language, restaurant=restaurant_name)
    if support_contact:
        text += "\n" + t("rating_apology_contact", language, contact=support_contact)
    return text
