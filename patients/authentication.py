"""API authentication by session that honours the staff second factor.

Kept apart from patients/second_factor.py: REST framework imports this while
its own settings load, before the error vocabulary (clinic/errors.py) can be.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class VerifiedSessionAuthentication(SessionAuthentication):
    """Session sign-in for the API, except a staff session that has not passed its
    second factor yet: it counts as not signed in (401), as on the staff pages."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        from patients.second_factor import is_verified, second_factor_required

        result = super().authenticate(request)
        if result is None:
            return None
        if second_factor_required(result[0]) and not is_verified(getattr(request._request, "user", None)):
            return None
        return result


class VerifiedSessionScheme(SessionScheme):
    """The OpenAPI schema describes it as the session cookie it is."""

    target_class = "patients.authentication.VerifiedSessionAuthentication"
