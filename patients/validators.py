"""Checks of single values about patients: phone numbers, dates of birth and
the dates a health declaration gives. Raise Django's ``ValidationError``;
patients.services turns them into ``InvalidInput`` on the field."""

from __future__ import annotations

from datetime import date

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from clinic.clock import clinic_today

DEFAULT_REGION = "HK"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """A phone number as E.164; local numbers are read in ``region``.

    Raises ``ValidationError`` for anything that is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("Enter a valid phone number, e.g. +852 9123 4567."), code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number, e.g. +852 9123 4567."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if normalize_phone(value) != value:
        raise ValidationError(_("Phone numbers are stored in E.164 form, e.g. +85291234567."), code="not_e164")


BIRTH_YEARS_MAX = 120  # an older date of birth is a typing mistake


def validate_birth_date(born: date, *, today: date | None = None) -> None:
    """The one rule for a date of birth, which every patient service that sets
    one applies (patients.services): not in the future, and not more than
    BIRTH_YEARS_MAX years before ``today`` (default: the clinic's today).
    Raises ``ValidationError`` with the message to show on the field."""
    today = today or clinic_today()
    if born > today:
        raise ValidationError(_("The date of birth cannot be in the future."), code="birth_future")
    if born.year < today.year - BIRTH_YEARS_MAX:
        raise ValidationError(_("Check the year of birth."), code="birth_too_early")


DECLARED_DATE_EARLIEST_YEAR = 1900


def validate_declared_date(day: date, *, today: date | None = None) -> None:
    """A date a patient declares (last isotretinoin dose, last retinoid cream):
    not in the future, and not before DECLARED_DATE_EARLIEST_YEAR."""
    today = today or clinic_today()
    if day > today:
        raise ValidationError(_("This date cannot be in the future."), code="declared_future")
    if day.year < DECLARED_DATE_EARLIEST_YEAR:
        raise ValidationError(_("Check the year."), code="declared_too_early")
