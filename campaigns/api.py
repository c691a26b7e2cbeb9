"""Dashboard API of campaigns (create, schedule, pause, resume, cancel, progress, recipients) and of a
customer's marketing consent."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from conversations.api import _conversation_or_404
from restaurants.models import Sender, StaffRole
from restaurants.permissions import RestaurantScopedView
from sufrahbot.errors import error_responses
from sufrahbot.pagination import CursorPage, paginated_response
from templates.selectors import template_get

from .models import Campaign, CampaignRecipient, CampaignState, RecipientStatus
from .selectors import campaign_get, campaign_list, campaign_progress, consent_of
from .services import (
    AUDIENCE_KEYS,
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_update,
    consent_set,
)

# --- shapes --------------------------------------------------------------------------------------------------


class AudienceSerializer(serializers.Serializer):
    ordered_within_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    never_ordered = serializers.BooleanField(required=False)
    language = serializers.ChoiceField(choices=[("ar", "ar"), ("en", "en")], required=False)
    tag = serializers.CharField(required=False, max_length=50)


class VariableSourceSerializer(serializers.Serializer):
    value = serializers.CharField(required=False, max_length=1024, help_text="A fixed value for everyone.")
    field = serializers.ChoiceField(
        choices=["customer_name", "customer_phone", "last_order_number", "restaurant_name"],
        required=False,
        help_text="Or a field of each customer.",
    )
    fallback = serializers.CharField(required=False, max_length=200, help_text="When the customer's field is empty.")


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    template = serializers.IntegerField(source="template_id")
    sender = serializers.IntegerField(source="sender_id")
    variables = serializers.DictField(child=VariableSourceSerializer())
    audience = AudienceSerializer()
    send_at = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=CampaignState.choices)
    recipient_count = serializers.IntegerField()
    progress = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, campaign: Campaign) -> dict[str, int]:
        return campaign_progress(campaign=campaign)


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = serializers.IntegerField(min_value=1, help_text="An approved template of this restaurant.")
    sender = serializers.IntegerField(min_value=1, required=False, help_text="Default: the first active sender.")
    variables = serializers.DictField(child=VariableSourceSerializer(), required=False, default=dict)
    audience = AudienceSerializer(required=False, default=dict)
    send_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="A time with offset, or naive in the restaurant's timezone."
    )


class CampaignPatchSerializer(CampaignInputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    template = serializers.IntegerField(min_value=1, required=False)
    variables = serializers.DictField(child=VariableSourceSerializer(), required=False)
    audience = AudienceSerializer(required=False)


class RecipientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    customer_phone = serializers.CharField(source="conversation.customer_phone")
    status = serializers.SerializerMethodField()
    skip_reason = serializers.CharField()
    error_code = serializers.SerializerMethodField()
    queued_at = serializers.DateTimeField(allow_null=True)

    def get_status(self, recipient: CampaignRecipient) -> str:
        if recipient.status == RecipientStatus.QUEUED and recipient.message is not None:
            return recipient.message.status
        return recipient.status

    def get_error_code(self, recipient: CampaignRecipient) -> str:
        return recipient.message.error_code if recipient.message is not None else ""


class ConsentSerializer(serializers.Serializer):
    opted_in = serializers.BooleanField()
    source = serializers.CharField()
    changed_at = serializers.DateTimeField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())


class ConsentInputSerializer(serializers.Serializer):
    opted_in = serializers.BooleanField(help_text="Staff record the customer's consent, e.g. given in person.")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)


# --- helpers ------------------------------------------------------------------------------------------------


def _campaign_or_404(*, restaurant, campaign_id: int) -> Campaign:
    campaign = campaign_get(restaurant=restaurant, campaign_id=campaign_id)
    if campaign is None:
        raise exceptions.NotFound("No such campaign.")
    return campaign


def _resolved(*, restaurant, data: dict) -> dict:
    """Ids to rows of this restaurant (400 otherwise); a naive send_at read in the restaurant's timezone."""
    out = dict(data)
    if "template" in data:
        template = template_get(restaurant=restaurant, template_id=data["template"])
        if template is None:
            raise exceptions.ValidationError({"template": ["No such template in this restaurant."]})
        out["template"] = template
    if "sender" in data:
        sender = Sender.objects.filter(restaurant=restaurant, pk=data["sender"], active=True).first()
        if sender is None:
            raise exceptions.ValidationError({"sender": ["No such active sender in this restaurant."]})
        out["sender"] = sender
    if data.get("send_at") is not None and timezone.is_naive(data["send_at"]):
        out["send_at"] = timezone.make_aware(data["send_at"], ZoneInfo(restaurant.timezone))
    return out


class CampaignPage(CursorPage):
    ordering = ("-created_at", "-id")


class RecipientPage(CursorPage):
    ordering = ("id",)


WRITE_ERRORS = (400, 401, 403, 404, 415)


class CampaignListApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN
    pagination_class = CampaignPage

    @extend_schema(
        operation_id="campaigns_list",
        summary="Campaigns, newest first, with progress",
        responses={200: CampaignSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        return paginated_response(
            queryset=campaign_list(restaurant=self.restaurant),
            serializer_class=CampaignSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="campaigns_create",
        summary="Add a draft campaign (ADMIN)",
        description=f"Audience filters on opted-in customers: {', '.join(AUDIENCE_KEYS)}.",
        request=CampaignInputSerializer,
        responses={201: CampaignSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = _resolved(restaurant=self.restaurant, data=serializer.validated_data)
        campaign = campaign_create(restaurant=self.restaurant, by=request.user, data=data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN

    @extend_schema(
        operation_id="campaigns_retrieve",
        summary="One campaign with its progress (recipients per status)",
        responses={200: CampaignSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, campaign_id: int) -> Response:
        return Response(CampaignSerializer(_campaign_or_404(restaurant=self.restaurant, campaign_id=campaign_id)).data)

    @extend_schema(
        operation_id="campaigns_update",
        summary="Change a draft campaign (ADMIN)",
        request=CampaignPatchSerializer,
        responses={200: CampaignSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, rid: int, campaign_id: int) -> Response:
        campaign = _campaign_or_404(restaurant=self.restaurant, campaign_id=campaign_id)
        serializer = CampaignPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = _resolved(restaurant=self.restaurant, data=serializer.validated_data)
        return Response(CampaignSerializer(campaign_update(campaign=campaign, data=data)).data)


def _action_view(name: str, action, summary: str, errors: tuple[int, ...] = ()):
    class CampaignActionApi(RestaurantScopedView):
        write_role = StaffRole.ADMIN

        @extend_schema(
            operation_id=f"campaigns_{name}",
            summary=summary,
            request=None,
            responses={200: CampaignSerializer, **error_responses(400, 401, 403, 404, *errors)},
        )
        def post(self, request: Request, rid: int, campaign_id: int) -> Response:
            campaign = _campaign_or_404(restaurant=self.restaurant, campaign_id=campaign_id)
            return Response(CampaignSerializer(action(campaign=campaign)).data)

    CampaignActionApi.__name__ = CampaignActionApi.__qualname__ = f"Campaign{name.title()}Api"
    return CampaignActionApi


CampaignScheduleApi = _action_view(
    "schedule",
    campaign_schedule,
    "Schedule a draft (ADMIN): at send_at, or now; 409 plan_limit_reached over the plan's monthly campaigns "
    "or recipients",
    errors=(409,),
)
CampaignPauseApi = _action_view("pause", campaign_pause, "Pause sending (ADMIN); takes effect within a second")
CampaignResumeApi = _action_view("resume", campaign_resume, "Resume a paused campaign (ADMIN)")
CampaignCancelApi = _action_view("cancel", campaign_cancel, "Cancel (ADMIN): recipients not yet sent to are dropped")


class CampaignRecipientsApi(RestaurantScopedView):
    pagination_class = RecipientPage

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=RecipientStatus.choices, required=False)

    @extend_schema(
        operation_id="campaign_recipients_list",
        summary="A campaign's recipients with their message status and error code",
        parameters=[FilterSerializer],
        responses={200: RecipientSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int, campaign_id: int) -> Response:
        campaign = _campaign_or_404(restaurant=self.restaurant, campaign_id=campaign_id)
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = CampaignRecipient.objects.filter(campaign=campaign).select_related("conversation", "message")
        if params.validated_data.get("status"):
            qs = qs.filter(status=params.validated_data["status"])
        return paginated_response(queryset=qs, serializer_class=RecipientSerializer, request=request, view=self)


class ConsentApi(RestaurantScopedView):
    @extend_schema(
        operation_id="conversation_consent_retrieve",
        summary="The customer's marketing consent",
        responses={200: ConsentSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        consent = consent_of(conversation=conversation)
        data = {"opted_in": False, "source": "", "changed_at": None, "tags": []} if consent is None else consent
        return Response(ConsentSerializer(data).data)

    @extend_schema(
        operation_id="conversation_consent_update",
        summary="Record the customer's marketing consent and tags (staff)",
        request=ConsentInputSerializer,
        responses={200: ConsentSerializer, **error_responses(400, 401, 404, 415)},
    )
    def put(self, request: Request, rid: int, cid: int) -> Response:
        conversation = _conversation_or_404(restaurant=self.restaurant, conversation_id=cid)
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = consent_set(
            conversation=conversation,
            opted_in=serializer.validated_data["opted_in"],
            source="staff",
            by=request.user,
            tags=serializer.validated_data.get("tags"),
        )
        return Response(ConsentSerializer(consent).data)
