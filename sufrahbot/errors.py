"""One error body everywhere: {"error": {"code": ..., "message": ..., "details": {...}}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(http_status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    """The error body for plain Django views (webhooks, health)."""
    return JsonResponse(error_body(code, message, details), status=http_status)


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


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


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler producing the project's error body, 500s included."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        import logging

        logging.getLogger("sufrahbot.api").exception("unhandled API error")
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


def json_404(request, exception=None) -> JsonResponse:  # noqa: ARG001
    return error_response(404, "not_found", "Not found.")


def json_500(request) -> JsonResponse:  # noqa: ARG001
    return error_response(500, "server_error", "Internal server error.")
