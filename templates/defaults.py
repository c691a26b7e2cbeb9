"""The templates every restaurant starts with (as drafts to submit): the rating prompt and the order notice.

Their quick replies send back the same payloads as the in-window rating buttons (rate:now:<order id>, …),
so a tap lands in the bot's one rating flow.
"""

from __future__ import annotations

RATING_BUTTONS = {
    "en": ("Rate now", "Later", "Need help"),
    "ar": ("قيّم الآن", "لاحقًا", "أحتاج مساعدة"),
}
RATING_BODY = {
    "en": "How was your order #{{order_number}} from {{restaurant_name}}? Tap a button below to rate it.",
    "ar": "كيف كان طلبك رقم {{order_number}} من {{restaurant_name}}؟ اضغط أحد الأزرار أدناه لتقييمه.",
}
ORDER_STATUS_BODY = {
    "en": "Update on your order #{{order_number}} from {{restaurant_name}}: {{status}}. Reply here to talk to us.",
    "ar": "تحديث على طلبك رقم {{order_number}} من {{restaurant_name}}: {{status}}. رد هنا للتواصل معنا.",
}
EXAMPLES = {"order_number": "42", "restaurant_name": "Sufrah", "order_id": "1001", "status": "on its way"}


def default_templates() -> list[dict]:
    """Field values of each default template, one per language."""
    out = []
    for language in ("ar", "en"):
        now, later, help_ = RATING_BUTTONS[language]
        out.append(
            {
                "name": "sufrah_rating_prompt",
                "language": language,
                "category": "UTILITY",
                "purpose": "rating",
                "body": RATING_BODY[language],
                "buttons": [
                    {"type": "quick_reply", "text": now, "payload": "rate:now:{{order_id}}"},
                    {"type": "quick_reply", "text": later, "payload": "rate:later:{{order_id}}"},
                    {"type": "quick_reply", "text": help_, "payload": "rate:help:{{order_id}}"},
                ],
                "examples": dict(EXAMPLES),
            }
        )
        out.append(
            {
                "name": "sufrah_order_status",
                "language": language,
                "category": "UTILITY",
                "purpose": "order_status",
                "body": ORDER_STATUS_BODY[language],
                "buttons": [],
                "examples": dict(EXAMPLES),
            }
        )
    return out
