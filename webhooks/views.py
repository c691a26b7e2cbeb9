from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

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
