"""The words a customer sends to withdraw (or give) marketing consent, compared after trimming and lowercasing.
What the customer is told back is in the one text table (sufrahbot.texts: opted_out, opted_in); the opt-out
button's payload is sufrahbot.reply_ids.MARKETING_OPT_OUT."""

from __future__ import annotations

STOP_WORDS = frozenset({"stop", "unsubscribe", "إيقاف", "ايقاف", "الغاء الاشتراك", "إلغاء الاشتراك"})
START_WORDS = frozenset({"start", "subscribe", "اشتراك", "اشترك"})
