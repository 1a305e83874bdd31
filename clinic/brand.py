"""The clinic's brand: logo, favicon and accent colour, from settings (CLINIC_LOGO,
CLINIC_FAVICON, CLINIC_ACCENT), the same on the patient pages, the staff workspace
and the emails. A logo or favicon is a path under the static files or an https URL."""

from __future__ import annotations

from django.conf import settings
from django.templatetags.static import static


def _url(value: str, *, absolute: bool) -> str:
    if value.startswith(("https://", "http://")):
        return value
    url = static(value)
    if absolute and url.startswith("/"):
        return settings.CLINIC_BASE_URL + url
    return url


def logo_url(*, absolute: bool = False) -> str:
    """The logo's address; ``absolute`` for emails, which have no page to be relative to."""
    return _url(settings.CLINIC_LOGO, absolute=absolute)


def favicon_url() -> str:
    return _url(settings.CLINIC_FAVICON, absolute=False)


def accent() -> str:
    """The accent colour, ``#rrggbb``."""
    return str(settings.CLINIC_ACCENT)
