"""Shared pieces of the clinical-record API tests: bodies and pictures."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

ASSESSMENT = {
    "fitzpatrick_type": 4,
    "lesions": {"macular": 12, "mild_atrophic": 5, "punched_out_shallow": 25, "punched_out_deep_normal_base": 3},
    "types_present": ["rolling", "pih", "icepick"],
    "qualitative_grade": 3,
    "pih": "moderate",
    "pie": "mild",
    "notes": "Baseline before the course.",
}

# A health declaration with nothing to declare: every question answered "no".
DECLARATION: dict[str, Any] = {
    "pregnant_or_breastfeeding": False,
    "isotretinoin_last_dose": None,
    "keloid_tendency": False,
    "cold_sore_history": False,
    "active_cold_sore": False,
    "anticoagulants": False,
    "photosensitising_medication": False,
    "active_skin_infection": False,
    "recent_sun_exposure": False,
    "autoimmune_condition": False,
    "neuromuscular_disorder": False,
    "active_acne": False,
    "topical_retinoid_last_use": None,
    "implanted_electronic_device": False,
}

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def picture(
    fmt: str = "JPEG",
    size: tuple[int, int] = (800, 600),
    *,
    exif: bool = True,
    orientation: int | None = None,
    mode: str = "RGB",
    **save: Any,
) -> bytes:
    """A picture with a camera's EXIF: GPS position, make and model (and an
    orientation when asked)."""
    image = Image.new(mode, size, color=(200, 120, 90) if mode == "RGB" else 128)
    # A feature that shows which way up the picture is: a dark top-left corner.
    image.paste((0, 0, 0) if mode == "RGB" else 0, (0, 0, size[0] // 4, size[1] // 4))
    buffer = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "PhoneMaker"
        data[0x0110] = "Model X"
        if orientation:
            data[ORIENTATION] = orientation
        data.get_ifd(GPS_IFD).update({1: "N", 2: (22.0, 16.0, 42.0), 3: "E", 4: (114.0, 9.0, 36.0)})
        save["exif"] = data
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def metadata_of(content: bytes) -> dict[str, Any]:
    image = Image.open(io.BytesIO(content))
    exif = image.getexif()
    return {
        "format": image.format,
        "size": image.size,
        "exif_tags": dict(exif),
        "gps": dict(exif.get_ifd(GPS_IFD)),
        "info_keys": set(image.info),
    }
