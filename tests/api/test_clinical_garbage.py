"""No client input of any shape gives a 500 on the clinical-record endpoints
(docs/architecture.md, Errors): odd values in every field, alone and all at once, in
every lesion key and every parameter key, and odd whole bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment
from patients.models import Patient
from tests.api.clinical import ASSESSMENT, picture
from tests.api.conftest import client_for
from tests.api.test_bad_input import GARBAGE, ODD_BODIES, send
from tests.consent import DRAWING
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import services
from treatments.injectables import validate_injectables
from treatments.models import LESION_KEYS, Treatment
from treatments.parameters import PARAMETERS, validate_parameters

pytestmark = pytest.mark.django_db


def sweep(client: APIClient, method: str, path: str, valid: dict[str, Any], extra: list[Any] = ()) -> None:  # type: ignore[assignment]
    client.raise_request_exception = False
    payloads: list[Any] = []
    for value in GARBAGE:
        payloads.extend({**valid, field: value} for field in valid)
        payloads.append(dict.fromkeys(valid, value))
        payloads.append(value)
    payloads.extend(ODD_BODIES)
    payloads.extend(extra)
    failures = []
    for payload in payloads:
        cache.clear()
        response = send(client, method, path, payload)
        if response.status_code >= 500:
            failures.append((payload, response.status_code))
        elif response.status_code >= 400:
            body = response.json()
            if not ({"code", "detail"} <= set(body) <= {"code", "detail", "fields", "reasons"}):
                failures.append((payload, body))
    assert not failures, [(repr(p)[:200], r) for p, r in failures[:20]]


@pytest.fixture
def clinician() -> APIClient:
    return client_for(UserFactory(role="practitioner"))


def test_assessments(clinician: APIClient, patient_a: Patient) -> None:
    valid = {**ASSESSMENT, "patient": patient_a.pk, "keloid_area_cm2": 1.5, "assessed_on": "2026-01-05"}
    nested = [{**valid, "lesions": {key: value}} for key in LESION_KEYS[:3] for value in GARBAGE]
    sweep(clinician, "post", "/api/v1/assessments/", valid, nested)
    assessment = AssessmentFactory(patient=patient_a)
    sweep(clinician, "patch", f"/api/v1/assessments/{assessment.pk}/", valid, nested)


def test_plans(clinician: APIClient, patient_a: Patient, peel: Treatment) -> None:
    valid = {"patient": patient_a.pk, "treatment": peel.slug, "sessions": 3, "start_after": None, "assessment": None}
    sweep(clinician, "post", "/api/v1/plans/", valid)
    plan = services.plan_create(patient=patient_a, treatment=peel, sessions=3, by=UserFactory())
    sweep(clinician, "post", f"/api/v1/plans/{plan.pk}/cancel/", {"reason": "x"})


def _checked_in(category: str) -> Appointment:
    treatment = TreatmentFactory(slug=f"{category}-x", category=category)
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    return AppointmentFactory(treatment=treatment, start=start, status=Appointment.Status.CHECKED_IN)


def test_complete(clinician: APIClient) -> None:
    appointment = _checked_in("laser")
    valid: dict[str, Any] = {
        "areas": ["chin"],
        "anaesthesia": "none",
        "pain_score": 2,
        "adverse_events": "",
        "notes": "",
        "parameters": {},
        "immediate_reaction": "",
        "consent_override_reason": "",
    }
    sweep(clinician, "post", f"/api/v1/appointments/{appointment.pk}/complete/", valid)


def test_consent_sign(as_a: APIClient, patient_a: Patient) -> None:
    appointment = _checked_in("laser")
    appointment.patient = patient_a
    appointment.save(update_fields=["patient"])
    version = ConsentVersionFactory(form=ConsentFormFactory(categories=["laser"]))
    valid: dict[str, Any] = {
        "version": version.pk,
        "full_name": "Alice Chan",
        "signature_svg": DRAWING,
        "photo_use": ["teaching"],
        "language": "en",
    }
    sweep(as_a, "post", f"/api/v1/appointments/{appointment.pk}/consent/", valid)


def test_complete_parameters_of_every_category(clinician: APIClient) -> None:
    """The per-category validation is pure: every key of every category against
    every odd value gives a clean error or a clean value, never an exception.
    One category goes through HTTP too."""
    for category, keys in PARAMETERS.items():
        for key in [*keys, "anything"]:
            for value in GARBAGE:
                clean, errors = validate_parameters(category, {key: value})
                assert bool(clean) != bool(errors), (category, key, repr(value)[:80])
        for value in GARBAGE:
            validate_parameters(category, value)
    clinician.raise_request_exception = False
    appointment = _checked_in("laser")
    for key in PARAMETERS["laser"]:
        for value in GARBAGE:
            response = send(
                clinician, "post", f"/api/v1/appointments/{appointment.pk}/complete/", {"parameters": {key: value}}
            )
            assert response.status_code < 500, (key, repr(value)[:80])


def test_complete_injectables(clinician: APIClient) -> None:
    """Product rows of a filler session (treatments.injectables): odd values in
    every field, odd rows and odd lists, through HTTP and the pure validator."""
    item: dict[str, Any] = {"product": "P", "lot": "L1", "expiry": "2099-01-01", "amount": 1, "unit": "ml"}
    for key in item:
        for value in GARBAGE:
            clean, errors = validate_injectables("filler", [{**item, key: value}], visit_day=date(2026, 1, 5))
            assert bool(clean) != bool(errors), (key, repr(value)[:80])
    for value in GARBAGE:
        validate_injectables("filler", value, visit_day=date(2026, 1, 5))
        validate_injectables("filler", [value], visit_day=date(2026, 1, 5))
    appointment = _checked_in("filler")
    nested = [{"injectables": [{**item, key: value}]} for key in item for value in GARBAGE]
    nested += [{"injectables": value} for value in GARBAGE] + [{"injectables": [value]} for value in GARBAGE]
    sweep(clinician, "post", f"/api/v1/appointments/{appointment.pk}/complete/", {"notes": ""}, nested)


def test_lot_search_with_odd_queries(as_role: Callable[[str], APIClient]) -> None:
    manager = as_role("manager")
    manager.raise_request_exception = False
    values = [*(str(v) for v in GARBAGE), "%00", "\x00", "ＡＢ", "a" * 5000, "--", "🙂"]
    sendable = [v for v in values if v.encode("utf-8", "surrogatepass") == v.encode("utf-8", "ignore")]
    for value in sendable:  # a lone surrogate cannot be put in a URL at all
        for extra in ({}, {"format": "csv"}, {"format": value}, {"page": value}):
            response = manager.get("/api/v1/lots/", {"lot": value, **extra})
            assert response.status_code < 500, (repr(value)[:80], extra)


def test_booking_and_availability_with_odd_plan_sessions(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Any
) -> None:
    plan = services.plan_create(patient=patient_a, treatment=peel, sessions=3, by=UserFactory())
    first = plan.sessions.get(number=1)
    start = timezone.make_aware(datetime.combine(first.window_end, time(11)))
    valid = {"treatment": peel.slug, "start": start.isoformat(), "plan_session": first.pk}
    sweep(
        as_a,
        "post",
        "/api/v1/appointments/",
        {"plan_session": first.pk},
        [{**valid, "plan_session": v} for v in GARBAGE],
    )
    as_a.raise_request_exception = False
    for value in ("abc", "-1", "0", str(2**70), "1e3", "%00", first.pk):
        response = as_a.get(
            f"/api/v1/availability/?treatment={peel.slug}&from={first.window_start}&to={first.window_start}"
            f"&plan_session={value}"
        )
        assert response.status_code < 500


def test_photo_upload(clinician: APIClient, patient_a: Patient) -> None:
    assessment = AssessmentFactory(patient=patient_a)
    clinician.raise_request_exception = False
    path = f"/api/v1/assessments/{assessment.pk}/photos/"
    make: list[Callable[[], Any]] = [
        lambda: {"view": "front", "image": SimpleUploadedFile("a.jpg", b"", content_type="image/jpeg")},
        lambda: {"view": "\x00", "image": SimpleUploadedFile("a.jpg", picture(), content_type="image/jpeg")},
        lambda: {"view": "front", "image": SimpleUploadedFile("\x00.jpg", picture(), content_type="image/jpeg")},
        lambda: {"view": "front", "image": SimpleUploadedFile("a" * 400 + ".jpg", picture(), content_type="x/y")},
        lambda: {"view": ["front", "left_45"], "image": SimpleUploadedFile("a.jpg", picture())},
        lambda: {"view": "front", "image": SimpleUploadedFile("a.tiff", picture("TIFF", exif=False))},
        lambda: {"view": "front", "image": SimpleUploadedFile("a.bmp", picture("BMP", exif=False))},
    ]
    for body in make:
        response = clinician.post(path, body(), format="multipart")
        # A long name is cut to 255 characters and a wrong content type is
        # ignored (the content decides): that one is a valid upload.
        assert response.status_code < 500, response.content[:300]
    for odd in (b"", b"--x\r\n", b"\x00" * 100):
        response = clinician.generic("POST", path, odd, content_type="multipart/form-data; boundary=x")
        assert 400 <= response.status_code < 500, response.content[:300]
