"""The staff second factor: TOTP on a phone, with single-use recovery codes.

Which roles must pass it is a setting (``CLINIC_SECOND_FACTOR_ROLES``, by
default practitioners and managers: they read clinical records). A session
passes it once per sign-in (``django_otp.login`` marks the session); the staff
pages and the admin refuse an unverified session (workspace/security), the API
ignores one (patients/authentication.py), and ``POST /api/v1/auth/token/``
asks for a code. The devices are django-otp's: a ``TOTPDevice`` (confirmed once
the person has typed a code from it) and a ``StaticDevice`` holding the
recovery codes. Wrong codes are throttled by the device itself (a doubling
wait after each failure), and each code works once.

Services take ``user=`` (who acts); permissions are the caller's business.
Logs carry user ids only.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.errors import InvalidInput
from patients.roles import MANAGER, PRACTITIONER, RECEPTIONIST, STAFF_ROLES, role_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

logger = logging.getLogger(__name__)

RECOVERY_CODES = 10
TOTP_NAME = "phone"
RECOVERY_NAME = "recovery codes"
_TOTP_SHAPE = re.compile(r"^\d{6}$")


class SecondFactorThrottled(InvalidInput):
    """Too many wrong codes in a row: the device refuses any code until ``wait`` seconds pass."""

    def __init__(self, wait: int) -> None:
        self.wait = wait
        super().__init__(
            _("Too many wrong codes. Wait %(seconds)s seconds and try again.") % {"seconds": wait},
            fields={"otp": [_("Too many wrong codes. Wait a little and try again.")]},
        )


def second_factor_required(user: User | AnonymousUser | AbstractBaseUser | None) -> bool:
    """Whether this signed-in user's role must pass the second factor."""
    role = role_of(user)  # type: ignore[arg-type]  # any user object; only its pk and groups are read
    return role is not None and role in settings.CLINIC_SECOND_FACTOR_ROLES


def is_verified(user: Any) -> bool:
    """Whether this request's session passed the second factor (``OTPMiddleware``)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device the enrolment page shows as a QR code; the same one
    until it is confirmed, so reloading the page does not change the secret."""
    with transaction.atomic(durable=True):
        pending = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if pending is None:
            pending = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
        return pending


def totp_enrolment_confirm(*, user: User, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirms the pending device with a code from the authenticator app, and
    issues fresh recovery codes (returned in clear once; shown to the person once).

    Raises ``InvalidInput`` (``fields.otp``) when there is no pending device or
    the code is wrong; ``SecondFactorThrottled`` after repeated failures."""
    code = _clean(token)
    with transaction.atomic(durable=True):
        pending = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if pending is None:
            raise InvalidInput(
                _("Start again: scan the new QR code."), fields={"otp": [_("Start again: scan the new QR code.")]}
            )
        allowed, details = pending.verify_is_allowed()
        accepted = allowed and bool(_TOTP_SHAPE.match(code)) and pending.verify_token(code)
        if accepted:
            TOTPDevice.objects.filter(user=user).exclude(pk=pending.pk).delete()
            pending.confirmed = True
            pending.save(update_fields=["confirmed"])
            codes = _recovery_codes_replace(user)
    # Raised after the transaction so that the failure counter it wrote stays.
    if not accepted:
        if not allowed:
            raise SecondFactorThrottled(_seconds_left(details))
        raise _wrong_code()
    logger.info("second factor enrolled: user %s", user.pk)
    return pending, codes


def second_factor_verify(*, user: User, token: str) -> TOTPDevice | StaticDevice:
    """The device that accepts ``token``: a 6-digit code from the phone, or one of
    the recovery codes (used up by this). Throttled per device.

    Raises ``InvalidInput`` (``fields.otp``) for a missing or wrong code or when
    the user has no confirmed device; ``SecondFactorThrottled`` after repeated failures."""
    code = _clean(token)
    if not code:
        raise InvalidInput(
            _("Enter the 6-digit code from your authenticator app."),
            fields={"otp": [_("Enter the 6-digit code from your authenticator app.")]},
        )
    model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if _TOTP_SHAPE.match(code) else StaticDevice
    with transaction.atomic(durable=True):
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise not_enrolled()
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        allowed, details = device.verify_is_allowed() if device is not None else (False, None)
        accepted = device is not None and allowed and device.verify_token(code)
    if device is None or not accepted:
        if device is not None and not allowed:
            raise SecondFactorThrottled(_seconds_left(details))
        raise _wrong_code()
    if isinstance(device, StaticDevice):
        logger.info("recovery code used: user %s", user.pk)
    return device


def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Replaces every recovery code of an enrolled user; returns the new ones in clear."""
    with transaction.atomic(durable=True):
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise not_enrolled()
        codes = _recovery_codes_replace(user)
    logger.info("recovery codes regenerated: user %s", user.pk)
    return codes


def second_factor_reset(*, user: User, by: User) -> int:
    """Removes every device of ``user`` (a lost phone) and signs them out
    everywhere (whoever holds the phone may hold a verified session too): their
    next sign-in enrols again. The caller checks that ``by`` may do this.
    Returns how many devices were removed."""
    from patients.services import sign_out_everywhere

    with transaction.atomic(durable=True):
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).count()
        StaticDevice.objects.filter(user=user).delete()
        sign_out_everywhere(user=user)
        _admin_log(user=user, by=by)
    logger.warning("second factor reset: user %s by user %s", user.pk, by.pk)
    return removed


def not_enrolled() -> InvalidInput:
    message = _("Set up your second factor on the staff pages first (sign in at /staff/ with a browser).")
    return InvalidInput(message, fields={"otp": [message]})


def _wrong_code() -> InvalidInput:
    return InvalidInput(
        _("That code is not right. Enter the current 6-digit code, or a recovery code."),
        fields={"otp": [_("That code is not right.")]},
    )


def _clean(token: str | None) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()[:32]


def _seconds_left(details: dict[str, Any] | None) -> int:
    until = (details or {}).get("locked_until")
    if until is None:
        return 1
    return max(1, int((until - timezone.now()).total_seconds() + 0.999))


def _recovery_codes_replace(user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME, defaults={"confirmed": True})
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    device.throttle_reset(commit=False)
    device.confirmed = True
    device.save()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _admin_log(*, user: User, by: User) -> None:
    # The admin's history of the staff member's account shows who reset it and when.
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        user=by,
        content_type=ContentType.objects.get_for_model(type(user)),
        object_id=str(user.pk),
        object_repr=str(user)[:200],
        action_flag=CHANGE,
        change_message="Second factor reset (lost phone): the next sign-in sets it up again.",
    )


def staff_second_factors() -> list[dict[str, Any]]:
    """Every active staff member with their role and whether they have a confirmed
    phone, for the managers' page (a constant number of queries)."""
    from django.contrib.auth.models import User
    from django.db.models import Exists, OuterRef, Q

    strongest = (MANAGER, PRACTITIONER, RECEPTIONIST)
    users = (
        User.objects.filter(Q(groups__name__in=STAFF_ROLES) | Q(is_superuser=True), is_active=True)
        .distinct()
        .annotate(enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))
        .prefetch_related("groups")
        .order_by("first_name", "last_name", "email")
    )
    rows = []
    for user in users:
        names = {group.name for group in user.groups.all()}
        role = MANAGER if user.is_superuser else next(name for name in strongest if name in names)
        rows.append(
            {
                "user": user,
                "role": role,
                "enrolled": user.enrolled,
                "required": role in settings.CLINIC_SECOND_FACTOR_ROLES,
            }
        )
    return rows


def password_reset_second_factor(*, uid: str, token: str, otp: str) -> None:
    """A reset link proves the email, not the phone: for the roles that must pass
    the second factor, the API token that ``password-reset/confirm`` answers with
    also needs a code (the pages sign them in unverified instead). Looks only at
    a valid link; the reset service refuses the others. Raises as
    ``second_factor_verify``."""
    from django.contrib.auth.tokens import default_token_generator

    from patients.services import password_reset_user

    user = password_reset_user(uid=uid)
    if user is None or not default_token_generator.check_token(user, token):
        return
    if second_factor_required(user):
        second_factor_verify(user=user, token=otp)
