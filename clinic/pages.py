"""Helpers every page app shares (role checks: patients/permissions.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """For annotations: django-htmx's middleware gives every request ``request.htmx``."""

    htmx: HtmxDetails


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` parameter when it points into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class BoundedMultipleChoiceField(forms.MultipleChoiceField):
    """A multiple choice that refuses more values than it has choices before
    checking any of them (the API's lists are bounded the same way,
    clinic.api.BoundedListField). Works for typed choices too (``coerce``)."""

    default_error_messages = {"too_many": _("Choose at most %(limit)d.")}

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)
        limit = max(len(list(self.choices)), 1)  # type: ignore[arg-type]  # a plain list of pairs here
        if len(values) > limit:
            raise ValidationError(self.error_messages["too_many"], code="too_many", params={"limit": limit})
        return values


class BoundedTypedMultipleChoiceField(forms.TypedMultipleChoiceField, BoundedMultipleChoiceField):
    pass
