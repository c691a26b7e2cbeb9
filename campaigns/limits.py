"""The plan's limits as they bear on campaigns: a campaign and its audience are charged to the month it is
scheduled in (refused over the plan), and the charge is settled to the recipients actually created."""

from __future__ import annotations

from restaurants.plans import usage_campaign_recipients_settle, usage_campaign_reserve

from .models import Campaign


def campaign_usage_reserve(*, campaign: Campaign, recipients: int) -> dict:
    """Charge the campaign (PlanLimitReached over campaigns or recipients a month); the fields to store."""
    month = usage_campaign_reserve(restaurant=campaign.restaurant, recipients=recipients)
    return {"usage_month": month, "recipients_reserved": recipients}


def campaign_usage_settle(*, campaign: Campaign, created: int) -> None:
    if campaign.usage_month is not None:
        usage_campaign_recipients_settle(
            restaurant_id=campaign.restaurant_id,
            month=campaign.usage_month,
            reserved=campaign.recipients_reserved,
            created=created,
        )
