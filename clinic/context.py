"""What every page's template needs: the clinic and its time zone (the visitor's role:
patients/context.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from clinic import brand


def time_zone_label() -> str:
    """The clinic's zone as patients read it, e.g. "Hong Kong time (Asia/Hong_Kong)"."""
    zone = settings.CLINIC_TIME_ZONE
    if zone == "Asia/Hong_Kong":
        return _("Hong Kong time (HKT)")
    return zone


def clinic(request: HttpRequest) -> dict[str, Any]:
    chinese = get_language() == "zh-hant"
    return {
        "clinic_name": settings.CLINIC_NAME_ZH_HANT if chinese else settings.CLINIC_NAME,
        "clinic_address": settings.CLINIC_ADDRESS_ZH_HANT if chinese else settings.CLINIC_ADDRESS,
        "clinic_phone": settings.CLINIC_PHONE,
        "clinic_phone_link": "tel:" + "".join(c for c in settings.CLINIC_PHONE if c.isdigit() or c == "+"),
        "clinic_time_zone": settings.CLINIC_TIME_ZONE,
        "clinic_time_zone_label": time_zone_label(),
        "clinic_currency": settings.CLINIC_CURRENCY,
        "clinic_logo_url": brand.logo_url(),
        "clinic_favicon_url": brand.favicon_url(),
        "clinic_brand_css_url": brand.stylesheet_url(),
    }
