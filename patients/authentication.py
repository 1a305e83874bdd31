"""The API's authentication, and keeping each signed-in device's "last used".

- ``DeviceTokenAuthentication`` and ``DeviceSessionMiddleware`` note each
  signed-in device (patients.SignedInDevice) for both doors, at most once a
  minute per device (DEVICE_SEEN_EVERY).
- ``VerifiedSessionAuthentication``: session sign-in for the API that honours
  the staff second factor.

Kept apart from patients/second_factor.py and patients/services.py (imported
inside functions): REST framework imports this while its own settings load,
before the error vocabulary (clinic/errors.py) can be."""

from __future__ import annotations

import binascii
import logging
import time
from collections.abc import Callable
from hmac import compare_digest
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

logger = logging.getLogger(__name__)

# Where a browser session keeps its device row's id and when it last reported in.
SESSION_DEVICE = "_clinic_device"
SESSION_SEEN = "_clinic_device_seen"


class DeviceTokenAuthentication(TokenAuthentication):
    """knox's token authentication in one query: the token with its user, its
    device row (so noting its use is usually free), the user's patient record
    and staff rank (so the role check and the patient's own reads cost nothing
    more). Only this token's expiry is checked: the user's other expired tokens
    are deleted when a new one is issued (``services.token_issue``), not looked
    up on every request as knox does."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        # Not at import: DRF loads this class while its own views load.
        from patients import roles, selectors

        message = _("Invalid token.")
        text = token.decode("utf-8", errors="replace")
        for auth_token, staff_rank in selectors.tokens_with_key(text[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                auth_token.delete()
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(message) from None
            if compare_digest(digest, auth_token.digest):
                user, auth_token = self.validate_user(auth_token)
                is_patient = hasattr(user, "patient")  # fetched above: no query
                roles.remember_role(
                    user,
                    roles.role_from(
                        rank=staff_rank,
                        is_patient=is_patient,
                        is_superuser=user.is_superuser,
                    ),
                )
                return user, auth_token
        raise exceptions.AuthenticationFailed(message)

    def authenticate(self, request: Any) -> tuple[Any, AuthToken] | None:
        from patients import services  # not at import: DRF loads this class while its own views load

        found = super().authenticate(request)
        if found is not None:
            services.token_seen(token=found[1], user_agent=request.META.get("HTTP_USER_AGENT", ""))
        return found


class DeviceSessionMiddleware:
    """After each response to a signed-in browser session, notes the session's
    device (once a minute at most: the time is kept in the session itself, so
    checking costs nothing). Runs inside SessionMiddleware, after the view, so
    what it notes is saved with the session. A sign-in is noted at once by
    ``note_session_sign_in``; this catches sessions from before devices were
    recorded and a session whose device row was lost."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from patients import services

        response = self.get_response(request)
        session = getattr(request, "session", None)
        # A request that never read its session (a probe, a public file) costs
        # nothing here; nor does a failed one (an outage's 503 must stay a 503).
        if session is None or not session.accessed or not session.session_key or response.status_code >= 500:
            return response
        try:
            user_id = session.get(SESSION_KEY)
            if user_id is None:
                return response
            seen = session.get(SESSION_SEEN)
            fresh = isinstance(seen, int | float) and time.time() - seen < services.DEVICE_SEEN_EVERY.total_seconds()
            if not (fresh and session.get(SESSION_DEVICE)):
                _note_session(request, int(user_id))
        except DatabaseError as error:  # bookkeeping never fails the answer; the next request tries again
            logger.warning("could not note a signed-in device: %s", type(error).__name__)
        return response


def _note_session(request: HttpRequest, user_id: int) -> None:
    from patients import services

    session = request.session
    device = services.session_seen(
        user_id=user_id,
        session_key=session.session_key or "",
        device_id=session.get(SESSION_DEVICE),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    if device is not None:
        session[SESSION_DEVICE] = device
        session[SESSION_SEEN] = time.time()


def note_session_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Django's user_logged_in: a browser session (not an API token request,
    which has no session key) becomes a device as it signs in, in the same
    session save, so its first page costs no extra write."""
    session = getattr(request, "session", None)
    if request is None or session is None or not session.session_key or user is None or user.pk is None:
        return
    _note_session(request, user.pk)


class DeviceTokenScheme(KnoxTokenScheme):
    """The schema's "knoxApiToken" bearer scheme, as for knox's own class."""

    target_class = "patients.authentication.DeviceTokenAuthentication"


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
