"""One error body everywhere: {"error": {"code": ..., "message": ..., "details": {...}}}; and the domain's
errors, which the services raise and the API's exception handler answers in that body, once for all views."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger("sufrahbot.api")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(http_status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    """The error body for plain Django views (webhooks, health)."""
    return JsonResponse(error_body(code, message, details), status=http_status)


# --- the domain's errors ---------------------------------------------------------------------------------


class DomainError(Exception):
    """A rule of the domain refused an action. Services raise it; the API answers `http_status` with
    {code, message, details} (api_exception_handler, never a view), the admin and the bot show `message`."""

    http_status: int = status.HTTP_400_BAD_REQUEST
    code: str = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}


class Conflict(DomainError):
    """The action does not fit the current state of what it acts on."""

    http_status = status.HTTP_409_CONFLICT
    code = "conflict"


class IllegalTransition(Conflict):
    """An order was asked to move where its transition table does not go."""

    code = "illegal_transition"

    def __init__(self, message: str, *, from_status: str = "", to_status: str = "", allowed=()) -> None:
        super().__init__(message, details={"from_status": from_status, "allowed": list(allowed)})
        self.from_status = from_status
        self.to_status = to_status


class OutsideServiceWindow(Conflict):
    """Free-form messages may only go to customers who wrote within the last 24 hours."""

    code = "outside_service_window"


class InUse(Conflict):
    """The row is still referenced (e.g. a sender by its conversations) and cannot be deleted."""

    code = "in_use"


class TemplateNotSendable(Conflict):
    """The template cannot be sent now (not approved, or no provider reference for this sender)."""

    code = "template_not_sendable"


class PlanLimitReached(DjangoValidationError):
    """A plan limit would be passed (raised by restaurants.plans). A ValidationError, so admin forms and
    commands show its message; the API answers 409 `plan_limit_reached` naming the limit."""

    def __init__(self, *, limit: str, label: str, allowed: int, used: int, requested: int = 1):
        self.limit, self.allowed, self.used, self.requested = limit, allowed, used, requested
        super().__init__(
            {limit: [f"The plan allows {allowed} {label}; {used} used, {requested} more requested."]},
            code="plan_limit_reached",
        )


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    429: "throttled",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def django_validation_detail(exc: DjangoValidationError) -> dict[str, Any]:
    """A Django ValidationError (raised by services) as field -> messages, like a serializer's errors."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler producing the project's error body, 500s included."""
    if isinstance(exc, PlanLimitReached):  # a Django ValidationError too: before the generic mapping below
        set_rollback()
        details = {"limit": exc.limit, "allowed": exc.allowed, "used": exc.used, "requested": exc.requested}
        return Response(error_body("plan_limit_reached", exc.messages[0], details), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # Services validate with Django's ValidationError; to the client it is the same 400 as a serializer's.
        exc = exceptions.ValidationError(django_validation_detail(exc))
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        set_rollback()
        return Response(error_body("server_error", "Internal server error."), status=500)
    detail = getattr(exc, "detail", None)
    code = getattr(exc, "default_code", None) or _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        message = "Invalid input."
        details = _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
        code = "invalid"
    else:
        if isinstance(detail, dict):
            message = str(detail.get("detail", exc))
            details = {k: _flatten(v) for k, v in detail.items() if k != "detail"}
        else:
            message = str(detail) if detail is not None else str(exc)
            details = {}
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(codes, str):
            code = codes
    response.data = error_body(code, message, details)
    return response


def json_404(request, exception=None) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def json_500(request) -> JsonResponse:
    return error_response(500, "server_error", "Internal server error.")


# --- the error body in the OpenAPI schema ---------------------------------------------------------------

ErrorBody = inline_serializer(
    name="ErrorBody",
    fields={
        "error": inline_serializer(
            name="Error",
            fields={
                "code": serializers.CharField(help_text="Machine-readable, e.g. not_found, invalid, conflict."),
                "message": serializers.CharField(help_text="Human-readable summary."),
                "details": serializers.DictField(
                    help_text="For validation errors: field name -> list of messages; otherwise extra context."
                ),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid input; `details` holds a message per field.",
    401: "Missing, expired, forged or revoked token.",
    403: "Authenticated, but the role or platform-admin right is missing.",
    404: "Not found, or not in a restaurant the caller belongs to.",
    409: "Conflicts with the current state.",
    415: "Unsupported media type (send application/json).",
    422: "Well-formed but refused.",
    429: "Too many attempts; `Retry-After` (seconds) says when to try again.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation can answer (all share the error body)."""
    return {code: OpenApiResponse(ErrorBody, description=_DESCRIPTIONS.get(code, "Error.")) for code in statuses}
