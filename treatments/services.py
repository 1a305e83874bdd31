"""Writes for clinical records: assessments, their photos, treatment plans.

Every function owns its transaction (or joins the caller's, for the plan
session hooks the booking services call inside theirs) and records who made
each change in the model's history (django-simple-history). Permissions are
the caller's business. Errors are ``clinic.errors``: InvalidInput (400),
NotBookable (400), InvalidState (409).

Dependencies run booking → treatments: the booking services report what
happened to a plan session's appointment (``plan_session_booked``,
``plan_session_released``, ``plan_session_completed``) and these recompute the
plan's windows; nothing here imports booking.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic import events
from clinic.clock import clinic_today
from clinic.errors import ApplicationError, InvalidInput, InvalidState, NotBookable
from patients.models import Patient
from patients.services import patient_update
from treatments import plans
from treatments.models import (
    LESION_KEYS,
    Assessment,
    AssessmentPhoto,
    PlanSession,
    ScarType,
    Treatment,
    TreatmentPlan,
)
from treatments.photos import PhotoRejected, clean_photo
from treatments.scoring import goodman_baron_score

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PLAN_SESSIONS_OPEN_MAX = 50  # an open-ended course (sessions_max empty) is still planned in finite steps


# --- assessments ---------------------------------------------------------------------------

REASON_MAX = 100  # the history's change-reason column (django-simple-history's history_change_reason)


class EditConflict(ApplicationError):
    """The assessment was saved by someone else since the caller read it: saving
    would silently undo their correction. The caller reads it again and decides."""

    code = "edit_conflict"
    status = 409
    default_detail = gettext_lazy(
        "Someone else corrected this assessment after you opened it (see the change history)."
    )


def assessment_version(assessment: Assessment) -> datetime:
    """What a correction names as the version it was made on: the time of the
    last save (the API's ``updated_at``; the chart's form carries it too)."""
    return assessment.updated_at


def _check_assessed_on(assessed_on: date, patient: Patient) -> None:
    if assessed_on > clinic_today():
        raise InvalidInput(fields={"assessed_on": [_("An assessment cannot be dated in the future.")]})
    if assessed_on < patient.date_of_birth:
        raise InvalidInput(fields={"assessed_on": [_("That is before the patient was born.")]})


def _clean_reason(reason: str) -> str:
    """Why a correction was made: required, on one line, at most REASON_MAX characters."""
    text = " ".join((reason or "").replace("\x00", "").split())
    if not text:
        raise InvalidInput(
            fields={"reason": [_("Say why the assessment is corrected; it is kept in the change history.")]}
        )
    if len(text) > REASON_MAX:
        raise InvalidInput(fields={"reason": [_("At most %(limit_value)d characters.") % {"limit_value": REASON_MAX}]})
    return text


def _canonical_types(types_present: Sequence[str]) -> list[str]:
    unknown = sorted(set(types_present) - set(ScarType.values))
    if unknown:
        raise InvalidInput(fields={"types_present": [_("Unknown scar type codes: %s.") % ", ".join(unknown)]})
    chosen = set(types_present)
    return [code for code in ScarType.values if code in chosen]


def _check_lesions(lesions: Mapping[str, int]) -> None:
    unknown = sorted(set(lesions) - set(LESION_KEYS))
    if unknown:
        raise InvalidInput(fields={f"lesions.{key}": [_("Unknown lesion key.")] for key in unknown})


def _is_newest(assessment: Assessment) -> bool:
    newest = (
        Assessment.objects.filter(patient_id=assessment.patient_id).order_by("-assessed_on", "-id").only("id").first()
    )
    return newest is not None and newest.pk == assessment.pk


def _sync_fitzpatrick(assessment: Assessment, by: User) -> None:
    """The patient's Fitzpatrick type follows their newest assessment (by date,
    then id), so recording an older one from paper never overwrites it."""
    if not _is_newest(assessment):
        return
    patient = Patient.objects.select_for_update().get(pk=assessment.patient_id)
    if patient.fitzpatrick_type != assessment.fitzpatrick_type:
        patient._history_user = by
        patient_update(patient=patient, changed_by=by, fitzpatrick_type=assessment.fitzpatrick_type)


@transaction.atomic
def assessment_record(
    *,
    patient: Patient,
    by: User,
    fitzpatrick_type: int,
    qualitative_grade: int,
    pih: str,
    pie: str,
    lesions: Mapping[str, int] | None = None,
    keloid_area_cm2: Decimal = Decimal("0"),
    types_present: Sequence[str] = (),
    assessed_on: date | None = None,
    notes: str = "",
) -> Assessment:
    """Records an assessment, computes its score (treatments.scoring) and sets
    the patient's Fitzpatrick type if this is their newest assessment. A
    missing lesion key counts as 0; unknown keys or codes raise InvalidInput,
    as does a date in the future or before the patient was born."""
    lesions = dict(lesions or {})
    _check_lesions(lesions)
    assessed_on = assessed_on or clinic_today()
    _check_assessed_on(assessed_on, patient)
    assessment = Assessment(
        patient=patient,
        assessed_on=assessed_on,
        assessed_by=by,
        fitzpatrick_type=fitzpatrick_type,
        keloid_area_cm2=keloid_area_cm2,
        types_present=_canonical_types(types_present),
        qualitative_grade=qualitative_grade,
        pih=pih,
        pie=pie,
        notes=notes,
        **{key: lesions.get(key, 0) for key in LESION_KEYS},
    )
    assessment.quantitative_score = goodman_baron_score(assessment.lesions, assessment.keloid_area_cm2)
    assessment._history_user = by
    assessment.save(force_insert=True)
    _sync_fitzpatrick(assessment, by)
    return assessment


CORRECTABLE = (
    "assessed_on",
    "fitzpatrick_type",
    "keloid_area_cm2",
    "types_present",
    "qualitative_grade",
    "pih",
    "pie",
    "notes",
)


@transaction.atomic
def assessment_correct(
    *,
    assessment: Assessment,
    by: User,
    reason: str,
    expected_version: datetime | None = None,
    lesions: Mapping[str, int] | None = None,
    **changes: Any,
) -> Assessment:
    """Corrects an assessment in place, keeping the previous version in its
    history. ``lesions`` updates the counts it names and keeps the others.
    The score is recomputed; the patient's Fitzpatrick type follows if this
    is still their newest assessment.

    ``reason`` (why it was corrected) is required and kept with the new
    version in the history: InvalidInput on ``reason`` when blank or longer
    than REASON_MAX. ``expected_version`` is the ``assessment_version`` the
    caller read: the row is locked and, if it has been saved since,
    EditConflict (409) refuses the correction. Checks run in the API's order:
    every 400 before the 409."""
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise InvalidInput(fields={name: [_("This field cannot be corrected.")] for name in sorted(unknown)})
    text = _clean_reason(reason)
    fields: dict[str, Any] = dict(changes)
    if "types_present" in fields:
        fields["types_present"] = _canonical_types(fields["types_present"])
    if lesions:
        _check_lesions(lesions)
        fields.update(lesions)
    locked = Assessment.objects.select_for_update().select_related("patient").get(pk=assessment.pk)
    if fields.get("assessed_on") is not None:
        _check_assessed_on(fields["assessed_on"], locked.patient)
    if expected_version is not None and assessment_version(locked) != expected_version:
        raise EditConflict()
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.quantitative_score = goodman_baron_score(locked.lesions, locked.keloid_area_cm2)
    locked._history_user = by
    locked._change_reason = text
    locked.save(update_fields=[*fields, "quantitative_score", "updated_at"])
    _sync_fitzpatrick(locked, by)
    return locked


# --- photos ----------------------------------------------------------------------------------


def photo_add(*, assessment: Assessment, view: str, upload: IO[bytes], size: int, by: User) -> AssessmentPhoto:
    """Checks, cleans and stores a photo (treatments.photos) under random
    names in the private default storage. A refused upload (InvalidInput on
    ``image``) stores nothing; so does a failure after the files were written."""
    try:
        photo = clean_photo(upload, size=size)
    except PhotoRejected as error:
        raise InvalidInput(str(error), fields={"image": [str(error)]}) from None
    stem = uuid.uuid4().hex
    saved: list[str] = []
    try:
        record = AssessmentPhoto(
            assessment=assessment,
            view=view,
            content_type=photo.content_type,
            width=photo.width,
            height=photo.height,
            uploaded_by=by,
        )
        record.image.save(f"{stem}.{photo.extension}", ContentFile(photo.image), save=False)
        saved.append(record.image.name or "")
        record.thumbnail.save(f"{stem}-thumb.{photo.extension}", ContentFile(photo.thumbnail), save=False)
        saved.append(record.thumbnail.name or "")
        with transaction.atomic():
            record.save(force_insert=True)
    except BaseException:
        for name in filter(None, saved):
            default_storage.delete(name)
        raise
    return record


def assessment_save_with_photos(
    *, write: Callable[[], Assessment], photos: Sequence[tuple[str, Any]], by: User
) -> tuple[Assessment, list[AssessmentPhoto]]:
    """Runs ``write`` (``assessment_record`` or ``assessment_correct``, bound to
    their arguments) and stores ``photos`` (view, upload) with it, all or nothing:
    a refused photo undoes the write and leaves no file behind. A refusal is the
    refusing service's error; a photo's is InvalidInput on ``photo_<view>``."""
    stored: list[AssessmentPhoto] = []
    try:
        with transaction.atomic():
            assessment = write()
            for view, upload in photos:
                try:
                    stored.append(photo_add(assessment=assessment, view=view, upload=upload, size=upload.size, by=by))
                except InvalidInput as error:
                    problems = (error.fields or {}).get("image", [str(error.detail)])
                    raise InvalidInput(error.detail, fields={f"photo_{view}": problems}) from None
    except BaseException:
        for photo in stored:  # rolled back: their files must not stay behind
            for name in (photo.image.name, photo.thumbnail.name):
                if name:
                    default_storage.delete(name)
        raise
    return assessment, stored


# --- treatment plans -------------------------------------------------------------------------


def _intervals(treatment: Treatment) -> tuple[int, int]:
    if treatment.interval_days_min is None or treatment.interval_days_max is None:
        raise InvalidInput(
            _("This treatment is a single visit and cannot be planned as a course."),
            fields={"treatment": [_("This treatment has no interval between sessions.")]},
        )
    return treatment.interval_days_min, treatment.interval_days_max


@transaction.atomic
def plan_create(
    *,
    patient: Patient,
    treatment: Treatment,
    sessions: int,
    by: User,
    assessment: Assessment | None = None,
    start_after: date | None = None,
    today: date | None = None,
) -> TreatmentPlan:
    """A plan of ``sessions`` sessions with their first windows. InvalidInput
    for a treatment without intervals, a session count outside the
    treatment's ``sessions_min``..``sessions_max`` (an open-ended treatment
    allows up to PLAN_SESSIONS_OPEN_MAX), another patient's assessment, or a
    start before today or beyond the staff booking horizon. Announces
    ``plan.created`` (clinic.events) in the transaction."""
    interval_min, interval_max = _intervals(treatment)
    highest = treatment.sessions_max or PLAN_SESSIONS_OPEN_MAX
    if not treatment.sessions_min <= sessions <= highest:
        raise InvalidInput(
            fields={
                "sessions": [
                    _("This treatment is planned in %(low)d to %(high)d sessions.")
                    % {"low": treatment.sessions_min, "high": highest}
                ]
            }
        )
    if assessment is not None and assessment.patient_id != patient.pk:
        raise InvalidInput(fields={"assessment": [_("This assessment is of another patient.")]})
    today = today or clinic_today()
    start_after = start_after or today
    if start_after < today:
        raise InvalidInput(fields={"start_after": [_("A plan cannot start in the past.")]})
    if start_after > today + settings.CLINIC_STAFF_HORIZON:
        raise InvalidInput(fields={"start_after": [_("That is beyond the booking horizon.")]})
    plan = TreatmentPlan(
        patient=patient, treatment=treatment, assessment=assessment, start_after=start_after, created_by=by
    )
    plan._history_user = by
    plan.save(force_insert=True)
    windows = plans.plan_windows(
        start_after=start_after,
        interval_min=interval_min,
        interval_max=interval_max,
        anchors=[plans.Anchor()] * sessions,
    )
    rows = [
        PlanSession(plan=plan, number=number, window_start=window.start, window_end=window.end)
        for number, window in enumerate(windows, start=1)
    ]
    for row in rows:
        row._history_user = by
        row.save(force_insert=True)
    events.emit(event=events.PLAN_CREATED, instance=plan, now=timezone.now())
    return plan


def _lock_plan(plan_id: int) -> TreatmentPlan:
    return TreatmentPlan.objects.select_for_update().select_related("treatment").get(pk=plan_id)


@transaction.atomic
def plan_cancel(*, plan: TreatmentPlan, by: User, reason: str = "", now: datetime | None = None) -> TreatmentPlan:
    """active → cancelled; sessions not completed become cancelled. InvalidState
    if the plan is not active, or while a session is booked (an appointment
    that has not happened yet: cancel or complete it first)."""
    locked = _lock_plan(plan.pk)
    if locked.status != TreatmentPlan.Status.ACTIVE:
        raise InvalidState(_("Only an active plan can be cancelled."))
    sessions = list(PlanSession.objects.select_for_update().filter(plan=locked).order_by("number"))
    if any(session.status == PlanSession.Status.BOOKED for session in sessions):
        raise InvalidState(_("A session of this plan has an appointment. Cancel the appointment first."))
    for session in sessions:
        if session.status == PlanSession.Status.PENDING:
            session.status = PlanSession.Status.CANCELLED
            session._history_user = by
            session.save(update_fields=["status", "updated_at"])
    locked.status = TreatmentPlan.Status.CANCELLED
    locked.cancelled_at = now or timezone.now()
    locked.cancellation_reason = reason
    locked._history_user = by
    locked.save(update_fields=["status", "cancelled_at", "cancellation_reason", "updated_at"])
    return locked


def plan_recompute(*, plan: TreatmentPlan, by: User | None) -> list[PlanSession]:
    """Recomputes every window from the sessions' anchors (treatments.plans)
    and saves those that moved; completes the plan when every session is
    completed (announcing ``plan.completed``, clinic.events). Runs inside the
    caller's transaction with the plan locked."""
    sessions = list(PlanSession.objects.filter(plan=plan).order_by("number"))
    interval_min, interval_max = _intervals(plan.treatment)
    windows = plans.plan_windows(
        start_after=plan.start_after,
        interval_min=interval_min,
        interval_max=interval_max,
        anchors=[plans.Anchor(completed_on=s.completed_on, booked_on=s.booked_on) for s in sessions],
    )
    for session, window in zip(sessions, windows, strict=True):
        if (session.window_start, session.window_end) != (window.start, window.end):
            session.window_start, session.window_end = window.start, window.end
            session._history_user = by
            session.save(update_fields=["window_start", "window_end", "updated_at"])
    if (
        plan.status == TreatmentPlan.Status.ACTIVE
        and sessions
        and all(s.status == PlanSession.Status.COMPLETED for s in sessions)
    ):
        plan.status = TreatmentPlan.Status.COMPLETED
        plan._history_user = by
        plan.save(update_fields=["status", "updated_at"])
        events.emit(event=events.PLAN_COMPLETED, instance=plan, now=timezone.now())
    return sessions


def plan_session_for_booking(
    *, session_id: int, patient_id: int, treatment_id: int, staff: bool, today: date
) -> tuple[PlanSession, tuple[date, date] | None]:
    """Locks the session's plan and returns the session with the dates this
    caller may book it on (None: any date, the staff overdue exemption).

    InvalidInput if the session is not this patient's or not of this
    treatment; NotBookable if its turn has not come (session k−1 neither
    booked nor completed). Its own state (already booked, completed or
    cancelled) is for ``plan_session_check_free``, which the booking service
    calls later, in the API's order of checks (409 after 400 and 422)."""
    session = PlanSession.objects.select_related("plan").filter(pk=session_id).first()
    if session is None or session.plan.patient_id != patient_id:
        raise InvalidInput(fields={"plan_session": [_("Unknown plan session.")]})
    if session.plan.treatment_id != treatment_id:
        raise InvalidInput(fields={"plan_session": [_("This plan session is for another treatment.")]})
    plan = _lock_plan(session.plan_id)
    session = PlanSession.objects.select_for_update().get(pk=session_id)
    session.plan = plan
    previous = PlanSession.objects.filter(plan=plan, number=session.number - 1).values_list("status", flat=True).first()
    if not plans.turn_has_come(number=session.number, previous_state=previous):
        raise NotBookable(_("Session %(previous)d must be booked first.") % {"previous": session.number - 1})
    window = plans.booking_window(
        window=plans.Window(session.window_start, session.window_end), staff=staff, today=today
    )
    return session, window


def plan_session_window(*, session: PlanSession, staff: bool, today: date) -> tuple[date, date] | None:
    """The dates a booked session may move to (rescheduling): its window, or
    any date for staff once the window has ended."""
    return plans.booking_window(window=plans.Window(session.window_start, session.window_end), staff=staff, today=today)


def plan_session_check_free(session: PlanSession) -> None:
    """InvalidState unless the session is pending (nothing booked, not done,
    its plan not cancelled)."""
    if session.status == PlanSession.Status.BOOKED:
        raise InvalidState(_("This plan session already has an appointment."))
    if session.status != PlanSession.Status.PENDING:
        raise InvalidState(_("This plan session is %(status)s.") % {"status": session.get_status_display().lower()})


def lock_plan_of_session(session_id: int) -> PlanSession:
    """The session with its plan locked (for the booking services' reschedule,
    cancel and complete, which change a session's anchor)."""
    plan_id = PlanSession.objects.filter(pk=session_id).values_list("plan_id", flat=True).get()
    plan = _lock_plan(plan_id)
    session = PlanSession.objects.select_for_update().get(pk=session_id)
    session.plan = plan
    return session


def _set(session: PlanSession, by: User | None, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(session, name, value)
    session._history_user = by
    session.save(update_fields=[*fields, "updated_at"])
    plan_recompute(plan=session.plan, by=by)


def plan_session_booked(*, session: PlanSession, on: date, by: User | None) -> None:
    """Its appointment is (now) on ``on``, a clinic-local date."""
    _set(session, by, status=PlanSession.Status.BOOKED, booked_on=on)


def plan_session_released(*, session: PlanSession, by: User | None) -> None:
    """Its appointment was cancelled or missed: the session is pending again."""
    if session.status == PlanSession.Status.BOOKED:
        _set(session, by, status=PlanSession.Status.PENDING, booked_on=None)


def plan_session_completed(*, session: PlanSession, on: date, by: User | None) -> None:
    """Done on ``on`` (the clinic-local date of its appointment); the next
    session's window is anchored on it."""
    _set(session, by, status=PlanSession.Status.COMPLETED, completed_on=on)


def plan_session_offer(
    *, session: PlanSession, staff: bool, today: date, rescheduling: bool
) -> tuple[bool, tuple[date, date] | None]:
    """What availability may offer for a session (only what booking
    would accept): (False, None) when booking it now would fail whatever the
    date (not its turn, already booked, done or cancelled), else (True, the
    dates allowed, None for any). ``rescheduling``: the caller is moving the
    session's own appointment, so a booked session is offered its window."""
    if rescheduling and session.status == PlanSession.Status.BOOKED:
        return True, plan_session_window(session=session, staff=staff, today=today)
    if session.status != PlanSession.Status.PENDING:
        return False, None
    previous = (
        PlanSession.objects.filter(plan_id=session.plan_id, number=session.number - 1)
        .values_list("status", flat=True)
        .first()
    )
    if not plans.turn_has_come(number=session.number, previous_state=previous):
        return False, None
    return True, plans.booking_window(
        window=plans.Window(session.window_start, session.window_end), staff=staff, today=today
    )
