"""One webhook route per provider name: /webhooks/<provider>/ and /webhooks/<provider>/status/."""

from __future__ import annotations

import functools

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from providers.registry import UnknownProvider, provider_for
from sufrahbot.errors import error_response

from . import services


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
    event = services.webhook_event_store(provider=provider.name, kind=kind, request=request, body=body)
    verdict = services.webhook_event_admit(event=event, body=body, headers=dict(request.headers))
    if verdict.http_status != 200:
        return error_response(verdict.http_status, verdict.code, verdict.message, {"event_id": event.pk})
    content, content_type = provider.ack
    return HttpResponse(content, content_type=content_type)


@csrf_exempt
@allow_methods("GET", "POST")
def provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    return _webhook(request, provider, "message")


@csrf_exempt
@allow_methods("POST")
def provider_status(request: HttpRequest, provider: str) -> HttpResponse:
    return _webhook(request, provider, "status")
