"""The access log as a privacy officer relies on it: rows cannot be changed or
deleted, by the application or (on PostgreSQL) by SQL; they outlive the staff
account and the patient record; the admin writes rows and cannot edit them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from booking.models import Appointment, SessionRecord
from patients.models import AccessEvent, AccessLogImmutable, Patient
from patients.services import access_record
from tests.factories import AppointmentFactory, AssessmentFactory, HealthDeclarationFactory, PatientFactory, UserFactory
from treatments.models import Assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AccessEvent:
    access_record(UserFactory(role="practitioner"), PatientFactory(), "assessment", "api", 1)
    return AccessEvent.objects.get()


def test_the_application_cannot_change_a_row(event: AccessEvent) -> None:
    event.what = "photo"
    with pytest.raises(AccessLogImmutable):
        event.save()
    with pytest.raises(AccessLogImmutable):
        AccessEvent.objects.filter(pk=event.pk).update(what="photo")
    assert AccessEvent.objects.get().what == "assessment"


def test_the_application_cannot_delete_a_row(event: AccessEvent) -> None:
    with pytest.raises(AccessLogImmutable):
        event.delete()
    with pytest.raises(AccessLogImmutable):
        AccessEvent.objects.all().delete()
    assert AccessEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE patients_accessevent SET what = 'photo'",
        "UPDATE patients_accessevent SET actor_name = 'Someone else'",
        "UPDATE patients_accessevent SET actor_id = NULL, actor_name = 'Someone else'",
        "DELETE FROM patients_accessevent",
    ],
)
def test_postgresql_refuses_raw_update_and_delete(event: AccessEvent, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="access log cannot be changed or deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AccessEvent.objects.filter(pk=event.pk, what="assessment", actor_id=event.actor_id).exists()


@pytest.mark.postgres
def test_postgresql_lets_a_removed_account_detach_and_keeps_its_name(event: AccessEvent) -> None:
    name = event.actor_name
    with connection.cursor() as cursor:
        cursor.execute("UPDATE patients_accessevent SET actor_id = NULL")
    kept = AccessEvent.objects.get()
    assert kept.actor_id is None
    assert kept.actor_name == name


def test_the_row_outlives_the_patient_record(event: AccessEvent) -> None:
    """No database constraint and no cascade: a purge of the patient keeps the log."""
    patient_id = event.patient_id
    Patient.objects.filter(pk=patient_id).delete()
    assert AccessEvent.objects.filter(patient_id=patient_id).count() == 1


def test_unknown_kind_or_door_is_refused_by_the_database() -> None:
    patient = PatientFactory()
    user = UserFactory(role="manager")
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - IntegrityError on every database
        access_record(user, patient, "gossip", "api")
    assert AccessEvent.objects.count() == 0


def test_reads_without_a_staff_actor_write_nothing() -> None:
    patient = PatientFactory()
    assert access_record(patient.user, patient, "assessment", "api") == 0
    assert access_record(AnonymousUser(), patient, "assessment", "api") == 0
    assert AccessEvent.objects.count() == 0


# --- the admin door ----------------------------------------------------------------------


def _admin(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_the_admin_change_and_list_pages_write_admin_rows(client: Client) -> None:
    manager = UserFactory(role="manager")
    client.force_login(manager)
    patient, other = PatientFactory(), PatientFactory()
    assessment = AssessmentFactory(patient=patient)
    AssessmentFactory(patient=other)
    declaration = HealthDeclarationFactory(patient=patient)
    done = AppointmentFactory(patient=patient, status=Appointment.Status.COMPLETED)
    record = SessionRecord.objects.create(appointment=done, category="peel", parameters={})

    assert client.get(_admin(Assessment, "change", assessment.pk)).status_code == 200
    assert client.get(_admin(Assessment, "changelist")).status_code == 200
    assert client.get(_admin(type(declaration), "change", declaration.pk)).status_code == 200
    assert client.get(_admin(SessionRecord, "change", record.pk)).status_code == 200
    assert client.get(_admin(type(patient), "change", patient.pk)).status_code == 200
    assert client.get(_admin(type(patient), "changelist")).status_code == 200
    rows = list(AccessEvent.objects.order_by("id").values_list("actor_role", "patient_id", "what", "object_id", "door"))
    assert rows == [
        ("manager", patient.pk, "assessment", assessment.pk, "admin"),
        ("manager", patient.pk, "assessment", None, "admin"),
        ("manager", other.pk, "assessment", None, "admin"),
        ("manager", patient.pk, "declarations", declaration.pk, "admin"),
        ("manager", patient.pk, "session_record", record.pk, "admin"),
        ("manager", patient.pk, "declarations", None, "admin"),
    ]


def test_the_admin_shows_the_log_read_only_to_managers(client: Client, event: AccessEvent) -> None:
    client.force_login(UserFactory(role="manager"))
    assert client.get(_admin(AccessEvent, "changelist")).status_code == 200
    assert client.get(_admin(AccessEvent, "change", event.pk)).status_code == 200
    assert client.get(_admin(AccessEvent, "add")).status_code == 403
    assert client.get(_admin(AccessEvent, "delete", event.pk)).status_code == 403
    assert client.post(_admin(AccessEvent, "change", event.pk), {"what": "photo"}).status_code == 403
    assert AccessEvent.objects.get().what == "assessment"


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_other_staff_do_not_see_the_log_in_the_admin(client: Client, role: str, event: AccessEvent) -> None:
    client.force_login(UserFactory(role=role))
    assert client.get(_admin(AccessEvent, "changelist")).status_code == 403


def test_the_admin_history_pages_write_admin_rows(client: Client) -> None:
    client.force_login(UserFactory(role="manager"))
    patient = PatientFactory()
    assessment = AssessmentFactory(patient=patient)
    version = assessment.history.get()
    assert client.get(_admin(Assessment, "history", assessment.pk)).status_code == 200
    url = reverse("admin:treatments_assessment_simple_history", args=[assessment.pk, version.history_id])
    assert client.get(url).status_code == 200
    rows = list(AccessEvent.objects.order_by("id").values_list("patient_id", "what", "object_id", "door"))
    assert rows == [(patient.pk, "assessment", assessment.pk, "admin")] * 2
