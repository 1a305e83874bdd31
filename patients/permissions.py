"""Who may do what, by role (see patients/roles.py), for the API and the pages alike.

API views use the permission classes; page views the decorators: anonymous visitors
are sent to sign in, a signed-in user without the role gets 403 (a patient never
reaches a staff page). Objects another patient owns are 404, decided by each view's
queryset, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from patients import roles
from patients.roles import MANAGER, PRACTITIONER, RECEPTIONIST, role_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# --- the API ----------------------------------------------------------------


class HasRole(BasePermission):
    roles: tuple[str, ...] = ()
    message = _("Your role may not do this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return roles.role_of(request.user) in self.roles


class IsPatient(HasRole):
    roles = (roles.PATIENT,)


class IsStaff(HasRole):
    roles = roles.STAFF_ROLES


class IsClinician(HasRole):
    """Practitioners and managers: clinical records and session completion."""

    roles = (roles.PRACTITIONER, roles.MANAGER)


class IsManager(HasRole):
    """Managers: the access log, erasure and the staff-produced export."""

    roles = (roles.MANAGER,)


class IsPatientOrStaff(HasRole):
    roles = (roles.PATIENT, *roles.STAFF_ROLES)


class StaffReadFrontDeskWrite(HasRole):
    """Staff read; receptionists and managers change (how a patient is
    contacted: reception takes it by phone)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        role = roles.role_of(request.user)
        if request.method in SAFE_METHODS:
            return role in roles.STAFF_ROLES
        return role in CONTACT_EDITORS


def is_staff(request: Request) -> bool:
    return roles.is_staff_role(roles.role_of(request.user))


def user_of(request: HttpRequest | Request) -> User:
    """``request.user`` once a permission class, a decorator above or the admin site
    has let the request through: each of them admits only signed-in accounts."""
    return cast("User", request.user)


# --- the pages --------------------------------------------------------------

View = Callable[..., HttpResponseBase]
_V = TypeVar("_V", bound=View)  # a decorated view keeps its own signature
FRONT_DESK = (RECEPTIONIST, PRACTITIONER, MANAGER)
CLINICAL = (PRACTITIONER, MANAGER)
CONTACT_EDITORS = (RECEPTIONIST, MANAGER)  # who sets how a patient is contacted (patients/channels.py)


def _require(roles: tuple[str, ...]) -> Callable[[_V], _V]:
    def decorator(view: _V) -> _V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(request.user) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(_V, wrapped)

    return decorator


def patient_required[V: View](view: V) -> V:
    """A signed-in patient; ``request.user.patient`` is their record."""
    return _require(("patient",))(view)


def staff_required[V: View](view: V) -> V:
    """Any staff role: receptionist, practitioner or manager."""
    return _require(FRONT_DESK)(view)


def front_desk_required[V: View](view: V) -> V:
    """Receptionists and managers: how a patient is contacted (taken by phone)."""
    return _require(CONTACT_EDITORS)(view)


def clinician_required[V: View](view: V) -> V:
    """Practitioners and managers: assessments, photos, plans, session records."""
    return _require(CLINICAL)(view)


def manager_required[V: View](view: V) -> V:
    """Managers only: the access log, erasing a patient, producing a patient's export."""
    return _require((MANAGER,))(view)


def is_clinician(request: HttpRequest) -> bool:
    return role_of(request.user) in CLINICAL


def is_manager(request: HttpRequest) -> bool:
    return role_of(request.user) == MANAGER
