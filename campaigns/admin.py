"""Admin of campaigns for the restaurant's ADMINs: progress per status in the list, and actions that call the
campaign services (schedule within the plan, pause, resume, cancel). Campaigns are written through the API;
here they are followed and steered."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin
from restaurants.models import StaffRole

from .models import Campaign, RecipientStatus
from .selectors import campaign_progress
from .services import campaign_cancel, campaign_pause, campaign_resume, campaign_schedule

# Progress columns: a recipient's own status until it is queued, then its message's (the provider's callbacks).
_QUEUED = Q(recipients__status=RecipientStatus.QUEUED)
PROGRESS_COUNTS = {
    "pending": Q(recipients__status=RecipientStatus.PENDING),
    "queued": _QUEUED & Q(recipients__message__status__in=("queued", "sending")),
    "sent": _QUEUED & Q(recipients__message__status="sent"),
    "delivered": _QUEUED & Q(recipients__message__status="delivered"),
    "read": _QUEUED & Q(recipients__message__status="read"),
    "failed": _QUEUED & Q(recipients__message__status__in=("failed", "undelivered")),
    "skipped": Q(recipients__status=RecipientStatus.SKIPPED),
    "cancelled": Q(recipients__status=RecipientStatus.CANCELLED),
}


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdmin):
    manage_role = StaffRole.ADMIN
    list_display = ("name", "restaurant", "state", "template", "send_at", "recipient_count", "progress")
    list_filter = ("state", RESTAURANT_FILTER)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Campaign._meta.fields] + ["progress_detail"]
    actions = ["schedule", "pause", "resume", "cancel"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        # One grouped query for the page's counts, not one per row.
        counts = {f"n_{name}": Count("recipients", filter=condition) for name, condition in PROGRESS_COUNTS.items()}
        return super().get_queryset(request).select_related("template", "restaurant").annotate(**counts)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafts are written through the API (restaurants/{rid}/campaigns/)

    @admin.display(description="progress")
    def progress(self, obj: Campaign) -> str:
        parts = [(getattr(obj, f"n_{name}", 0), name) for name in PROGRESS_COUNTS]
        shown = [f"{n} {name}" for n, name in parts if n]
        return " · ".join(shown) or "—"

    @admin.display(description="recipients per status")
    def progress_detail(self, obj: Campaign) -> str:
        counts = campaign_progress(campaign=obj)
        return format_html_join(", ", "{}: {}", sorted(counts.items())) or "—"

    def _run(self, request: HttpRequest, queryset: QuerySet[Campaign], action, done: str) -> None:
        moved = 0
        for campaign in queryset.order_by("pk"):
            try:
                action(campaign=campaign)
            except ValidationError as exc:
                self.message_user(request, f"{campaign.name}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                moved += 1
        if moved:
            self.message_user(request, f"{moved} campaign(s) {done}.", messages.SUCCESS)

    @admin.action(description="Schedule (at its send time, or now)", permissions=["change"])
    def schedule(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._run(request, queryset, campaign_schedule, "scheduled")

    @admin.action(description="Pause sending", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._run(request, queryset, campaign_pause, "paused")

    @admin.action(description="Resume sending", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._run(request, queryset, campaign_resume, "resumed")

    @admin.action(description="Cancel (recipients not yet sent to are dropped)", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._run(request, queryset, campaign_cancel, "cancelled")
