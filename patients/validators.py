from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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
