"""The patient's calendar feed (/me/calendar/, linked from /me/): a private
link their calendar subscribes to, with their appointments and nothing about
what they are for (booking/feeds.py). Same services as
``/api/v1/me/calendar-feed/``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking import feeds
from booking.models import CalendarFeed
from clinic.errors import InvalidInput
from patients.permissions import patient_required, user_of

KIND = CalendarFeed.Kind.PATIENT


@patient_required
@require_http_methods(["GET", "POST"])
def calendar_feed(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":
        action = request.POST.get("action")
        live = feeds.feed_for(user=user, kind=KIND)
        try:
            if action in ("create", "reset"):
                feeds.feed_create(user=user, kind=KIND)
                messages.success(
                    request,
                    _("Your calendar link is ready.")
                    if live is None
                    else _("Your calendar link is new: the old one has stopped working."),
                )
            elif action == "revoke" and live is not None:
                feeds.feed_revoke(feed=live, by=user)
                messages.success(request, _("Your calendar feed is off: the link has stopped working."))
            else:
                messages.info(request, _("Nothing to do: your calendar feed was already off."))
        except InvalidInput as error:
            messages.error(request, str(error.detail))
        return HttpResponseRedirect(reverse("account:calendar_feed"))
    feed = feeds.feed_for(user=user, kind=KIND)
    context: dict[str, Any] = {"patient": user.patient, "feed": feed}
    if feed is not None:
        context.update(feed_url=feeds.feed_url(feed), webcal_url=feeds.webcal_url(feed))
    response = render(request, "account/calendar_feed.html", context)
    response["Cache-Control"] = "private, no-store"  # the page shows a secret address
    return response
