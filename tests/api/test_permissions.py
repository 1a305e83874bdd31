"""Who may call what: a permission matrix generated from the URL configuration.

Every route under ``/api/v1/`` and every HTTP method its view handles is
called by six actors (the roles of patients/roles.py). ``EXPECTED``
states each outcome explicitly; a route or method that appears in the URL
configuration without an entry there fails, so a new endpoint cannot ship
without someone deciding who may call it.

Patient B always acts on patient A's objects. Where a patient's role may use
the endpoint (appointment detail, reschedule, cancel, calendar), B gets 404,
exactly as for an id that does not exist. Where the role may not use it at all
(``/patients/...``, check-in, no-show), every patient gets 403 before the id is
looked up (401 → 403 → 404, Conventions), so the 403 says nothing about A
either; ``test_role_refusal_does_not_depend_on_the_object`` pins that down.

Allowed state-changing requests carry a valid body and must really succeed
(2xx), and their effect is checked in the database; refused ones must change
nothing. The clock is frozen on a Wednesday morning so that check-in ("on the
appointment's day") and no-show ("after its start") have a real 200.

The schema and the interactive docs are included: they are public (200 for
everyone), which is a decision worth pinning too.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken
from rest_framework.test import APIClient

from booking import deposit_rules, feeds, ledger, packages, services, waitlist, webhooks
from booking.models import (
    Appointment,
    CalendarFeed,
    LedgerEntry,
    Package,
    PackageOffer,
    Practitioner,
    PreCareAcknowledgement,
    SessionRecord,
    WaitlistEntry,
    WaitlistOffer,
    WebhookDelivery,
    WebhookSubscription,
)
from patients.models import ChannelChoice, HealthDeclaration, ImportantDate, Patient, SignedInDevice
from patients.services import token_issue
from tests.api.clinical import ASSESSMENT, DECLARATION, picture
from tests.api.conftest import client_for
from tests.consent import sign_for
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import consents
from treatments import services as clinical
from treatments.models import (
    Assessment,
    AssessmentPhoto,
    ConsentSignature,
    ConsentVersion,
    PreCareInstruction,
    Treatment,
    TreatmentPlan,
)

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
IGNORED_METHODS = {"options", "head", "trace"}

ANON, A, B, RECEPTION, PRACTITIONER, MANAGER = (
    "anonymous",
    "patient_a",
    "patient_b",
    "receptionist",
    "practitioner",
    "manager",
)
ACTORS = (ANON, A, B, RECEPTION, PRACTITIONER, MANAGER)
STAFF = (RECEPTION, PRACTITIONER, MANAGER)

# (route name, method) → expected status for
#   (anonymous, patient A, patient B on A's objects, receptionist, practitioner, manager)
EXPECTED: dict[tuple[str, str], tuple[int, int, int, int, int, int]] = {
    # Authentication: open to everyone, signed in or not (no authentication is read).
    ("auth-register", "post"): (201, 201, 201, 201, 201, 201),
    ("auth-token", "post"): (200, 200, 200, 200, 200, 200),
    ("auth-logout", "post"): (401, 204, 204, 204, 204, 204),
    ("auth-password-reset", "post"): (202, 202, 202, 202, 202, 202),
    ("auth-password-reset-confirm", "post"): (200, 200, 200, 200, 200, 200),
    # The caller's own login, whatever the role: password, devices, signing out everywhere.
    # Patient B naming A's device gets 404, as for a device that does not exist.
    ("auth-logout-all", "post"): (401, 204, 204, 204, 204, 204),
    ("me-password", "post"): (401, 200, 200, 200, 200, 200),
    ("me-devices", "get"): (401, 200, 200, 200, 200, 200),
    ("me-device", "delete"): (401, 204, 404, 204, 204, 204),
    # The signed-in patient's own profile and declarations: patients only.
    ("me", "get"): (401, 200, 200, 403, 403, 403),
    ("me", "patch"): (401, 200, 200, 403, 403, 403),
    # Following an email-change link: the signed token is the proof (no authentication read).
    ("me-email-confirm", "post"): (200, 200, 200, 200, 200, 200),
    # Dates that matter: a patient's own (B naming A's is 404); staff read them on the patient.
    ("me-dates", "get"): (401, 200, 200, 403, 403, 403),
    ("me-dates", "post"): (401, 201, 201, 403, 403, 403),
    ("me-date", "delete"): (401, 204, 404, 403, 403, 403),
    ("patient-dates", "get"): (401, 403, 403, 200, 200, 200),
    # How a patient is contacted (channels per topic): their own; staff read any
    # patient's, receptionists and managers change them (taken by phone).
    ("me-channels", "get"): (401, 200, 200, 403, 403, 403),
    ("me-channels", "put"): (401, 200, 200, 403, 403, 403),
    ("patient-channels", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-channels", "put"): (401, 403, 403, 200, 403, 200),
    ("me-declarations", "get"): (401, 200, 200, 403, 403, 403),
    ("me-declarations", "post"): (401, 201, 201, 403, 403, 403),
    # Patients and their declarations: staff only; a patient's role is refused.
    ("patient-list", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-list", "post"): (401, 403, 403, 201, 201, 201),
    ("patient-detail", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-detail", "patch"): (401, 403, 403, 200, 200, 200),
    ("patient-declarations", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-declarations", "post"): (401, 403, 403, 201, 201, 201),
    # Catalogue and availability: public.
    ("treatment-list", "get"): (200, 200, 200, 200, 200, 200),
    ("treatment-detail", "get"): (200, 200, 200, 200, 200, 200),
    ("practitioner-list", "get"): (200, 200, 200, 200, 200, 200),
    ("availability", "get"): (200, 200, 200, 200, 200, 200),
    # Screening: patients screen themselves, staff any patient.
    ("screening", "post"): (401, 200, 200, 200, 200, 200),
    # Appointments: a patient's own (another's is 404), staff all.
    ("appointment-list", "get"): (401, 200, 200, 200, 200, 200),
    ("appointment-list", "post"): (401, 201, 201, 201, 201, 201),
    ("appointment-detail", "get"): (401, 200, 404, 200, 200, 200),
    ("appointment-reschedule", "post"): (401, 200, 404, 200, 200, 200),
    ("appointment-cancel", "post"): (401, 200, 404, 200, 200, 200),
    ("appointment-calendar", "get"): (401, 200, 404, 200, 200, 200),
    ("appointment-check-in", "post"): (401, 403, 403, 200, 200, 200),
    # Pre-care: staff read any visit's; only the patient confirms their own (reception asks at check-in).
    ("appointment-pre-care", "get"): (401, 200, 404, 200, 200, 200),
    ("appointment-pre-care-acknowledge", "post"): (401, 200, 404, 403, 403, 403),
    ("appointment-no-show", "post"): (401, 403, 403, 200, 200, 200),
    # Deposits (booking/deposit_rules.py): a patient reads their own visit's, staff any;
    # money taken and given back at the desk and fees waived: receptionists and managers.
    ("appointment-deposit", "get"): (401, 200, 404, 200, 200, 200),
    ("appointment-deposit", "post"): (401, 403, 403, 200, 403, 200),
    ("ledger-waive", "post"): (401, 403, 403, 200, 403, 200),
    ("ledger-refund", "post"): (401, 403, 403, 200, 403, 200),
    # Consent for a visit: the patient's own (another's is 404); staff read any and
    # sign at the desk as witness. The patient's own signatures; withdrawing one:
    # the patient their own, a manager any.
    ("appointment-consent", "get"): (401, 200, 404, 200, 200, 200),
    ("appointment-consent", "post"): (401, 201, 404, 201, 201, 201),
    ("me-consents", "get"): (401, 200, 200, 403, 403, 403),
    ("consent-withdraw", "post"): (401, 200, 404, 403, 403, 200),
    # The notification log: staff only.
    ("notification-list", "get"): (401, 403, 403, 200, 200, 200),
    # Clinical records: practitioners and managers read and write; a patient reads
    # their own assessments, photos, plans and progress (another's are 404);
    # receptionists get 403. Completing writes the session record (clinicians).
    ("assessment-list", "get"): (401, 200, 200, 403, 200, 200),
    ("assessment-list", "post"): (401, 403, 403, 403, 201, 201),
    ("assessment-detail", "get"): (401, 200, 404, 403, 200, 200),
    ("assessment-detail", "patch"): (401, 403, 403, 403, 200, 200),
    ("assessment-history", "get"): (401, 403, 403, 403, 200, 200),
    ("assessment-photos", "post"): (401, 403, 403, 403, 201, 201),
    ("photo-image", "get"): (401, 200, 404, 403, 200, 200),
    ("photo-thumbnail", "get"): (401, 200, 404, 403, 200, 200),
    ("plan-list", "get"): (401, 200, 200, 403, 200, 200),
    ("plan-list", "post"): (401, 403, 403, 403, 201, 201),
    ("plan-detail", "get"): (401, 200, 404, 403, 200, 200),
    ("plan-cancel", "post"): (401, 403, 403, 403, 200, 200),
    ("plan-history", "get"): (401, 403, 403, 403, 200, 200),
    ("me-progress", "get"): (401, 200, 200, 403, 403, 403),
    ("patient-progress", "get"): (401, 403, 403, 403, 200, 200),
    ("appointment-complete", "post"): (401, 403, 403, 403, 200, 200),
    ("session-record-list", "get"): (401, 403, 403, 403, 200, 200),
    ("session-record-detail", "get"): (401, 403, 403, 403, 200, 200),
    # The signed consent's PDF: a clinical record like the others (its patient, clinicians).
    ("consent-pdf", "get"): (401, 200, 404, 403, 200, 200),
    # The access log: a patient reads who opened their own record; managers any patient's.
    ("me-access-log", "get"): (401, 200, 200, 403, 403, 403),
    ("patient-access-log", "get"): (401, 403, 403, 403, 403, 200),
    # Who received a lot (a product recall, with contact details): managers only.
    ("lot-search", "get"): (401, 403, 403, 403, 403, 200),
    # The patient's own copy of their data; a manager produces anyone's (practitioners
    # read records one by one, receptionists see no clinical data). Erasure: managers.
    ("me-export", "get"): (401, 200, 200, 403, 403, 403),
    ("patient-export", "get"): (401, 403, 403, 403, 403, 200),
    ("patient-erase", "post"): (401, 403, 403, 403, 403, 201),
    ("patient-erasure", "get"): (401, 403, 403, 403, 403, 200),
    # The waitlist: a patient's own entries and offers (another's are 404), staff any
    # patient's; staff may accept or decline for the patient (on the phone, at the
    # desk) and alone offer a time by hand.
    ("waitlist-list", "get"): (401, 200, 200, 200, 200, 200),
    ("waitlist-list", "post"): (401, 201, 201, 201, 201, 201),
    ("waitlist-detail", "get"): (401, 200, 404, 200, 200, 200),
    ("waitlist-detail", "delete"): (401, 204, 404, 204, 204, 204),
    ("waitlist-offer-by-hand", "post"): (401, 403, 403, 201, 201, 201),
    ("waitlist-offer-detail", "get"): (401, 200, 404, 200, 200, 200),
    ("waitlist-offer-accept", "post"): (401, 201, 404, 201, 201, 201),
    ("waitlist-offer-decline", "post"): (401, 200, 404, 200, 200, 200),
    # Outgoing webhooks (other systems told of bookings, patients and plans; the
    # secrets that sign them, and payloads that may be clinical): managers only.
    ("webhook-list", "get"): (401, 403, 403, 403, 403, 200),
    ("webhook-list", "post"): (401, 403, 403, 403, 403, 201),
    ("webhook-detail", "get"): (401, 403, 403, 403, 403, 200),
    ("webhook-detail", "patch"): (401, 403, 403, 403, 403, 200),
    ("webhook-detail", "delete"): (401, 403, 403, 403, 403, 204),
    ("webhook-rotate", "post"): (401, 403, 403, 403, 403, 200),
    ("webhook-ping", "post"): (401, 403, 403, 403, 403, 201),
    ("webhook-deliveries", "get"): (401, 403, 403, 403, 403, 200),
    ("webhook-delivery-retry", "post"): (401, 403, 403, 403, 403, 200),
    # The caller's own calendar feed: patients, and staff with a practitioner profile
    # (the practitioner here is given one; this manager and the receptionist have none).
    ("me-calendar-feed", "get"): (401, 200, 200, 403, 200, 403),
    ("me-calendar-feed", "post"): (401, 201, 201, 403, 201, 403),
    ("me-calendar-feed", "delete"): (401, 204, 204, 403, 204, 403),
    # Course packages: the catalogue is public; a patient reads their own; every staff
    # role reads a patient's and sells at the desk; managers alone refund unused sessions.
    ("package-offer-list", "get"): (200, 200, 200, 200, 200, 200),
    ("me-packages", "get"): (401, 200, 200, 403, 403, 403),
    ("patient-packages", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-packages", "post"): (401, 403, 403, 201, 201, 201),
    ("package-refund", "post"): (401, 403, 403, 403, 403, 200),
    # Money (booking/ledger_apis.py): a patient's own ledger and receipts (another's
    # receipt is 404); every staff role reads a patient's ledger and receipts,
    # receptionists and managers record at the desk; the day's takings: managers.
    ("me-ledger", "get"): (401, 200, 200, 403, 403, 403),
    ("patient-ledger", "get"): (401, 403, 403, 200, 200, 200),
    ("patient-ledger", "post"): (401, 403, 403, 201, 403, 201),
    ("receipt-pdf", "get"): (401, 200, 404, 200, 200, 200),
    ("takings", "get"): (401, 403, 403, 403, 403, 200),
    # The managers' reports (booking/report_apis.py): outcomes also for practitioners
    # (their own patients only); operations for managers.
    ("report-outcomes", "get"): (401, 403, 403, 403, 200, 200),
    ("report-operations", "get"): (401, 403, 403, 403, 403, 200),
    # The OpenAPI schema and the docs page: public.
    ("schema", "get"): (200, 200, 200, 200, 200, 200),
    ("docs", "get"): (200, 200, 200, 200, 200, 200),
}

ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed"}


# --- the URL configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    view_class: type
    methods: tuple[str, ...]


def _view_class(pattern: URLPattern) -> type | None:
    callback = pattern.callback
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)


def _methods(view_class: type | None) -> tuple[str, ...]:
    if view_class is None:  # a function view: assume GET, so it still needs an entry
        return ("get",)
    names = getattr(view_class, "http_method_names", [])
    return tuple(m for m in names if m not in IGNORED_METHODS and callable(getattr(view_class, m, None)))


def api_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                full = prefix + str(entry.pattern)
                if not full.startswith(API_PREFIX) or full.startswith(API_PREFIX + "^"):
                    continue  # the catch-all: unknown API URLs (tests/api/test_contract.py)
                view_class = _view_class(entry)
                routes.append(
                    Route(
                        name=entry.name or full,
                        pattern=full,
                        view_class=view_class or object,
                        methods=_methods(view_class),
                    )
                )

    walk(get_resolver().url_patterns, "")
    return routes


ROUTES = api_routes()
CASES = [(route.name, method) for route in ROUTES for method in route.methods]


# --- the objects each case acts on ---------------------------------------------------

STRONG_PASSWORD = "a-Strong-passphrase-42"


def _frozen_now() -> datetime:
    """A Wednesday 09:00 in the clinic's zone, a few weeks from the real today."""
    day = timezone.localdate() + timedelta(days=21)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(9)))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@dataclass
class World:
    now: datetime
    treatment: Treatment
    practitioner: Practitioner
    patient_a: Patient
    patient_b: Patient
    appointment: Appointment  # A's, next week, booked by A through the service
    today: Appointment  # A's, later today (check-in)
    started: Appointment  # A's, started an hour ago (no-show)
    users: dict[str, User | None] = field(default_factory=dict)

    def client(self, actor: str) -> APIClient:
        return client_for(self.users[actor])


@pytest.fixture
def world() -> Iterator[World]:
    now = _frozen_now()
    with time_machine.travel(now, tick=True):
        treatment = TreatmentFactory(slug="peel-superficial", duration_minutes=30, buffer_minutes=10)
        RoomFactory(kind=treatment.room_kind)
        practitioner = PractitionerFactory(treatments=[treatment])
        patient_a = PatientFactory(full_name="Alice Chan")
        patient_b = PatientFactory(full_name="Bob Wong")
        for patient in (patient_a, patient_b):
            HealthDeclarationFactory(patient=patient)
        next_week = now.date() + timedelta(days=7)
        appointment = services.appointment_book(
            patient=patient_a,
            treatment=treatment,
            start=_at(next_week, 10),
            practitioner=None,
            booked_by=patient_a.user,
            staff=False,
        )
        today = AppointmentFactory(patient=patient_a, start=_at(now.date(), 15))
        started = AppointmentFactory(patient=patient_a, start=_at(now.date(), 8))
        users: dict[str, User | None] = {ANON: None, A: patient_a.user, B: patient_b.user}
        users.update({role: UserFactory(role=role) for role in STAFF})
        yield World(now, treatment, practitioner, patient_a, patient_b, appointment, today, started, users)


# Each builder gives the path and a valid body for the actor: where the actor
# is allowed, the request must succeed for real, not fail on its input.
Builder = Callable[[World, str], tuple[str, dict[str, Any] | None]]


def _reset_confirm(w: World, actor: str) -> tuple[str, dict[str, Any]]:
    user = UserFactory()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return "/api/v1/auth/password-reset/confirm/", {
        "uid": uid,
        "token": default_token_generator.make_token(user),
        "password": STRONG_PASSWORD,
    }


def _device(w: World, actor: str) -> int:
    """A device of the actor's own login (A's for the anonymous caller and for B)."""
    owner = w.users[actor] if actor not in {ANON, B} else w.users[A]
    token_issue(user=owner, user_agent="Mozilla/5.0 (iPhone) Version/18.0 Safari/604.1")
    return SignedInDevice.objects.filter(user=owner).latest("pk").pk


def _important_date(w: World, actor: str) -> int:
    """A date that matters of the actor's own patient (A's for everyone who is not a patient, and for B)."""
    owner = w.users[actor].patient if actor == A else w.patient_a
    return ImportantDate.objects.create(patient=owner, starts_on=_day(w, 30), ends_on=_day(w, 30), label="Trip").pk


def _email_confirm(w: World, actor: str) -> tuple[str, dict[str, Any]]:
    from django.core import signing

    from patients.services import EMAIL_CHANGE_SALT

    data = {"p": w.patient_a.pk, "old": w.patient_a.email, "new": f"confirmed-{actor}@example.com"}
    return "/api/v1/me/email/confirm/", {"token": signing.dumps(data, salt=EMAIL_CHANGE_SALT)}


def _for_staff(w: World, actor: str, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "patient": w.patient_a.pk} if actor in STAFF else body


def _day(w: World, days: int) -> date:
    return w.now.date() + timedelta(days=days)


PHOTO = picture("JPEG", (64, 48))


def _assessment(w: World) -> Assessment:
    return AssessmentFactory(patient=w.patient_a)


def _photo(w: World) -> AssessmentPhoto:
    return clinical.photo_add(
        assessment=_assessment(w), view="front", upload=io.BytesIO(PHOTO), size=len(PHOTO), by=w.users[PRACTITIONER]
    )


def _plan(w: World) -> TreatmentPlan:
    return clinical.plan_create(patient=w.patient_a, treatment=w.treatment, sessions=3, by=w.users[PRACTITIONER])


def _checked_in(w: World) -> Appointment:
    return AppointmentFactory(patient=w.patient_a, start=_at(w.now.date(), 17), status=Appointment.Status.CHECKED_IN)


def _session_record(w: World) -> SessionRecord:
    done = AppointmentFactory(
        patient=w.patient_a, start=_at(w.now.date() - timedelta(days=7), 10), status=Appointment.Status.COMPLETED
    )
    return SessionRecord.objects.create(appointment=done, category="peel", recorded_by=w.users[PRACTITIONER])


def _consent(w: World) -> ConsentSignature:
    version = ConsentVersionFactory(form=ConsentFormFactory())
    return consents.consent_sign(
        patient=w.patient_a,
        version=version,
        full_name="Alice Chan",
        language="en",
        channel="online",
        by=w.patient_a.user,
    )


def _erased(w: World) -> Patient:
    from booking.erasure import patient_erase

    patient = PatientFactory()
    patient_erase(patient=patient, by=UserFactory(role="manager"))
    return patient


def _consent_version(w: World) -> ConsentVersion:
    """The current version of a form A's treatment needs."""
    form = ConsentFormFactory(slug="permissions-consent", categories=[w.treatment.category])
    return form.versions.order_by("-number").first() or ConsentVersionFactory(form=form)


def _signature(w: World) -> ConsentSignature:
    _consent_version(w)
    return sign_for(w.patient_a, w.treatment)[0]


def _cancelled_with_desk_deposit(w: World, *, late: bool) -> Appointment:
    """A's visit in a month with a deposit paid in cash, then cancelled (late: at A's request, inside the notice)."""
    visit = AppointmentFactory(patient=w.patient_a, start=_at(_day(w, 30), 10))
    deposit_rules.deposit_record_at_desk(
        appointment=visit, method="cash", amount="300.00", idempotency_key=f"w-{visit.pk}", by=w.users[RECEPTION]
    )
    services.appointment_cancel(
        appointment=visit,
        by=w.users[RECEPTION],
        staff=True,
        for_patient=late,
        now=visit.start - (timedelta(hours=1) if late else timedelta(days=7)),
    )
    return visit


def _fee(w: World) -> LedgerEntry:
    return LedgerEntry.objects.get(appointment=_cancelled_with_desk_deposit(w, late=True), kind="fee")


def _desk_deposit_to_return(w: World) -> LedgerEntry:
    return LedgerEntry.objects.get(appointment=_cancelled_with_desk_deposit(w, late=False), kind="payment")


def _pre_care(w: World) -> Appointment:
    """A's appointment, its treatment with one pre-care instruction."""
    instruction, _created = PreCareInstruction.objects.get_or_create(
        code="retinoid-2w",
        defaults={
            "days_before": 14,
            "title_en": "Stop topical retinoids today",
            "title_zh_hant": "今天起停用A酸類外用產品",
            "text_en": "Stop them.",
            "text_zh_hant": "停用。",
        },
    )
    instruction.treatments.add(w.appointment.treatment)
    return w.appointment


def _waiting(w: World) -> WaitlistEntry:
    """A's entry for a day, not yet offered anything."""
    day = _day(w, 14)
    return WaitlistEntry.objects.create(
        patient=w.patient_a, treatment=w.treatment, earliest=day, latest=day, created_by=w.patient_a.user
    )


def _offer(w: World) -> WaitlistOffer:
    """A's entry for next week, offered a free slot at once."""
    entry = waitlist.waitlist_join(
        patient=w.patient_a,
        treatment=w.treatment,
        earliest=_day(w, 8),
        latest=_day(w, 8),
        by=w.patient_a.user,
        staff=False,
    )
    offer = waitlist.open_offer_for(entry)
    assert offer is not None
    return offer


def _webhook(w: World) -> WebhookSubscription:
    """The clinic's one subscription (made on first use)."""
    found = WebhookSubscription.objects.order_by("pk").first()
    return found or webhooks.subscription_create(
        url="https://93.184.215.14/hooks", events=["appointment.created"], by=w.users[MANAGER]
    )


def _failed_delivery(w: World) -> tuple[str, None]:
    subscription = _webhook(w)
    delivery = webhooks.subscription_ping(subscription=subscription, by=w.users[MANAGER])
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED, attempts=8)
    return f"/api/v1/webhooks/deliveries/{delivery.pk}/retry/", None


def _calendar_feed(w: World, actor: str) -> tuple[str, dict[str, Any]]:
    """The actor's own feed, made first where the actor may have one, so reading
    and turning it off have something to act on; the practitioner is given a
    practitioner profile (a schedule to subscribe to)."""
    user = w.users[actor]
    if actor == PRACTITIONER:
        Practitioner.objects.get_or_create(user=user)
    kind = feeds.feed_kind_for(user) if user is not None else None
    if kind is not None:
        feeds.feed_create(user=user, kind=kind, now=w.now)
    return "/api/v1/me/calendar-feed/", {}


def _package_offer(w: World) -> PackageOffer:
    return PackageOffer.objects.get_or_create(
        treatment=w.treatment,
        name_en="Peel x 3",
        defaults={"name_zh_hant": "果酸 3次", "sessions": 3, "price": Decimal("2400.00")},
    )[0]


def _package(w: World, actor: str) -> Package:
    """A package of A's, sold at the desk."""
    return packages.package_sell(
        patient=w.patient_a, offer=_package_offer(w), method="card", by=w.users[MANAGER], key=f"sold-{actor}"
    )


def _receipted(w: World) -> LedgerEntry:
    """A payment of patient A's, with its receipt."""
    return ledger.entry_record(
        patient=w.patient_a, kind="payment", method="cash", amount="50.00", idempotency_key="perm-receipt"
    ).entry


BUILDERS: dict[str, Builder] = {
    "auth-register": lambda w, actor: (
        "/api/v1/auth/register/",
        {
            "email": f"new-{actor}@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "New Patient",
            "date_of_birth": "1990-01-01",
            "phone": "+852 9123 4567",
            "preferred_language": "en",
        },
    ),
    "auth-token": lambda w, actor: (
        "/api/v1/auth/token/",
        {"email": w.patient_a.email, "password": "correct-horse-battery"},
    ),
    "auth-logout": lambda w, actor: ("/api/v1/auth/logout/", None),
    "auth-password-reset": lambda w, actor: ("/api/v1/auth/password-reset/", {"email": w.patient_a.email}),
    "auth-password-reset-confirm": _reset_confirm,
    "auth-logout-all": lambda w, actor: ("/api/v1/auth/logout-all/", None),
    "me-password": lambda w, actor: (
        "/api/v1/me/password/",
        {"current_password": "correct-horse-battery", "new_password": STRONG_PASSWORD},
    ),
    "me-devices": lambda w, actor: ("/api/v1/me/devices/", None),
    "me-device": lambda w, actor: (f"/api/v1/me/devices/{_device(w, actor)}/", None),
    "me": lambda w, actor: ("/api/v1/me/", {"full_name": "Renamed Person"}),
    "me-email-confirm": _email_confirm,
    "me-declarations": lambda w, actor: ("/api/v1/me/health-declarations/", DECLARATION),
    "me-dates": lambda w, actor: ("/api/v1/me/dates/", {"starts_on": _day(w, 30).isoformat(), "label": "Wedding"}),
    "me-date": lambda w, actor: (f"/api/v1/me/dates/{_important_date(w, actor)}/", None),
    "patient-dates": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/dates/", None),
    "me-channels": lambda w, actor: ("/api/v1/me/channels/", {"topics": {"reminders": []}}),
    "patient-channels": lambda w, actor: (
        f"/api/v1/patients/{w.patient_a.pk}/channels/",
        {"topics": {"plan_nudges": []}},
    ),
    "patient-list": lambda w, actor: (
        "/api/v1/patients/",
        {"full_name": "Walk In", "date_of_birth": "1990-01-01", "phone": "+852 9123 4568"},
    ),
    "patient-detail": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/", {"full_name": "Renamed Person"}),
    "patient-declarations": lambda w, actor: (
        f"/api/v1/patients/{w.patient_a.pk}/health-declarations/",
        DECLARATION,
    ),
    "treatment-list": lambda w, actor: ("/api/v1/treatments/", None),
    "treatment-detail": lambda w, actor: (f"/api/v1/treatments/{w.treatment.slug}/", None),
    "practitioner-list": lambda w, actor: ("/api/v1/practitioners/", None),
    "availability": lambda w, actor: (
        f"/api/v1/availability/?treatment={w.treatment.slug}&from={_day(w, 7)}&to={_day(w, 8)}",
        None,
    ),
    "screening": lambda w, actor: ("/api/v1/screening/", _for_staff(w, actor, {"treatment": w.treatment.slug})),
    "appointment-list": lambda w, actor: (
        "/api/v1/appointments/",
        _for_staff(w, actor, {"treatment": w.treatment.slug, "start": _at(_day(w, 8), 10).isoformat()}),
    ),
    "appointment-detail": lambda w, actor: (f"/api/v1/appointments/{w.appointment.pk}/", None),
    "appointment-reschedule": lambda w, actor: (
        f"/api/v1/appointments/{w.appointment.pk}/reschedule/",
        {"start": _at(_day(w, 7), 11).isoformat()},
    ),
    "appointment-cancel": lambda w, actor: (
        f"/api/v1/appointments/{w.appointment.pk}/cancel/",
        {"reason": "Something came up"},
    ),
    "appointment-calendar": lambda w, actor: (f"/api/v1/appointments/{w.appointment.pk}/calendar.ics", None),
    "appointment-check-in": lambda w, actor: (f"/api/v1/appointments/{w.today.pk}/check-in/", None),
    "appointment-pre-care": lambda w, actor: (f"/api/v1/appointments/{_pre_care(w).pk}/pre-care/", None),
    "appointment-pre-care-acknowledge": lambda w, actor: (
        f"/api/v1/appointments/{_pre_care(w).pk}/pre-care/acknowledge/",
        None,
    ),
    "appointment-no-show": lambda w, actor: (f"/api/v1/appointments/{w.started.pk}/no-show/", None),
    "appointment-deposit": lambda w, actor: (
        f"/api/v1/appointments/{w.appointment.pk}/deposit/",
        {"method": "octopus", "amount": "200.00", "idempotency_key": f"desk-{actor}"},
    ),
    "ledger-waive": lambda w, actor: (f"/api/v1/ledger/{_fee(w).pk}/waive/", {"reason": "First time; typhoon"}),
    "ledger-refund": lambda w, actor: (
        f"/api/v1/ledger/{_desk_deposit_to_return(w).pk}/refund/",
        {"method": "cash", "idempotency_key": f"back-{actor}"},
    ),
    "appointment-consent": lambda w, actor: (
        f"/api/v1/appointments/{w.appointment.pk}/consent/",
        {"version": _consent_version(w).pk, "full_name": "Alice Chan", "photo_use": ["teaching"]},
    ),
    "me-consents": lambda w, actor: ("/api/v1/me/consents/", None),
    "consent-withdraw": lambda w, actor: (
        f"/api/v1/consents/{_signature(w).pk}/withdraw/",
        {"reason": "Changed her mind"},
    ),
    "notification-list": lambda w, actor: (f"/api/v1/notifications/?patient={w.patient_a.pk}", None),
    "assessment-list": lambda w, actor: ("/api/v1/assessments/", {**ASSESSMENT, "patient": w.patient_a.pk}),
    "assessment-detail": lambda w, actor: (
        f"/api/v1/assessments/{_assessment(w).pk}/",
        {"notes": "Corrected", "reason": "Typo"},
    ),
    "assessment-history": lambda w, actor: (f"/api/v1/assessments/{_assessment(w).pk}/history/", None),
    "assessment-photos": lambda w, actor: (
        f"/api/v1/assessments/{_assessment(w).pk}/photos/",
        {"view": "front", "image": SimpleUploadedFile("face.jpg", PHOTO, content_type="image/jpeg")},
    ),
    "photo-image": lambda w, actor: (f"/api/v1/photos/{_photo(w).pk}/image", None),
    "photo-thumbnail": lambda w, actor: (f"/api/v1/photos/{_photo(w).pk}/thumbnail", None),
    "plan-list": lambda w, actor: (
        "/api/v1/plans/",
        {"patient": w.patient_a.pk, "treatment": w.treatment.slug, "sessions": 3},
    ),
    "plan-detail": lambda w, actor: (f"/api/v1/plans/{_plan(w).pk}/", None),
    "plan-cancel": lambda w, actor: (f"/api/v1/plans/{_plan(w).pk}/cancel/", {"reason": "Changed her mind"}),
    "plan-history": lambda w, actor: (f"/api/v1/plans/{_plan(w).pk}/history/", None),
    "me-progress": lambda w, actor: ("/api/v1/me/progress/", None),
    "patient-progress": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/progress/", None),
    "appointment-complete": lambda w, actor: (
        f"/api/v1/appointments/{_checked_in(w).pk}/complete/",
        {"areas": ["forehead"], "pain_score": 3, "parameters": {"agent": "glycolic acid"}},
    ),
    "session-record-list": lambda w, actor: (f"/api/v1/session-records/?patient={w.patient_a.pk}", None),
    "session-record-detail": lambda w, actor: (f"/api/v1/session-records/{_session_record(w).pk}/", None),
    "consent-pdf": lambda w, actor: (f"/api/v1/consents/{_consent(w).pk}.pdf", None),
    "me-access-log": lambda w, actor: ("/api/v1/me/access-log/", None),
    "patient-access-log": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/access-log/", None),
    "lot-search": lambda w, actor: ("/api/v1/lots/?lot=AB123", None),
    "me-export": lambda w, actor: ("/api/v1/me/export/", None),
    "patient-export": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/export/", None),
    "patient-erase": lambda w, actor: (f"/api/v1/patients/{w.patient_a.pk}/erase/", None),
    "patient-erasure": lambda w, actor: (f"/api/v1/patients/{_erased(w).pk}/erasure/", None),
    "waitlist-list": lambda w, actor: (
        "/api/v1/waitlist/",
        _for_staff(w, actor, {"treatment": w.treatment.slug, "earliest": str(_day(w, 9)), "latest": str(_day(w, 9))}),
    ),
    "waitlist-detail": lambda w, actor: (f"/api/v1/waitlist/{_waiting(w).pk}/", None),
    "waitlist-offer-by-hand": lambda w, actor: (
        f"/api/v1/waitlist/{_waiting(w).pk}/offer/",
        {"start": _at(_day(w, 14), 11).isoformat()},
    ),
    "waitlist-offer-detail": lambda w, actor: (f"/api/v1/waitlist/offers/{_offer(w).pk}/", None),
    "waitlist-offer-accept": lambda w, actor: (f"/api/v1/waitlist/offers/{_offer(w).pk}/accept/", None),
    "waitlist-offer-decline": lambda w, actor: (f"/api/v1/waitlist/offers/{_offer(w).pk}/decline/", None),
    "webhook-list": lambda w, actor: (
        "/api/v1/webhooks/",
        {"url": "https://93.184.215.14/hooks", "events": ["appointment.created"]},
    ),
    "webhook-detail": lambda w, actor: (f"/api/v1/webhooks/{_webhook(w).pk}/", {"description": "Our CRM"}),
    "webhook-rotate": lambda w, actor: (f"/api/v1/webhooks/{_webhook(w).pk}/rotate/", None),
    "webhook-ping": lambda w, actor: (f"/api/v1/webhooks/{_webhook(w).pk}/ping/", None),
    "webhook-deliveries": lambda w, actor: (f"/api/v1/webhooks/{_webhook(w).pk}/deliveries/", None),
    "webhook-delivery-retry": lambda w, actor: _failed_delivery(w),
    "me-calendar-feed": _calendar_feed,
    "package-offer-list": lambda w, actor: ("/api/v1/package-offers/", None),
    "me-packages": lambda w, actor: ("/api/v1/me/packages/", None),
    "patient-packages": lambda w, actor: (
        f"/api/v1/patients/{w.patient_a.pk}/packages/",
        {"offer": _package_offer(w).pk, "method": "cash", "idempotency_key": f"sale-{actor}"},
    ),
    "package-refund": lambda w, actor: (
        f"/api/v1/packages/{_package(w, actor).pk}/refund/",
        {"method": "cash", "idempotency_key": f"refund-{actor}"},
    ),
    "me-ledger": lambda w, actor: ("/api/v1/me/ledger/", None),
    "patient-ledger": lambda w, actor: (
        f"/api/v1/patients/{w.patient_a.pk}/ledger/",
        {"kind": "payment", "amount": "100.00", "method": "cash", "idempotency_key": f"desk-{actor}"},
    ),
    "receipt-pdf": lambda w, actor: (f"/api/v1/ledger/{_receipted(w).pk}/receipt.pdf", None),
    "takings": lambda w, actor: ("/api/v1/reports/takings/", None),
    "report-outcomes": lambda w, actor: ("/api/v1/reports/outcomes/", None),
    "report-operations": lambda w, actor: ("/api/v1/reports/operations/", None),
    "schema": lambda w, actor: ("/api/v1/schema/", None),
    "docs": lambda w, actor: ("/api/v1/docs/", None),
}


# --- what may change -----------------------------------------------------------------


def snapshot(w: World) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "tokens": AuthToken.objects.count(),
        "appointments": Appointment.objects.count(),
        "patients": Patient.objects.count(),
        "users": User.objects.count(),
        "declarations": HealthDeclaration.objects.count(),
        "important dates": list(ImportantDate.objects.order_by("pk").values_list("pk", "patient_id")),
        "channel choices": list(ChannelChoice.objects.order_by("pk").values_list("patient_id", "topic", "channel")),
        "assessments": list(Assessment.objects.order_by("pk").values_list("pk", "notes", "quantitative_score")),
        "photos": AssessmentPhoto.objects.count(),
        "plans": list(TreatmentPlan.objects.order_by("pk").values_list("pk", "status")),
        "session records": SessionRecord.objects.count(),
        "consent signatures": list(ConsentSignature.objects.order_by("pk").values_list("pk", "withdrawn_at")),
        "pre-care confirmations": PreCareAcknowledgement.objects.count(),
        "waitlist entries": list(WaitlistEntry.objects.order_by("pk").values_list("pk", "status")),
        "waitlist offers": list(WaitlistOffer.objects.order_by("pk").values_list("pk", "status")),
        "webhooks": list(
            WebhookSubscription.objects.order_by("pk").values_list("pk", "url", "description", "secret", "active")
        ),
        "webhook deliveries": list(WebhookDelivery.objects.order_by("pk").values_list("pk", "status")),
        "packages": list(Package.objects.order_by("pk").values_list("pk", "status")),
        "calendar feeds": list(CalendarFeed.objects.order_by("pk").values_list("pk", "token", "revoked_at")),
        "ledger": list(LedgerEntry.objects.order_by("pk").values_list("pk", "kind", "amount", "reversed_amount")),
        "a": Patient.objects.filter(pk=w.patient_a.pk).values("full_name", "email", "user_id").get(),
        "a's appointments": list(
            Appointment.objects.filter(patient=w.patient_a)
            .order_by("pk")
            .values_list("pk", "status", "start", "practitioner_id", "sequence")
        ),
    }


def check_effect(w: World, name: str, method: str, actor: str, before: dict[str, Any], body: Any) -> None:
    """The allowed state-changing requests did what they say."""
    after = snapshot(w)
    status_of = dict(Appointment.objects.values_list("pk", "status"))
    if (name, method) == ("appointment-list", "post"):
        assert after["appointments"] == before["appointments"] + 1
        owner = w.patient_a if actor in STAFF else w.users[actor].patient
        assert Appointment.objects.get(pk=body["id"]).patient == owner
    elif name == "appointment-cancel":
        assert status_of[w.appointment.pk] == Appointment.Status.CANCELLED
    elif name == "appointment-reschedule":
        moved = Appointment.objects.get(pk=w.appointment.pk)
        assert moved.start == _at(_day(w, 7), 11)
        assert moved.sequence == w.appointment.sequence + 1
    elif name == "appointment-check-in":
        assert status_of[w.today.pk] == Appointment.Status.CHECKED_IN
    elif (name, method) == ("appointment-deposit", "post"):
        paid = LedgerEntry.objects.get(pk=body["id"])
        assert (paid.appointment_id, paid.kind, paid.method, body["amount"]) == (
            w.appointment.pk,
            "payment",
            "octopus",
            "200.00",
        )
    elif name == "ledger-waive":
        waiver = LedgerEntry.objects.get(pk=body["id"])
        assert (waiver.kind, waiver.note, waiver.recorded_by) == ("waiver", "First time; typhoon", w.users[actor])
    elif name == "ledger-refund":
        refund = LedgerEntry.objects.get(pk=body["id"])
        assert (refund.kind, refund.amount, refund.reverses.reversed_amount) == ("refund", 300, 300)
    elif name == "appointment-pre-care-acknowledge":
        assert PreCareAcknowledgement.objects.filter(appointment=w.appointment, by=w.users[actor]).count() == 1
        assert body["all_confirmed"] is True
    elif name == "appointment-no-show":
        assert status_of[w.started.pk] == Appointment.Status.NO_SHOW
    elif (name, method) in {("me-declarations", "post"), ("patient-declarations", "post")}:
        assert after["declarations"] == before["declarations"] + 1
        owner = w.patient_a if name == "patient-declarations" else w.users[actor].patient
        assert HealthDeclaration.objects.get(pk=body["id"]).patient == owner
    elif (name, method) == ("me-dates", "post"):
        assert ImportantDate.objects.get(pk=body["id"]).patient == w.users[actor].patient
    elif (name, method) in {("me-channels", "put"), ("patient-channels", "put")}:
        owner = w.patient_a if name == "patient-channels" else w.users[actor].patient
        topic = "plan_nudges" if name == "patient-channels" else "reminders"
        assert ChannelChoice.objects.filter(patient=owner, topic=topic, channel="off").exists()
        assert body["topics"][topic] == []
    elif name == "me-date":
        assert len(after["important dates"]) == len(before["important dates"]) - 1
    elif (name, method) == ("patient-list", "post"):
        assert after["patients"] == before["patients"] + 1
        assert Patient.objects.get(pk=body["id"]).user_id is None
    elif (name, method) in {("me", "patch"), ("patient-detail", "patch")}:
        owner = w.patient_a if name == "patient-detail" else w.users[actor].patient
        owner.refresh_from_db()
        assert owner.full_name == "Renamed Person"
    elif name == "me-email-confirm":
        w.patient_a.refresh_from_db()
        assert w.patient_a.email == f"confirmed-{actor}@example.com"
    elif name == "auth-register":
        assert after["patients"] == before["patients"] + 1
        assert after["users"] == before["users"] + 1
        assert after["tokens"] == before["tokens"] + 1
    elif name in {"auth-token", "auth-password-reset-confirm"}:
        assert after["tokens"] == before["tokens"] + 1
        assert body["token"]
    elif name == "auth-logout":
        assert after["tokens"] == before["tokens"] - 1
    elif name == "auth-logout-all":
        assert not AuthToken.objects.filter(user=w.users[actor]).exists()
    elif name == "me-password":
        assert w.users[actor].__class__.objects.get(pk=w.users[actor].pk).check_password(STRONG_PASSWORD)
        assert AuthToken.objects.filter(user=w.users[actor]).count() == 1  # only the new one
        assert body["token"]
    elif name == "me-device":
        assert SignedInDevice.objects.filter(user=w.users[actor]).count() == 1  # the caller's own token's
    elif (name, method) == ("assessment-list", "post"):
        assert len(after["assessments"]) == len(before["assessments"]) + 1
        assert Assessment.objects.get(pk=body["id"]).patient == w.patient_a
    elif (name, method) == ("assessment-detail", "patch"):
        assert Assessment.objects.get(pk=body["id"]).notes == "Corrected"
    elif name == "assessment-photos":
        assert after["photos"] == before["photos"] + 1
    elif (name, method) == ("plan-list", "post"):
        assert TreatmentPlan.objects.get(pk=body["id"]).patient == w.patient_a
    elif name == "plan-cancel":
        assert TreatmentPlan.objects.get(pk=body["id"]).status == TreatmentPlan.Status.CANCELLED
    elif name == "patient-erase":
        erased = Patient.objects.get(pk=w.patient_a.pk)
        assert erased.erased_at is not None and erased.user_id is None and erased.email == ""
        assert status_of[w.appointment.pk] == Appointment.Status.CANCELLED
    elif (name, method) == ("appointment-consent", "post"):
        signature = ConsentSignature.objects.get(pk=body["id"])
        assert signature.patient == w.patient_a
        assert signature.channel == ("desk" if actor in STAFF else "online")
        assert signature.witnessed_by == (w.users[actor] if actor in STAFF else None)
    elif name == "consent-withdraw":
        assert ConsentSignature.objects.get(pk=body["id"]).withdrawn_by == w.users[actor]
    elif (name, method) == ("waitlist-list", "post"):
        owner = w.patient_a if actor in STAFF else w.users[actor].patient
        assert WaitlistEntry.objects.get(pk=body["id"]).patient == owner
    elif name == "waitlist-detail":
        assert WaitlistEntry.objects.get(patient=w.patient_a).status == WaitlistEntry.Status.LEFT
    elif name == "waitlist-offer-by-hand":
        offer = WaitlistOffer.objects.get(pk=body["id"])
        assert (offer.offered_by, offer.status) == (w.users[actor], WaitlistOffer.Status.OPEN)
    elif name == "waitlist-offer-accept":
        booked = Appointment.objects.get(pk=body["id"])
        assert (booked.patient, booked.booked_by) == (w.patient_a, w.users[actor])
        assert WaitlistOffer.objects.get(appointment=booked).status == WaitlistOffer.Status.ACCEPTED
    elif (name, method) == ("patient-packages", "post"):
        sold = Package.objects.get(pk=body["id"])
        assert (sold.patient, sold.sold_by) == (w.patient_a, w.users[actor])
    elif name == "package-refund":
        assert Package.objects.get(pk=body["package"]["id"]).status == Package.Status.REFUNDED
    elif name == "waitlist-offer-decline":
        assert WaitlistOffer.objects.get(pk=body["id"]).status == WaitlistOffer.Status.DECLINED
    elif (name, method) == ("webhook-list", "post"):
        assert WebhookSubscription.objects.get(pk=body["id"]).created_by == w.users[actor]
        assert body["secret"].startswith("whsec_")
    elif (name, method) == ("webhook-detail", "patch"):
        assert WebhookSubscription.objects.get(pk=body["id"]).description == "Our CRM"
    elif (name, method) == ("webhook-detail", "delete"):
        assert not WebhookSubscription.objects.exists()
    elif name == "webhook-rotate":
        assert body["secret"] != next(row[3] for row in before["webhooks"] if row[0] == body["id"])
        assert body["previous_secret_expires_at"] is not None
    elif name == "webhook-ping":
        assert WebhookDelivery.objects.get(pk=body["id"]).event_type == "ping"
    elif name == "webhook-delivery-retry":
        assert WebhookDelivery.objects.get(pk=body["id"]).status == WebhookDelivery.Status.PENDING
    elif (name, method) == ("me-calendar-feed", "post"):
        live = CalendarFeed.objects.get(user=w.users[actor], revoked_at__isnull=True)
        assert body["url"].endswith(f"/calendar/{live.token}.ics")
        assert len(after["calendar feeds"]) == len(before["calendar feeds"]) + 1  # the old one revoked, kept
    elif (name, method) == ("me-calendar-feed", "delete"):
        assert not CalendarFeed.objects.filter(user=w.users[actor], revoked_at__isnull=True).exists()
    elif (name, method) == ("patient-ledger", "post"):
        entry = LedgerEntry.objects.get(pk=body["id"])
        assert (entry.patient, entry.recorded_by, entry.amount) == (w.patient_a, w.users[actor], Decimal("100.00"))
        assert len(after["ledger"]) == len(before["ledger"]) + 1
    elif name == "appointment-complete":
        assert status_of[body["id"]] == Appointment.Status.COMPLETED
        assert SessionRecord.objects.get(pk=body["session_record"]).appointment_id == body["id"]


def assert_error_body(response: Any, status: int) -> None:
    body = response.json()
    assert {"code", "detail"} <= set(body), body
    assert set(body) <= {"code", "detail", "fields"}, body
    assert body["code"] == ERROR_CODES[status], body
    assert isinstance(body["detail"], str) and body["detail"], body


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    send = getattr(client, method)
    if method in {"get", "delete"}:
        return send(path)
    if body is not None and any(hasattr(value, "read") for value in body.values()):
        return send(path, body, format="multipart")  # a photo upload
    return send(path, body if body is not None else {}, format="json")


# --- the tests -------------------------------------------------------------------------


def test_every_api_route_and_method_has_an_entry() -> None:
    """A new route or method without a decision about who may call it fails here."""
    assert ROUTES, "no routes found under /api/v1/"
    missing = sorted(set(CASES) - set(EXPECTED))
    assert not missing, f"new route without an entry in EXPECTED: {missing}"
    stale = sorted(set(EXPECTED) - set(CASES))
    assert not stale, f"EXPECTED names routes or methods the URL configuration no longer has: {stale}"
    assert set(BUILDERS) >= {name for name, _ in CASES}, "a route without a request builder"


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_permission_matrix(world: World, name: str, method: str, actor: str) -> None:
    assert (name, method) in EXPECTED, f"new route without an entry: {name} {method.upper()}"
    expected = EXPECTED[(name, method)][ACTORS.index(actor)]
    with time_machine.travel(world.now, tick=True):
        client = world.client(actor)
        path, body = BUILDERS[name](world, actor)
        before = snapshot(world)
        response = call(client, method, path, body)

        assert response.status_code == expected, (
            f"{actor} {method.upper()} {path}: {response.status_code} {response.content[:400]!r}"
        )
        if expected >= 400:
            assert_error_body(response, expected)
            if method != "get":
                assert snapshot(world) == before, "a refused request changed something"
        elif method != "get":
            check_effect(world, name, method, actor, before, response.json() if response.content else None)


STAFF_ONLY_WITH_ID = [
    "patient-detail",
    "patient-channels",
    "patient-dates",
    "patient-declarations",
    "appointment-check-in",
    "appointment-no-show",
    "patient-access-log",
    "patient-packages",
]


@pytest.mark.parametrize("name", STAFF_ONLY_WITH_ID)
@pytest.mark.parametrize("actor", [A, B])
def test_role_refusal_does_not_depend_on_the_object(world: World, name: str, actor: str) -> None:
    """A patient refused by role gets the same 403 for A's object as for an id
    that does not exist: the refusal reveals nothing."""
    with time_machine.travel(world.now, tick=True):
        client = world.client(actor)
        path, body = BUILDERS[name](world, actor)
        ids = {world.patient_a.pk, world.today.pk, world.started.pk}
        real_id = next(part for part in path.split("/") if part.isdigit() and int(part) in ids)
        missing_path = path.replace(f"/{real_id}/", "/999999999/")
        for method in next(r.methods for r in ROUTES if r.name == name):
            real = call(client, method, path, body)
            missing = call(client, method, missing_path, body)
            assert real.status_code == missing.status_code == 403
            assert real.json() == missing.json()


@pytest.mark.parametrize(
    "name",
    [
        "appointment-detail",
        "appointment-reschedule",
        "appointment-cancel",
        "appointment-calendar",
        "appointment-consent",
        "appointment-pre-care",
        "appointment-pre-care-acknowledge",
        "appointment-deposit",
    ],
)
def test_another_patients_appointment_looks_like_a_missing_one(world: World, name: str) -> None:
    with time_machine.travel(world.now, tick=True):
        client = world.client(B)
        path, body = BUILDERS[name](world, B)
        method = next(r.methods for r in ROUTES if r.name == name)[0]
        missing_path = path.replace(f"/{world.appointment.pk}/", "/999999999/")
        real = call(client, method, path, body)
        missing = call(client, method, missing_path, body)
        assert real.status_code == missing.status_code == 404
        assert real.json() == missing.json()


def test_patient_list_of_appointments_never_shows_another_patients(world: World) -> None:
    with time_machine.travel(world.now, tick=True):
        client = world.client(B)
        mine = client.get("/api/v1/appointments/").json()
        asked_for_a = client.get(f"/api/v1/appointments/?patient={world.patient_a.pk}").json()
    assert mine["count"] == 0 and asked_for_a["count"] == 0


@pytest.mark.parametrize(
    "credentials",
    ["Bearer not-a-token", "Bearer ", "Token abc", "Bearer " + "x" * 5000, "Basic Zm9vOmJhcg=="],
    ids=["garbage", "empty", "wrong-scheme", "huge", "basic"],
)
def test_bad_credentials_on_a_protected_endpoint_are_401(world: World, credentials: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=credentials)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert_error_body(response, 401)


def test_a_revoked_token_is_401(world: World) -> None:
    client = world.client(A)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert_error_body(response, 401)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_methods_a_route_does_not_handle_are_405_in_the_envelope(world: World, route: Route) -> None:
    """Sent by an actor who may use the route, so 401/403 do not come first."""
    refused = next(m for m in ("delete", "put", "patch", "post") if m not in route.methods)
    first = route.methods[0]
    actor = next(a for a in ACTORS if EXPECTED[(route.name, first)][ACTORS.index(a)] < 300)
    with time_machine.travel(world.now, tick=True):
        path, _body = BUILDERS[route.name](world, actor)
        response = call(world.client(actor), refused, path, {})
    assert response.status_code == 405, response.content[:300]
    assert_error_body(response, 405)
