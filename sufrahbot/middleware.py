"""Request id and the access line: first in the middleware stack, so every later line carries the id."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from sufrahbot.errors import error_body
from sufrahbot.logging import log_context

access_logger = logging.getLogger("sufrahbot.access")
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy or a provider set it), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _VALID_REQUEST_ID.match(given) else str(uuid.uuid4())


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id
        started = time.perf_counter()
        with log_context(request_id=request_id):
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            access_logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,  # never the query string or the body: they carry customer data
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "remote": request.META.get("REMOTE_ADDR", ""),
                },
            )
        return response


class ContentLengthMiddleware:
    """A Content-Length that is not a non-negative integer is a 400 with the error body (RFC 9110 §8.6).

    django-prometheus's middleware does `int()` on the header and answered such a request with a 500;
    this sits in front of it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = request.headers.get("content-length")
        if value is not None and not value.strip().isdigit():
            return JsonResponse(
                error_body("bad_request", "Content-Length must be a non-negative integer."), status=400
            )
        return self.get_response(request)
