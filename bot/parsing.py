"""Reading what a customer typed: digits in any script, keywords in Arabic and English, safe truncation."""

from __future__ import annotations

import re
import unicodedata

# Arabic-Indic (٠-٩) and Extended Arabic-Indic / Persian (۰-۹) digits read as 0-9.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_TASHKEEL = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")  # harakat and tatweel
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_PUNCT = re.compile(r"[\s\.\,\!\?\u061F\u060C\u061B:;\-_'\"()\[\]]+")
_NUMBER = re.compile(r"^#?\s*(\d{1,6})\s*[.)]?$")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "cancel": ("cancel", "stop", "الغاء", "الغي", "ايقاف"),
    "menu": ("menu", "start", "home", "restart", "القائمه", "قائمه", "منيو", "المنيو", "البدايه"),
    "cart": ("cart", "basket", "my cart", "السله", "سله", "سلتي"),
    "help": (
        "help",
        "agent",
        "staff",
        "human",
        "support",
        "talk to staff",
        "talk to a human",
        "مساعده",
        "موظف",
        "الدعم",
        "خدمه العملاء",
        "كلم موظف",
    ),
    "english": ("english", "انجليزي", "انقليزي", "الانجليزيه", "انجلش"),
    "arabic": ("arabic", "عربي", "العربيه", "عربى"),
    "more": ("more", "next", "المزيد", "التالي", "المزيد من الاصناف"),
    "yes": ("yes", "y", "ok", "okay", "confirm", "sure", "نعم", "اي", "ايوه", "اكيد", "تاكيد", "موافق", "اوكي"),
    "no": ("no", "n", "لا", "كلا"),
    "orders": ("my orders", "orders", "طلباتي", "الطلبات"),
    "greeting": (
        "hi",
        "hello",
        "hey",
        "hi there",
        "salam",
        "good morning",
        "good evening",
        "مرحبا",
        "مرحبًا",
        "اهلا",
        "هلا",
        "السلام عليكم",
        "سلام",
        "صباح الخير",
        "مساء الخير",
    ),
}


def clean(text: str) -> str:
    """What the customer typed, minus what no database or WhatsApp message can carry: control characters
    (NUL among them; newlines and tabs stay) and unpaired surrogates."""
    if not text:
        return ""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def normalize(text: str) -> str:
    """Fold case, digits, Arabic letter variants, diacritics and punctuation, for comparing phrases."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DIGITS)
    text = _TASHKEEL.sub("", text).translate(_ALEF).casefold()
    return _PUNCT.sub(" ", text).strip()


_KEYWORD_OF = {normalize(phrase): word for word, phrases in KEYWORDS.items() for phrase in phrases}


def keyword(text: str) -> str | None:
    """Which keyword ("cancel", "menu", "cart", "help", …) the whole message is, if any."""
    return _KEYWORD_OF.get(normalize(text))


def parse_number(text: str) -> int | None:
    """A message that is just a number ("2", "٢", " 3. ", "#4") → that number; anything else → None."""
    cleaned = unicodedata.normalize("NFKC", text or "").translate(_DIGITS).strip()
    match = _NUMBER.match(cleaned)
    return int(match.group(1)) if match else None


def fit(text: str, limit: int) -> str:
    """One line (a title, a label) cut to at most `limit` characters: whitespace collapsed, never empty."""
    return _cut(" ".join((text or "").split()), limit) or "…"


def fit_text(text: str, limit: int) -> str:
    """A message body cut to at most `limit` characters, keeping its line breaks."""
    return _cut((text or "").strip(), limit)


def _cut(text: str, limit: int) -> str:
    # Never end on a half-built letter: a lone combining mark (Arabic harakat), a joiner or a variation
    # selector would render as a broken glyph before the ellipsis.
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    while cut and (unicodedata.combining(cut[-1]) or cut[-1] in "\u200d\u200c\ufe0f\ufe0e" or cut[-1].isspace()):
        cut = cut[:-1]
    return (cut + "…") if cut else text[:limit]
