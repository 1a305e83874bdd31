"""Access rules for the server-rendered pages, as in api-v1.md's role table.

Anonymous visitors are sent to sign in; a signed-in user without the role gets
403 (a patient never reaches a staff page); objects another patient owns are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from patients.roles import MANAGER, PRACTITIONER, RECEPTIONIST, role_of

View = Callable[..., HttpResponse]
FRONT_DESK = (RECEPTIONIST, PRACTITIONER, MANAGER)
CLINICAL = (PRACTITIONER, MANAGER)


def _require(roles: tuple[str, ...]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(request.user) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def patient_required(view: View) -> View:
    """A signed-in patient; ``request.user.patient`` is their record."""
    return _require(("patient",))(view)


def staff_required(view: View) -> View:
    """Any staff role: receptionist, practitioner or manager."""
    return _require(FRONT_DESK)(view)


def clinician_required(view: View) -> View:
    """Practitioners and managers: assessments, photos, plans, session records."""
    return _require(CLINICAL)(view)


def is_clinician(request: HttpRequest) -> bool:
    return role_of(request.user) in CLINICAL


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` parameter when it points into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
