"""Keeping each signed-in device's "last used" (patients.SignedInDevice) for
both doors: the API's token authentication and a middleware for browser
sessions. Both write at most once a minute per device (DEVICE_SEEN_EVERY)."""

from __future__ import annotations

import binascii
import time
from collections.abc import Callable
from hmac import compare_digest
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

# Where a browser session keeps its device row's id and when it last reported in.
SESSION_DEVICE = "_clinic_device"
SESSION_SEEN = "_clinic_device_seen"


class DeviceTokenAuthentication(TokenAuthentication):
    """knox's token authentication, fetching the token's device row with the
    token (one query, as before) so that noting its use is usually free."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        message = _("Invalid token.")
        text = token.decode("utf-8", errors="replace")
        candidates = AuthToken.objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
            "user", "device"
        )
        for auth_token in candidates:
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(message) from None
            if compare_digest(digest, auth_token.digest):
                return self.validate_user(auth_token)
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
    a sign-in's new session is recorded on the response that creates it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from patients import services

        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.session_key:
            return response
        user_id = session.get(SESSION_KEY)
        if user_id is None:
            return response
        now = time.time()
        seen = session.get(SESSION_SEEN)
        if (
            isinstance(seen, int | float)
            and now - seen < services.DEVICE_SEEN_EVERY.total_seconds()
            and session.get(SESSION_DEVICE)
        ):
            return response
        device = services.session_seen(
            user_id=int(user_id),
            session_key=session.session_key,
            device_id=session.get(SESSION_DEVICE),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        if device is not None:
            session[SESSION_DEVICE] = device
            session[SESSION_SEEN] = now
        return response


class DeviceTokenScheme(KnoxTokenScheme):
    """The schema's "knoxApiToken" bearer scheme, as for knox's own class."""

    target_class = "patients.authentication.DeviceTokenAuthentication"
