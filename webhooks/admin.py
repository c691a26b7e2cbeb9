from django.contrib import admin

from restaurants.admin_scoping import TenantScopedAdmin

from .models import WebhookEvent
from .services import webhook_events_requeue


@admin.register(WebhookEvent)
class WebhookEventAdmin(TenantScopedAdmin):
    platform_only = True  # raw provider traffic of every tenant
    list_display = ("id", "provider", "kind", "status", "signature_valid", "restaurant", "attempts", "received_at")
    list_filter = ("provider", "kind", "status", "restaurant")
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay (process again)")
    def replay(self, request, queryset):
        n = webhook_events_requeue(events=queryset)
        self.message_user(request, f"{n} event(s) queued for processing.")
