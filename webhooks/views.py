from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sufrahbot.errors import error_response

from . import services

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio(request: HttpRequest, kind: str) -> HttpResponse:
    event = services.webhook_event_store(provider="twilio", kind=kind, request=request)
    verdict = services.twilio_event_admit(event=event)
    if verdict.http_status != 200:
        return error_response(verdict.http_status, verdict.code, verdict.message, {"event_id": event.pk})
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    return _twilio(request, "message")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    return _twilio(request, "status")


@csrf_exempt
@require_http_methods(["GET", "POST"])
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
