"""Building blocks every app's API shares: fields and throttles (role permissions:
patients/permissions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import caches
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.throttling import ScopedRateThrottle

from clinic.client import client_address


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its offset. DRF would silently
    read a naive value in the server's zone; a booking must never be a guess."""

    default_error_messages = {
        "naive": _("Give the time with its UTC offset, e.g. 2026-12-01T10:00:00+08:00."),
    }
    # Years 1 and 9999 parse, but a day's arithmetic on them (the next
    # midnight, a time zone) overflows: refused here as invalid, never a 500.
    earliest_year, latest_year = 2, 9998

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str) and ("\x00" in value or len(value) > 64):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss]±hh:mm")
        return super().to_internal_value(value)

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        if not self.earliest_year <= value.year <= self.latest_year:
            self.fail("overflow")
        return super().enforce_timezone(value)


class CleanCharField(serializers.CharField):
    """Text without NUL characters (PostgreSQL refuses them; so do we, as a 400)."""

    default_error_messages = {"nul": _("Text must not contain NUL characters.")}

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if "\x00" in value:
            self.fail("nul")
        return value


class ScopedThrottle(ScopedRateThrottle):
    """Per user when signed in, else per client address; rates are settings
    (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]), counters in the "throttle" cache
    (the database: one count for every web process, kept across restarts)."""

    cache = caches["throttle"]

    def get_ident(self, request: Any) -> str:
        # DRF's own reading believes X-Forwarded-For from anyone unless NUM_PROXIES
        # is set; the clinic's one rule (CLINIC_TRUSTED_PROXIES) decides instead.
        return client_address(request)
