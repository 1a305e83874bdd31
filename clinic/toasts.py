"""Django ``messages`` after htmx requests: an htmx answer is a fragment, usually
without the page's message list, so a message added by the view would wait in the
session and pop up on some later page. This middleware sends the messages nobody
has shown with the answer itself, as the ``clinic:messages`` event (``HX-Trigger``),
which clinic.js turns into toasts in the page's live region."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import messages
from django.contrib.messages.storage.base import BaseStorage
from django.http import HttpRequest, HttpResponseBase
from django_htmx.http import trigger_client_event

EVENT = "clinic:messages"
# An answer that sends the browser elsewhere leaves the messages for the page it goes to.
ELSEWHERE = ("HX-Redirect", "HX-Location", "HX-Refresh")


def _plain_names_as_json(response: HttpResponseBase) -> None:
    """``HX-Trigger: a, b`` (event names) as the JSON form, which can take one more event."""
    value = response.headers.get("HX-Trigger", "").strip()
    if value and not value.startswith("{"):
        response.headers["HX-Trigger"] = json.dumps({name.strip(): {} for name in value.split(",") if name.strip()})


class HtmxMessagesMiddleware:
    """After ``MessageMiddleware`` and ``HtmxMiddleware`` in MIDDLEWARE (it reads
    ``request.htmx``; the message storage is saved after it has run)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or 300 <= response.status_code < 400:
            return response
        if any(header in response for header in ELSEWHERE):
            return response
        storage = messages.get_messages(request)
        if not isinstance(storage, BaseStorage) or storage.used:  # none, or the fragment showed them itself
            return response
        pending = [{"message": str(message), "tags": message.tags} for message in storage]
        if pending:
            _plain_names_as_json(response)
            trigger_client_event(response, EVENT, {"messages": pending})
        return response
