"""Checking and cleaning an uploaded clinical photo (no ORM, no storage).

An upload is trusted for nothing: its name and declared content type are
ignored, Pillow decides what it is. Only JPEG and PNG pass. The picture is
decoded completely (``verify()`` on the first open, a full ``load()`` on a
second, since ``verify()`` does not decode JPEG data), turned upright by its
EXIF orientation, and re-encoded without any metadata: no EXIF (so no GPS
location, camera serial or time), no XMP, no comments; only the colour
profile is kept, because colour matters when comparing scars over time.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from treatments.models import AssessmentPhoto

MAX_BYTES: Final = 10 * 1024 * 1024
MAX_PIXELS: Final = 50_000_000  # a 10 MB JPEG from a good camera is well under this
THUMBNAIL_SIZE: Final = 400
JPEG_QUALITY: Final = 92

FORMATS: Final = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}


class PhotoRejected(ValueError):
    """The upload is not a JPEG or PNG we can use; the message says why."""


@dataclass(frozen=True)
class CleanPhoto:
    content_type: str
    extension: str
    image: bytes
    thumbnail: bytes
    width: int
    height: int


def _open(stream: IO[bytes]) -> Image.Image:
    stream.seek(0)
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(stream, formats=list(FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRejected(_("The picture has too many pixels.")) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise PhotoRejected(_("Upload a JPEG or PNG picture.")) from None


def _encode(image: Image.Image, format_name: str, icc_profile: bytes | None) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if format_name == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        options.update(quality=JPEG_QUALITY, optimize=True)
    else:
        options.update(optimize=True)
    image.save(out, format=format_name, **options)
    return out.getvalue()


def clean_photo(stream: IO[bytes], *, size: int) -> CleanPhoto:
    """The cleaned picture and its thumbnail (longest side at most 400 px), or
    PhotoRejected. ``size`` is the upload's size in bytes, checked first."""
    if size > MAX_BYTES:
        raise PhotoRejected(_("The picture is larger than 10 MB."))
    if size == 0:
        raise PhotoRejected(_("The file is empty."))
    probe = _open(stream)
    format_name = probe.format or ""
    if format_name not in FORMATS:
        raise PhotoRejected(_("Upload a JPEG or PNG picture."))
    width, height = probe.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise PhotoRejected(_("The picture has too many pixels."))
    try:
        probe.verify()
    except Exception:  # Pillow raises many kinds for broken data
        raise PhotoRejected(_("The picture is damaged or incomplete.")) from None
    image = _open(stream)
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except Exception:
        raise PhotoRejected(_("The picture is damaged or incomplete.")) from None
    icc_profile = image.info.get("icc_profile")
    upright.info = {}  # drop EXIF, XMP, comments and text chunks
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16", "I"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    if format_name == "PNG" and upright.mode == "P" and "transparency" in image.info:
        upright = upright.convert("RGBA")
    cleaned = _encode(upright, format_name, icc_profile)
    thumbnail = upright.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    content_type, extension = FORMATS[format_name]
    return CleanPhoto(
        content_type=content_type,
        extension=extension,
        image=cleaned,
        thumbnail=_encode(thumbnail, format_name, icc_profile),
        width=upright.width,
        height=upright.height,
    )


def photo_response(photo: AssessmentPhoto, variant: str) -> FileResponse:
    """The stored photo (``image``) or its ``thumbnail`` as a private, uncacheable
    download for a caller whose right to see it was already checked; Http404 when
    the variant is unknown or the file is gone from storage."""
    if variant not in ("image", "thumbnail"):
        raise Http404
    stored = getattr(photo, variant)
    try:
        handle = stored.storage.open(stored.name, "rb")
    except FileNotFoundError:
        raise Http404 from None
    extension = stored.name.rsplit(".", 1)[-1]
    response = FileResponse(handle, content_type=photo.content_type)
    response["Content-Disposition"] = f'inline; filename="photo-{photo.pk}-{variant}.{extension}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
