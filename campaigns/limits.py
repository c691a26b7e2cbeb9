"""The plan's limits as they bear on campaigns (placeholder until plans land: no limit)."""

from __future__ import annotations


def campaign_limit_check(*, campaign, recipients: int) -> None:
    return None
