from __future__ import annotations

import functools

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

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


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio(request: HttpRequest, kind: str) -> HttpResponse:
    event = services.webhook_event_store(provider="twilio", kind=kind, request=request)
    verdict = services.twilio_event_admit(event=event)
    if verdict.http_status != 200:
        return error_response(verdict.http_status, verdict.code, verdict.message, {"event_id": event.pk})
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@allow_methods("POST")
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    return _twilio(request, "message")


@csrf_exempt
@allow_methods("POST")
def twilio_status(request: HttpRequest) -> HttpResponse:
    return _twilio(request, "status")


@csrf_exempt
@allow_methods("GET", "POST")
def meta_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        challenge = services.meta_verification_answer(
            mode=request.GET.get("hub.mode"),
            token=request.GET.get("hub.verify_token"),
            challenge=request.GET.get("hub.challenge"),
        )
        if challenge is None:
            return error_response(403, "verification_failed", "The verify token does not match.")
        return HttpResponse(challenge, content_type="text/plain")
    event = services.webhook_event_store(provider="meta", kind="message", request=request)
    verdict = services.meta_event_admit(event=event)
    if verdict.http_status != 200:
        return error_response(verdict.http_status, verdict.code, verdict.message, {"event_id": event.pk})
    return HttpResponse(status=200)
