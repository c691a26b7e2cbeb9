from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from sufrahbot.crypto import mask

from .admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin
from .models import MenuCategory, MenuItem, Restaurant, Sender, StaffMembership
from .services import sender_credentials_validate, sender_number_validate

SECRET_FIELDS = ("twilio_auth_token", "meta_access_token", "meta_app_secret")


class SenderAdminForm(forms.ModelForm):
    """Secrets are write-only: the form never renders them; leaving one blank keeps the stored value."""

    # Wider than the column: "whatsapp:+966 50 803 4010" is accepted and normalised before it is stored.
    phone_number = forms.CharField(max_length=64, help_text="E.164, e.g. +966508034010 (spaces and 'whatsapp:' ok)")
    twilio_auth_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    meta_access_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    meta_app_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Sender
        fields = [
            "restaurant",
            "provider",
            "phone_number",
            "twilio_account_sid",
            "twilio_auth_token",
            "meta_phone_number_id",
            "meta_access_token",
            "meta_app_secret",
            "messages_per_minute",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            stored = getattr(self.instance, name, "") if self.instance.pk else ""
            self.initial[name] = ""
            self.fields[name].help_text = f"Stored: {mask(stored)}. Leave blank to keep it." if stored else "Not set."

    def clean_phone_number(self) -> str:
        try:
            return sender_number_validate(
                phone_number=self.cleaned_data.get("phone_number", ""), exclude_pk=self.instance.pk
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone_number"]) from None

    def _keep_stored(self, name: str) -> str:
        # Blank means "keep what is stored"; the instance still holds the stored value at this point.
        return self.cleaned_data.get(name) or (getattr(self.instance, name, "") if self.instance.pk else "") or ""

    def clean_twilio_auth_token(self) -> str:
        return self._keep_stored("twilio_auth_token")

    def clean_meta_access_token(self) -> str:
        return self._keep_stored("meta_access_token")

    def clean_meta_app_secret(self) -> str:
        return self._keep_stored("meta_app_secret")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("provider"):
            try:
                sender_credentials_validate(provider=cleaned["provider"], fields=cleaned, exclude_pk=self.instance.pk)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    if field not in self.errors:
                        self.add_error(field if field in self.fields else None, errors)
        return cleaned

    def validate_unique(self):
        try:
            super().validate_unique()
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Sender)
class SenderAdmin(TenantScopedAdmin):
    platform_only = True  # numbers and provider secrets are the platform's to manage
    form = SenderAdminForm
    list_display = ("phone_number", "restaurant", "provider", "masked_token", "messages_per_minute", "active")
    list_filter = ("provider", "active", RESTAURANT_FILTER)
    search_fields = ("phone_number", "restaurant__slug", "restaurant__name_en", "restaurant__name_ar")

    @admin.display(description="credentials")
    def masked_token(self, obj: Sender) -> str:
        return mask(obj.twilio_auth_token or obj.meta_access_token) or "—"


class MenuItemInline(admin.TabularInline):
    model = MenuItem
    extra = 0
    fields = ("name_en", "name_ar", "price", "available", "sort_order")


@admin.register(Restaurant)
class RestaurantAdmin(TenantScopedAdmin):
    restaurant_lookup = "pk"
    list_display = ("slug", "name_en", "name_ar", "default_language", "currency", "active")
    list_filter = ("active", "default_language")
    search_fields = ("slug", "name_en", "name_ar")
    prepopulated_fields = {"slug": ("name_en",)}

    def has_add_permission(self, request):
        return request.user.is_superuser  # new tenants are the platform's to create


@admin.register(MenuCategory)
class MenuCategoryAdmin(TenantScopedAdmin):
    list_display = ("name_en", "name_ar", "restaurant", "sort_order", "active")
    list_filter = (RESTAURANT_FILTER, "active")
    inlines = [MenuItemInline]

    def save_formset(self, request, form, formset, change):
        for obj in formset.save(commit=False):
            obj.restaurant = form.instance.restaurant
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


class MenuItemAdminForm(forms.ModelForm):
    image_url = forms.URLField(required=False, assume_scheme="https")
    class Meta:
        model = MenuItem
        fields = [
            "restaurant",
            "category",
            "name_en",
            "name_ar",
            "description_en",
            "description_ar",
            "price",
            "available",
            "image_url",
            "sort_order",
        ]

    def clean(self):
        cleaned = super().clean()
        category, restaurant = cleaned.get("category"), cleaned.get("restaurant")
        if category and restaurant and category.restaurant_id != restaurant.pk:
            self.add_error("category", "This category belongs to another restaurant.")
        return cleaned


@admin.register(MenuItem)
class MenuItemAdmin(TenantScopedAdmin):
    form = MenuItemAdminForm
    list_display = ("name_en", "name_ar", "category", "restaurant", "price", "available")
    list_filter = (RESTAURANT_FILTER, "available", ("category", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name_en", "name_ar")


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantScopedAdmin):
    platform_only = True
    list_display = ("user", "restaurant", "role")
    list_filter = ("role", RESTAURANT_FILTER)
