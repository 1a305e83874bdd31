"""The clinic's brand: logo, favicon and accent colour, from settings (CLINIC_LOGO,
CLINIC_FAVICON, CLINIC_ACCENT), the same on the patient pages, the staff workspace
and the emails. A logo or favicon is a path under the static files or an https URL.

The pages get the accent as CSS custom properties from a small stylesheet
(``brand_css``): the content security policy allows no inline styles, and the
stylesheet's URL carries a hash of the colours, so a new accent is never hidden
behind a cached sheet."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe


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


# --- the accent on pages ---------------------------------------------------------------------

WHITE = (255, 255, 255)
# White text on the accent (buttons) and the accent as text on white (links) need 4.5:1 (WCAG AA).
MIN_CONTRAST = 4.5

RGB = tuple[int, int, int]


def _rgb(colour: str) -> RGB:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: RGB) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(rgb: RGB, other: RGB, share: float) -> RGB:
    """``share`` of ``other`` mixed into ``rgb``."""
    r, g, b = (round(c * (1 - share) + o * share) for c, o in zip(rgb, other, strict=True))
    return r, g, b


def palette(colour: str | None = None) -> dict[str, str]:
    """The accent and its two companions as the pages use them: ``accent`` (darkened
    only as far as white text on it and it as text on white stay readable), ``accent-dark``
    (hover, headings) and ``accent-soft`` (backgrounds of chosen and highlighted things)."""
    base = _rgb(colour or accent())
    readable = base
    for step in range(1, 21):
        if contrast(_hex(readable), "#ffffff") >= MIN_CONTRAST:
            break
        readable = _mix(base, (0, 0, 0), step * 0.05)
    return {
        "accent": _hex(readable),
        "accent-dark": _hex(_mix(readable, (0, 0, 0), 0.25)),
        "accent-soft": _hex(_mix(base, WHITE, 0.9)),
    }


def stylesheet() -> str:
    return ":root {\n" + "".join(f"  --{name}: {value};\n" for name, value in palette().items()) + "}\n"


def stylesheet_url() -> str:
    version = hashlib.sha256(stylesheet().encode()).hexdigest()[:10]
    return f"{reverse('brand_css')}?v={version}"


@require_safe
def brand_css(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(stylesheet(), content_type="text/css; charset=utf-8")
    # The page links the sheet with a hash of its content, so it may be kept a long time.
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers and tools ask for whatever the page links: the clinic's favicon."""
    return HttpResponseRedirect(favicon_url())
