"""Message builders: every message the bot sends is built here, within WhatsApp's limits."""

from __future__ import annotations

from providers.content import (
    MAX_BUTTON_TITLE,
    MAX_INTERACTIVE_BODY,
    MAX_LIST_BUTTON_LABEL,
    MAX_LIST_ROWS,
    Button,
    ListRow,
    ListSection,
    OutboundContent,
)

from .parsing import fit, fit_text

PAGE_SIZE_WHEN_PAGED = MAX_LIST_ROWS - 1  # one row is kept for "More"


# --- message builders (every one within WhatsApp's limits) ------------------------------------------------


def join_notices(*notices: str) -> str:
    return "\n".join(n for n in notices if n)


def with_notice(notice: str, body: str, limit: int = MAX_INTERACTIVE_BODY) -> str:
    return fit_text(f"{notice}\n\n{body}" if notice else body, limit) or "…"


def buttons_message(body: str, buttons: list[tuple[str, str]], footer: str = "") -> OutboundContent:
    return OutboundContent(
        kind="buttons",
        body=fit_text(body, MAX_INTERACTIVE_BODY) or "…",
        buttons=tuple(Button(id=bid, title=fit(title, MAX_BUTTON_TITLE)) for bid, title in buttons),
        footer=footer,
    )


def list_message(body: str, rows: list[ListRow], *, label: str, footer: str = "") -> OutboundContent:
    return OutboundContent(
        kind="list",
        body=fit_text(body, MAX_INTERACTIVE_BODY) or "…",
        sections=(ListSection(title="", rows=tuple(rows)),),
        button_label=fit(label, MAX_LIST_BUTTON_LABEL),
        footer=footer,
    )


def page_rows(rows: list[ListRow], page: int, more_row) -> tuple[list[ListRow], int]:
    """One page of rows within the list limit; a "More" row leads to the next page when there is one."""
    if len(rows) <= MAX_LIST_ROWS:
        return rows, 0
    pages = (len(rows) + PAGE_SIZE_WHEN_PAGED - 1) // PAGE_SIZE_WHEN_PAGED
    page = page if 0 <= page < pages else 0
    chunk = rows[page * PAGE_SIZE_WHEN_PAGED : (page + 1) * PAGE_SIZE_WHEN_PAGED]
    if page + 1 < pages:
        chunk.append(more_row(page + 1))
    return chunk, page
