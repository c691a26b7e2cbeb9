"""Dashboard API of conversations: list, detail and update, message history, staff replies, stats."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from restaurants.permissions import ApiKeyScope, RestaurantScopedView
from sufrahbot.errors import error_responses
from sufrahbot.pagination import CursorPage, paginated_response

from .downloads import media_file_response
from .models import Conversation, Message, MessageMedia, MessageStatus
from .selectors import (
    PREVIEW_LENGTH,
    conversation_get,
    conversation_list,
    conversation_stats,
    message_list,
    message_media_get,
)
from .services.outbound import service_window_open
from .services.staff import conversation_reply, conversation_reply_file, conversation_update

IDEMPOTENCY_KEY_MAX = 200

# --- output shapes -----------------------------------------------------------------------------------------


class StaffUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class LastMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=Message.Direction.choices)
    preview = serializers.CharField(help_text=f"The body, cut at {PREVIEW_LENGTH} characters.")
    created_at = serializers.DateTimeField()


class ConversationListItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.CharField(
        help_text="The customer's WhatsApp identity: their number, or a business-scoped id (US.1349…)."
    )
    customer_phone = serializers.CharField(help_text="E.164 as WhatsApp sent it; empty when WhatsApp hides it.")
    customer_name = serializers.CharField()
    language = serializers.CharField()
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    assignee = StaffUserSerializer(allow_null=True)
    bot_paused = serializers.BooleanField()
    unread_count = serializers.IntegerField()
    last_message = serializers.SerializerMethodField()
    last_inbound_at = serializers.DateTimeField(allow_null=True)
    last_activity_at = serializers.DateTimeField(source="activity_at")
    created_at = serializers.DateTimeField()

    @extend_schema_field(LastMessageSerializer(allow_null=True))
    def get_last_message(self, conversation) -> dict | None:
        if conversation.last_message_id is None:
            return None
        body = conversation.last_message_body or ""
        preview = body if len(body) <= PREVIEW_LENGTH else body[: PREVIEW_LENGTH - 1] + "…"
        return LastMessageSerializer(
            {
                "id": conversation.last_message_id,
                "direction": conversation.last_message_direction,
                "preview": preview,
                "created_at": conversation.last_message_created_at,
            }
        ).data


class ConversationDetailSerializer(ConversationListItemSerializer):
    restaurant_id = serializers.IntegerField()
    sender_phone_number = serializers.CharField(source="sender.phone_number")
    first_response_at = serializers.DateTimeField(allow_null=True)
    service_window_open = serializers.SerializerMethodField(
        help_text="Whether free text may be sent now (the customer wrote within 24 hours)."
    )
    service_window_closes_at = serializers.SerializerMethodField()

    def get_service_window_open(self, conversation) -> bool:
        return service_window_open(conversation=conversation)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_service_window_closes_at(self, conversation) -> str | None:
        if conversation.last_inbound_at is None:
            return None
        return serializers.DateTimeField().to_representation(
            conversation.last_inbound_at + settings.CUSTOMER_SERVICE_WINDOW
        )


class MessageReactionSerializer(serializers.Serializer):
    message_id = serializers.CharField(help_text="The message reacted to.")
    emoji = serializers.CharField(help_text="Empty when the reaction was taken back.")


class CatalogOrderItemSerializer(serializers.Serializer):
    product_retailer_id = serializers.CharField()
    quantity = serializers.IntegerField()
    item_price = serializers.CharField()
    currency = serializers.CharField()


class MessageLocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    name = serializers.CharField(required=False)
    address = serializers.CharField(required=False)
    url = serializers.CharField(required=False)


class MessageMediaSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, help_text="image, document, audio, video, sticker")
    id = serializers.CharField(required=False, help_text="The provider's media id (Meta).")
    url = serializers.CharField(required=False, help_text="Where the provider serves it (Twilio).")
    content_type = serializers.CharField()
    filename = serializers.CharField(required=False)
    sha256 = serializers.CharField(required=False)
    voice = serializers.BooleanField(required=False, help_text="A voice note (audio).")
    animated = serializers.BooleanField(required=False, help_text="An animated sticker.")


class ProviderErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    details = serializers.CharField(required=False)


class MessageContentSerializer(serializers.Serializer):
    """What a message carries beyond its text, by kind; every key is optional."""

    type = serializers.CharField(required=False, help_text="The provider's own type word (text, button, order…).")
    reply_id = serializers.CharField(required=False, help_text="The id of the button or list row tapped.")
    reply = serializers.DictField(required=False, help_text="An interactive reply: type, id, title, description.")
    button = serializers.DictField(required=False, help_text="A template quick-reply button: payload, text.")
    flow = serializers.DictField(required=False, help_text="A WhatsApp Flow answer: name, response (its JSON).")
    reaction = MessageReactionSerializer(required=False)
    contacts = serializers.ListField(child=serializers.DictField(), required=False, help_text="vCard fields.")
    catalog_id = serializers.CharField(required=False, help_text="A catalog order's catalog.")
    items = CatalogOrderItemSerializer(many=True, required=False, help_text="A catalog order's product items.")
    location = MessageLocationSerializer(required=False)
    media = MessageMediaSerializer(many=True, required=False)
    context = serializers.DictField(required=False, help_text="The message this one replies to: id, from.")
    referral = serializers.DictField(
        required=False, help_text="The click-to-WhatsApp ad it came from: source_id, headline, ctwa_clid, …"
    )
    system_type = serializers.CharField(required=False, help_text="A system notice, e.g. user_changed_number.")
    original_id = serializers.CharField(required=False, help_text="The message an edit or revoke is about.")
    original_body = serializers.CharField(required=False, help_text="On an edited message: its first text.")
    revoked = serializers.BooleanField(required=False, help_text="The customer deleted this message.")
    unsupported = serializers.DictField(required=False, help_text="A type WhatsApp or we do not support, kept whole.")
    errors = ProviderErrorSerializer(many=True, required=False, help_text="What the provider reported about it.")
    customer_id = serializers.CharField(required=False, help_text="The sender's business-scoped WhatsApp id.")


@extend_schema_field(MessageContentSerializer)
class MessageContentField(serializers.JSONField):
    """The stored content as it is (buttons and lists for outbound; the typed inbound keys above)."""


class MessageFileSerializer(serializers.Serializer):
    """A file of the message as we keep it (inbound: fetched from the provider by a task)."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="image, document, audio, video, sticker")
    status = serializers.ChoiceField(
        choices=MessageMedia.Status.choices, help_text="pending: being fetched; failed: see error_code."
    )
    content_type = serializers.CharField(help_text="Checked against the file's bytes once stored.")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes.")
    sha256 = serializers.CharField(help_text="Hex digest of the stored bytes.")
    filename = serializers.CharField()
    error_code = serializers.CharField(help_text="not_found, too_large, wrong_type, network, …")
    download_url = serializers.SerializerMethodField(
        help_text="The file, for this restaurant's staff only (same Authorization); null until stored."
    )

    def get_download_url(self, media: MessageMedia) -> str | None:
        if media.status != MessageMedia.Status.STORED:
            return None
        return reverse("api:message-media", kwargs={"rid": media.restaurant_id, "media_id": media.pk})


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=Message.Direction.choices)
    kind = serializers.CharField()
    body = serializers.CharField()
    content = MessageContentField(help_text="Structured content by kind: see MessageContent.")
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    over_plan = serializers.BooleanField(
        help_text="A customer message received while the restaurant was over its plan (stored and answered)."
    )
    sent_by = StaffUserSerializer(allow_null=True, help_text="The staff member who wrote it; null for bot/customer.")
    files = MessageFileSerializer(source="media_files.all", many=True, help_text="Its media, as kept here.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class ConversationStatsSerializer(serializers.Serializer):
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text="Conversations per status.")
    unread_total = serializers.IntegerField(help_text="Unread customer messages over all conversations.")
    unread_conversations = serializers.IntegerField(help_text="Conversations with at least one unread message.")
    median_first_response_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Median time from a conversation's first customer message to the first staff reply; "
        "null when no conversation has a staff reply yet.",
    )
    responded_conversations = serializers.IntegerField(help_text="Conversations the median is taken over.")


# --- views -------------------------------------------------------------------------------------------------


class ConversationPage(CursorPage):
    ordering = ("-activity_at", "-id")


class MessagePage(CursorPage):
    ordering = ("-created_at", "-id")


def _conversation_or_404(*, restaurant, conversation_id: int) -> Conversation:
    conversation = conversation_get(restaurant=restaurant, conversation_id=conversation_id)
    if conversation is None:
        raise exceptions.NotFound("No such conversation.")
    return conversation


class ConversationListApi(RestaurantScopedView):
    key_read_scopes = frozenset({ApiKeyScope.MESSAGES_SEND})
    pagination_class = ConversationPage

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
        assignee = serializers.CharField(required=False, help_text="A staff user id, `me`, or `none` (unassigned).")
        unread = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: has unread messages; false: all read."
        )
        bot_paused = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="true: handed to staff (waiting for a person); false: the bot answers.",
        )
        search = serializers.CharField(
            required=False, max_length=100, help_text="Part of the customer's phone number or name."
        )

        def validate_assignee(self, value: str):
            value = value.strip().lower()
            if value in ("me", "none") or value.isdigit():
                return value
            raise serializers.ValidationError("Give a user id, 'me' or 'none'.")

    @extend_schema(
        operation_id="conversations_list",
        summary="Conversations, newest activity first",
        parameters=[FilterSerializer],
        responses={200: ConversationListItemSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters: dict = {key: data[key] for key in ("status", "search") if data.get(key)}
        for flag in ("unread", "bot_paused"):
            if data.get(flag) is not None:
                filters[flag] = data[flag]
        assignee = data.get("assignee")
        if assignee == "none":
            filters["unassigned"] = True
        elif assignee == "me":
            filters["assignee_id"] = request.user.pk
        elif assignee:
            filters["assignee_id"] = int(assignee)
        return paginated_response(
            queryset=conversation_list(restaurant=self.restaurant, filters=filters),
            serializer_class=ConversationListItemSerializer,
            request=request,
            view=self,
        )


class ConversationUpdateInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(),
        required=False,
        allow_null=True,
        help_text="User id of a staff member of this restaurant, or null to unassign.",
    )
    bot_paused = serializers.BooleanField(required=False, help_text="true: the bot stops answering this customer.")
    mark_read = serializers.BooleanField(required=False, help_text="true: set the unread count to zero.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        restaurant = self.context.get("restaurant")  # None while the schema is generated
        if restaurant is not None:
            self.fields["assignee"].queryset = get_user_model().objects.filter(
                memberships__restaurant=restaurant, is_active=True
            )


class ConversationDetailApi(RestaurantScopedView):
    key_read_scopes = frozenset({ApiKeyScope.MESSAGES_SEND})
    @extend_schema(
        operation_id="conversations_retrieve",
        summary="One conversation",
        responses={200: ConversationDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(
        operation_id="conversations_update",
        summary="Change status, assignee, bot pause; mark read",
        request=ConversationUpdateInputSerializer,
        responses={200: ConversationDetailSerializer, **error_responses(400, 401, 404, 415)},
    )
    def patch(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        serializer = ConversationUpdateInputSerializer(data=request.data, context={"restaurant": self.restaurant})
        serializer.is_valid(raise_exception=True)
        conversation_update(conversation=conversation, by=request.user, **serializer.validated_data)
        return Response(
            ConversationDetailSerializer(_conversation_or_404(restaurant=self.restaurant, conversation_id=cid)).data
        )


class MessageCreateInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=4096,
        required=False,
        help_text="The reply, plain text (WhatsApp allows 4096); with a file, its caption (at most 1024).",
    )
    file = serializers.FileField(
        required=False, help_text="An image (JPEG/PNG) or document to send (multipart/form-data), within the limits."
    )
    media_url = serializers.URLField(
        required=False, max_length=2000, help_text="Or an https URL of the file: fetched and checked when it is sent."
    )
    kind = serializers.ChoiceField(
        choices=["image", "document"],
        required=False,
        help_text="What the file is sent as; by default an image for JPEG/PNG, else a document.",
    )
    filename = serializers.CharField(required=False, max_length=200, help_text="The name a document shows.")

    def validate(self, attrs):
        has_file = "file" in attrs or "media_url" in attrs
        if "file" in attrs and "media_url" in attrs:
            raise serializers.ValidationError({"file": ["Give a file or a media_url, not both."]})
        if not has_file and not (attrs.get("body") or "").strip():
            raise serializers.ValidationError({"body": ["Give a body, a file or a media_url."]})
        if has_file and len(attrs.get("body") or "") > 1024:
            raise serializers.ValidationError({"body": ["A caption may be at most 1024 characters."]})
        if has_file and "kind" not in attrs:
            declared = getattr(attrs.get("file"), "content_type", "") or ""
            path = attrs.get("media_url", "").split("?", 1)[0].lower()
            is_image = declared in ("image/jpeg", "image/png") or path.endswith((".jpg", ".jpeg", ".png"))
            attrs["kind"] = "image" if is_image else "document"
        return attrs


class ConversationMessagesApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MESSAGES_SEND})
    pagination_class = MessagePage

    @extend_schema(
        operation_id="conversation_messages_list",
        summary="Message history, newest first",
        description="Cursor-paginated: follow `next` for older messages.",
        responses={200: MessageSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        return paginated_response(
            queryset=message_list(conversation=conversation),
            serializer_class=MessageSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="conversation_messages_create",
        summary="Send a staff reply",
        description=(
            "Queues a free-text reply through the outbound path and pauses the bot for this conversation. "
            "With `file` (multipart/form-data) or `media_url`, sends an image or document (`body` is its "
            "caption), checked against the conversation's provider: JPEG/PNG images up to 5 MB; documents "
            "(PDF, Word, Excel, PowerPoint, text) up to 100 MB on the Cloud API, 16 MB and no caption on Twilio; "
            "a file that breaks them is a 400 naming the problem. "
            "With an `Idempotency-Key` header, repeating the request with the same key sends nothing new: "
            "the first message comes back with 200 (and `Idempotent-Replayed: true`) instead of 201. "
            "Outside the 24-hour customer service window the reply is refused with 409 "
            "`outside_service_window` (only an approved template may be sent then)."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=f"Any unique string up to {IDEMPOTENCY_KEY_MAX} characters, e.g. a UUID.",
            )
        ],
        request=MessageCreateInputSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="Replay of an Idempotency-Key already used."),
            **error_responses(400, 401, 404, 409, 415),
        },
    )
    def post(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
            raise exceptions.ValidationError(
                {"Idempotency-Key": [f"Ensure this header has no more than {IDEMPOTENCY_KEY_MAX} characters."]}
            )
        data = serializer.validated_data
        if "kind" in data:
            message, created = conversation_reply_file(
                conversation=conversation,
                kind=data["kind"],
                caption=data.get("body", ""),
                upload=data.get("file"),
                url=data.get("media_url", ""),
                filename=data.get("filename", ""),
                sent_by=request.user,
                idempotency_key=key,
            )
        else:
            message, created = conversation_reply(
                conversation=conversation, body=data["body"], sent_by=request.user, idempotency_key=key
            )
        message = message_list(conversation=conversation).get(pk=message.pk)
        if created:
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        return Response(MessageSerializer(message).data, headers={"Idempotent-Replayed": "true"})


class ConversationStatsApi(RestaurantScopedView):
    @extend_schema(
        operation_id="conversations_stats",
        summary="Counts by status, unread total, median first-response time",
        responses={200: ConversationStatsSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        return Response(ConversationStatsSerializer(conversation_stats(restaurant=self.restaurant)).data)


class MessageMediaDownloadApi(RestaurantScopedView):
    @extend_schema(
        operation_id="message_media_download",
        summary="Download a message's file",
        description=(
            "The stored bytes of one message file of this restaurant, with its checked content type. Images "
            "and stickers are served inline, everything else as an attachment; never cached by shared caches."
        ),
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            **error_responses(401, 404),
        },
    )
    def get(self, request: Request, rid: int, media_id: int) -> FileResponse:
        media = message_media_get(restaurant=self.restaurant, media_id=media_id)
        if media is None:
            raise exceptions.NotFound("No such file.")
        if media.status != MessageMedia.Status.STORED:
            raise exceptions.NotFound(f"This file is not stored ({media.status}).")
        return media_file_response(media)
