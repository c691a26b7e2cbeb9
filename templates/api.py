"""Dashboard API of message templates: CRUD, submit for review, preview; and a template send to one
conversation through the conversation's messages endpoint."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from conversations.api import (
    IDEMPOTENCY_KEY_MAX,
    ConversationMessagesApi,
    MessageCreateInputSerializer,
    MessageSerializer,
    _conversation_or_404,
)
from conversations.selectors import message_list
from restaurants.models import StaffRole
from restaurants.permissions import RestaurantScopedView
from sufrahbot.errors import error_responses
from sufrahbot.pagination import CursorPage, paginated_response

from .models import HeaderType, MessageTemplate, TemplateCategory, TemplatePurpose, TemplateStatus
from .rendering import BUTTON_TYPES, MAX_BODY
from .selectors import template_get, template_list
from .services import (
    template_create,
    template_delete,
    template_preview,
    template_send,
    template_submit,
    template_update,
)

# --- shapes --------------------------------------------------------------------------------------------------


class ButtonSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=BUTTON_TYPES)
    text = serializers.CharField(max_length=25)
    payload = serializers.CharField(max_length=256, required=False, help_text="Quick reply: sent back when tapped.")
    url = serializers.CharField(max_length=2000, required=False, help_text="URL button; may end with one variable.")
    phone_number = serializers.CharField(max_length=20, required=False, help_text="Phone button, E.164.")


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    language = serializers.CharField()
    category = serializers.ChoiceField(choices=TemplateCategory.choices)
    purpose = serializers.ChoiceField(choices=TemplatePurpose.choices)
    header_type = serializers.ChoiceField(choices=HeaderType.choices)
    header_text = serializers.CharField()
    header_image_url = serializers.CharField()
    body = serializers.CharField()
    footer = serializers.CharField()
    buttons = ButtonSerializer(many=True)
    examples = serializers.DictField(child=serializers.CharField())
    variables = serializers.SerializerMethodField(help_text="The variables a send must fill, in order.")
    status = serializers.ChoiceField(choices=TemplateStatus.choices)
    rejection_reason = serializers.CharField()
    meta_template_id = serializers.CharField()
    twilio_content_sid = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_variables(self, template: MessageTemplate) -> list[str]:
        return template.spec().variables()


class TemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=15)
    category = serializers.ChoiceField(choices=TemplateCategory.choices)
    purpose = serializers.ChoiceField(choices=TemplatePurpose.choices, required=False, allow_blank=True)
    header_type = serializers.ChoiceField(choices=HeaderType.choices, required=False)
    header_text = serializers.CharField(max_length=60, required=False, allow_blank=True)
    header_image_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    body = serializers.CharField(max_length=MAX_BODY)
    footer = serializers.CharField(max_length=60, required=False, allow_blank=True)
    buttons = ButtonSerializer(many=True, required=False, max_length=10)
    examples = serializers.DictField(child=serializers.CharField(max_length=200), required=False)


class TemplatePatchSerializer(TemplateInputSerializer):
    name = serializers.CharField(max_length=512, required=False)
    language = serializers.CharField(max_length=15, required=False)
    category = serializers.ChoiceField(choices=TemplateCategory.choices, required=False)
    body = serializers.CharField(max_length=MAX_BODY, required=False)


def _variables_field() -> serializers.DictField:
    return serializers.DictField(
        child=serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=False),
        required=False,
        default=dict,
        help_text="Variable name (or number) → value.",
    )


class PreviewInputSerializer(serializers.Serializer):
    template = serializers.IntegerField(required=False, min_value=1, help_text="A template of this restaurant.")
    body = serializers.CharField(max_length=MAX_BODY, required=False, help_text="Or an ad-hoc body.")
    language = serializers.CharField(max_length=15, required=False, default="en")
    variables = _variables_field()

    def validate(self, attrs):
        if ("template" in attrs) == ("body" in attrs):
            raise serializers.ValidationError({"template": ["Give either a template id or a body."]})
        return attrs


class PreviewSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The body as the customer reads it.")
    header = serializers.CharField()
    footer = serializers.CharField()
    buttons = ButtonSerializer(many=True)
    twilio = serializers.DictField(help_text="Messages API parameters: ContentSid and ContentVariables (JSON text).")
    meta = serializers.DictField(help_text="Graph API message body (without `to`): type template and components.")


class TemplatePage(CursorPage):
    ordering = ("name", "language", "id")


def _template_or_404(*, restaurant, template_id: int) -> MessageTemplate:
    template = template_get(restaurant=restaurant, template_id=template_id)
    if template is None:
        raise exceptions.NotFound("No such template.")
    return template


WRITE_ERRORS = (400, 401, 403, 404, 415)


class TemplateListApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN
    pagination_class = TemplatePage

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=TemplateStatus.choices, required=False)
        language = serializers.CharField(max_length=15, required=False)
        purpose = serializers.ChoiceField(choices=TemplatePurpose.choices, required=False)

    @extend_schema(
        operation_id="templates_list",
        summary="Message templates",
        parameters=[FilterSerializer],
        responses={200: TemplateSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return paginated_response(
            queryset=template_list(restaurant=self.restaurant, filters=params.validated_data),
            serializer_class=TemplateSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="templates_create",
        summary="Add a template (ADMIN); it starts as a draft",
        request=TemplateInputSerializer,
        responses={201: TemplateSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = TemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = template_create(
            restaurant=self.restaurant, by=request.user, data=serializer.validated_data, source="api"
        )
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN

    @extend_schema(
        operation_id="templates_retrieve",
        summary="One template",
        responses={200: TemplateSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, template_id: int) -> Response:
        return Response(TemplateSerializer(_template_or_404(restaurant=self.restaurant, template_id=template_id)).data)

    @extend_schema(
        operation_id="templates_update",
        summary="Change a template (ADMIN); a reviewed template goes back to draft",
        request=TemplatePatchSerializer,
        responses={200: TemplateSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, rid: int, template_id: int) -> Response:
        template = _template_or_404(restaurant=self.restaurant, template_id=template_id)
        serializer = TemplatePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = template_update(template=template, by=request.user, data=serializer.validated_data, source="api")
        return Response(TemplateSerializer(template).data)

    @extend_schema(
        operation_id="templates_destroy",
        summary="Delete a template (ADMIN); refused (400) while a campaign uses it",
        responses={204: None, **error_responses(400, 401, 403, 404)},
    )
    def delete(self, request: Request, rid: int, template_id: int) -> Response:
        template_delete(
            template=_template_or_404(restaurant=self.restaurant, template_id=template_id),
            by=request.user,
            source="api",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateSubmitApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN

    @extend_schema(
        operation_id="templates_submit",
        summary="Submit a draft or rejected template for the provider's review (ADMIN)",
        description="Meta: POST /{waba-id}/message_templates. Twilio: Content API, then a WhatsApp approval "
        "request. A refusal by the provider comes back as status `rejected` with its reason.",
        request=None,
        responses={200: TemplateSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, rid: int, template_id: int) -> Response:
        template = _template_or_404(restaurant=self.restaurant, template_id=template_id)
        return Response(TemplateSerializer(template_submit(template=template, by=request.user, source="api")).data)


class TemplatePreviewApi(RestaurantScopedView):
    @extend_schema(
        operation_id="templates_preview",
        summary="Render a template or a body with variables: the text and both providers' exact payloads",
        description="400 names each missing or extra variable (`details` keys `variables.<name>`).",
        request=PreviewInputSerializer,
        responses={200: PreviewSerializer, **error_responses(400, 401, 404, 415)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = PreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = None
        if "template" in data:
            template = template_get(restaurant=self.restaurant, template_id=data["template"])
            if template is None:
                raise exceptions.ValidationError({"template": ["No such template in this restaurant."]})
        rendered = template_preview(
            template=template,
            body=data.get("body"),
            variables=data["variables"],
            spec_fields={"language": data["language"]} if template is None else None,
        )
        return Response(PreviewSerializer(rendered.to_dict()).data)


# --- a template through the conversation's messages endpoint -----------------------------------------------------


class MessageOrTemplateInputSerializer(MessageCreateInputSerializer):
    body = serializers.CharField(max_length=4096, required=False, help_text="Free text (inside the 24-hour window).")
    template = serializers.IntegerField(required=False, min_value=1, help_text="Or an approved template's id.")
    variables = _variables_field()

    def validate(self, attrs):
        if ("template" in attrs) == ("body" in attrs):
            raise serializers.ValidationError({"body": ["Give either a body or a template."]})
        return attrs


class ConversationMessagesWithTemplatesApi(ConversationMessagesApi):
    """The conversation's messages endpoint, also taking {"template": id, "variables": {...}}.

    Lives here (not in conversations) so conversations never imports templates: the import arrows point one
    way, and the URL is routed to this class."""

    @extend_schema(
        operation_id="conversation_messages_create",
        summary="Send a staff reply, or an approved template",
        description=(
            '`{"body": ...}` queues free text; outside the 24-hour customer service window it is refused with '
            '409 `outside_service_window`. `{"template": id, "variables": {...}}` queues an approved '
            "template, allowed at any time (409 `template_not_sendable` when it is not approved; 400 naming "
            "each missing or extra variable). Both pause the bot. An `Idempotency-Key` header makes a repeat "
            "send nothing new: the first message comes back with 200 and `Idempotent-Replayed: true`."
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
        request=MessageOrTemplateInputSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="Replay of an Idempotency-Key already used."),
            **error_responses(400, 401, 404, 409, 415),
        },
    )
    def post(self, request: Request, rid: int, cid: int) -> Response:
        if not isinstance(request.data, dict) or "template" not in request.data:
            return super().post(request, rid, cid)
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        serializer = MessageOrTemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
            raise exceptions.ValidationError(
                {"Idempotency-Key": [f"Ensure this header has no more than {IDEMPOTENCY_KEY_MAX} characters."]}
            )
        template = template_get(restaurant=self.restaurant, template_id=serializer.validated_data["template"])
        if template is None:
            raise exceptions.ValidationError({"template": ["No such template in this restaurant."]})
        message, created = template_send(
            conversation=conversation,
            template=template,
            variables=serializer.validated_data["variables"],
            sent_by=request.user,
            idempotency_key=key,
        )
        message = message_list(conversation=conversation).get(pk=message.pk)
        if created:
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        return Response(MessageSerializer(message).data, headers={"Idempotent-Replayed": "true"})
