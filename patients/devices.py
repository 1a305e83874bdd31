"""What to call a signed-in device, from its user agent (a pure function).

Enough for a patient to recognise their own phone or laptop in a list ("Safari
on iPhone"); not a browser-detection library. Anything unrecognised is named
by what is known, or not at all."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

# The first match wins, so the more specific names come first (Edge and Opera
# also say "Chrome"; Chrome also says "Safari").
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"EdgA?/|Edg/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"SamsungBrowser/", "Samsung Internet"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"CriOS/|Chrome/|Chromium/", "Chrome"),
    (r"Version/[\d.]+.*Safari/", "Safari"),
    (r"okhttp/|Dalvik/|CFNetwork/|Dart/|python-requests/|curl/|axios/", "app"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"iPhone", "iPhone"),
    (r"iPad", "iPad"),
    (r"Android|Dalvik/", "Android"),
    (r"Windows", "Windows"),
    (r"Macintosh|Mac OS X|CFNetwork/", "Mac"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
)


def _first(patterns: tuple[tuple[str, str], ...], user_agent: str) -> str:
    return next((name for pattern, name in patterns if re.search(pattern, user_agent)), "")


def device_label(user_agent: str) -> str:
    """ "Chrome on Android", "Safari on iPhone", "An app on Android", "Firefox",
    or "" when nothing is recognisable."""
    browser = _first(_BROWSERS, user_agent)
    system = _first(_SYSTEMS, user_agent)
    if browser == "app":
        return _("An app on %(system)s") % {"system": system} if system else _("An app")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system


def is_current_device(device: Any, request: Any) -> bool:
    """Whether ``device`` (a SignedInDevice) is the one making ``request``: its
    token authenticated it (the API), or it is this browser's session."""
    auth = getattr(request, "auth", None)
    if device.token_id is not None:
        return getattr(auth, "pk", None) == device.token_id
    session = getattr(request, "session", None)
    return bool(device.session_key) and session is not None and device.session_key == session.session_key
