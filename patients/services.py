"""Writes for patients, their accounts and their health declarations.

Every service that sets a date of birth checks it with
``patients.validators.validate_birth_date``, and ``declaration_submit`` checks
the declared dates with ``validate_declared_date``: pages, the API and the
admin only parse, so each door refuses the same values with the same words."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from knox.models import AuthToken

from clinic import events
from clinic.client import client_address, within
from clinic.clock import clinic_today
from clinic.errors import InvalidInput, InvalidState, NotFound
from patients import channels
from patients.models import AccessEvent, HealthDeclaration, ImportantDate, Patient, SignedInDevice
from patients.roles import PATIENT, role_of
from patients.validators import validate_birth_date, validate_declared_date

logger = logging.getLogger(__name__)


def _email_taken(email: str, *, except_patient: Patient | None = None) -> bool:
    patients = Patient.objects.filter(email__iexact=email)
    users = User.objects.filter(email__iexact=email) | User.objects.filter(username__iexact=email)
    if except_patient is not None:
        patients = patients.exclude(pk=except_patient.pk)
        if except_patient.user_id:
            users = users.exclude(pk=except_patient.user_id)
    return patients.exists() or users.exists()


def _check_birth_date(born: date) -> None:
    try:
        validate_birth_date(born)
    except ValidationError as error:
        raise InvalidInput(fields={"date_of_birth": list(error.messages)}) from None


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise InvalidInput(_("Choose a stronger password."), fields={"password": list(error.messages)}) from None


def _new_patient_user(*, email: str, full_name: str) -> User:
    return User(username=email, email=email, first_name=full_name[:150])


def registration_password_problems(*, password: str, email: str = "", full_name: str = "") -> list[str]:
    """What is wrong with a new patient's password, in the active language (empty when
    nothing is): the same check ``patient_register`` makes, for forms that tell the
    patient early (as a field is left, and with every other error on submit)."""
    try:
        validate_password(password, user=_new_patient_user(email=email.strip().lower(), full_name=full_name))
    except ValidationError as error:
        return [str(message) for message in error.messages]
    return []


@transaction.atomic
def patient_register(
    *, email: str, password: str, full_name: str, date_of_birth: date, phone: str, preferred_language: str
) -> Patient:
    """A new patient with a login. An email that already belongs to a patient
    or an account is refused: a staff-created record is claimed through the
    password-reset link, which proves the email is theirs. Announces
    ``patient.created`` (clinic.events) in the transaction."""
    _check_birth_date(date_of_birth)
    email = email.strip().lower()
    if _email_taken(email):
        raise InvalidInput(
            _("This email is already registered. Use “Forgot password” to sign in or claim your record."),
            fields={"email": [_("This email is already registered.")]},
        )
    user = _new_patient_user(email=email, full_name=full_name)
    _check_password(password, user)
    user.set_password(password)
    try:
        user.save()
        patient = Patient.objects.create(
            user=user,
            full_name=full_name,
            date_of_birth=date_of_birth,
            phone=phone,
            email=email,
            preferred_language=preferred_language,
        )
    except IntegrityError:  # a concurrent registration with the same email
        raise InvalidInput(fields={"email": [_("This email is already registered.")]}) from None
    events.emit(event=events.PATIENT_CREATED, instance=patient, now=timezone.now(), extra={"source": "registration"})
    return patient


@transaction.atomic
def patient_create(*, created_by: User, **fields: Any) -> Patient:
    """A patient without a login, registered by staff (e.g. a phone booking).
    Announces ``patient.created`` (clinic.events) in the transaction."""
    _check_birth_date(fields["date_of_birth"])
    email = (fields.get("email") or "").strip().lower()
    fields["email"] = email
    if email and _email_taken(email):
        raise InvalidInput(fields={"email": [_("Another patient or account already uses this email.")]})
    try:
        patient = Patient.objects.create(**fields)
    except IntegrityError:
        raise InvalidInput(fields={"email": [_("Another patient or account already uses this email.")]}) from None
    events.emit(event=events.PATIENT_CREATED, instance=patient, now=timezone.now(), extra={"source": "staff"})
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, changed_by: User, **fields: Any) -> Patient:
    """Updates the named fields; a patient's new email moves their login too.
    An erased patient's details are closed to edits (InvalidState); only the
    clinical ``fitzpatrick_type`` still follows their assessments."""
    if patient.erased_at is not None and set(fields) - {"fitzpatrick_type"}:
        raise InvalidState(_("This patient's details were erased on request; they cannot be edited."))
    if "date_of_birth" in fields and fields["date_of_birth"] != patient.date_of_birth:
        _check_birth_date(fields["date_of_birth"])
    if "email" in fields:
        fields["email"] = (fields["email"] or "").strip().lower()
        if (
            fields["email"] != patient.email
            and fields["email"]
            and _email_taken(fields["email"], except_patient=patient)
        ):
            raise InvalidInput(fields={"email": [_("Another patient or account already uses this email.")]})
        if patient.user_id and not fields["email"]:
            raise InvalidInput(fields={"email": [_("A patient who signs in needs an email.")]})
    if "reminders_opt_out" in fields and bool(fields["reminders_opt_out"]) != patient.reminders_opt_out:
        # The older switch and the channel choices say one thing (patients/channels.py).
        channels.optional_topics_switch(patient=patient, off=bool(fields["reminders_opt_out"]))
    for name, value in fields.items():
        setattr(patient, name, value)
    try:
        patient.save(update_fields=[*fields, "updated_at"])
        if "email" in fields and patient.user_id:
            User.objects.filter(pk=patient.user_id).update(email=patient.email, username=patient.email)
    except IntegrityError:
        raise InvalidInput(fields={"email": [_("Another patient or account already uses this email.")]}) from None
    return patient


DECLARED_DATES = ("isotretinoin_last_dose", "topical_retinoid_last_use")


def declaration_submit(*, patient: Patient, entered_by: User | None = None, **answers: Any) -> HealthDeclaration:
    """A new declaration, by the patient or entered by staff from paper (``entered_by``);
    earlier ones are kept as they were. InvalidInput names every declared date
    that is in the future or implausibly early; allergies are stored sorted, once each."""
    problems: dict[str, list[str]] = {}
    for name in DECLARED_DATES:
        day = answers.get(name)
        if day is None:
            continue
        try:
            validate_declared_date(day)
        except ValidationError as error:
            problems[name] = list(error.messages)
    if problems:
        raise InvalidInput(fields=problems)
    if "allergies" in answers:
        answers["allergies"] = sorted(set(answers["allergies"] or ()))
    return HealthDeclaration.objects.create(patient=patient, entered_by=entered_by, **answers)


# --- password reset: also how a phone-registered patient claims their record ---


# Reset mails per address: further requests answer the same but send nothing,
# so nobody can flood a mailbox through either door (page or API).
RESET_MAILS_PER_EMAIL = 3
RESET_MAIL_PERIOD = 3600


def _reset_mail_allowed(email: str) -> bool:
    """Counts one more reset mail to ``email`` (hashed: the cache never holds addresses)."""
    return within(f"reset-email:{hashlib.sha256(email.encode()).hexdigest()}", RESET_MAILS_PER_EMAIL, RESET_MAIL_PERIOD)


def password_reset_request(*, email: str) -> None:
    """Mails a single-use link if the email belongs to an account or a patient;
    says nothing either way (no account enumeration). A staff-created patient
    gets an account with an unusable password, claimed when the link is used."""
    email = email.strip().lower()
    if not _reset_mail_allowed(email):
        return
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        patient = Patient.objects.filter(email__iexact=email).select_related("user").first()
        if user is None and patient is not None and patient.user_id is None:
            user = User(username=email, email=email, first_name=patient.full_name[:150])
            user.set_unusable_password()
            user.save()
            patient.user = user
            patient.save(update_fields=["user", "updated_at"])
        if user is None:
            return
        language = patient.preferred_language if patient is not None else "en"
        transaction.on_commit(partial(_send_reset_email, user.pk, language), robust=True)


def _send_reset_email(user_id: int, language: str) -> None:
    user = User.objects.get(pk=user_id)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    context = {
        "clinic_name": settings.CLINIC_NAME,
        "link": f"{settings.CLINIC_BASE_URL}/account/reset/{uid}/{token}/",
        "uid": uid,
        "token": token,
    }
    with translation.override(language):
        subject = _("Set your password for %(clinic)s") % {"clinic": settings.CLINIC_NAME}
        text = render_to_string("emails/password_reset.txt", context)
        html = render_to_string("emails/password_reset.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("password reset mailed for user %s", user.pk)


def password_reset_user(*, uid: str, for_update: bool = False) -> User | None:
    """The account a reset link's ``uid`` names, if it may still sign in: a
    deactivated account's links stop working. Django's reset view asks this too."""
    users = User.objects.select_for_update() if for_update else User.objects
    try:
        return users.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        return None


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, password: str) -> User:
    """Sets the password if the link is valid and unused; links the login to
    the patient record with the same email if it is not linked yet; revokes
    every token and browser session of the login (``sign_out_everywhere``)."""
    user = password_reset_user(uid=uid, for_update=True)
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidInput(
            _("This link is invalid or has already been used. Ask for a new one."),
            fields={"token": [_("Invalid or expired link.")]},
        )
    _check_password(password, user)
    user.set_password(password)
    user.__dict__[_SIGNED_OUT_BY_SERVICE] = True
    user.save(update_fields=["password"])
    Patient.objects.filter(email__iexact=user.email, user__isnull=True).update(user=user)
    # Whoever knew the old password (a stolen phone's app, a shared computer)
    # is signed out everywhere; the caller signs in afresh on this device.
    sign_out_everywhere(user=user)
    return user


def patient_language_remember(*, user: Any, language: str) -> None:
    """The language a signed-in patient chose on the pages becomes their emails' language too."""
    Patient.objects.filter(user=user).exclude(preferred_language=language).update(preferred_language=language)


# --- the access log of clinical reads --------------------------------------------------------

type AccessRead = tuple[Patient | int, str, int | None]  # (patient, what, object id)


def _actor_of(request_or_actor: Any) -> tuple[Any, HttpRequest | None]:
    """(user, Django request) from a DRF request, a Django request or a user."""
    if isinstance(request_or_actor, HttpRequest):
        return request_or_actor.user, request_or_actor
    inner = getattr(request_or_actor, "_request", None)  # DRF's Request wraps Django's
    if isinstance(inner, HttpRequest):
        return request_or_actor.user, inner
    return request_or_actor, None


def access_record(
    request_or_actor: Any, patient: Patient | int, what: str, door: str, obj_id: int | None = None
) -> int:
    """Logs one read of ``patient``'s clinical data (``what``: an ``AccessEvent.What``)
    through ``door`` (``AccessEvent.Door``). See ``access_record_many``."""
    return access_record_many(request_or_actor, [(patient, what, obj_id)], door)


def access_record_many(request_or_actor: Any, reads: Iterable[AccessRead], door: str) -> int:
    """Logs the reads of one request in one INSERT, whatever their number, and
    returns how many rows were written.

    ``request_or_actor`` is the request (page or API; the client address is taken
    from it) or the user who read. Staff reads are logged; a patient's reads are
    not (patients only ever reach their own record), nor anonymous ones. The same
    (patient, what, object) is logged once per request. The caller has already
    decided that the actor may read what it shows: this only records it."""
    actor, request = _actor_of(request_or_actor)
    if actor is None or not actor.is_authenticated:
        return 0
    role = role_of(actor) or "staff"  # an administration account without a clinic role
    if role == PATIENT:
        return 0
    seen: set[tuple[int, str, int | None]] = getattr(request, "_clinic_access_logged", set()) if request else set()
    address = client_address(request) if request is not None else ""
    name = (actor.get_full_name() or actor.get_username())[:200]
    rows = []
    for patient, what, obj_id in reads:
        patient_id = patient.pk if isinstance(patient, Patient) else int(patient)
        key = (patient_id, str(what), obj_id)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            AccessEvent(
                actor=actor,
                actor_role=role,
                actor_name=name,
                patient_id=patient_id,
                what=what,
                object_id=obj_id,
                door=door,
                client_address=address,
            )
        )
    if request is not None:
        request._clinic_access_logged = seen  # type: ignore[attr-defined]  # per-request memo
    if rows:
        AccessEvent.objects.bulk_create(rows)
    return len(rows)


# --- signed-in devices: a login's API tokens and browser sessions ---

# How stale a device's "last used" may get before a request refreshes it: reads
# stay reads, and the list is still right to the minute.
DEVICE_SEEN_EVERY = timedelta(minutes=1)


def token_issue(*, user: User, user_agent: str = "") -> str:
    """A new API token for ``user`` (one per device), recorded as a signed-in device.
    Returns the token itself, which is shown once and stored only as a digest.
    The user's expired tokens go now: a request checks only its own token's
    expiry (patients/authentication.py), not every token of its user."""
    with transaction.atomic():
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        instance, token = AuthToken.objects.create(user)
        SignedInDevice.objects.create(
            user=user,
            kind=SignedInDevice.Kind.TOKEN,
            token=instance,
            user_agent=user_agent[:300],
            created_at=instance.created,
            last_used_at=instance.created,
        )
    return token


def token_seen(*, token: AuthToken, user_agent: str = "", now: datetime | None = None) -> None:
    """A request came with ``token``. Writes only when its device's last use is
    older than DEVICE_SEEN_EVERY, or to record a token issued without a device
    row (before devices were recorded). ``token.device`` should be fetched with
    the token (select_related), so that the usual case costs no query."""
    now = now or timezone.now()
    try:
        device: SignedInDevice | None = token.device
    except SignedInDevice.DoesNotExist:
        device = None
    if device is not None:
        if now - device.last_used_at >= DEVICE_SEEN_EVERY:
            SignedInDevice.objects.filter(pk=device.pk).update(last_used_at=now)
        return
    try:
        with transaction.atomic():
            SignedInDevice.objects.create(
                token=token,
                user_id=token.user_id,
                kind=SignedInDevice.Kind.TOKEN,
                user_agent=user_agent[:300],
                created_at=token.created,
                last_used_at=now,
            )
    except IntegrityError:  # recorded by a request that raced this one, or the token was revoked meanwhile
        pass


def session_seen(
    *, user_id: int, session_key: str, device_id: int | None, user_agent: str = "", now: datetime | None = None
) -> int | None:
    """A signed-in browser session was used: refreshes (or creates) its device
    row and returns its id, which the session keeps. Django gives a session a
    new key at sign-in and password change; ``device_id`` follows the device
    across those. The caller asks at most once per DEVICE_SEEN_EVERY."""
    now = now or timezone.now()
    if device_id is not None:
        moved = SignedInDevice.objects.filter(pk=device_id, user_id=user_id, kind=SignedInDevice.Kind.SESSION).update(
            session_key=session_key, last_used_at=now
        )
        if moved:
            return device_id
    try:
        with transaction.atomic():
            return SignedInDevice.objects.create(
                user_id=user_id,
                kind=SignedInDevice.Kind.SESSION,
                session_key=session_key,
                user_agent=user_agent[:300],
                created_at=now,
                last_used_at=now,
            ).pk
    except IntegrityError:  # recorded already (by a request that raced this one) or the key moved
        pass
    same = SignedInDevice.objects.filter(session_key=session_key, user_id=user_id)
    same.update(last_used_at=now)
    return same.values_list("pk", flat=True).first()


def _revoke(devices: Iterable[SignedInDevice]) -> int:
    devices = list(devices)
    tokens = [device.token_id for device in devices if device.token_id]
    sessions = [device.session_key for device in devices if device.session_key]
    AuthToken.objects.filter(pk__in=tokens).delete()
    Session.objects.filter(session_key__in=sessions).delete()
    SignedInDevice.objects.filter(pk__in=[device.pk for device in devices]).delete()
    return len(devices)


def device_revoke(*, user: User, device_id: int) -> None:
    """Signs ``user`` out on one of their devices: its token or browser session
    is deleted. NotFound when the device is not theirs (or not there)."""
    with transaction.atomic():
        device = SignedInDevice.objects.select_for_update().filter(user=user, pk=device_id).first()
        if device is None:
            raise NotFound(_("This device is not signed in to your account."))
        _revoke([device])
    logger.info("device %s of user %s signed out", device_id, user.pk)


def sign_out_everywhere(
    *, user: User, except_token: AuthToken | None = None, except_session_key: str | None = None
) -> int:
    """Revokes every API token and browser session of ``user`` except the one
    named (the device asking, when it should stay signed in). Returns how many
    were revoked. Sessions are found through their device rows; a password
    change also ends any other session through Django's session hash."""
    with transaction.atomic():
        devices = SignedInDevice.objects.select_for_update().filter(user=user)
        if except_token is not None:
            devices = devices.exclude(token=except_token)
        if except_session_key:
            devices = devices.exclude(session_key=except_session_key)
        count = _revoke(devices)
        # Tokens issued before devices were recorded have no row.
        tokens = AuthToken.objects.filter(user=user)
        if except_token is not None:
            tokens = tokens.exclude(pk=except_token.pk)
        count += tokens.delete()[1].get(AuthToken._meta.label, 0)
    logger.info("user %s signed out on %s devices", user.pk, count)
    return count


# Set on a user whose password a service changes and whose devices it signs out
# itself (keeping the caller's): the save signal below then leaves them alone.
_SIGNED_OUT_BY_SERVICE = "_clinic_signed_out_by_service"


def password_changed_elsewhere(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    """``pre_save`` of User: a password set anywhere but the services above (the
    admin's "change password" form, ``manage.py changepassword``) signs the login
    out everywhere too, in ``post_save`` of the same save. Django's session hash
    already ends its browser sessions; this ends its API tokens. No query: Django's
    ``set_password`` keeps the new raw password in ``_password`` until the save
    (for its own password-changed validators), and every one of those paths calls it."""
    instance.__dict__.pop("_clinic_password_changed", None)
    if instance.pk is None or instance.__dict__.pop(_SIGNED_OUT_BY_SERVICE, False):
        return
    if update_fields is not None and "password" not in update_fields:
        return
    if getattr(instance, "_password", None) is not None:
        instance.__dict__["_clinic_password_changed"] = True


def sign_out_after_password_save(sender: Any, instance: User, created: bool = False, **kwargs: Any) -> None:
    """``post_save`` of User: see ``password_changed_elsewhere``."""
    if instance.__dict__.pop("_clinic_password_changed", False):
        sign_out_everywhere(user=instance)


def password_change(
    *, user: User, current_password: str, new_password: str, keep_session_key: str | None = None
) -> None:
    """Sets a new password for a signed-in user who knows the current one, and
    signs them out everywhere else: every API token and every browser session
    but ``keep_session_key`` (the page asking; it then updates its session
    hash). The API issues the caller a new token afterwards. InvalidInput names
    ``current_password`` when it is wrong and ``new_password`` when it is weak."""
    if not user.check_password(current_password):
        raise InvalidInput(
            _("Your current password is not right."),
            fields={"current_password": [_("This is not your current password.")]},
        )
    try:
        validate_password(new_password, user=user)
    except ValidationError as error:
        raise InvalidInput(_("Choose a stronger password."), fields={"new_password": list(error.messages)}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.__dict__[_SIGNED_OUT_BY_SERVICE] = True
        user.save(update_fields=["password"])
        sign_out_everywhere(user=user, except_session_key=keep_session_key)


# --- a patient changes their own email: confirmed from the new address ----------------------

EMAIL_CHANGE_SALT = "patients.email-change"


def email_change_request(*, patient: Patient, new_email: str) -> bool:
    """Mails a confirmation link to ``new_email`` and a notice to the current
    address; changes nothing until the link is followed (email_change_confirm).

    Says nothing about other accounts: whether or not ``new_email`` is taken, the
    same mails go out and the caller answers the same ("we sent a confirmation
    link"); a taken address fails only at confirmation, neutrally. Returns False
    when ``new_email`` is the current address (nothing to do). The link is signed
    (django.core.signing), expires after CLINIC_EMAIL_CHANGE_MAX_AGE, and carries
    the current address, so it dies once any change of address has been made.
    The caller checks that the patient acts for themself; mails go on commit."""
    new_email = new_email.strip().lower()
    if not new_email:
        raise InvalidInput(fields={"email": [_("A patient who signs in needs an email.")]})
    if new_email == (patient.email or "").lower():
        return False
    token = signing.dumps({"p": patient.pk, "old": patient.email, "new": new_email}, salt=EMAIL_CHANGE_SALT)
    transaction.on_commit(
        partial(_send_email_change_mails, patient.pk, patient.email, new_email, token, patient.preferred_language),
        robust=True,
    )
    return True


def _send_email_change_mails(patient_id: int, old_email: str, new_email: str, token: str, language: str) -> None:
    context = {
        "clinic_name": settings.CLINIC_NAME,
        "link": f"{settings.CLINIC_BASE_URL}/me/email/confirm/{token}/",
        "token": token,
        "days": max(1, round(settings.CLINIC_EMAIL_CHANGE_MAX_AGE.total_seconds() / 86400)),
    }
    with translation.override(language):
        subject = _("Confirm your new email for %(clinic)s") % {"clinic": settings.CLINIC_NAME}
        text = render_to_string("emails/email_change_confirm.txt", context)
        notice_subject = _("Your email for %(clinic)s is being changed") % {"clinic": settings.CLINIC_NAME}
        notice = render_to_string("emails/email_change_notice.txt", context)
    EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [new_email]).send()
    if old_email:
        EmailMultiAlternatives(notice_subject, notice, settings.DEFAULT_FROM_EMAIL, [old_email]).send()
    logger.info("email change link mailed for patient %s", patient_id)


def email_change_confirm(*, token: str) -> Patient:
    """Moves the patient (and their login) to the address the link was sent to.
    Every failure is one neutral InvalidInput: an expired, forged or used link
    and an address another patient or account took meanwhile read the same,
    so the link never tells whether an address is in use."""
    neutral = InvalidInput(
        _(
            "This link cannot be used: it may have expired or been used already, or the address cannot be "
            "used for your account. Ask for a new link from your profile, or call the clinic."
        ),
        fields={"token": [_("Invalid or expired link.")]},
    )
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=settings.CLINIC_EMAIL_CHANGE_MAX_AGE)
        patient_id, old, new = int(data["p"]), data["old"], str(data["new"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise neutral from None
    try:
        with transaction.atomic():
            patient = Patient.objects.select_for_update().filter(pk=patient_id).first()
            if patient is None or patient.email != old or _email_taken(new, except_patient=patient):
                raise neutral
            patient.email = new
            patient.save(update_fields=["email", "updated_at"])
            if patient.user_id:
                User.objects.filter(pk=patient.user_id).update(email=new, username=new)
    except IntegrityError:
        raise neutral from None
    logger.info("email changed for patient %s", patient.pk)
    return patient


@transaction.atomic
def own_profile_update(*, patient: Patient, changed_by: User, **fields: Any) -> tuple[Patient, bool]:
    """A patient's own profile change: the other fields at once, a new email
    only through a confirmation link (email_change_request). Returns the patient
    and whether a link was sent."""
    new_email = fields.pop("email", None)
    sent = False
    if new_email is not None:
        sent = email_change_request(patient=patient, new_email=new_email)
    if fields:
        patient = patient_update(patient=patient, changed_by=changed_by, **fields)
    return patient, sent


# --- dates that matter (a wedding, a trip in the sun) --------------------------------------

IMPORTANT_DATES_MAX = 20
IMPORTANT_DATE_LABEL_MAX = 80
IMPORTANT_DATES_AHEAD_DAYS = 2 * 366  # "at most two years ahead", a leap day included


@transaction.atomic(durable=True)
def important_date_add(
    *, patient: Patient, starts_on: date, ends_on: date | None = None, label: str, today: date | None = None
) -> ImportantDate:
    """Notes a date (or a span of days) that matters to the patient, so that a booking whose
    usual downtime overlaps it is flagged (treatments.downtime). InvalidInput, with nothing
    written, when the label is empty or too long, the dates are in the past, more than two years
    ahead or in the wrong order, or the patient already has IMPORTANT_DATES_MAX of them. The
    caller has checked that it acts for this patient."""
    today = today or clinic_today()
    ends_on = ends_on or starts_on
    label = " ".join((label or "").split())
    problems: dict[str, list[str]] = {}
    if not label:
        problems["label"] = [_("Say what the date is, for example “Wedding”.")]
    elif len(label) > IMPORTANT_DATE_LABEL_MAX:
        problems["label"] = [_("Keep it to %(count)d characters or fewer.") % {"count": IMPORTANT_DATE_LABEL_MAX}]
    if starts_on < today:
        problems["starts_on"] = [_("Choose today or a later date.")]
    elif starts_on > today + timedelta(days=IMPORTANT_DATES_AHEAD_DAYS):
        problems["starts_on"] = [_("Choose a date at most two years ahead.")]
    if ends_on < starts_on:
        problems["ends_on"] = [_("The last day cannot be before the first.")]
    elif ends_on > today + timedelta(days=IMPORTANT_DATES_AHEAD_DAYS):
        problems["ends_on"] = [_("Choose a date at most two years ahead.")]
    if problems:
        raise InvalidInput(fields=problems)
    # The patient row is the lock: two adds at once cannot both pass the count.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    if ImportantDate.objects.filter(patient=patient).count() >= IMPORTANT_DATES_MAX:
        raise InvalidInput(
            _("You can note up to %(count)d dates. Remove one that has passed first.") % {"count": IMPORTANT_DATES_MAX}
        )
    return ImportantDate.objects.create(patient=patient, starts_on=starts_on, ends_on=ends_on, label=label)


@transaction.atomic(durable=True)
def important_date_remove(*, patient: Patient, date_id: int) -> None:
    """Removes one of the patient's dates; NotFound when it is not theirs (or already gone)."""
    deleted, _rows = ImportantDate.objects.filter(patient=patient, pk=date_id).delete()
    if not deleted:
        raise NotFound(_("This date is not among yours."))
