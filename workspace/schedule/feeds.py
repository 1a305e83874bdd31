"""Calendar feeds in the workspace (booking/feeds.py): a practitioner's own
"Calendar feed" page (make, copy, open in the calendar app, reset, turn off),
reached from the schedule; and the managers' list of practitioners' feeds
under Manage, where a manager turns one off. Staff without a practitioner
profile (a receptionist) are told plainly that there is no schedule of theirs
to subscribe to. Same services as ``/api/v1/me/calendar-feed/``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking import feeds
from booking.models import CalendarFeed, Practitioner
from clinic.errors import InvalidInput
from patients.permissions import is_manager, manager_required, staff_required, user_of

LANGUAGE_CHOICES = [("en", "English"), ("zh-hant", "繁體中文")]


def feed_context(feed: CalendarFeed | None) -> dict[str, Any]:
    """What the feed card (templates/_calendar_feed.html) shows of a live feed."""
    if feed is None:
        return {"feed": None}
    return {"feed": feed, "feed_url": feeds.feed_url(feed), "webcal_url": feeds.webcal_url(feed)}


def _chosen_language(request: HttpRequest) -> str:
    asked = request.POST.get("language")
    return asked if asked in dict(LANGUAGE_CHOICES) else (get_language() or "en")


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"  # the page shows a secret address
    return response


@staff_required
@require_http_methods(["GET", "POST"])
def calendar_feed(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    practitioner = Practitioner.objects.filter(user=user).first()
    if practitioner is None:
        return _no_store(
            render(request, "workspace/calendar_feed.html", {"practitioner": None, "manager": is_manager(request)})
        )
    kind = CalendarFeed.Kind.PRACTITIONER
    if request.method == "POST":
        try:
            level, text = feeds.feed_change(
                user=user, kind=kind, action=request.POST.get("action"), language=_chosen_language(request)
            )
        except InvalidInput as error:
            messages.error(request, str(error.detail))
        else:
            messages.add_message(request, messages.SUCCESS if level == "success" else messages.INFO, text)
        return HttpResponseRedirect(reverse("staff:calendar_feed"))
    feed = feeds.feed_for(user=user, kind=kind)
    context = {
        "practitioner": practitioner,
        "manager": is_manager(request),
        "languages": LANGUAGE_CHOICES,
        "current_language": feed.language if feed else (get_language() or "en"),
        **feed_context(feed),
    }
    return _no_store(render(request, "workspace/calendar_feed.html", context))


@manager_required
@require_http_methods(["GET", "POST"])
def calendar_feeds(request: HttpRequest) -> HttpResponse:
    """Managers: every practitioner, whether they have a feed, when it was last
    fetched, and a button to turn it off (a lost phone, someone leaving). The
    addresses themselves are never shown here."""
    if request.method == "POST":
        chosen = _int(request.POST.get("feed"))
        feed = (
            CalendarFeed.objects.filter(pk=chosen, kind=CalendarFeed.Kind.PRACTITIONER, revoked_at__isnull=True).first()
            if chosen is not None
            else None
        )
        if feed is not None and feeds.feed_revoke(feed=feed, by=user_of(request)):
            messages.success(request, _("The calendar feed is off: its link has stopped working."))
        else:
            messages.info(request, _("That calendar feed was already off."))
        return HttpResponseRedirect(reverse("staff:calendar_feeds"))
    rows = feeds.practitioner_feeds()
    context = {"rows": rows, "live": sum(1 for _practitioner, feed in rows if feed is not None)}
    return render(request, "workspace/calendar_feeds.html", context)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None
