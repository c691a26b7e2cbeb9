from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from restaurants.admin_scoping import RESTAURANT_FILTER, TenantScopedAdmin, restaurant_ids_of

from .downloads import media_file_response
from .models import Conversation, Message, MessageMedia
from .services.handoff import conversation_bot_resume, conversation_handoff, conversation_language_set
from .services.outbound import OutsideServiceWindow, message_retry
from .services.staff import conversation_reply, conversation_update


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("created_at", "direction", "author", "text", "attachments", "offered", "status", "error_code")
    readonly_fields = fields
    ordering = ("created_at", "id")  # oldest first, as everywhere else a thread is read (admin, inbox)
    show_change_link = True

    @admin.display(description="from")
    def author(self, obj: Message) -> str:
        if obj.direction == "in":
            return "customer"
        return str(obj.sent_by) if obj.sent_by_id else "bot"

    @admin.display(description="message")
    def text(self, obj: Message) -> str:
        return format_html('<span dir="auto" class="sufrah-bidi">{}</span>', obj.body)

    @admin.display(description="buttons offered")
    def offered(self, obj: Message) -> str:
        return offered_buttons(obj)

    @admin.display(description="files")
    def attachments(self, obj: Message) -> str:
        return media_links(obj)

    def has_add_permission(self, request, obj=None):
        return False


def media_links(message: Message) -> str:
    """The message's files: stored images inline (a thumbnail linking to the file), others as links, and
    what became of a fetch that did not work."""
    parts = []
    for media in message.media_files.all():
        if media.status != MessageMedia.Status.STORED:
            note = f"{media.kind}: {media.status}" + (f" ({media.error_code})" if media.error_code else "")
            parts.append(format_html('<span class="sufrah-media-{}">{}</span>', media.status, note))
            continue
        url = reverse("admin:conversations_message_media", args=[media.pk])
        if media.kind in ("image", "sticker"):
            parts.append(
                format_html(
                    '<a href="{}" target="_blank"><img src="{}" alt="{}" style="max-width:160px;max-height:160px"></a>',
                    url,
                    url,
                    media.filename,
                )
            )
        else:
            parts.append(format_html('<a href="{}">{} ({} bytes)</a>', url, media.filename, media.size))
    return format_html_join(" ", "{}", ((p,) for p in parts)) if parts else "—"


def offered_buttons(message: Message) -> str:
    """The buttons or list rows the customer was shown with this message, as chips."""
    content = message.content or {}
    titles = [b.get("title", "") for b in content.get("buttons") or ()]
    titles += [r.get("title", "") for s in content.get("sections") or () for r in s.get("rows") or ()]
    if not titles:
        return "—"
    chips = format_html_join("", '<span class="sufrah-chip" dir="auto">{}</span>', ((t,) for t in titles))
    return format_html('<span class="sufrah-buttons">{}</span>', chips)


class ConversationAdminForm(forms.ModelForm):
    reply = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=4096,
        help_text="Sent to the customer on WhatsApp when you save; the bot then pauses for this conversation.",
    )

    class Meta:
        model = Conversation
        fields = ("customer_name", "language", "status", "assignee", "bot_paused")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            # Only the conversation's own restaurant's active staff (conversation_update checks it again).
            restaurant_id = self.instance.restaurant_id if self.instance.pk else None
            self.fields["assignee"].queryset = (
                get_user_model()
                .objects.filter(is_active=True, memberships__restaurant_id=restaurant_id)
                .distinct()
                .order_by("username")
            )


@admin.register(Conversation)
class ConversationAdmin(TenantScopedAdmin):
    form = ConversationAdminForm
    list_display = (
        "customer_phone",
        "customer_name",
        "status",
        "bot_paused",
        "unread_count",
        "last_message_at",
        "restaurant",
    )
    list_filter = ("status", "bot_paused", RESTAURANT_FILTER)
    search_fields = ("customer_phone", "customer_id", "customer_name")
    readonly_fields = (
        "restaurant",
        "sender",
        "customer_id",
        "customer_phone",
        "unread_count",
        "last_inbound_at",
        "last_message_at",
        "first_response_at",
        "created_at",
    )
    inlines = [MessageInline]
    actions = ["resume_bot", "hand_over_to_staff"]

    def has_add_permission(self, request):
        return False  # conversations start when a customer writes

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
        else:
            # What the API's PATCH changes goes through the same service (membership check, event, log).
            conversation_update(
                conversation=Conversation.objects.get(pk=obj.pk),
                by=request.user,
                status=form.cleaned_data.get("status"),
                assignee=form.cleaned_data.get("assignee"),
                bot_paused=form.cleaned_data.get("bot_paused"),
                customer_name=form.cleaned_data.get("customer_name"),
            )
            if form.cleaned_data.get("language") in ("ar", "en"):
                conversation_language_set(conversation=obj, language=form.cleaned_data["language"])
            obj.refresh_from_db()
        body = (form.cleaned_data.get("reply") or "").strip()
        if not (change and body):
            return
        try:
            conversation_reply(conversation=obj, body=body, sent_by=request.user)
        except OutsideServiceWindow as exc:
            self.message_user(request, f"Reply not sent: {exc}", messages.ERROR)
        else:
            obj.refresh_from_db()
            self.message_user(request, "Reply queued; the bot is paused for this conversation.", messages.SUCCESS)

    @admin.action(description="Resume bot")
    def resume_bot(self, request, queryset):
        resumed = 0
        for conversation in queryset.filter(bot_paused=True):
            conversation_bot_resume(conversation=conversation, by=request.user)
            resumed += 1
        self.message_user(request, f"The bot answers again in {resumed} conversation(s).", messages.SUCCESS)

    @admin.action(description="Hand over to staff (pause the bot)")
    def hand_over_to_staff(self, request, queryset):
        paused = 0
        for conversation in queryset.filter(bot_paused=False):
            conversation_handoff(conversation=conversation, by=request.user)
            paused += 1
        self.message_user(request, f"The bot is paused in {paused} conversation(s).", messages.SUCCESS)


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin):
    # Newest first, by primary key: the one index that orders every restaurant's messages at once (a platform
    # admin's list), where created_at has none (tests/test_hot_indexes.py). A thread reads oldest first: its inline.
    ordering = ("-id",)
    list_display = (
        "id",
        "conversation",
        "direction",
        "short_body",
        "status",
        "error_code",
        "created_at",
    )
    readonly_fields = [f.name for f in Message._meta.fields] + ["buttons_offered", "files"]

    @admin.display(description="buttons offered")
    def buttons_offered(self, obj: Message) -> str:
        return offered_buttons(obj)

    @admin.display(description="files")
    def files(self, obj: Message) -> str:
        return media_links(obj)

    def get_urls(self):
        view = self.admin_site.admin_view(self.media_view)
        return [path("media/<int:media_id>/", view, name="conversations_message_media"), *super().get_urls()]

    def media_view(self, request, media_id: int):
        """A stored file, for staff of its restaurant only (the admin's session; no public URL)."""
        if not self.has_view_permission(request):
            raise Http404("No such file.")
        media = MessageMedia.objects.filter(pk=media_id, status=MessageMedia.Status.STORED)
        if not request.user.is_superuser:
            media = media.filter(restaurant_id__in=restaurant_ids_of(request.user))
        found = media.first()
        if found is None:
            raise Http404("No such file.")
        return media_file_response(found)

    list_filter = ("status", "direction", "provider", "over_plan", RESTAURANT_FILTER)
    search_fields = ("provider_message_id", "body", "conversation__customer_phone")
    actions = ["retry_failed"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        body = (obj.body[:60] + "…") if len(obj.body) > 60 else obj.body
        return format_html('<span dir="auto">{}</span>', body)

    @admin.action(description="Retry failed outbound messages")
    def retry_failed(self, request, queryset):
        retried = sum(message_retry(message=m) for m in queryset)
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} message(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} message(s) were not failed outbound messages and were left alone.",
                messages.WARNING,
            )
