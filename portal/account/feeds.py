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
        try:
            level, text = feeds.feed_change(user=user, kind=KIND, action=request.POST.get("action"))
        except InvalidInput as error:
            messages.error(request, str(error.detail))
        else:
            messages.add_message(request, messages.SUCCESS if level == "success" else messages.INFO, text)
        return HttpResponseRedirect(reverse("account:calendar_feed"))
    feed = feeds.feed_for(user=user, kind=KIND)
    context: dict[str, Any] = {"patient": user.patient, "feed": feed}
    if feed is not None:
        context.update(feed_url=feeds.feed_url(feed), webcal_url=feeds.webcal_url(feed))
    response = render(request, "account/calendar_feed.html", context)
    response["Cache-Control"] = "private, no-store"  # the page shows a secret address
    return response
