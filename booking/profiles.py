"""Practitioners as patients meet them on the public site: a photo and a short bio.

The photo is public content, but an upload is trusted no more than a clinical
photo: treatments.photos decides what it is (JPEG or PNG only, decoded in full,
metadata dropped), then it is cropped square and stored small, as a JPEG under
a random name. Anyone may fetch it through ``photo_response``; nothing else of
the private storage becomes reachable.
"""

from __future__ import annotations

import io
import uuid
from typing import IO, Final

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from booking.models import Practitioner
from clinic.errors import InvalidInput
from treatments.models import Treatment
from treatments.photos import PhotoRejected, clean_photo

MAX_BYTES: Final = 5 * 1024 * 1024
SIDE: Final = 480  # pixels, square: shown at most 160 CSS px wide, sharp on a 3x screen
JPEG_QUALITY: Final = 85
CACHE_SECONDS: Final = 7 * 24 * 3600  # the URL carries the file's random name, so a new photo is a new URL


def portrait(stream: IO[bytes], *, size: int) -> bytes:
    """The upload as a square JPEG of SIDE pixels without metadata, or
    PhotoRejected saying why (too large, not a JPEG or PNG, damaged)."""
    if size > MAX_BYTES:
        raise PhotoRejected(_("The picture is larger than 5 MB."))
    cleaned = clean_photo(stream, size=size)
    with Image.open(io.BytesIO(cleaned.image)) as image:
        image.load()
        rgb = image.convert("RGB")
    square = ImageOps.fit(rgb, (SIDE, SIDE), method=Image.Resampling.LANCZOS, centering=(0.5, 0.4))
    out = io.BytesIO()
    square.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def practitioner_photo_set(*, practitioner: Practitioner, upload: IO[bytes], size: int) -> Practitioner:
    """Checks the upload (``portrait``) and makes it the practitioner's photo.
    A refused upload is InvalidInput on ``photo`` and changes nothing. The
    previous file is deleted once the change is committed. The caller checks
    that its user may edit practitioners (the admin does)."""
    try:
        data = portrait(upload, size=size)
    except PhotoRejected as error:
        raise InvalidInput(str(error), fields={"photo": [str(error)]}) from None
    old = practitioner.photo.name or ""
    practitioner.photo.save(f"{uuid.uuid4().hex}.jpg", ContentFile(data), save=False)
    new = practitioner.photo.name or ""
    try:
        with transaction.atomic():
            practitioner.save(update_fields=["photo"])
            if old:
                transaction.on_commit(lambda: default_storage.delete(old))
    except BaseException:
        default_storage.delete(new)
        practitioner.photo.name = old
        raise
    return practitioner


def practitioner_photo_remove(*, practitioner: Practitioner) -> Practitioner:
    """Back to the initials; the file goes once the change is committed."""
    old = practitioner.photo.name or ""
    if not old:
        return practitioner
    with transaction.atomic():
        practitioner.photo.name = ""
        practitioner.save(update_fields=["photo"])
        transaction.on_commit(lambda: default_storage.delete(old))
    return practitioner


def practitioners_for(treatment: Treatment) -> QuerySet[Practitioner]:
    """Who performs ``treatment``: the active practitioners qualified for it,
    with their user (one query), in the model's order."""
    return Practitioner.objects.filter(active=True, treatments=treatment).select_related("user")


def photo_url(practitioner: Practitioner) -> str:
    """The public address of the photo ("" without one), served by the site's
    ``practitioner_photo`` view; it names the file, so it changes with the photo."""
    if not practitioner.photo.name:
        return ""
    name = practitioner.photo.name.rsplit("/", 1)[-1]
    return reverse("site:practitioner_photo", kwargs={"pk": practitioner.pk, "name": name})


def photo_response(practitioner: Practitioner, name: str) -> FileResponse:
    """The photo of an active practitioner, cacheable by anyone; Http404 when
    the practitioner is inactive, has no photo, ``name`` is not the current
    file's (an old URL), or the file is gone from storage."""
    stored = practitioner.photo
    if not practitioner.active or not stored.name or stored.name.rsplit("/", 1)[-1] != name:
        raise Http404
    try:
        handle = stored.storage.open(stored.name, "rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="practitioner-{practitioner.pk}.jpg"'
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
