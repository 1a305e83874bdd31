"""Erasure with retention (booking/erasure.py): a manager erases a patient on
request; contact details (history included) and the login go at once, future
appointments are cancelled without mail, the clinical records wait for
CLINIC_RECORD_RETENTION after the last visit and are then purged by the
periodic task, which is safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from booking import notifications
from booking.erasure import erasures_purge, patient_erase
from booking.models import Appointment, Erasure, Notification, SessionRecord
from patients.models import ChannelChoice, HealthDeclaration, Patient
from tests.factories import UserFactory
from treatments.models import Assessment, AssessmentPhoto, ConsentSignature, PlanSession, TreatmentPlan

pytestmark = pytest.mark.django_db


def sign_in_records(email: str) -> int:
    return sum(
        model.objects.filter(username__iexact=email).count() for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_manager_erases_by_api_and_the_contact_details_and_login_go_at_once(
    api: Callable[..., APIClient], alice: Patient, manager: User, record: dict[str, Any], client: Client
) -> None:
    user = alice.user
    assert user is not None
    email = alice.email
    token_client = api(user)
    assert token_client.get("/api/v1/me/").status_code == 200
    client.force_login(user)
    assert client.get("/me/").status_code == 200
    credentials = {"email": email, "password": "correct-horse-battery"}
    assert APIClient().post("/api/v1/auth/token/", credentials, format="json").status_code == 200
    client.post("/accounts/login/", {"username": email, "password": "wrong-password"})
    assert sign_in_records(email) > 0

    response = api(manager).post(f"/api/v1/patients/{alice.pk}/erase/")
    assert response.status_code == 201, response.content
    assert sign_in_records(email) == 0  # django-axes kept them under the email address
    body = response.json()
    assert body["patient"] == alice.pk
    assert [step["step"] for step in body["steps"]] == [
        "contact_details_removed",
        "history_scrubbed",
        "login_removed",
        "important_dates_removed",
        "channel_choices_removed",
        "waitlist_ended",
        "webhook_payloads_scrubbed",
        "appointments_cancelled",
        "plans_cancelled",
        "notifications_skipped",
    ]
    assert all(step["at"] for step in body["steps"])
    assert body["purged_at"] is None
    assert body["last_visit"] == (timezone.localdate() - timedelta(days=30)).isoformat()

    alice.refresh_from_db()
    assert alice.full_name == f"Erased patient #{alice.pk}"
    assert (alice.email, alice.phone, alice.user_id) == ("", "", None)
    assert alice.erased_at is not None
    assert not ChannelChoice.objects.filter(patient=alice).exists()  # how to reach her went with the addresses
    # ...and not in the history either.
    for row in Patient.history.filter(id=alice.pk):
        assert (row.full_name, row.email, row.phone, row.user_id) == (alice.full_name, "", "", None)

    # The login: gone, with its tokens and sessions.
    assert not User.objects.filter(pk=user.pk).exists()
    assert token_client.get("/api/v1/me/").status_code == 401
    assert client.get("/me/").status_code == 302
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]
    signin = APIClient().post(
        "/api/v1/auth/token/", {"email": email, "password": "correct-horse-battery"}, format="json"
    )
    assert signin.status_code == 400

    # The clinical records stay until the retention ends.
    assert Assessment.objects.filter(patient=alice).count() == 1
    assert AssessmentPhoto.objects.filter(assessment__patient=alice).count() == 3
    assert SessionRecord.objects.filter(appointment__patient=alice).count() == 1
    assert HealthDeclaration.objects.filter(patient=alice).count() == 1

    # Managers read the record back.
    again = api(manager).get(f"/api/v1/patients/{alice.pk}/erasure/")
    assert again.status_code == 200 and again.json()["id"] == body["id"]


def test_future_appointments_are_cancelled_and_no_message_goes(
    alice: Patient, manager: User, record: dict[str, Any]
) -> None:
    future, past = record["future"], record["past"]
    plan = record["plan"]
    patient_erase(patient=alice, by=manager)
    future.refresh_from_db()
    past.refresh_from_db()
    assert future.status == Appointment.Status.CANCELLED
    assert future.cancelled_by == Appointment.CancelledBy.CLINIC
    assert past.status == Appointment.Status.COMPLETED  # the past is a clinical record: kept as it was
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.CANCELLED
    waiting = Notification.objects.filter(patient=alice, status__in=["pending", "sending", "failed"])
    assert not waiting.exists()
    cancellation = Notification.objects.get(appointment=future, kind=Notification.Kind.CANCELLATION)
    assert cancellation.status == Notification.Status.SKIPPED
    # Even a worker handed the rows sends nothing: there is no address left.
    notifications.notifications_deliver(
        ids=list(Notification.objects.filter(patient=alice).values_list("pk", flat=True))
    )
    assert mail.outbox == []
    # And the sweep creates no plan nudges for them.
    notifications.notifications_sweep(now=timezone.now() + timedelta(days=60), dispatch=lambda ids, claim: None)
    assert not Notification.objects.filter(patient=alice, status="pending").exists()


def test_who_may_erase_by_api(
    api: Callable[..., APIClient], alice: Patient, bob: Patient, manager: User, record: dict[str, Any]
) -> None:
    url = f"/api/v1/patients/{alice.pk}/erase/"
    assert api(None).post(url).status_code == 401
    assert api(alice.user).post(url).status_code == 403
    assert api(bob.user).post(url).status_code == 403
    for role in ("receptionist", "practitioner"):
        response = api(UserFactory(role=role)).post(url)
        assert response.status_code == 403, role
        assert response.json()["code"] == "permission_denied"
        assert api(UserFactory(role=role)).get(f"/api/v1/patients/{alice.pk}/erasure/").status_code == 403
    assert api(manager).post("/api/v1/patients/999999/erase/").status_code == 404
    assert api(manager).get(f"/api/v1/patients/{alice.pk}/erasure/").status_code == 404  # not erased: no record
    alice.refresh_from_db()
    assert alice.erased_at is None and alice.full_name == "Alice Chan"
    assert api(manager).post(url).status_code == 201
    twice = api(manager).post(url)
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"
    assert Erasure.objects.filter(patient=alice).count() == 1


def test_a_staff_login_is_not_erased_with_a_patient_record(api: Callable[..., APIClient], manager: User) -> None:
    from tests.factories import PatientFactory

    nurse = UserFactory(role="practitioner")
    patient = PatientFactory(user=nurse)
    response = api(manager).post(f"/api/v1/patients/{patient.pk}/erase/")
    assert response.status_code == 409
    assert User.objects.filter(pk=nurse.pk, is_active=True).exists()


def test_erase_from_the_chart_names_the_consequences_and_asks_to_confirm(
    client: Client, alice: Patient, manager: User, record: dict[str, Any]
) -> None:
    url = f"/staff/patients/{alice.pk}/erase/"
    for role in ("receptionist", "practitioner"):
        client.force_login(UserFactory(role=role))
        assert client.get(url).status_code == 403
        assert client.post(url, {"confirm": "erase"}).status_code == 403
        assert url not in client.get(f"/staff/patients/{alice.pk}/").content.decode()
    client.force_login(alice.user)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    assert url in client.get(f"/staff/patients/{alice.pk}/").content.decode()
    page = client.get(url).content.decode()
    assert "1 future appointment is cancelled" in page
    assert "cannot be undone" in page
    refused = client.post(url, {})
    assert refused.status_code == 400
    alice.refresh_from_db()
    assert alice.erased_at is None
    done = client.post(url, {"confirm": "erase"}, follow=True)
    assert done.status_code == 200
    body = done.content.decode()
    assert "Erasure record" in body and "appointments_cancelled" in body and "Alice" not in body
    alice.refresh_from_db()
    assert alice.erased_at is not None
    # Staff lists show the patient as erased; the chart cannot edit them any more.
    listing = client.get("/staff/patients/").content.decode()
    assert f"Erased patient #{alice.pk}" in listing and "Erased</span>" in listing
    edit = client.post(
        f"/staff/patients/{alice.pk}/edit/",
        {"full_name": "Alice Chan", "phone": "+85291234567", "date_of_birth": "1995-05-17", "preferred_language": "en"},
    )
    assert edit.status_code == 400
    assert "cannot be edited" in edit.content.decode()
    alice.refresh_from_db()
    assert alice.full_name == f"Erased patient #{alice.pk}"


def test_an_erased_patient_cannot_be_booked_or_edited(
    api: Callable[..., APIClient], alice: Patient, manager: User, record: dict[str, Any]
) -> None:
    patient_erase(patient=alice, by=manager)
    staff = api(UserFactory(role="receptionist"))
    start = (timezone.localtime() + timedelta(days=7)).replace(hour=11, minute=0, second=0, microsecond=0)
    response = staff.post(
        "/api/v1/appointments/",
        {"patient": alice.pk, "treatment": record["treatment"].slug, "start": start.isoformat()},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "not_bookable"
    assert not Appointment.objects.filter(patient=alice, status="confirmed").exists()
    patch = staff.patch(f"/api/v1/patients/{alice.pk}/", {"email": "alice@example.com"}, format="json")
    assert patch.status_code == 409 and patch.json()["code"] == "invalid_state"
    listed = staff.get("/api/v1/patients/?q=Erased").json()["results"]
    assert [p["erased_at"] is not None for p in listed] == [True]


def test_purge_waits_for_the_retention_then_deletes_records_and_files_once(
    alice: Patient, bob: Patient, manager: User, record: dict[str, Any], media: Path, settings: Any
) -> None:
    settings.CLINIC_RECORD_RETENTION = timedelta(days=7 * 365 + 2)
    files_before = stored_files(media)
    assert len(files_before) == 6  # three photos and their thumbnails
    erasure = patient_erase(patient=alice, by=manager)
    last_visit = record["past"].start
    assert erasure.purge_due >= last_visit + settings.CLINIC_RECORD_RETENTION - timedelta(days=1)
    assert ConsentSignature.objects.filter(patient=alice).count() == 1  # a clinical record: kept until the purge

    with time_machine.travel(erasure.purge_due - timedelta(days=1), tick=False):
        assert erasures_purge() == 0
    assert Assessment.objects.filter(patient=alice).exists()
    assert len(stored_files(media)) == 6

    with time_machine.travel(erasure.purge_due + timedelta(hours=1), tick=False):
        assert erasures_purge() == 1
        assert erasures_purge() == 0  # safe to run twice

    for model, lookup in [
        (Assessment, {"patient": alice}),
        (AssessmentPhoto, {"assessment__patient": alice}),
        (TreatmentPlan, {"patient": alice}),
        (PlanSession, {"plan__patient": alice}),
        (Appointment, {"patient": alice}),
        (SessionRecord, {"appointment__patient": alice}),
        (Notification, {"patient": alice}),
        (HealthDeclaration, {"patient": alice}),
        (ConsentSignature, {"patient": alice}),
    ]:
        assert not model.objects.filter(**lookup).exists(), model
    assert not Assessment.history.filter(patient_id=alice.pk).exists()
    assert not Appointment.history.filter(patient_id=alice.pk).exists()
    assert not Patient.history.filter(id=alice.pk).exists()
    assert not ConsentSignature.history.filter(patient_id=alice.pk).exists()
    erasure.refresh_from_db()
    assert erasure.purged_at is not None
    assert erasure.steps[-1]["step"] == "clinical_records_purged"
    assert erasure.steps[-1]["photos"] == 3
    # Bob's records are untouched.
    assert Patient.objects.filter(pk=bob.pk, full_name="Bob Wong").exists()
    alice.refresh_from_db()
    assert alice.full_name == f"Erased patient #{alice.pk}"


def test_purge_task_is_scheduled() -> None:
    from clinic.celery import app

    entry = app.conf.beat_schedule["erasures-purge"]
    assert entry["task"] == "booking.tasks.purge_erasures"


def test_the_erase_page_speaks_chinese(client: Client, alice: Patient, manager: User, record: dict[str, Any]) -> None:
    from tests.pages.helpers import assert_translated

    client.force_login(manager)
    page = client.get(f"/staff/patients/{alice.pk}/erase/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "刪除此病人的資料" in page.content.decode()
    assert_translated(page.content, allow=[alice.full_name, manager.get_full_name()])


def test_the_periodic_task_finishes_an_erasure_cut_short_and_purges_when_due(
    alice: Patient, manager: User, record: dict[str, Any], settings: Any
) -> None:
    """The beat task (a thin wrapper) re-reads the state: an appointment that
    slipped in after the erasure is cancelled on the next run, and the records
    go once the retention has ended."""
    from booking import tasks
    from tests.factories import AppointmentFactory

    erasure = patient_erase(patient=alice, by=manager)
    late = AppointmentFactory(
        patient=alice, treatment=record["treatment"], start=timezone.now() + timedelta(days=9)
    )  # as if booked in the instant between the erasure's two halves
    tasks.purge_erasures()
    late.refresh_from_db()
    assert late.status == Appointment.Status.CANCELLED
    erasure.refresh_from_db()
    assert erasure.purged_at is None
    assert [s["count"] for s in erasure.steps if s["step"] == "appointments_cancelled"] == [1, 1]
    tasks.purge_erasures()  # nothing left to do: no new step
    erasure.refresh_from_db()
    assert len([s for s in erasure.steps if s["step"] == "appointments_cancelled"]) == 2

    with time_machine.travel(erasure.purge_due + timedelta(minutes=1), tick=False):
        tasks.purge_erasures()
    erasure.refresh_from_db()
    assert erasure.purged_at is not None
    assert not Appointment.objects.filter(patient=alice).exists()
