"""Consent through the API: what a visit needs and signing it (both doors: the
patient online, staff at the desk), the patient's own signatures, withdrawal,
and completing a session, which needs the consent or a manager's override."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment, SessionRecord
from patients.models import AccessEvent, Patient
from tests.api.conftest import client_for
from tests.consent import DRAWING, sign_for
from tests.factories import (
    AppointmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    PatientFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import consents
from treatments.models import Category, ConsentSignature, ConsentVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def laser():
    return TreatmentFactory(slug="fractional-laser", category=Category.LASER)


@pytest.fixture
def version(laser) -> ConsentVersion:
    form = ConsentFormFactory(
        slug="laser-resurfacing",
        title_en="laser and resurfacing",
        title_zh_hant="激光及換膚",
        categories=[Category.LASER.value],
    )
    ConsentVersionFactory(form=form, number=1)
    return ConsentVersionFactory(form=form, number=2, risks_en="Redness, swelling, rarely scarring.")


@pytest.fixture
def patient() -> Patient:
    return PatientFactory(full_name="Chan Tai Man")


def appointment_for(patient: Patient, treatment, *, status: str = Appointment.Status.CONFIRMED) -> Appointment:
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    return AppointmentFactory(
        patient=patient,
        treatment=treatment,
        start=start,
        status=status,
        checked_in_at=start - timedelta(minutes=5) if status != Appointment.Status.CONFIRMED else None,
    )


def body(signing: ConsentVersion, /, **overrides: Any) -> dict[str, Any]:
    return {
        "version": signing.pk,
        "full_name": "Chan Tai Man",
        "signature_svg": DRAWING,
        "photo_use": ["teaching"],
        **overrides,
    }


def url(appointment: Appointment) -> str:
    return f"/api/v1/appointments/{appointment.pk}/consent/"


# --- what must be signed --------------------------------------------------------------------


def test_the_patient_reads_what_to_sign_in_their_language(patient, laser, version) -> None:
    appointment = appointment_for(patient, laser)
    client = client_for(patient.user)
    response = client.get(url(appointment), HTTP_ACCEPT_LANGUAGE="zh-HK")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["appointment"] == appointment.pk and data["complete"] is False
    [need] = data["forms"]
    assert need["form"] == {"slug": "laser-resurfacing", "title": "激光及換膚"}
    assert need["version"]["id"] == version.pk and need["version"]["number"] == 2
    assert need["version"]["text"] == consents.consent_text(version, "zh-hant")
    assert need["version"]["text_sha256"] == consents.text_sha256(need["version"]["text"])
    assert need["signed"] is False and need["signature"] is None
    english = client.get(url(appointment), HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["forms"][0]["version"]["text"] == consents.consent_text(version, "en")
    assert "Redness, swelling, rarely scarring." in english["forms"][0]["version"]["text"]


def test_without_accept_language_the_patients_preferred_language_is_used(laser, version) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    appointment = appointment_for(patient, laser)
    response = client_for(patient.user).get(url(appointment))
    assert response.json()["forms"][0]["version"]["text"] == consents.consent_text(version, "zh-hant")


def test_a_treatment_without_a_form_needs_nothing(patient) -> None:
    facial = TreatmentFactory(slug="facial", category=Category.FACIAL)
    response = client_for(patient.user).get(url(appointment_for(patient, facial)))
    assert response.json()["forms"] == [] and response.json()["complete"] is True


def test_another_patients_visit_is_404_and_staff_reads_are_logged(patient, laser, version, as_reception) -> None:
    appointment = appointment_for(patient, laser)
    other = client_for(PatientFactory().user)
    assert other.get(url(appointment)).status_code == 404
    assert other.post(url(appointment), body(version), format="json").status_code == 404
    assert not ConsentSignature.objects.exists()
    assert as_reception.get(url(appointment)).status_code == 200
    assert AccessEvent.objects.filter(patient=patient, what=AccessEvent.What.CONSENT, door="api").count() == 1


# --- signing ---------------------------------------------------------------------------------


def test_the_patient_signs_online_and_the_visit_is_then_complete(patient, laser, version) -> None:
    appointment = appointment_for(patient, laser)
    client = client_for(patient.user)
    response = client.post(url(appointment), body(version), format="json", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 201, response.json()
    data = response.json()
    signature = ConsentSignature.objects.get()
    assert data["id"] == signature.pk and data["version"] == version.pk and data["version_number"] == 2
    assert data["photo_use"] == ["clinical", "teaching"] and data["channel"] == "online"
    assert data["text_sha256"] == consents.text_sha256(consents.consent_text(version, "en"))
    assert signature.patient == patient and signature.witnessed_by is None
    assert signature.client_address == "203.0.113.7"
    assert signature.signature_svg.startswith("<svg") and signature.signed_by == patient.user
    after = client.get(url(appointment)).json()
    assert after["complete"] is True
    assert after["forms"][0]["signature"]["id"] == signature.pk
    assert after["forms"][0]["signature"]["photo_use"] == ["clinical", "teaching"]


def test_staff_sign_at_the_desk_as_witness(patient, laser, version) -> None:
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    receptionist = UserFactory(role="receptionist")
    response = client_for(receptionist).post(
        url(appointment), body(version, signature_svg="", language="zh-hant"), format="json"
    )
    assert response.status_code == 201, response.json()
    signature = ConsentSignature.objects.get()
    assert signature.channel == "desk" and signature.witnessed_by == receptionist
    assert signature.patient == patient and signature.signature_svg == ""  # typed instead of drawn
    assert signature.text == consents.consent_text(version, "zh-hant")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"full_name": "   "}, "full_name"),
        ({"signature_svg": '<svg viewBox="0 0 10 10"><script>alert(1)</script></svg>'}, "signature_svg"),
        ({"photo_use": ["everything"]}, "photo_use"),
        ({"photo_use": ["teaching"] * 4}, "photo_use"),
        ({"version": "1"}, "version"),
        ({"language": "fr"}, "language"),
    ],
)
def test_bad_input_is_400_and_stores_nothing(patient, laser, version, change, field) -> None:
    appointment = appointment_for(patient, laser)
    response = client_for(patient.user).post(url(appointment), body(version, **change), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert any(name.split(".")[0] == field for name in response.json()["fields"]), response.json()
    assert not ConsentSignature.objects.exists()


def test_an_outdated_version_is_400(patient, laser, version) -> None:
    outdated = ConsentVersion.objects.get(form=version.form, number=1)
    response = client_for(patient.user).post(url(appointment_for(patient, laser)), body(outdated), format="json")
    assert response.status_code == 400
    assert "version" in response.json()["fields"]
    assert "updated" in response.json()["detail"]
    assert not ConsentSignature.objects.exists()


def test_a_form_this_treatment_does_not_need_is_400(patient, laser, version) -> None:
    peel_form = ConsentVersionFactory(form=ConsentFormFactory(slug="peels", categories=[Category.PEEL.value]))
    response = client_for(patient.user).post(url(appointment_for(patient, laser)), body(peel_form), format="json")
    assert response.status_code == 400 and "version" in response.json()["fields"]
    assert not ConsentSignature.objects.exists()


def test_an_oversized_drawing_under_the_body_limit_is_400_from_the_service(patient, laser, version) -> None:
    strokes = "".join(f'<path d="M{i % 500} 10 L{i % 500} 20 L{i % 500} 30 L{i % 500} 40"/>' for i in range(2500))
    huge = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 200">{strokes}</svg>'
    assert 64 * 1024 < len(huge) < 200_000
    response = client_for(patient.user).post(
        url(appointment_for(patient, laser)), body(version, signature_svg=huge), format="json"
    )
    assert response.status_code == 400, response.status_code
    assert "signature_svg" in response.json()["fields"]
    assert not ConsentSignature.objects.exists()


@pytest.mark.parametrize("status", [Appointment.Status.CANCELLED, Appointment.Status.COMPLETED])
def test_a_cancelled_or_completed_visit_is_409(patient, laser, version, status) -> None:
    appointment = appointment_for(patient, laser, status=status)
    response = client_for(patient.user).post(url(appointment), body(version), format="json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert not ConsentSignature.objects.exists()
    # Bad input comes first (400 before 409), as everywhere in the API.
    bad = client_for(patient.user).post(url(appointment), body(version, full_name=""), format="json")
    assert bad.status_code == 400


# --- the patient's signatures and withdrawal --------------------------------------------------


def test_the_patient_lists_only_their_own_signatures(patient, laser, version) -> None:
    mine = sign_for(patient, laser)
    sign_for(PatientFactory(), laser)
    response = client_for(patient.user).get("/api/v1/me/consents/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1 and [row["id"] for row in data["results"]] == [s.pk for s in mine]
    assert data["results"][0]["form"]["slug"] == "laser-resurfacing" and data["results"][0]["valid"] is True


def test_withdrawing_own_consent_and_managers_any(patient, laser, version, as_manager, as_practitioner) -> None:
    [signature] = sign_for(patient, laser)
    other = client_for(PatientFactory().user)
    path = f"/api/v1/consents/{signature.pk}/withdraw/"
    assert other.post(path, {}, format="json").status_code == 404
    assert as_practitioner.post(path, {}, format="json").status_code == 403
    response = client_for(patient.user).post(path, {"reason": "Changed my mind"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["valid"] is False and response.json()["withdrawal_reason"] == "Changed my mind"
    assert client_for(patient.user).post(path, {}, format="json").status_code == 409
    [again] = sign_for(patient, laser)
    assert as_manager.post(f"/api/v1/consents/{again.pk}/withdraw/", {}, format="json").status_code == 200
    assert consents.missing(patient=patient, treatment=laser)


# --- completing needs consent ------------------------------------------------------------------

RECORD = {"areas": ["forehead"], "pain_score": 3, "parameters": {"passes": 2}}


def complete(client: APIClient, appointment: Appointment, **extra: Any) -> Any:
    return client.post(f"/api/v1/appointments/{appointment.pk}/complete/", {**RECORD, **extra}, format="json")


def test_completing_without_consent_is_409_naming_the_form(patient, laser, version, as_practitioner) -> None:
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    response = complete(as_practitioner, appointment)
    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_state",
        "detail": "Chan Tai Man has not signed the current consent for laser and resurfacing (version 2).",
    }
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN and not SessionRecord.objects.exists()


def test_a_signature_of_a_version_not_kept_does_not_count(patient, laser, version, as_practitioner) -> None:
    old = ConsentVersion.objects.get(form=version.form, number=1)
    ConsentSignature.objects.create(
        patient=patient,
        version=old,
        language="en",
        text="old",
        text_sha256=consents.text_sha256("old"),
        full_name="Chan Tai Man",
        channel="online",
        signed_at=timezone.now() - timedelta(days=30),
    )
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    assert complete(as_practitioner, appointment).status_code == 409


def test_with_consent_the_record_carries_the_signature(patient, laser, version, as_practitioner) -> None:
    [signature] = sign_for(patient, laser)
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    response = complete(as_practitioner, appointment)
    assert response.status_code == 200, response.json()
    record = SessionRecord.objects.get(pk=response.json()["session_record"])
    assert list(record.consent_signatures.all()) == [signature]
    assert record.consent_version == "laser-resurfacing v2" and record.consent_override_reason == ""
    shown = as_practitioner.get(f"/api/v1/session-records/{record.pk}/").json()
    assert shown["consent_signature"] == signature.pk and shown["consent_signatures"] == [signature.pk]
    assert shown["consent_version"] == "laser-resurfacing v2"


def test_consent_version_is_no_longer_accepted(patient, laser, version, as_practitioner) -> None:
    sign_for(patient, laser)
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    response = complete(as_practitioner, appointment, consent_version="v3")
    assert response.status_code == 400 and "consent_version" in response.json()["fields"]


def test_a_manager_overrides_with_a_reason_kept_in_history(patient, laser, version) -> None:
    manager = UserFactory(role="manager")
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    response = complete(client_for(manager), appointment, consent_override_reason="Signed on paper; scan to follow")
    assert response.status_code == 200, response.json()
    record = SessionRecord.objects.get(pk=response.json()["session_record"])
    assert record.consent_override_reason == "Signed on paper; scan to follow"
    assert record.consent_override_by == manager
    assert not record.consent_signatures.exists()
    [history] = record.history.all()
    assert history.consent_override_reason == "Signed on paper; scan to follow"
    assert history.consent_override_by_id == manager.pk and history.history_user_id == manager.pk


def test_a_practitioners_override_is_refused_with_403(patient, laser, version, as_practitioner) -> None:
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    response = complete(as_practitioner, appointment, consent_override_reason="I asked her")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN and not SessionRecord.objects.exists()


def test_an_overlong_override_is_400_before_the_state(patient, laser, version, as_manager) -> None:
    appointment = appointment_for(patient, laser)  # not checked in: 409 would follow, 400 comes first
    response = complete(as_manager, appointment, consent_override_reason="x" * 501)
    assert response.status_code == 400 and "consent_override_reason" in response.json()["fields"]


def test_a_withdrawn_consent_no_longer_lets_the_session_complete(patient, laser, version, as_practitioner) -> None:
    [signature] = sign_for(patient, laser)
    consents.consent_withdraw(signature=signature, by=patient.user)
    appointment = appointment_for(patient, laser, status=Appointment.Status.CHECKED_IN)
    assert complete(as_practitioner, appointment).status_code == 409
