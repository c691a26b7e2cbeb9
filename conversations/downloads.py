"""Serving a stored message file to someone already allowed to see it (the API and the admin check first)."""

from __future__ import annotations

from django.http import FileResponse

from .models import MessageMedia


def media_file_response(media: MessageMedia) -> FileResponse:
    """The file with headers that keep a browser from running it: the checked type, nosniff, a sandbox CSP,
    attachment unless it is a picture, private caching."""
    inline = media.kind in ("image", "sticker")
    response = FileResponse(
        media.file.open("rb"),
        content_type=media.content_type or "application/octet-stream",
        as_attachment=not inline,
        filename=media.filename or f"file-{media.pk}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response
