"""Menu photos: checked and resized on upload (Pillow) to what WhatsApp and the admin show.

WhatsApp takes JPEG or PNG images up to 5 MB; a JPEG at most 1600 px on its long side (quality 85) stays far
under that and looks sharp on a phone. Lists (admin, dashboard) use a 320 px thumbnail. EXIF is dropped
(a phone photo's location stays private) after its rotation is applied.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

WHATSAPP_SIZE = 1600
THUMBNAIL_SIZE = 320
MIN_SIDE = 64
ACCEPTED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}


class PhotoRejected(ValueError):
    """An upload that is not a usable photo; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class PreparedPhoto:
    whatsapp: ContentFile  # JPEG, long side ≤ WHATSAPP_SIZE
    thumbnail: ContentFile  # JPEG, long side ≤ THUMBNAIL_SIZE
    width: int
    height: int


def _jpeg(image: Image.Image, side: int, name: str) -> ContentFile:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return ContentFile(out.getvalue(), name=name)


def photo_prepare(upload) -> PreparedPhoto:
    """The WhatsApp-size photo and its thumbnail from an uploaded file, or PhotoRejected."""
    max_bytes = settings.MENU_PHOTO_MAX_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise PhotoRejected(f"The photo is {size} bytes; at most {max_bytes // (1024 * 1024)} MB is accepted.")
    max_pixels = settings.MENU_PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            image = Image.open(upload)
            if image.format not in ACCEPTED_FORMATS:
                raise PhotoRejected(f"A photo must be JPEG, PNG or WebP (this is {image.format or 'not an image'}).")
            if image.width * image.height > max_pixels:
                raise PhotoRejected(f"The photo has more than {max_pixels // 1_000_000} megapixels.")
            image.load()  # decode it all: a truncated or corrupt file fails here, not later
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("The file is not an image we can read (JPEG, PNG or WebP).") from None
    except Exception:  # any decoder failure on an untrusted upload means a damaged file
        raise PhotoRejected("The image is damaged or incomplete.") from None
    if min(image.size) < MIN_SIDE:
        raise PhotoRejected(f"The photo is {image.width}×{image.height}; at least {MIN_SIDE} px a side is needed.")
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        # JPEG has no transparency: flatten onto white (a PNG dish cut-out stays on a clean background).
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return PreparedPhoto(
        whatsapp=_jpeg(image, WHATSAPP_SIZE, "photo.jpg"),
        thumbnail=_jpeg(image, THUMBNAIL_SIZE, "thumbnail.jpg"),
        width=image.width,
        height=image.height,
    )
