"""What customers read from the campaigns room, in Arabic and English."""

from __future__ import annotations

# Words a customer sends to withdraw (or give) marketing consent, compared after trimming and lowercasing.
STOP_WORDS = frozenset({"stop", "unsubscribe", "إيقاف", "ايقاف", "الغاء الاشتراك", "إلغاء الاشتراك"})
START_WORDS = frozenset({"start", "subscribe", "اشتراك", "اشترك"})
# The payload of the opt-out quick reply a marketing template may carry (Meta's "marketing opt-out" button
# sends back the payload given at send time; Twilio relays it as ButtonPayload).
OPT_OUT_PAYLOAD = "marketing:optout"

_TEXTS = {
    "opted_out": {
        "ar": "تم إيقاف رسائل العروض. لن تصلك منا رسائل تسويقية بعد الآن، وستبقى رسائل طلباتك كما هي. "
        "لإعادة الاشتراك أرسل: اشتراك",
        "en": "You will no longer receive promotions from us. Messages about your orders are not affected. "
        "To subscribe again, send: START",
    },
    "opted_in": {
        "ar": "تم الاشتراك في العروض. لإيقافها في أي وقت أرسل: إيقاف",
        "en": "You are subscribed to our offers. To stop them at any time, send: STOP",
    },
}


def text(key: str, language: str) -> str:
    return _TEXTS[key]["ar" if language == "ar" else "en"]
