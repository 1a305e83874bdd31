"""Building blocks every app's API shares: fields and throttles (role permissions:
patients/permissions.py)."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any, ClassVar

import django_filters
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.utils import html

from clinic.client import client_address, count_use


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
    """Text without NUL characters (PostgreSQL refuses them; so do we, as a 400).
    A JSON number or boolean is not text: refused, not turned into ``"0"``."""

    default_error_messages = {"nul": _("Text must not contain NUL characters.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if "\x00" in value:
            self.fail("nul")
        return value


class ScopedThrottle(ScopedRateThrottle):
    """Per user when signed in, else per client address; rates are settings
    (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]). Each request is counted by
    ``clinic.client.count_use``: one atomic statement in the database, so every
    web process shares the count, a burst across processes cannot pass the
    limit, and a restart keeps it. A window opens at the first request and lasts
    the rate's period; ``Retry-After`` is the time left in it."""

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None or self.num_requests is None or self.duration is None:
            return True
        count, self.window_ends = count_use(self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return max((self.window_ends - timezone.now()).total_seconds(), 1.0)

    def get_ident(self, request: Any) -> str:
        # DRF's own reading believes X-Forwarded-For from anyone unless NUM_PROXIES
        # is set; the clinic's one rule (CLINIC_TRUSTED_PROXIES) decides instead.
        return client_address(request)


def _from_a_form(field: serializers.Field) -> bool:
    """True when the field reads a query string or a multipart form, where
    every value arrives as text; a JSON body says what type it sends."""
    return html.is_html_input(getattr(field.root, "initial_data", None))


def strict_int(field: serializers.Field, value: Any, *, minimum: int, maximum: int) -> int:
    """An integer as JSON sends it: ``1`` but not ``1.9``, ``1.0``, ``true``,
    ``"1"`` or ``"1e0"``. A query string or form sends text, so there only
    plain digits (``"12"``) count. Out of range fails like any bad value."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _from_a_form(field) and len(value) <= 20 and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        field.fail("incorrect_type", data_type=type(value).__name__)
    if not minimum <= number <= maximum:
        field.fail("out_of_range", pk_value=number)
    return number


_DIGITS = re.compile(r"[0-9]+")
# Ids are PostgreSQL bigints; a larger number would overflow in the query (a 500).
ID_MAX = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """``IntegerField`` that refuses ``1.9``, ``1.0``, ``true`` and ``"1e0"``
    instead of rounding or coercing them (DRF reads ``1.0`` as ``1``)."""

    default_error_messages = {
        "incorrect_type": _("A whole number is required."),
        "out_of_range": _("The number is out of range."),
    }

    def to_internal_value(self, data: Any) -> int:
        low = self.min_value if self.min_value is not None else -ID_MAX
        high = self.max_value if self.max_value is not None else ID_MAX
        return strict_int(self, data, minimum=int(low), maximum=int(high))


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id in a request body: a JSON integer, never ``1.9`` (which Django
    would read as id 1), ``true``, ``"1.9"`` or ``"1e0"``. Unknown ids are 400
    ``invalid`` like DRF's. Every reference by id in the API uses this field."""

    default_error_messages = {
        "incorrect_type": _("An id (a whole number) is required."),
        "out_of_range": _('Invalid pk "{pk_value}" - object does not exist.'),
    }

    def to_internal_value(self, data: Any) -> Any:
        try:
            number = strict_int(self, data, minimum=1, maximum=ID_MAX)
        except serializers.ValidationError:
            if isinstance(data, int) and not isinstance(data, bool):
                self.fail("does_not_exist", pk_value=data)
            raise
        return super().to_internal_value(number)


class BoundedListField(serializers.ListField):
    """A list with a required ``max_length``, checked before any item is:
    100,000 items are refused at once with one short message, not validated
    one by one into a megabyte of errors."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class BoundedDictField(serializers.DictField):
    """A JSON object with at most ``max_keys`` keys, each at most ``max_key_length``
    characters, checked before any value is."""

    default_error_messages = {
        "max_keys": _("Ensure this object has no more than {max_keys} keys."),
        "key_length": _("Ensure every key has no more than {max_key_length} characters."),
    }

    def __init__(self, *, max_keys: int, max_key_length: int = 60, **kwargs: Any) -> None:
        self.max_keys = max_keys
        self.max_key_length = max_key_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            if len(data) > self.max_keys:
                self.fail("max_keys", max_keys=self.max_keys)
            if any(len(str(key)) > self.max_key_length for key in data):
                self.fail("key_length", max_key_length=self.max_key_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` in JSON; DRF would also read ``0``, ``1``, ``"yes"``
    or ``"on"``. A query string or form sends text, read as DRF reads it."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool) or _from_a_form(self):
            return super().to_internal_value(data)
        self.fail("invalid", input=data)


class FieldsBuiltOnce:
    """For a ModelSerializer: builds its fields from the model once per class
    and gives each instance a copy. DRF introspects the model for every
    serializer it creates (about 0.4 ms for a patient's dozen fields), on every
    request; the fields depend only on the class, its ``Meta`` and the model.
    A subclass's own ``get_fields`` still runs on every instance, after this."""

    _built_fields: ClassVar[dict[type, dict[str, serializers.Field]]] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        built = FieldsBuiltOnce._built_fields.get(type(self))
        if built is None:
            built = FieldsBuiltOnce._built_fields[type(self)] = super().get_fields()  # type: ignore[misc]
        return copy.deepcopy(built)


class StrictModelSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A ModelSerializer whose model booleans are JSON booleans (StrictBooleanField)."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping}
    serializer_field_mapping[models.BooleanField] = StrictBooleanField


class StrictFilterSet(django_filters.FilterSet):
    """Filters where an empty value (``?to=``) is invalid, as the schema says
    (a date, a number), not silently "no filter"."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        empty = [name for name in self.filters if name in self.data and self.data.get(name) == ""]
        for name in empty:
            self.form.add_error(name, _("This field may not be blank."))
        return valid and not empty
