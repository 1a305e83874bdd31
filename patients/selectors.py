"""Reads about patients: finding them (one rule for the API, the chart's patient
list and staff booking) and whether their health declaration is still current
(one rule for screening, the booking pages and the chart)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from clinic.clock import clinic_date
from patients.models import AccessEvent, HealthDeclaration, ImportantDate, Patient, SignedInDevice


def patients_matching(query: str) -> QuerySet[Patient]:
    """Patients whose name or email contains ``query``, or whose phone contains its
    digits when it has three or more; everyone for an empty query. Ordered by name."""
    query = " ".join(query.replace("\x00", "").split())[:100]
    patients = Patient.objects.order_by("full_name", "id")
    if not query:
        return patients
    condition = Q(full_name__icontains=query) | Q(email__icontains=query)
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        condition |= Q(phone__contains=digits)
    return patients.filter(condition)


# --- health declarations ---------------------------------------------------------------------


def declaration_newest(patient: Patient | int) -> HealthDeclaration | None:
    """The declaration screening reads: the newest by ``submitted_at``, then id."""
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return HealthDeclaration.objects.filter(patient_id=patient_id).order_by("-submitted_at", "-id").first()


def declaration_submitted_on(declaration: HealthDeclaration) -> date:
    """The clinic-local date a declaration was submitted on."""
    return clinic_date(declaration.submitted_at)


def declaration_is_current(
    declaration: HealthDeclaration | None, *, on: date, max_age: timedelta | None = None
) -> bool:
    """Whether a declaration's answers still count on the clinic-local date ``on``:
    submitted (clinic-local date) at most ``max_age`` days before it (default
    CLINIC_DECLARATION_MAX_AGE). No declaration is never current. Pure: the
    screening engine (treatments.screening.evaluate) calls it without the database."""
    if declaration is None:
        return False
    limit = settings.CLINIC_DECLARATION_MAX_AGE if max_age is None else max_age
    return timedelta(days=(on - declaration_submitted_on(declaration)).days) <= limit


# --- the access log ----------------------------------------------------------------------------


def access_events_for_patient(patient: Patient | int) -> QuerySet[AccessEvent]:
    """Who read a patient's clinical data, newest first (one query per page)."""
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return AccessEvent.objects.filter(patient_id=patient_id).order_by("-at", "-id")


def access_events_by_actor(actor_id: int) -> QuerySet[AccessEvent]:
    """What one staff member read, newest first. No join to the patient: a row
    outlives a purged patient record, and must still be listed."""
    return AccessEvent.objects.filter(actor_id=actor_id).order_by("-at", "-id")


def patient_names(patient_ids: Iterable[int]) -> dict[int, str]:
    """Names of the patients still on file, by id (one query)."""
    return dict(Patient.objects.filter(pk__in=set(patient_ids)).values_list("pk", "full_name"))


def access_actors() -> QuerySet[User]:
    """Staff accounts that appear in the access log, for the managers' picker."""
    return User.objects.filter(pk__in=AccessEvent.objects.values("actor_id")).order_by(
        "first_name", "last_name", "username"
    )


def devices_for(*, user: Any, now: datetime | None = None) -> QuerySet[SignedInDevice]:
    """The devices where ``user`` is signed in now: unexpired API tokens and
    unexpired browser sessions, most recently used first. Rows left behind by
    a session that ended on its own (it expired, or Django replaced its key)
    are not shown."""
    now = now or timezone.now()
    live_session = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=now)
    return (
        SignedInDevice.objects.filter(user=user)
        .filter(
            Q(kind=SignedInDevice.Kind.TOKEN, token__expiry__isnull=True)
            | Q(kind=SignedInDevice.Kind.TOKEN, token__expiry__gt=now)
            | Q(Exists(live_session), kind=SignedInDevice.Kind.SESSION)
        )
        .order_by("-last_used_at", "-id")
    )


def important_dates_for(*, patient_id: int, since: date | None = None) -> QuerySet[ImportantDate]:
    """The patient's dates that matter, soonest first; ``since`` keeps those not over by then."""
    queryset = ImportantDate.objects.filter(patient_id=patient_id)
    if since is not None:
        queryset = queryset.filter(ends_on__gte=since)
    return queryset.order_by("starts_on", "ends_on", "id")
