"""The address a request came from, for logs and throttles."""

from __future__ import annotations

from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The peer's address (REMOTE_ADDR). Proxies are not trusted here."""
    return str(request.META.get("REMOTE_ADDR") or "")[:64]
