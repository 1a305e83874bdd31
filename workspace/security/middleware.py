"""Two guards on staff sessions, after authentication (clinic/settings.py, MIDDLEWARE).

- ``StaffIdleTimeoutMiddleware``: a staff session with no request for
  ``STAFF_IDLE_TIMEOUT`` is signed out and sent to sign in with a message.
  The last request's time lives in the session, written at most once a minute.
  Patients are not affected.
- ``SecondFactorMiddleware``: a user whose role must pass the second factor
  (``CLINIC_SECOND_FACTOR_ROLES``) reaches nothing under /staff/ or /admin/ but
  the second-factor pages until this session has passed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from clinic.outage import OUTAGE_ERRORS, unavailable_response
from patients.roles import is_staff_role, role_of
from patients.second_factor import is_enrolled, is_verified, second_factor_required

LAST_SEEN = "clinic_staff_seen"  # epoch seconds of the last request; 0: not a staff session
PENDING_CODES = "clinic_recovery_codes"  # recovery codes not yet acknowledged as saved
GUARDED = ("/staff/", "/admin/")


def _redirect(request: HttpRequest, url: str) -> HttpResponseBase:
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _write_step() -> int:
    return max(1, min(60, int(settings.STAFF_IDLE_TIMEOUT.total_seconds() // 10)))


def remember_staff_session(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On sign-in: start the idle clock of a staff session (``user_logged_in``)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[LAST_SEEN] = int(time.time()) if is_staff_role(role_of(user)) else 0
        user.__dict__.pop("_clinic_role", None)  # the caller's object: no role cached behind its back


class StaffIdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            early = self._check(request)
        except OUTAGE_ERRORS:
            # The first query of the request may be ours; answered as any outage is
            # (clinic/outage.py), never by letting the request through unchecked.
            return unavailable_response(request)
        return early if early is not None else self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponseBase | None:
        session = getattr(request, "session", None)
        if session is None or not request.user.is_authenticated:
            return None
        seen = session.get(LAST_SEEN)
        now = int(time.time())
        if seen is None:  # a session from before this guard: staff or not, once
            session[LAST_SEEN] = now if is_staff_role(role_of(request.user)) else 0
        elif seen:
            if now - int(seen) > settings.STAFF_IDLE_TIMEOUT.total_seconds():
                logout(request)
                minutes = max(1, int(settings.STAFF_IDLE_TIMEOUT.total_seconds() // 60))
                messages.info(
                    request,
                    _("You were signed out after %(minutes)s minutes without activity. Please sign in again.")
                    % {"minutes": minutes},
                )
                if request.path.startswith("/api/"):
                    return None  # now anonymous: the API answers 401
                return _redirect(request, f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
            if now - int(seen) >= _write_step():
                session[LAST_SEEN] = now
        return None


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path.startswith(GUARDED):
            return self.get_response(request)
        try:
            early = self._check(request)
        except OUTAGE_ERRORS:
            return unavailable_response(request)  # never let the request through unchecked
        return early if early is not None else self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponseBase | None:
        path = request.path
        if not request.user.is_authenticated or not second_factor_required(request.user):
            return None
        verify, enrol, codes = (reverse(f"security:{name}") for name in ("verify", "enrol", "recovery_codes"))
        if not is_verified(request.user):
            if path in (verify, enrol) or path == reverse("admin:logout"):
                return None
            target = verify if is_enrolled(request.user) else enrol
            return _redirect(request, f"{target}?{urlencode({'next': request.get_full_path()})}")
        if request.session.get(PENDING_CODES) and path != codes:
            return _redirect(request, codes)  # the new recovery codes are shown until saved
        return None
