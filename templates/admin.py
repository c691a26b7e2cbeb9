"""Admin of message templates: edit (through the same services as the API), submit, sync, see every version."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin

from .models import EDITABLE_FIELDS_ADMIN, MessageTemplate, TemplateVersion
from .services import template_create, template_submit, template_sync, template_update


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    extra = 0
    can_delete = False
    fields = ("created_at", "version", "status", "note", "changed_by", "content")
    readonly_fields = fields
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None):
        return False


class MessageTemplateForm(forms.ModelForm):
    header_image_url = forms.URLField(required=False, max_length=2000, assume_scheme="https")

    class Meta:
        model = MessageTemplate
        fields = ("restaurant", *EDITABLE_FIELDS_ADMIN)

    def clean(self):
        cleaned = super().clean()
        candidate = MessageTemplate(**{k: v for k, v in cleaned.items() if k in self.Meta.fields})
        problems = candidate.spec().problems()
        if problems:
            raise ValidationError({k if k in self.fields else "__all__": v for k, v in problems.items()})
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TenantScopedAdmin):
    form = MessageTemplateForm
    list_display = ("name", "language", "restaurant", "category", "purpose", "status", "version", "updated_at")
    list_filter = ("status", "category", "purpose", "language", RESTAURANT_FILTER)
    search_fields = ("name", "body")
    readonly_fields = (
        "status",
        "rejection_reason",
        "meta_template_id",
        "twilio_content_sid",
        "submitted_provider",
        "submitted_at",
        "synced_at",
        "version",
    )
    inlines = [TemplateVersionInline]
    actions = ["submit", "sync"]

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in EDITABLE_FIELDS_ADMIN if k in form.cleaned_data}
        if change:
            saved = template_update(
                template=MessageTemplate.objects.get(pk=obj.pk), by=request.user, data=data, source="admin"
            )
        else:
            saved = template_create(
                restaurant=form.cleaned_data["restaurant"], by=request.user, data=data, source="admin"
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description="Submit for the provider's review")
    def submit(self, request, queryset):
        for template in queryset:
            try:
                template = template_submit(template=template, by=request.user, source="admin")
            except ValidationError as exc:
                self.message_user(request, f"{template}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{template}: {template.get_status_display()}", messages.SUCCESS)

    @admin.action(description="Ask the provider for the current status")
    def sync(self, request, queryset):
        for template in queryset:
            status = template_sync(template_id=template.pk)
            self.message_user(request, f"{template.name} [{template.language}]: {status}")
