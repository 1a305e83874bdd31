"""The doors to calendar feeds (booking/feeds.py): the feed itself, fetched
without signing in at ``/calendar/<token>.ics``, and ``/api/v1/me/calendar-feed/``
where its owner sees, makes, resets or turns off their own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import feeds
from booking.models import CalendarFeed
from clinic.api import ScopedThrottle
from clinic.client import client_address, within
from clinic.errors import NotFound
from clinic.schema import errors
from patients.permissions import user_of

CACHE_CONTROL = "private, max-age=300"

# --- the feed -----------------------------------------------------------------------------


def _plain(text: str, status_code: int) -> HttpResponse:
    response = HttpResponse(text, status=status_code, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponseBase:
    """The feed, for calendar services: no session, no cookies; the token is
    the credential. Unknown, malformed, turned-off or orphaned tokens are all
    the same 404. Throttled per client address (THROTTLE_CALENDAR_FEED)."""
    limit, period = ScopedThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["calendar_feed"])
    if not within(f"calendar-feed:{client_address(request)}", limit or 0, period or 3600):
        response = _plain("Too many requests. Try again later.\n", 429)
        response["Retry-After"] = str(period or 3600)
        return response
    feed = feeds.feed_by_token(token)
    if feed is None:
        return _plain("No such calendar.\n", 404)
    now = timezone.now()
    version = feeds.feed_version(feed, now=now)
    feeds.feed_fetched(feed=feed, now=now)  # a 304 is a fetch too
    headers = HttpResponse(content_type="text/calendar; charset=utf-8")
    headers["ETag"] = version.etag
    headers["Last-Modified"] = http_date(version.last_modified.timestamp())
    headers["Cache-Control"] = CACHE_CONTROL
    headers["X-Robots-Tag"] = "noindex, nofollow"
    answer = get_conditional_response(
        request, etag=version.etag, last_modified=int(version.last_modified.timestamp()), response=headers
    )
    if answer is not None and answer is not headers:  # 304 Not Modified, with the headers above
        return answer
    headers.content = feeds.feed_calendar(feed, feeds.feed_appointments(feed, now=now))
    headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return headers


# --- the API ------------------------------------------------------------------------------


class HasCalendarFeed(BasePermission):
    """Patients, and staff with a practitioner profile (booking.feeds.feed_kind_for)."""

    message = gettext_lazy("Only practitioners and patients have a calendar feed.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return feeds.feed_kind_for(user_of(request)) is not None


class CalendarFeedSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CalendarFeed.Kind.choices, read_only=True)
    url = serializers.SerializerMethodField(help_text="The secret address: whoever has it can read the calendar.")
    webcal_url = serializers.SerializerMethodField(help_text="The same address for calendar apps (webcal://).")
    language = serializers.CharField(
        read_only=True, help_text="The events' language (a patient's feed follows their preferred_language)."
    )
    created_at = serializers.DateTimeField(read_only=True)
    last_fetched_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When a calendar last fetched it (noted every few minutes)."
    )

    def get_url(self, feed: CalendarFeed) -> str:
        return feeds.feed_url(feed)

    def get_webcal_url(self, feed: CalendarFeed) -> str:
        return feeds.webcal_url(feed)

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["language"] = feeds.feed_language(instance)
        return data


class CalendarFeedCreateSerializer(serializers.Serializer):
    language = serializers.ChoiceField(
        # The same choice set as the consent's language, so the schema names one LanguageEnum.
        choices=[(code, code) for code in feeds.LANGUAGES],
        required=False,
        help_text="A practitioner's feed: the events' language (default: the request's, by Accept-Language). "
        "A patient's feed follows their preferred_language (PATCH /api/v1/me/) whatever this says.",
    )


class MyCalendarFeedApi(APIView):
    permission_classes = [IsAuthenticated, HasCalendarFeed]

    def _kind(self, request: Request) -> str:
        kind = feeds.feed_kind_for(user_of(request))
        if kind is None:  # HasCalendarFeed let it through: the role changed in between
            raise PermissionDenied(HasCalendarFeed.message)
        return kind

    def _live(self, request: Request) -> CalendarFeed:
        feed = feeds.feed_for(user=user_of(request), kind=self._kind(request))
        if feed is None:
            raise NotFound(_("You have no calendar feed. Make one with POST."))
        return feed

    @extend_schema(
        responses={200: CalendarFeedSerializer, **errors(401, 403, 404)},
        description="The caller's private calendar feed: a practitioner's schedule (staff with a practitioner "
        "profile) or a patient's own appointments. 404 when it is turned off or was never made. Receptionists "
        "and managers without a practitioner profile get 403.",
    )
    def get(self, request: Request) -> Response:
        return Response(CalendarFeedSerializer(self._live(request)).data)

    @extend_schema(
        request=CalendarFeedCreateSerializer,
        responses={201: CalendarFeedSerializer, **errors(400, 401, 403)},
        description="Makes the feed, or resets it: a new secret address, the old one answering 404 at once.",
    )
    def post(self, request: Request) -> Response:
        data = CalendarFeedCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        language = data.validated_data.get("language") or translation.get_language() or "en"
        feed = feeds.feed_create(user=user_of(request), kind=self._kind(request), language=language)
        return Response(CalendarFeedSerializer(feed).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={204: None, **errors(401, 403, 404)},
        description="Turns the feed off: its address answers 404 from now on. 404 when it is already off.",
    )
    def delete(self, request: Request) -> Response:
        feeds.feed_revoke(feed=self._live(request), by=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
