"""The templates every restaurant starts with (as drafts to submit): the rating prompt and the order notice.

Their quick replies send back the same payloads and titles as the in-window rating buttons
(sufrahbot.reply_ids.rating_buttons), so a tap lands in the bot's one rating flow; their words are in the one
text table (sufrahbot.texts).
"""

from __future__ import annotations

from sufrahbot import reply_ids, texts

EXAMPLES = {"order_number": "42", "restaurant_name": "Sufrah", "order_id": "1001", "status": "on its way"}


def default_templates() -> list[dict]:
    """Field values of each default template, one per language."""
    out = []
    for language in ("ar", "en"):
        titles = texts.rating_button_titles(language=language)
        out.append(
            {
                "name": "sufrah_rating_prompt",
                "language": language,
                "category": "UTILITY",
                "purpose": "rating",
                "body": texts.t("template_rating_body", language),
                "buttons": [
                    {"type": "quick_reply", "text": title, "payload": payload}
                    for title, payload in zip(titles, reply_ids.rating_buttons("{{order_id}}"), strict=True)
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
                "body": texts.t("template_order_status_body", language),
                "buttons": [],
                "examples": dict(EXAMPLES),
            }
        )
    return out
