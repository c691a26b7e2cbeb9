"""The one public file route: a signed, expiring link to one outbound file, for the provider to fetch."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.views.decorators.http import require_safe

from .downloads import media_file_response
from .services.media import media_by_public_token


@require_safe
def media_public(request: HttpRequest, token: str, filename: str):  # the name in the URL is for the provider
    """Twilio and Meta fetch an image or document we send from here. The token names exactly one outbound file
    and expires (MEDIA_PUBLIC_URL_MAX_AGE_SECONDS); customers' files are never reachable this way."""
    media = media_by_public_token(token=token)
    if media is None:
        raise Http404("No such file.")
    response = media_file_response(media)
    response["Cache-Control"] = "private, no-store"
    return response
