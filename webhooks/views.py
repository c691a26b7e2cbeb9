"""One webhook route per provider name: /webhooks/<provider>/ and /webhooks/<provider>/status/."""

from __future__ import annotations

import functools
import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from providers.registry import UnknownProvider, provider_for
from sufrahbot.errors import error_response
from sufrahbot.metrics import WEBHOOKS

from . import services, spool

logger = logging.getLogger(__name__)


# PostgreSQL unreachable and the request could not be spooled in Redis either (webhooks/spool.py): nothing was
# kept, so nothing is acknowledged. 503 + Retry-After makes the provider send it again: Meta retries non-200
# answers with backoff for a long time; Twilio only as the webhook URL's connection overrides say (README).
DATABASE_DOWN_RETRY_AFTER = "10"


def database_down_is_503(view):
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            logger.error("webhook refused: database unavailable", extra={"path": request.path, "error": str(exc)[:300]})
        response = error_response(
            503, "database_unavailable", "The database is unavailable; nothing was stored. Send it again later."
        )
        response["Retry-After"] = DATABASE_DOWN_RETRY_AFTER
        return response

    return wrapper


def allow_methods(*methods: str):
    """Like Django's require_http_methods, but answering 405 with the project's error body."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error_response(405, "method_not_allowed", f"Use {' or '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _read_body(request: HttpRequest) -> bytes | None:
    """The whole body, or None when it is over MAX_BODY (read from the stream, so never more than that)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > services.MAX_BODY:
        return None
    body = request.read(services.MAX_BODY + 1)
    return None if len(body) > services.MAX_BODY else body


def _webhook(request: HttpRequest, provider_name: str, kind: str) -> HttpResponse:
    try:
        provider = provider_for(provider_name)
    except UnknownProvider:
        return error_response(404, "unknown_provider", f"No webhook for provider {provider_name!r}.")
    if request.method == "GET":
        if not provider.handshake:
            response = error_response(405, "method_not_allowed", "Use POST.")
            response["Allow"] = "POST"
            return response
        challenge = provider.verification_answer(query=request.GET)
        if challenge is None:
            return error_response(403, "verification_failed", "The verify token does not match.")
        return HttpResponse(challenge, content_type="text/plain")
    body = _read_body(request)
    if body is None:
        size = int(request.META.get("CONTENT_LENGTH") or 0) or services.MAX_BODY + 1
        event = services.webhook_event_too_large(provider=provider.name, kind=kind, request=request, size=size)
        return error_response(
            413, "body_too_large", f"The body is over {services.MAX_BODY} bytes.", {"event_id": event.pk}
        )
    try:
        event, verdict = services.webhook_receive_request(provider=provider.name, kind=kind, request=request, body=body)
    except (OperationalError, InterfaceError):
        # PostgreSQL is away: keep the request in Redis and acknowledge it; the import sweep stores it later.
        if not spool.webhook_spool(provider=provider.name, kind=kind, request=request, body=body):
            raise  # no spool either: 503, and the provider sends it again
        logger.warning("database unavailable: webhook spooled", extra={"provider": provider.name, "kind": kind})
        WEBHOOKS.labels(provider.name, kind, "spooled").inc()
        content, content_type = provider.ack
        return HttpResponse(content, content_type=content_type)
    WEBHOOKS.labels(provider.name, kind, verdict.code or "accepted").inc()
    if verdict.http_status != 200:
        return error_response(verdict.http_status, verdict.code, verdict.message, {"event_id": event.pk})
    content, content_type = provider.ack
    return HttpResponse(content, content_type=content_type)


@csrf_exempt
@database_down_is_503
@allow_methods("GET", "POST")
def provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    return _webhook(request, provider, "message")


@csrf_exempt
@database_down_is_503
@allow_methods("POST")
def provider_status(request: HttpRequest, provider: str) -> HttpResponse:
    return _webhook(request, provider, "status")
