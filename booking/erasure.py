"""Erasure of a patient on request, with the retention the law requires.

``patient_erase`` (a manager asks; the caller checks the role) removes at once
the contact details (name → "Erased patient #id", email, phone) from the
patient and from every historical row of the patient, and the login (its
tokens, its sessions, the account itself). Then, each through the service that
owns the rule, it cancels the future appointments (``appointment_cancel``: the
plan sessions are released, the pending reminders skipped; the cancellation
notice finds no address and is skipped, never sent) and the active plans, and
skips every message still pending.

Waiting entries end at once (``waitlist_end_for_patient``: open offers
withdrawn, their held slots freed for the next in line), and the outgoing
webhooks' stored payloads about the patient lose their name, contact details
and clinical details (``webhooks.payloads_scrub_for_patient``).

The clinical records (declarations, appointments, session records,
assessments, photos, plans, consent signatures, notifications, waitlist
entries and their offers, the webhook deliveries about the patient) stay until
``purge_due``:
CLINIC_RECORD_RETENTION after the last visit (or after the erasure, when there
was none). ``erasures_purge``, run by beat, deletes them and the photo files.

Every step is appended to ``Erasure.steps`` with its time and counts; the
Python log gets ids only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken

from booking import services, waitlist, webhooks
from booking.models import (
    Appointment,
    Erasure,
    InjectableUse,
    Notification,
    SessionRecord,
    WaitlistEntry,
    WebhookDelivery,
)
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import ApplicationError, InvalidState
from patients import channels as patient_channels
from patients.models import HealthDeclaration, ImportantDate, Patient, SignedInDevice
from patients.roles import is_staff_role, role_of
from treatments import services as clinical
from treatments.models import Assessment, AssessmentPhoto, ConsentSignature, PlanSession, TreatmentPlan

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# What a purged patient's birth date becomes: the row stays (the erasure log
# points at it) but says nothing about the person.
PURGED_BIRTH_DATE = date(1900, 1, 1)


def placeholder_name(patient_id: int) -> str:
    # Not translated: it is stored, and shown to staff in either language.
    return f"Erased patient #{patient_id}"


def _step(step: str, now: datetime, **counts: Any) -> dict[str, Any]:
    return {"step": step, "at": now.isoformat(), **counts}


def _last_visit(patient: Patient) -> date | None:
    """The clinic-local date of the patient's last visit: an appointment they
    came to, a session recorded, or an assessment."""
    came = Appointment.objects.filter(
        patient=patient, status__in=[Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED]
    ).aggregate(last=Max("start"))["last"]
    assessed = Assessment.objects.filter(patient=patient).aggregate(last=Max("assessed_on"))["last"]
    days = [day for day in (came and clinic_today(came), assessed) if day is not None]
    return max(days) if days else None


def purge_due_after(last_visit: date | None, now: datetime) -> datetime:
    """CLINIC_RECORD_RETENTION after the start of the last visit's day, or after
    ``now`` for a patient who never came (their declarations are kept as long)."""
    start = datetime.combine(last_visit, time(), tzinfo=clinic_zone()) if last_visit else now
    return start + settings.CLINIC_RECORD_RETENTION


def _remove_sessions(user_id: int) -> int:
    """The login's browser sessions, found through their device rows
    (patients.SignedInDevice) rather than by decoding every live session. A
    session with no row (never used since devices were recorded) holds only the
    user's id, is refused once the user is gone, and expires on its own."""
    keys = list(
        SignedInDevice.objects.filter(user_id=user_id, session_key__isnull=False).values_list("session_key", flat=True)
    )
    removed, _detail = Session.objects.filter(session_key__in=keys).delete()
    return removed


def _remove_sign_in_records(usernames: set[str]) -> int:
    """django-axes keeps every sign-in and failed attempt under the username,
    which is the email: those rows go with the login."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    names = {name for name in usernames if name}
    if not names:
        return 0
    removed = 0
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        query = Q()
        for name in names:
            query |= Q(username__iexact=name)
        removed += model.objects.filter(query).delete()[0]
    return removed


def _remove_login(user_id: int | None, email: str) -> dict[str, int]:
    if user_id is None:
        return {"tokens": 0, "sessions": 0, "sign_in_records": _remove_sign_in_records({email})}
    tokens, _detail = AuthToken.objects.filter(user_id=user_id).delete()
    sessions = _remove_sessions(user_id)
    users = get_user_model().objects.filter(pk=user_id)
    usernames = {email, *users.values_list("username", flat=True), *users.values_list("email", flat=True)}
    users.delete()
    return {"tokens": tokens, "sessions": sessions, "sign_in_records": _remove_sign_in_records(usernames)}


def _append(erasure_id: int, steps: list[dict[str, Any]]) -> None:
    with transaction.atomic():
        erasure = Erasure.objects.select_for_update().get(pk=erasure_id)
        erasure.steps = [*erasure.steps, *steps]
        erasure.save(update_fields=["steps"])


def patient_erase(*, patient: Patient, by: User, now: datetime | None = None) -> Erasure:
    """Erases ``patient`` as described in the module docstring. The caller has
    checked that ``by`` is a manager. InvalidState if already erased, or if the
    patient's login is also a staff account (take the staff role away first).
    Commits the removal of the contact details and login first, then cancels
    the future appointments one by one; ``erasure_finish`` (also run by the
    periodic purge) completes what a crash between the two left undone."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if locked.erased_at is not None:
            raise InvalidState(_("This patient has already been erased."))
        user = locked.user
        if user is not None and is_staff_role(role_of(user)):
            raise InvalidState(_("This patient's login is a staff account. Remove the staff role first."))
        placeholder = placeholder_name(locked.pk)
        user_id, email = locked.user_id, locked.email
        locked.full_name, locked.email, locked.phone = placeholder, "", ""
        locked.user = None
        locked.reminders_opt_out = True
        locked.erased_at = now
        locked._history_user = by
        locked.save(
            update_fields=["full_name", "email", "phone", "user", "reminders_opt_out", "erased_at", "updated_at"]
        )
        scrubbed = Patient.history.filter(id=locked.pk).update(full_name=placeholder, email="", phone="", user=None)
        login = _remove_login(user_id, email)
        # Dates that matter are personal, not clinical: nothing to retain, so they go now.
        dates, _detail = ImportantDate.objects.filter(patient=locked).delete()
        # So are the channels chosen for messages (there is no address left to send to).
        choices = patient_channels.channels_forget(patient=locked)
        # In this transaction: no offer is left holding a slot for an erased
        # patient, and the slots go to the next in line after commit.
        waiting = WaitlistEntry.objects.filter(patient_id=locked.pk, status=WaitlistEntry.Status.WAITING).count()
        waitlist.waitlist_end_for_patient(patient_id=locked.pk, now=now)
        # Outgoing webhooks kept for their delivery log: sent or not, a clinical
        # payload keeps the non-clinical shape only (ids and times).
        webhook_payloads = webhooks.payloads_scrub_for_patient(patient_id=locked.pk)
        last_visit = _last_visit(locked)
        erasure = Erasure.objects.create(
            patient=locked,
            requested_by=by,
            requested_by_name=by.get_full_name() or by.get_username(),
            requested_at=now,
            last_visit=last_visit,
            purge_due=purge_due_after(last_visit, now),
            steps=[
                _step("contact_details_removed", now),
                _step("history_scrubbed", now, rows=scrubbed),
                _step("login_removed", now, had_login=user_id is not None, **login),
                _step("important_dates_removed", now, rows=dates),
                _step("channel_choices_removed", now, rows=choices),
                _step("waitlist_ended", now, count=waiting),
                _step("webhook_payloads_scrubbed", now, rows=webhook_payloads),
            ],
        )
    logger.info("erasure %s: patient %s erased, contact details and login removed", erasure.pk, locked.pk)
    erasure_finish(erasure=erasure, by=by, now=now)
    erasure.refresh_from_db()
    return erasure


def erasure_finish(*, erasure: Erasure, by: User | None, now: datetime | None = None) -> dict[str, int]:
    """Cancels the erased patient's future appointments (through
    ``appointment_cancel``, each in its own transaction) and active plans, and
    skips their pending messages. Finds nothing to do the second time."""
    now = now or timezone.now()
    patient_id = erasure.patient_id
    future = Appointment.objects.filter(
        patient_id=patient_id, status=Appointment.Status.CONFIRMED, start__gt=now
    ).order_by("start")
    cancelled = 0
    for appointment in future:
        try:
            services.appointment_cancel(
                appointment=appointment,
                by=cast("User", by),
                staff=True,
                reason=_("The patient's record was erased."),
                now=now,
            )  # by is None when the periodic task finishes the job: the history names no one
        except InvalidState:
            continue  # checked in or cancelled meanwhile
        cancelled += 1
    plans = 0
    for plan in TreatmentPlan.objects.filter(patient_id=patient_id, status=TreatmentPlan.Status.ACTIVE):
        try:
            with transaction.atomic():
                clinical.plan_cancel(
                    plan=plan, by=cast("User", by), reason=_("The patient's record was erased."), now=now
                )
        except ApplicationError:
            continue  # a session is under way (checked in): the plan ends with it
        plans += 1
    skipped = Notification.objects.filter(
        patient_id=patient_id, status__in=[Notification.Status.PENDING, Notification.Status.FAILED]
    ).update(status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.NO_ADDRESS)
    steps = []
    if cancelled or not any(step["step"] == "appointments_cancelled" for step in erasure.steps):
        steps.append(_step("appointments_cancelled", timezone.now(), count=cancelled))
    if plans or not any(step["step"] == "plans_cancelled" for step in erasure.steps):
        steps.append(_step("plans_cancelled", timezone.now(), count=plans))
    if skipped or not any(step["step"] == "notifications_skipped" for step in erasure.steps):
        steps.append(_step("notifications_skipped", timezone.now(), count=skipped))
    if steps:
        _append(erasure.pk, steps)
    return {"appointments": cancelled, "plans": plans, "notifications": skipped}


def _delete_files(names: list[tuple[Any, str]]) -> None:
    for storage, name in names:
        try:
            storage.delete(name)
        except Exception as error:  # OSError from a folder; botocore's errors from an S3 bucket
            logger.warning(
                "purge: a photo file could not be deleted (%s); it is named in no record any more",
                type(error).__name__,
            )


def erasure_purge(*, erasure_id: int, now: datetime | None = None) -> bool:
    """Deletes the clinical records of an erased patient whose retention has
    ended, and their photo files after the commit. Re-reads and locks the
    erasure, so a second run (or a second worker) finds it purged and returns
    False."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        erasure = (
            Erasure.objects.select_for_update(skip_locked=True)
            .filter(pk=erasure_id, purged_at__isnull=True, purge_due__lte=now)
            .first()
        )
        if erasure is None:
            return False
        patient_id = erasure.patient_id
        photos = AssessmentPhoto.objects.filter(assessment__patient_id=patient_id)
        files = [
            (field.storage, field.name) for photo in photos for field in (photo.image, photo.thumbnail) if field.name
        ]
        notifications = Notification.objects.filter(patient_id=patient_id).delete()[0]
        # After the notifications that point at their offers (the offers go with them).
        _total, deleted = WaitlistEntry.objects.filter(patient_id=patient_id).delete()
        counts = {
            "notifications": notifications,
            "webhook_deliveries": WebhookDelivery.objects.filter(patient_id=patient_id).delete()[0],
            "waitlist_entries": deleted.get("booking.WaitlistEntry", 0),
            "injectables": InjectableUse.objects.filter(session_record__appointment__patient_id=patient_id).delete()[0],
            "session_records": SessionRecord.objects.filter(appointment__patient_id=patient_id).delete()[0],
        }
        # After the session records that link them; before nothing else (the
        # patient row stays, so its PROTECT does not bite).
        counts["consent_signatures"] = ConsentSignature.objects.filter(patient_id=patient_id).delete()[0]
        ConsentSignature.history.filter(patient_id=patient_id).delete()
        appointment_ids = list(Appointment.objects.filter(patient_id=patient_id).values_list("pk", flat=True))
        record_ids = SessionRecord.history.filter(appointment_id__in=appointment_ids).values("id")
        InjectableUse.history.filter(session_record_id__in=record_ids).delete()
        SessionRecord.history.filter(appointment_id__in=appointment_ids).delete()
        counts["appointments"] = Appointment.objects.filter(pk__in=appointment_ids).delete()[0]
        Appointment.history.filter(id__in=appointment_ids).delete()
        Appointment.history.filter(patient_id=patient_id).delete()
        plan_ids = list(TreatmentPlan.objects.filter(patient_id=patient_id).values_list("pk", flat=True))
        PlanSession.history.filter(plan_id__in=plan_ids).delete()
        PlanSession.objects.filter(plan_id__in=plan_ids).delete()
        counts["plans"] = TreatmentPlan.objects.filter(pk__in=plan_ids).delete()[0]
        TreatmentPlan.history.filter(patient_id=patient_id).delete()
        counts["photos"] = photos.delete()[0]
        counts["assessments"] = Assessment.objects.filter(patient_id=patient_id).delete()[0]
        Assessment.history.filter(patient_id=patient_id).delete()
        counts["health_declarations"] = HealthDeclaration.objects.filter(patient_id=patient_id).delete()[0]
        HealthDeclaration.history.filter(patient_id=patient_id).delete()
        Patient.objects.filter(pk=patient_id).update(
            date_of_birth=PURGED_BIRTH_DATE, fitzpatrick_type=None, full_name=placeholder_name(patient_id)
        )
        Patient.history.filter(id=patient_id).delete()
        erasure.purged_at = now
        erasure.steps = [*erasure.steps, _step("clinical_records_purged", now, **counts)]
        erasure.save(update_fields=["purged_at", "steps"])
        transaction.on_commit(partial(_delete_files, files))
    logger.info("erasure %s: clinical records of patient %s purged", erasure_id, patient_id)
    return True


def erasures_purge(*, now: datetime | None = None) -> int:
    """The periodic job: purges every erasure whose retention has ended, and
    finishes any erasure whose follow-up was cut short. Safe to run twice."""
    now = now or timezone.now()
    unfinished = Erasure.objects.filter(
        purged_at__isnull=True,
        patient__appointments__status=Appointment.Status.CONFIRMED,
        patient__appointments__start__gt=now,
    ).distinct()
    for erasure in unfinished:
        erasure_finish(erasure=erasure, by=None, now=now)
    due = list(
        Erasure.objects.filter(purged_at__isnull=True, purge_due__lte=now)
        .order_by("purge_due")
        .values_list("pk", flat=True)
    )
    return sum(erasure_purge(erasure_id=pk, now=now) for pk in due)
