"""Query budgets of the list endpoints: as many queries for 50 rows as for 1.

Each test renders the list with one row, counts the queries, grows it to 50
rows (each with its own related objects, so a per-row lookup cannot hide
behind a shared one) and asserts the same count with ``django_assert_num_queries``,
whose failure lists the queries. A first request warms per-process caches
(content types, translations) so they are not counted as part of either.
The absolute budget catches a constant but wasteful endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment, Practitioner, Room
from patients.models import ImportantDate, Patient
from patients.services import access_record
from tests.api.conftest import client_for
from tests.factories import (
    AppointmentFactory,
    ClinicClosureFactory,
    DeviceFactory,
    DeviceKindFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

BUDGET = 12
MANY = 50
STATUSES = [
    Appointment.Status.CONFIRMED,
    Appointment.Status.CANCELLED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
]


def _rows(body: Any) -> int:
    if isinstance(body, dict) and "results" in body:
        assert body["count"] == len(body["results"]), "more rows than one page: the test would miss some"
        return len(body["results"])
    return len(body["slots"])


def _count(client: APIClient, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(queries.captured_queries), _rows(response.json())


def assert_constant_queries(
    django_assert_num_queries: Any,
    client: APIClient,
    url: str,
    add_rows: Callable[[int], None],
    *,
    many: int = MANY,
    rows: Callable[[int], int] = lambda n: n,
) -> int:
    """``add_rows(n)`` adds n rows; ``rows(n)`` is how many the list then shows."""
    add_rows(1)
    client.get(url)  # warm-up
    one, shown = _count(client, url)
    assert shown == rows(1), f"expected {rows(1)} rows with one added, got {shown}"
    assert one <= BUDGET, f"{url}: {one} queries for one row, over the budget of {BUDGET}"
    add_rows(many - 1)
    with django_assert_num_queries(one):
        response = client.get(url)
    assert response.status_code == 200
    assert _rows(response.json()) == rows(many), "the rows added did not all show"
    return one


def _at(days_ahead: int, hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=days_ahead)
    return timezone.make_aware(datetime.combine(day, time(hour)))


# --- public catalogue -----------------------------------------------------------------


def test_treatment_list(django_assert_num_queries: Any, anonymous: APIClient) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            treatment = TreatmentFactory()
            treatment.contraindications.create(code="PREG", severity="caution")
        TreatmentFactory(active=False)  # not listed

    assert_constant_queries(django_assert_num_queries, anonymous, "/api/v1/treatments/", add)


def test_practitioner_list(django_assert_num_queries: Any, anonymous: APIClient) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            PractitionerFactory(treatments=[TreatmentFactory(), TreatmentFactory(), TreatmentFactory(active=False)])

    assert_constant_queries(django_assert_num_queries, anonymous, "/api/v1/practitioners/", add)


# --- appointments ------------------------------------------------------------------------


def _appointments(patient: Callable[[], Patient], counter: list[int]) -> Callable[[int], None]:
    """Appointments a day apart, each with its own treatment, practitioner and
    room (and patient, when ``patient`` makes a new one), in every status."""

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            AppointmentFactory(
                patient=patient(),
                start=_at(3 + index, 10),
                status=STATUSES[index % len(STATUSES)],
                cautions=[{"code": "PREG", "detail": "Tell us if pregnant.", "severity": "caution"}],
            )

    return add


def test_appointment_list_for_a_patient(
    django_assert_num_queries: Any, patient_a: Patient, patient_b: Patient, as_a: APIClient
) -> None:
    AppointmentFactory(patient=patient_b)  # not A's: never listed
    add = _appointments(lambda: patient_a, [0])
    assert_constant_queries(django_assert_num_queries, as_a, "/api/v1/appointments/", add)


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_appointment_list_for_staff(django_assert_num_queries: Any, role: str) -> None:
    client = client_for(UserFactory(role=role))
    add = _appointments(PatientFactory, [0])
    assert_constant_queries(django_assert_num_queries, client, "/api/v1/appointments/", add)


@pytest.mark.parametrize("role", ["patient", "receptionist"])
def test_appointment_list_with_downtime_flags(django_assert_num_queries: Any, role: str) -> None:
    """Each row's downtime flag reads its patient's dates that matter from one prefetch."""
    own = PatientFactory()
    client = client_for(own.user if role == "patient" else UserFactory(role=role))
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            patient = own if role == "patient" else PatientFactory()
            start = _at(3 + index, 10)
            day = timezone.localtime(start).date()
            ImportantDate.objects.create(patient=patient, starts_on=day, ends_on=day, label=f"Event {index}")
            treatment = TreatmentFactory(downtime_days_min=1, downtime_days_max=3)
            AppointmentFactory(patient=patient, treatment=treatment, start=start)

    assert_constant_queries(django_assert_num_queries, client, "/api/v1/appointments/", add)
    flags = client.get("/api/v1/appointments/").json()["results"][0]["downtime"]
    assert flags and flags[0]["label"].startswith("Event")


def test_appointment_list_for_staff_with_every_filter(django_assert_num_queries: Any, as_reception: APIClient) -> None:
    patient = PatientFactory()
    practitioner = PractitionerFactory()
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            AppointmentFactory(patient=patient, practitioner=practitioner, start=_at(3 + index, 10))

    first, last = timezone.localdate(), timezone.localdate() + timedelta(days=MANY + 10)
    url = (
        f"/api/v1/appointments/?patient={patient.pk}&practitioner={practitioner.pk}"
        f"&from={first}&to={last}&status=confirmed&status=cancelled"
    )
    assert_constant_queries(django_assert_num_queries, as_reception, url, add)


# --- patients and declarations -----------------------------------------------------------


def test_patient_list(django_assert_num_queries: Any, as_reception: APIClient) -> None:
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            with_login = counter[0] % 2 == 0
            counter[0] += 1
            PatientFactory(**({} if with_login else {"user": None, "email": ""}))

    assert_constant_queries(django_assert_num_queries, as_reception, "/api/v1/patients/", add)


def test_patient_search(django_assert_num_queries: Any, as_reception: APIClient) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            PatientFactory(full_name="Chan Tai Man")
        PatientFactory(full_name="Wong Siu Ming")  # not found

    assert_constant_queries(django_assert_num_queries, as_reception, "/api/v1/patients/?q=chan", add)


def _declarations(patient: Patient, staff_user: Any) -> Callable[[int], None]:
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            entered_by = staff_user if counter[0] % 2 else None
            counter[0] += 1
            HealthDeclarationFactory(patient=patient, entered_by=entered_by, allergies=["lidocaine"])
        HealthDeclarationFactory()  # another patient's: never listed

    return add


def test_own_declarations(django_assert_num_queries: Any) -> None:
    patient = PatientFactory()
    add = _declarations(patient, UserFactory(role="receptionist"))
    assert_constant_queries(django_assert_num_queries, client_for(patient.user), "/api/v1/me/health-declarations/", add)


def test_a_patients_declarations_for_staff(django_assert_num_queries: Any) -> None:
    staff = UserFactory(role="practitioner")
    patient = PatientFactory(user=None, email="")
    add = _declarations(patient, staff)
    url = f"/api/v1/patients/{patient.pk}/health-declarations/"
    assert_constant_queries(django_assert_num_queries, client_for(staff), url, add)


# --- availability over 31 days -------------------------------------------------------------


def _availability_url(treatment: Treatment, practitioner: Practitioner | None = None) -> str:
    first = timezone.localdate() + timedelta(days=1)
    last = first + timedelta(days=30)
    url = f"/api/v1/availability/?treatment={treatment.slug}&from={first}&to={last}"
    return f"{url}&practitioner={practitioner.pk}" if practitioner else url


@pytest.mark.parametrize("who", ["anonymous", "patient", "staff"])
def test_availability_with_more_appointments(
    django_assert_num_queries: Any, peel: Treatment, practitioner: Practitioner, patient_a: Patient, who: str
) -> None:
    """One busy appointment or fifty, spread over the 31 days, each its own patient.
    The role decides the bounds (notice, horizon), so each role is counted."""
    client = {"anonymous": APIClient(), "patient": client_for(patient_a.user)}.get(who) or client_for(
        UserFactory(role="receptionist")
    )
    room = Room.objects.get(kind=peel.room_kind)
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            AppointmentFactory(
                treatment=peel,
                practitioner=practitioner,
                room=room,
                start=_at(2 + index % 30, 10 + index // 30),
            )

    url = _availability_url(peel)
    add(1)
    client.get(url)
    one, _ = _count(client, url)
    assert one <= BUDGET, f"{one} queries, over the budget of {BUDGET}"
    add(MANY - 1)
    with django_assert_num_queries(one):
        assert client.get(url).status_code == 200


def test_availability_with_more_practitioners(django_assert_num_queries: Any, peel: Treatment) -> None:
    """Each practitioner brings weekly hours, time off and appointments; closures are shared."""
    RoomFactory(kind=peel.room_kind)
    RoomFactory(kind=peel.room_kind)
    client = APIClient()
    url = _availability_url(peel)
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            practitioner = PractitionerFactory(treatments=[peel])
            TimeOffFactory(practitioner=practitioner, start=_at(5 + index % 20, 10))
            AppointmentFactory(
                treatment=peel,
                practitioner=practitioner,
                room=RoomFactory(kind=peel.room_kind),
                start=_at(3 + index % 20, 15),
            )
            ClinicClosureFactory(start=_at(10 + index % 20, 18), end=_at(10 + index % 20, 19))

    add(1)
    client.get(url)
    one, slots_with_one = _count(client, url)
    assert slots_with_one > 0
    assert one <= BUDGET
    add(19)
    with django_assert_num_queries(one):
        assert client.get(url).status_code == 200


def test_availability_with_a_device(django_assert_num_queries: Any) -> None:
    """A treatment that needs a device loads the devices too, in one query."""
    kind = DeviceKindFactory()
    laser = TreatmentFactory(slug="pico-laser", device_kind=kind, duration_minutes=45)
    RoomFactory(kind=laser.room_kind)
    DeviceFactory(kind=kind)
    client = APIClient()
    url = _availability_url(laser)
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            practitioner = PractitionerFactory(treatments=[laser])
            AppointmentFactory(
                treatment=laser,
                practitioner=practitioner,
                room=RoomFactory(kind=laser.room_kind),
                device=DeviceFactory(kind=kind),
                start=_at(3 + index % 20, 11),
            )

    add(1)
    client.get(url)
    one, _ = _count(client, url)
    assert one <= BUDGET
    add(19)
    with django_assert_num_queries(one):
        assert client.get(url).status_code == 200


# --- the access log --------------------------------------------------------------------------


def _access_events(patient: Patient) -> Callable[[int], None]:
    def add(n: int) -> None:
        for _ in range(n):
            access_record(UserFactory(role="practitioner"), patient, "assessment", "api")

    return add


def test_own_access_log(django_assert_num_queries: Any) -> None:
    patient = PatientFactory()
    url = "/api/v1/me/access-log/"
    assert_constant_queries(django_assert_num_queries, client_for(patient.user), url, _access_events(patient))


def test_a_patients_access_log_for_a_manager(django_assert_num_queries: Any) -> None:
    patient = PatientFactory()
    url = f"/api/v1/patients/{patient.pk}/access-log/"
    manager = client_for(UserFactory(role="manager"))
    assert_constant_queries(django_assert_num_queries, manager, url, _access_events(patient))


# --- outgoing webhooks (managers) -------------------------------------------------------


def _webhook_delivery(subscription: Any, *codes: int) -> None:
    from booking.models import WebhookAttempt, WebhookDelivery

    now = timezone.now()
    number = WebhookDelivery.objects.count() + 1
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="appointment.created",
        event_key=f"appointment.created:appointment:{number}:0",
        message_id=f"msg_{number:032d}",
        body='{"type":"appointment.created","timestamp":null,"data":{"id":1}}',
        status="sent" if codes[-1] == 200 else "failed",
        attempts=len(codes),
        next_attempt_at=now,
        sent_at=now if codes[-1] == 200 else None,
    )
    for index, code in enumerate(codes):
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now + timedelta(seconds=index),
            status_code=code,
            error="" if code == 200 else "http_500",
        )


def test_webhook_list(django_assert_num_queries: Any, as_manager: APIClient) -> None:
    from booking import webhooks

    manager = UserFactory(role="manager")

    def add(n: int) -> None:
        for _ in range(n):
            subscription = webhooks.subscription_create(
                url="https://93.184.215.14/hooks", events=["appointment.created"], by=manager
            )
            _webhook_delivery(subscription, 500, 200)
            _webhook_delivery(subscription, 500, 500)

    assert_constant_queries(django_assert_num_queries, as_manager, "/api/v1/webhooks/", add)


def test_webhook_deliveries(django_assert_num_queries: Any, as_manager: APIClient) -> None:
    from booking import webhooks

    subscription = webhooks.subscription_create(
        url="https://93.184.215.14/hooks", events=["appointment.created"], by=UserFactory(role="manager")
    )

    def add(n: int) -> None:
        for _ in range(n):
            _webhook_delivery(subscription, 500, 502, 200)

    assert_constant_queries(
        django_assert_num_queries, as_manager, f"/api/v1/webhooks/{subscription.pk}/deliveries/", add
    )


# --- booking ----------------------------------------------------------------------------

# A patient's online booking (no deposit, any practitioner): token and throttle,
# treatment, erasure and plan checks, the qualified practitioners, the advisory
# locks, one probe for lapsed holds and deposits, the engine's reads, screening
# and gap rules, the day's counts for a fair pick, the insert and its history row
# (in a savepoint), pre-care, channels, one INSERT of every notification, webhook
# subscriptions; two savepoint statements because the test runs in a transaction.
# Pinned: a new statement must be a choice (35 before issue 23).
BOOKING_QUERIES = 29


def _book(client: APIClient, treatment: Treatment, start: datetime) -> Any:
    return client.post(
        "/api/v1/appointments/", {"treatment": treatment.slug, "start": start.isoformat()}, format="json"
    )


def test_booking_a_visit(django_assert_num_queries: Any) -> None:
    """As many statements for a patient's tenth booking, among many others' on
    a busy day, as for their first; every notification still written."""
    from booking.models import Notification
    from tests.api.conftest import next_weekday_at
    from treatments.models import PreCareInstruction

    peel = TreatmentFactory(slug="peel-superficial", duration_minutes=30, buffer_minutes=10)
    peel.contraindications.create(code="INF", severity="block")
    instruction = PreCareInstruction.objects.create(
        code="no-retinoid", days_before=1, title_en="t", title_zh_hant="t", text_en="x", text_zh_hant="x"
    )
    instruction.treatments.add(peel)
    practitioner = PractitionerFactory(treatments=[peel])
    room = RoomFactory(kind=peel.room_kind)
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    client = client_for(patient.user)
    assert _book(client, peel, next_weekday_at(10, days_ahead=3)).status_code == 201  # warm-up

    with CaptureQueriesContext(connection) as queries:
        response = _book(client, peel, next_weekday_at(11, days_ahead=3))
    assert response.status_code == 201, response.content[:300]
    first = len(queries.captured_queries)
    assert first == BOOKING_QUERIES, "\n".join(q["sql"][:120] for q in queries.captured_queries)

    day = next_weekday_at(10, days_ahead=10)
    for hour in (10, 11, 12, 14, 15, 16, 17):  # the day's other visits, each with its own patient
        AppointmentFactory(treatment=peel, practitioner=practitioner, room=room, start=day.replace(hour=hour, minute=0))
    for week in range(5):  # the patient's own history, a week apart
        AppointmentFactory(
            patient=patient,
            treatment=peel,
            practitioner=practitioner,
            room=room,
            start=next_weekday_at(16, days_ahead=24 + 7 * week),
        )
    with django_assert_num_queries(first):
        response = _book(client, peel, day.replace(hour=18))
    assert response.status_code == 201, response.content[:300]
    booked = Appointment.objects.get(pk=response.json()["id"])
    kinds = sorted(Notification.objects.filter(appointment=booked).values_list("kind", flat=True))
    assert kinds.count("confirmation") == 1 and "pre_care" in kinds and "reminder" in kinds
