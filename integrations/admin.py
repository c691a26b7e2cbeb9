"""Admin for outgoing webhooks and API keys. Creating, rotating, revoking and redelivering call the services;
a secret or key is shown on one page right after it is made, never again."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Min
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin
from restaurants.api_keys import ApiKeyScope
from restaurants.models import StaffRole
from sufrahbot.events import EVENT_TYPES

from .models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .services.api_keys import api_key_create, api_key_revoke
from .services.deliveries import deliveries_redeliver, deliveries_redeliver_since
from .services.subscriptions import (
    subscription_create,
    subscription_delete,
    subscription_rotate_secret,
    subscription_update,
)

EVENT_CHOICES = [(name, name) for name in sorted(EVENT_TYPES)]


def _shown_once(request, *, title: str, what: str, value: str, kept: str, back_url: str, note: str = ""):
    return TemplateResponse(
        request,
        "admin/integrations/shown_once.html",
        {
            "title": title,
            "what": what,
            "value": value,
            "kept": kept,
            "back_url": back_url,
            "note": note,
            "site_header": admin.site.site_header,
        },
    )


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ["restaurant", "url", "events", "description", "active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(TenantScopedAdmin):
    manage_role = StaffRole.ADMIN
    form = SubscriptionForm
    list_display = ("url", "restaurant", "event_list", "active", "consecutive_failures", "notice")
    list_filter = ("active", RESTAURANT_FILTER)
    readonly_fields = ("consecutive_failures", "disabled_at", "disabled_reason", "previous_secret_expires_at")
    actions = ["rotate_secret", "redeliver_last_day"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "restaurant") if obj else self.readonly_fields

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events)

    @admin.display(description="notice")
    def notice(self, obj: WebhookSubscription) -> str:
        return obj.disabled_reason or ""

    def changelist_view(self, request, extra_context=None):
        disabled = self.get_queryset(request).filter(active=False).exclude(disabled_reason="")
        for subscription in disabled[:5]:
            messages.warning(request, f"Switched off: {subscription.url}: {subscription.disabled_reason}")
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in ("url", "events", "description", "active")}
        if change:
            subscription_update(subscription=WebhookSubscription.objects.get(pk=obj.pk), data=data, by=request.user)
            return
        result = subscription_create(
            restaurant=form.cleaned_data["restaurant"],
            url=data["url"],
            events=data["events"],
            description=data["description"],
            by=request.user,
        )
        if not data["active"]:
            subscription_update(subscription=result.subscription, data={"active": False}, by=request.user)
        obj.pk = result.subscription.pk
        request._sufrah_secret = result.secret

    def response_add(self, request, obj, post_url_continue=None):
        return _shown_once(
            request,
            title="Webhook subscription created",
            what="Signing secret",
            value=request._sufrah_secret,
            kept="an encrypted copy to sign with",
            back_url=reverse("admin:integrations_webhooksubscription_changelist"),
            note="Verify deliveries with a Standard Webhooks library and this secret (README, docs/events.md).",
        )

    def delete_model(self, request, obj):
        subscription_delete(subscription=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            subscription_delete(subscription=subscription, by=request.user)

    @admin.action(description="Rotate the signing secret (the old one also signs for 24 hours)")
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one subscription at a time.", level=messages.ERROR)
            return None
        result = subscription_rotate_secret(subscription=queryset.get(), overlap=timedelta(hours=24), by=request.user)
        return _shown_once(
            request,
            title=f"New secret for {result.subscription.url}",
            what="Signing secret",
            value=result.secret,
            kept="an encrypted copy to sign with",
            back_url=reverse("admin:integrations_webhooksubscription_changelist"),
            note="For 24 hours deliveries carry a signature with the old secret too.",
        )

    @admin.action(description="Redeliver everything of the last 24 hours")
    def redeliver_last_day(self, request, queryset):
        since = timezone.now() - timedelta(hours=24)
        count = sum(deliveries_redeliver_since(subscription=s, since=since) for s in queryset)
        self.message_user(request, f"{count} deliveries queued again.")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "status_code", "error", "duration_ms", "response_body", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    manage_role = StaffRole.ADMIN
    list_display = ("event_type", "event_id", "subscription", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event_type", RESTAURANT_FILTER)
    search_fields = ("event_id",)
    inlines = [AttemptInline]
    readonly_fields = (
        "restaurant",
        "subscription",
        "event_id",
        "event_type",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    )
    exclude = ("lease_until",)
    actions = ["redeliver", "redeliver_since"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        count = 0
        for subscription_id in set(queryset.values_list("subscription_id", flat=True)):
            subscription = WebhookSubscription.objects.get(pk=subscription_id)
            ids = list(queryset.filter(subscription_id=subscription_id).values_list("id", flat=True))
            count += len(deliveries_redeliver(subscription=subscription, ids=ids))
        self.message_user(request, f"{count} deliveries queued again.")

    @admin.action(description="Redeliver everything since the earliest selected one (per subscription)")
    def redeliver_since(self, request, queryset):
        count = 0
        for row in queryset.values("subscription_id").annotate(since=Min("created_at")):
            subscription = WebhookSubscription.objects.get(pk=row["subscription_id"])
            count += deliveries_redeliver_since(subscription=subscription, since=row["since"])
        self.message_user(request, f"{count} deliveries queued again.")


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=list(ApiKeyScope.CHOICES.items()), widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["restaurant", "name", "scopes", "requests_per_minute"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    manage_role = StaffRole.ADMIN
    form = ApiKeyForm
    list_display = ("name", "restaurant", "prefix", "scope_list", "last_used_at", "revoked_at")
    list_filter = (RESTAURANT_FILTER,)
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "restaurant",
            "name",
            "prefix",
            "scopes",
            "requests_per_minute",
            "created_at",
            "last_used_at",
            "revoked_at",
        )

    def get_fields(self, request, obj=None):
        return (
            self.get_readonly_fields(request, obj) if obj else ["restaurant", "name", "scopes", "requests_per_minute"]
        )

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    def save_model(self, request, obj, form, change):
        if change:
            return
        result = api_key_create(
            restaurant=form.cleaned_data["restaurant"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            requests_per_minute=form.cleaned_data["requests_per_minute"],
            by=request.user,
        )
        obj.pk = result.api_key.pk
        request._sufrah_key = result.key

    def response_add(self, request, obj, post_url_continue=None):
        return _shown_once(
            request,
            title="API key created",
            what="API key",
            value=request._sufrah_key,
            kept="a SHA-256 digest of it",
            back_url=reverse("admin:integrations_apikey_changelist"),
            note="Send it as `Authorization: Bearer <key>` on the API's routes its scopes allow.",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key, by=request.user)
        self.message_user(request, f"{queryset.count()} keys revoked.")
