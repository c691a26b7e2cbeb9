"""restaurants/{rid}/webhook-subscriptions/ and restaurants/{rid}/api-keys/: the restaurant's ADMINs only.

Secrets and keys appear in one response each (the one that made them); afterwards only their hints."""

from __future__ import annotations

import json
from datetime import timedelta

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from restaurants.models import StaffRole
from restaurants.permissions import ApiKeyScope, RestaurantScopedView
from sufrahbot.errors import error_responses
from sufrahbot.events import EVENT_TYPES
from sufrahbot.pagination import paginated_response

from .models import ApiKey, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .selectors import api_key_get, api_key_list, delivery_get, delivery_list, subscription_get, subscription_list
from .services.api_keys import api_key_create, api_key_revoke
from .services.deliveries import deliveries_redeliver_since, delivery_redeliver
from .services.subscriptions import (
    MAX_ROTATION_OVERLAP,
    subscription_create,
    subscription_delete,
    subscription_rotate_secret,
    subscription_update,
)

EVENT_CHOICES = sorted(EVENT_TYPES)
ADMIN_ERRORS = (401, 403, 404)


class AdminOnlyView(RestaurantScopedView):
    read_role = write_role = StaffRole.ADMIN


# --- webhook subscriptions ------------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    signing_with_previous_secret_until = serializers.DateTimeField(
        source="previous_secret_expires_at",
        allow_null=True,
        help_text="While set and in the future, deliveries carry a signature with the previous secret too.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "description",
            "active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "signing_with_previous_secret_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="`whsec_…`: shown only in this response. Store it now.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _with_secret(result) -> dict:
    return {**SubscriptionSerializer(result.subscription).data, "secret": result.secret}


class SubscriptionInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=len(EVENT_CHOICES) * 2
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SubscriptionPatchSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES) * 2,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, help_text="true re-enables a subscription switched off.")


def _subscription_or_404(view: RestaurantScopedView, subscription_id: int) -> WebhookSubscription:
    subscription = subscription_get(restaurant=view.restaurant, subscription_id=subscription_id)
    if subscription is None:
        raise exceptions.NotFound("No such webhook subscription.")
    return subscription


class SubscriptionListApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_subscriptions_list",
        summary="The restaurant's webhook subscriptions (ADMIN)",
        responses={200: SubscriptionSerializer(many=True), **error_responses(*ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int) -> Response:
        return paginated_response(
            queryset=subscription_list(restaurant=self.restaurant),
            serializer_class=SubscriptionSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="webhook_subscriptions_create",
        summary="Subscribe a URL to event types (ADMIN); the answer holds the signing secret, once",
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer, **error_responses(400, *ADMIN_ERRORS, 415)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = SubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = subscription_create(restaurant=self.restaurant, by=request.user, **serializer.validated_data)
        return Response(_with_secret(result), status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_subscriptions_retrieve",
        summary="One webhook subscription (ADMIN)",
        responses={200: SubscriptionSerializer, **error_responses(*ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int, subscription_id: int) -> Response:
        return Response(SubscriptionSerializer(_subscription_or_404(self, subscription_id)).data)

    @extend_schema(
        operation_id="webhook_subscriptions_update",
        summary="Change the URL, events, description, or switch it on/off (ADMIN)",
        request=SubscriptionPatchSerializer,
        responses={200: SubscriptionSerializer, **error_responses(400, *ADMIN_ERRORS, 415)},
    )
    def patch(self, request: Request, rid: int, subscription_id: int) -> Response:
        subscription = _subscription_or_404(self, subscription_id)
        serializer = SubscriptionPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = subscription_update(subscription=subscription, data=serializer.validated_data, by=request.user)
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(
        operation_id="webhook_subscriptions_destroy",
        summary="Delete a subscription and its delivery log (ADMIN)",
        responses={204: None, **error_responses(*ADMIN_ERRORS)},
    )
    def delete(self, request: Request, rid: int, subscription_id: int) -> Response:
        subscription_delete(subscription=_subscription_or_404(self, subscription_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateInputSerializer(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_ROTATION_OVERLAP.total_seconds()),
        default=86400,
        help_text="How long the old secret keeps signing too (0: stop at once).",
    )


class SubscriptionRotateSecretApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_subscriptions_rotate_secret",
        summary="A new signing secret (ADMIN), shown once; the old one also signs for the overlap",
        request=RotateInputSerializer,
        responses={200: SubscriptionWithSecretSerializer, **error_responses(400, *ADMIN_ERRORS, 415)},
    )
    def post(self, request: Request, rid: int, subscription_id: int) -> Response:
        subscription = _subscription_or_404(self, subscription_id)
        serializer = RotateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = subscription_rotate_secret(
            subscription=subscription,
            overlap=timedelta(seconds=serializer.validated_data["overlap_seconds"]),
            by=request.user,
        )
        return Response(_with_secret(result))


# --- deliveries -----------------------------------------------------------------------------------------


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "status_code", "error", "duration_ms", "response_body", "created_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.SerializerMethodField(help_text="The envelope as sent (docs/events.md).")
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields

    def get_payload(self, delivery: WebhookDelivery) -> dict:
        return json.loads(delivery.body)


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    event_type = serializers.ChoiceField(choices=EVENT_CHOICES, required=False)


class DeliveryListApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="A subscription's deliveries, newest first (ADMIN)",
        parameters=[DeliveryFilterSerializer],
        responses={200: DeliverySerializer(many=True), **error_responses(400, *ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int, subscription_id: int) -> Response:
        subscription = _subscription_or_404(self, subscription_id)
        params = DeliveryFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return paginated_response(
            queryset=delivery_list(subscription=subscription, **params.validated_data),
            serializer_class=DeliverySerializer,
            request=request,
            view=self,
        )


def _delivery_or_404(view: RestaurantScopedView, subscription_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = delivery_get(subscription=_subscription_or_404(view, subscription_id), delivery_id=delivery_id)
    if delivery is None:
        raise exceptions.NotFound("No such delivery.")
    return delivery


class DeliveryDetailApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_deliveries_retrieve",
        summary="One delivery: its payload and every attempt (status, duration, first KB of the answer) (ADMIN)",
        responses={200: DeliveryDetailSerializer, **error_responses(*ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int, subscription_id: int, delivery_id: int) -> Response:
        return Response(DeliveryDetailSerializer(_delivery_or_404(self, subscription_id, delivery_id)).data)


class DeliveryRedeliverApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_deliveries_redeliver",
        summary="Send this delivery again now (same event id, fresh signature) (ADMIN)",
        request=None,
        responses={202: DeliverySerializer, **error_responses(*ADMIN_ERRORS)},
    )
    def post(self, request: Request, rid: int, subscription_id: int, delivery_id: int) -> Response:
        delivery = delivery_redeliver(delivery=_delivery_or_404(self, subscription_id, delivery_id))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class RedeliverSinceInputSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="ISO 8601: every delivery created at or after this is sent again.")


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField(help_text="How many deliveries were queued again.")


class SubscriptionRedeliverApi(AdminOnlyView):
    @extend_schema(
        operation_id="webhook_subscriptions_redeliver",
        summary="Send again every delivery since a time (ADMIN)",
        request=RedeliverSinceInputSerializer,
        responses={202: RedeliveredSerializer, **error_responses(400, *ADMIN_ERRORS, 415)},
    )
    def post(self, request: Request, rid: int, subscription_id: int) -> Response:
        subscription = _subscription_or_404(self, subscription_id)
        serializer = RedeliverSinceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = deliveries_redeliver_since(subscription=subscription, since=serializer.validated_data["since"])
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)


# --- API keys -------------------------------------------------------------------------------------------

SCOPE_CHOICES = list(ApiKeyScope.CHOICES.items())


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))
    key_hint = serializers.SerializerMethodField(help_text="The key's public start, to tell keys apart.")
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "key_hint",
            "scopes",
            "requests_per_minute",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_key_hint(self, api_key: ApiKey) -> str:
        return f"sfk_{api_key.prefix}_…"

    def get_revoked(self, api_key: ApiKey) -> bool:
        return api_key.revoked_at is not None


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="`sfk_…`: shown only in this response. Send it as `Authorization: Bearer`.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES), min_length=1, max_length=8)
    requests_per_minute = serializers.IntegerField(min_value=1, max_value=6000, required=False)


def _api_key_or_404(view: RestaurantScopedView, key_id: int) -> ApiKey:
    api_key = api_key_get(restaurant=view.restaurant, key_id=key_id)
    if api_key is None:
        raise exceptions.NotFound("No such API key.")
    return api_key


class ApiKeyListApi(AdminOnlyView):
    @extend_schema(
        operation_id="api_keys_list",
        summary="The restaurant's API keys, revoked ones too (ADMIN)",
        responses={200: ApiKeySerializer(many=True), **error_responses(*ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int) -> Response:
        return paginated_response(
            queryset=api_key_list(restaurant=self.restaurant),
            serializer_class=ApiKeySerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="api_keys_create",
        summary="A new API key for an integration (ADMIN); the answer holds the key, once",
        request=ApiKeyInputSerializer,
        responses={201: ApiKeyWithSecretSerializer, **error_responses(400, *ADMIN_ERRORS, 415)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = ApiKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = api_key_create(restaurant=self.restaurant, by=request.user, **serializer.validated_data)
        return Response({**ApiKeySerializer(result.api_key).data, "key": result.key}, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(AdminOnlyView):
    @extend_schema(
        operation_id="api_keys_retrieve",
        summary="One API key (ADMIN)",
        responses={200: ApiKeySerializer, **error_responses(*ADMIN_ERRORS)},
    )
    def get(self, request: Request, rid: int, key_id: int) -> Response:
        return Response(ApiKeySerializer(_api_key_or_404(self, key_id)).data)

    @extend_schema(
        operation_id="api_keys_revoke",
        summary="Revoke an API key (ADMIN): refused from the next request on",
        responses={204: None, **error_responses(*ADMIN_ERRORS)},
    )
    def delete(self, request: Request, rid: int, key_id: int) -> Response:
        api_key_revoke(api_key=_api_key_or_404(self, key_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
