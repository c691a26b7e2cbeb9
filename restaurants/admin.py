from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from providers.base import CredentialField
from providers.registry import provider_choices, provider_for, providers, secret_names
from sufrahbot.crypto import mask

from .admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin
from .models import (
    PLAN_LIMITS,
    AuditEntry,
    MenuCategory,
    MenuItem,
    Plan,
    Restaurant,
    Sender,
    StaffMembership,
    StaffRole,
    UsageCounter,
)
from .photos import PhotoRejected, photo_prepare
from .plans import plan_override_clean, plan_seat_check, plan_sender_check
from .selectors import sender_webhook_url, usage_of
from .services import (
    MENU_CATEGORY_FIELDS,
    MENU_ITEM_FIELDS,
    menu_category_create,
    menu_category_delete,
    menu_category_update,
    menu_item_category_check,
    menu_item_create,
    menu_item_delete,
    menu_item_photo_clear,
    menu_item_photo_set,
    menu_item_update,
    sender_credentials_clean,
    sender_number_validate,
    sender_register,
    sender_update,
)
from .staff import staff_membership_add


def credential_form_field(provider_name: str, field: CredentialField) -> str:
    return f"{provider_name}__{field.name}"


class SenderAdminForm(forms.ModelForm):
    """Generated from the providers' credential schemas: one group of fields per provider, the chosen one's
    used. Secrets are write-only: never rendered; leaving one blank keeps the stored value. Saving goes through
    sender_register / sender_update, like the API."""

    # Wider than the column: "whatsapp:+966 50 803 4010" is accepted and normalised before it is stored.
    phone_number = forms.CharField(max_length=64, help_text="E.164, e.g. +966508034010 (spaces and 'whatsapp:' ok)")
    provider = forms.ChoiceField(choices=())

    class Meta:
        model = Sender
        fields = ["restaurant", "provider", "phone_number", "messages_per_minute", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = provider_choices()
        stored = dict(self.instance.credentials) if self.instance.pk else {}
        for spec in providers():
            for field in spec.credentials:
                name = credential_form_field(spec.name, field)
                value = stored.get(field.name, "") if self.instance.provider == spec.name else ""
                if field.secret:
                    help_text = f"Stored: {mask(value)}. Leave blank to keep it." if value else "Not set."
                    widget = forms.PasswordInput(render_value=False)
                    self.initial[name] = ""
                else:
                    help_text, widget = field.help_text, forms.TextInput
                    self.initial[name] = value
                self.fields[name] = forms.CharField(
                    label=f"{spec.label}: {field.label}",
                    required=False,
                    max_length=field.max_length,
                    widget=widget,
                    help_text=" ".join(t for t in (field.help_text if field.secret else "", help_text) if t),
                )

    def clean_phone_number(self) -> str:
        try:
            return sender_number_validate(
                phone_number=self.cleaned_data.get("phone_number", ""), exclude_pk=self.instance.pk
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone_number"]) from None

    def credentials(self) -> dict[str, str]:
        """The chosen provider's credentials as typed; a blank secret keeps the stored one."""
        spec = provider_for(self.cleaned_data["provider"])
        same = self.instance.pk and Sender.objects.filter(pk=self.instance.pk, provider=spec.name).exists()
        stored = dict(Sender.objects.get(pk=self.instance.pk).credentials) if same else {}
        values = {}
        for field in spec.credentials:
            typed = (self.cleaned_data.get(credential_form_field(spec.name, field)) or "").strip()
            values[field.name] = typed or (stored.get(field.name, "") if field.secret else "")
        return values

    def clean(self):
        cleaned = super().clean()
        restaurant = cleaned.get("restaurant") or (self.instance.restaurant if self.instance.pk else None)
        was_active = bool(self.instance.pk) and Sender.objects.filter(pk=self.instance.pk, active=True).exists()
        if restaurant is not None and cleaned.get("active") and not was_active:
            try:  # said here, on the form; sender_register / sender_update check again while saving
                plan_sender_check(restaurant=restaurant, exclude_pk=self.instance.pk)
            except ValidationError as exc:
                self.add_error(None, exc.messages)
        if cleaned.get("provider"):
            try:
                sender_credentials_clean(
                    provider=cleaned["provider"], credentials=self.credentials(), exclude_pk=self.instance.pk
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    field = next((f for f in provider_for(cleaned["provider"]).credentials if f.name == name), None)
                    target = credential_form_field(cleaned["provider"], field) if field else None
                    self.add_error(target if target in self.fields else None, errors)
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

    def get_readonly_fields(self, request, obj=None):
        # A number moves to another restaurant by registering it there, not by editing it.
        return ("restaurant", "webhook_url") if obj else ("webhook_url",)

    @admin.display(description="webhook URL to configure at the provider")
    def webhook_url(self, obj: Sender | None) -> str:
        if obj is None or not obj.pk:
            return "Shown once the sender is saved."
        return sender_webhook_url(sender=obj)

    def get_fieldsets(self, request, obj=None):
        groups = [(None, {"fields": ["restaurant", "provider", "phone_number", "messages_per_minute", "active"]})]
        if obj is not None:
            groups.append(
                (
                    "Webhook",
                    {
                        "fields": ["webhook_url"],
                        "description": (
                            "While the database is down webhooks are answered 503 (nothing stored). Meta retries "
                            "them for a long time; Twilio only as its URL's connection overrides say, so use "
                            "this URL as is (#rc= retries, #rp= on connect/read timeouts and 5xx, #ct= / #rt= "
                            "timeouts in ms, #tt= Twilio's total budget of at most 15 s)."
                        ),
                    },
                )
            )
        for spec in providers():
            names = [credential_form_field(spec.name, f) for f in spec.credentials]
            if names:
                groups.append((f"{spec.label} credentials", {"fields": names}))
        return groups

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The credential fields are added per instance in the form's __init__, not declared on the class.
        kwargs["fields"] = SenderAdminForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        data = {
            "provider": form.cleaned_data["provider"],
            "phone_number": form.cleaned_data["phone_number"],
            "messages_per_minute": form.cleaned_data["messages_per_minute"],
            "active": form.cleaned_data["active"],
        }
        if change:
            saved = sender_update(
                sender=Sender.objects.get(pk=obj.pk),
                data={**data, "credentials": form.credentials()},
                by=request.user,
                source="admin",
            )
        else:
            saved = sender_register(
                restaurant=form.cleaned_data["restaurant"],
                provider=data["provider"],
                phone_number=data["phone_number"],
                credentials=form.credentials(),
                messages_per_minute=data["messages_per_minute"],
                active=data["active"],
                by=request.user,
                source="admin",
            )
        obj.pk, obj.credentials, obj.routing_id = saved.pk, saved.credentials, saved.routing_id

    @admin.display(description="credentials")
    def masked_token(self, obj: Sender) -> str:
        secrets = [obj.credentials.get(n, "") for n in sorted(secret_names())]
        return mask(next((s for s in secrets if s), "")) or "—"


class MenuItemInline(admin.TabularInline):
    model = MenuItem
    extra = 0
    fields = ("name_en", "name_ar", "price", "available", "sort_order")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Plans are the platform's: only superusers have their permissions (no staff role grants them)."""

    list_display = ("name", *PLAN_LIMITS, "restaurant_count")
    search_fields = ("name",)

    @admin.display(description="restaurants")
    def restaurant_count(self, obj: Plan) -> int:
        return obj.restaurants.count()


class RestaurantAdminForm(forms.ModelForm):
    logo_url = forms.URLField(
        required=False, assume_scheme="https", help_text=Restaurant._meta.get_field("logo_url").help_text
    )

    class Meta:
        model = Restaurant
        fields = [f.name for f in Restaurant._meta.fields if f.editable and not f.primary_key]

    def clean_plan_override(self):
        return plan_override_clean(self.cleaned_data.get("plan_override"))


def _limit_text(limit: int | None) -> str:
    return "no limit" if limit is None else str(limit)


@admin.register(Restaurant)
class RestaurantAdmin(TenantScopedAdmin):
    restaurant_lookup = "pk"
    manage_role = StaffRole.ADMIN
    form = RestaurantAdminForm
    list_display = ("slug", "name_en", "name_ar", "default_language", "currency", "plan", "active")
    list_filter = ("active", "default_language", "plan")
    search_fields = ("slug", "name_en", "name_ar")
    prepopulated_fields = {"slug": ("name_en",)}

    def has_add_permission(self, request):
        return request.user.is_superuser  # new tenants are the platform's to create

    def get_readonly_fields(self, request, obj=None):
        # The slug routes the simulator and commands, "active" switches the tenant off, the plan is what they
        # pay for: the platform's call.
        if request.user.is_superuser:
            return ("usage_this_month",)
        return ("slug", "active", "plan", "plan_override", "usage_this_month")

    @admin.display(description="usage this month")
    def usage_this_month(self, obj: Restaurant | None) -> str:
        if obj is None or not obj.pk:
            return "—"
        usage = usage_of(restaurant=obj)
        lines = [
            f"{PLAN_LIMITS[name]}: {usage.used[name]} of {_limit_text(usage.limits[name])}" for name in PLAN_LIMITS
        ]
        lines.append(f"customer messages received over the plan: {usage.over_plan_messages}")
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in [f"{usage.month:%B %Y}", *lines]))

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}


def _form_data(form, fields) -> dict:
    return {field: form.cleaned_data[field] for field in fields if field in form.cleaned_data}


class MenuAdmin(TenantScopedAdmin):
    """The menu is written through restaurants.services like the API's (validation, audit): the admin's own
    saves and deletes stay unused. A row's restaurant is fixed once created, as in the API."""

    manage_role = StaffRole.ADMIN

    def get_readonly_fields(self, request, obj=None):
        return ("restaurant",) if obj else ()

    def delete_queryset(self, request, queryset):
        for obj in queryset.order_by("pk"):
            self.delete_model(request, obj)


@admin.register(MenuCategory)
class MenuCategoryAdmin(MenuAdmin):
    list_display = ("name_en", "name_ar", "restaurant", "sort_order", "active")
    list_filter = (RESTAURANT_FILTER, "active")
    inlines = [MenuItemInline]

    def save_model(self, request, obj, form, change):
        if change and not form.changed_data:
            return  # only its dishes changed (save_formset)
        data = _form_data(form, MENU_CATEGORY_FIELDS)
        if change:
            saved = menu_category_update(
                category=MenuCategory.objects.get(pk=obj.pk), data=data, by=request.user, source="admin"
            )
        else:
            saved = menu_category_create(
                restaurant=form.cleaned_data["restaurant"], **data, by=request.user, source="admin"
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        menu_category_delete(category=obj, by=request.user, source="admin")

    def save_formset(self, request, form, formset, change):
        category = form.instance
        formset.save(commit=False)  # fills new/changed/deleted_objects (the admin's history reads them)
        for item in formset.deleted_objects:
            menu_item_delete(item=item, by=request.user, source="admin")
        for item, changed in formset.changed_objects:
            data = {field: getattr(item, field) for field in changed if field in MENU_ITEM_FIELDS}
            menu_item_update(item=MenuItem.objects.get(pk=item.pk), data=data, by=request.user, source="admin")
        for item in formset.new_objects:
            data = {field: getattr(item, field) for field in MenuItemInline.fields}
            saved = menu_item_create(
                restaurant=category.restaurant, category=category, **data, by=request.user, source="admin"
            )
            item.pk = saved.pk


class MenuItemAdminForm(forms.ModelForm):
    image_url = forms.URLField(required=False, assume_scheme="https")
    photo = forms.FileField(
        required=False,
        help_text="JPEG, PNG or WebP up to 10 MB: resized for WhatsApp (1600 px) with a 320 px thumbnail.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    remove_photo = forms.BooleanField(required=False, help_text="Tick to remove the current photo.")

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
        restaurant = cleaned.get("restaurant") or (self.instance.restaurant if self.instance.pk else None)
        if cleaned.get("category") and restaurant:
            try:
                menu_item_category_check(restaurant_id=restaurant.pk, category=cleaned["category"])
            except ValidationError as exc:
                self.add_error("category", exc.message_dict["category"])
        return cleaned

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if upload:
            try:
                photo_prepare(upload)  # checked here for the form error; the service prepares it again to save
            except PhotoRejected as exc:
                raise ValidationError(str(exc)) from None
        return upload


@admin.register(MenuItem)
class MenuItemAdmin(MenuAdmin):
    form = MenuItemAdminForm
    list_display = ("thumbnail", "name_en", "name_ar", "category", "restaurant", "price", "available")
    list_display_links = ("thumbnail", "name_en")
    list_filter = (RESTAURANT_FILTER, "available", ("category", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name_en", "name_ar")
    readonly_fields = ("current_photo",)

    def _photo_url(self, obj: MenuItem, size: str) -> str:
        return reverse("admin:restaurants_menuitem_photo", args=[obj.pk, size])

    @admin.display(description="photo")
    def thumbnail(self, obj: MenuItem) -> str:
        if not obj.image_thumbnail:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="width:48px;height:48px;object-fit:cover;border-radius:4px">',
            self._photo_url(obj, "thumbnail"),
        )

    @admin.display(description="current photo")
    def current_photo(self, obj: MenuItem) -> str:
        if not obj.pk or not obj.image:
            return "—"
        return format_html(
            '<a href="{}" target="_blank"><img src="{}" alt="" style="max-width:320px"></a>',
            self._photo_url(obj, "whatsapp"),
            self._photo_url(obj, "thumbnail"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.photo_view)
        return [path("<int:item_id>/photo/<str:size>/", view, name="restaurants_menuitem_photo"), *super().get_urls()]

    def photo_view(self, request, item_id: int, size: str):
        """The item's photo for staff who may see the item (scoped like the list)."""
        item = self.get_queryset(request).filter(pk=item_id).first() if self.has_view_permission(request) else None
        photo = None if item is None else (item.image_thumbnail if size == "thumbnail" else item.image)
        if not photo:
            raise Http404("No such photo.")
        response = FileResponse(photo.open("rb"), content_type="image/jpeg")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def save_model(self, request, obj, form, change):
        # The item's fields through the menu services, then the photo through its own (checked and resized).
        if not change:
            saved = menu_item_create(
                restaurant=form.cleaned_data["restaurant"],
                **_form_data(form, MENU_ITEM_FIELDS),
                by=request.user,
                source="admin",
            )
        elif any(field in MENU_ITEM_FIELDS for field in form.changed_data):
            data = _form_data(form, MENU_ITEM_FIELDS)
            saved = menu_item_update(item=MenuItem.objects.get(pk=obj.pk), data=data, by=request.user, source="admin")
        else:
            saved = MenuItem.objects.get(pk=obj.pk)
        if form.cleaned_data.get("photo"):
            menu_item_photo_set(item=saved, upload=form.cleaned_data["photo"], by=request.user)
        elif form.cleaned_data.get("remove_photo"):
            menu_item_photo_clear(item=saved, by=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        menu_item_delete(item=obj, by=request.user, source="admin")


class StaffMembershipAdminForm(forms.ModelForm):
    class Meta:
        model = StaffMembership
        fields = ["user", "restaurant", "role"]

    def clean(self):
        cleaned = super().clean()
        restaurant = cleaned.get("restaurant")
        moved = self.instance.pk is None or restaurant is not None and restaurant.pk != self.instance.restaurant_id
        if restaurant is not None and moved:
            try:  # a new seat in that restaurant (saving checks again, under its lock)
                plan_seat_check(restaurant=restaurant)
            except ValidationError as exc:
                self.add_error(None, exc.messages)
        return cleaned


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantScopedAdmin):
    """A restaurant's ADMINs see its staff, change roles and remove people; new staff come through the
    "Invite staff" page (a password-set link), so nobody picks from the platform's whole user list."""

    manage_role = StaffRole.ADMIN
    list_display = ("user", "role", "restaurant", "created_at")
    list_filter = ("role", RESTAURANT_FILTER)
    search_fields = ("user__username", "user__email")
    change_list_template = "backoffice/membership_change_list.html"
    form = StaffMembershipAdminForm

    def has_add_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            if "restaurant" in form.changed_data:
                plan_seat_check(restaurant=obj.restaurant)
            return super().save_model(request, obj, form, change)
        saved = staff_membership_add(
            restaurant=obj.restaurant, user=obj.user, role=obj.role, by=request.user, source="admin"
        )
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser or obj is None else ("user", "restaurant")


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    """Who did what, when, with the fields before and after: read-only, for the restaurant's ADMINs."""

    manage_role = StaffRole.ADMIN
    list_display = ("created_at", "actor", "action", "target_repr", "changed_fields", "source")
    list_filter = ("action", "source", RESTAURANT_FILTER)
    search_fields = ("target_repr", "actor__username", "action")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    @admin.display(description="changed")
    def changed_fields(self, obj: AuditEntry) -> str:
        return ", ".join(obj.changes) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UsageCounter)
class UsageCounterAdmin(TenantScopedAdmin):
    """Usage per month, counted as it happens (restaurants.plans): read-only, for the restaurant's ADMINs."""

    manage_role = StaffRole.ADMIN
    list_display = (
        "month",
        "restaurant",
        "conversations",
        "messages",
        "over_plan_messages",
        "campaigns",
        "campaign_recipients",
        "updated_at",
    )
    list_filter = (RESTAURANT_FILTER,)
    readonly_fields = [f.name for f in UsageCounter._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
