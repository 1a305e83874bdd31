"""The page and the API are two doors to the same clinical and patient rules.

For every write both can make (assessment record and correction, plan create
and cancel, health declarations by the patient and by staff, the patient's
own profile and staff's patient edit), each case drives both doors with the
same input and asserts the same outcome: both accept and store the same row
(history included), or both refuse with the same words (the API's ``fields``
or ``detail``, shown on the page) and store nothing. A rule moved back from a
service into a view or a form makes the other door disagree, and these fail.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from booking.models import Appointment
from clinic.clock import clinic_today
from patients.models import DECLARATION_YES_NO, HealthDeclaration, Patient
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory
from treatments import services
from treatments.models import LESION_KEYS, Assessment, PlanSession, TreatmentPlan

pytestmark = pytest.mark.django_db

BORN = date(1995, 5, 17)


@pytest.fixture
def doctor() -> Any:
    return UserFactory(role="practitioner")


@pytest.fixture
def desk() -> Any:
    return UserFactory(role="receptionist")


def _page(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _twins(**fields: Any) -> tuple[Patient, Patient]:
    """Two patients alike in every field a rule reads: one for each door."""
    fields.setdefault("date_of_birth", BORN)
    return PatientFactory(**fields), PatientFactory(**fields)


def _refused_alike(api: Any, page: Any, *, status: int, code: str, field: str | None, page_status: int) -> None:
    """The API's refusal (status, code, and the message on ``field`` or the detail)
    is the page's: same status class, the same words shown."""
    body = api.json()
    assert api.status_code == status, body
    assert body["code"] == code, body
    messages = body["fields"][field] if field else [body["detail"]]
    assert page.status_code == page_status, page.status_code
    text = page.content.decode()
    for message in messages:
        assert escape(message) in text, (message, field)


# --- assessments: record ---------------------------------------------------------------------

ASSESSMENT = {
    "fitzpatrick_type": 4,
    "qualitative_grade": 3,
    "pih": "moderate",
    "pie": "mild",
    "lesions": {"macular": 12, "punched_out_shallow": 25},
    "keloid_area_cm2": "1.50",
    "types_present": ["rolling", "pih"],
    "notes": "Baseline.",
}


def _record_form(values: dict[str, Any]) -> dict[str, Any]:
    form = {key: value for key, value in values.items() if key != "lesions"}
    form.update({key: str(values["lesions"].get(key, "")) for key in LESION_KEYS})
    form["fitzpatrick_type"] = str(values["fitzpatrick_type"])
    form["qualitative_grade"] = str(values["qualitative_grade"])
    return form


def _assessment_row(assessment: Assessment) -> dict[str, Any]:
    """What was stored, without what differs by door (ids, who, when)."""
    fresh = Assessment.objects.get(pk=assessment.pk)
    return {
        "assessed_on": fresh.assessed_on,
        "fitzpatrick_type": fresh.fitzpatrick_type,
        "qualitative_grade": fresh.qualitative_grade,
        "pih": fresh.pih,
        "pie": fresh.pie,
        "lesions": fresh.lesions,
        "keloid_area_cm2": fresh.keloid_area_cm2,
        "types_present": fresh.types_present,
        "notes": fresh.notes,
        "quantitative_score": fresh.quantitative_score,
        "patient_fitzpatrick": fresh.patient.fitzpatrick_type,
        "history": [
            (row.history_type, row.history_change_reason, row.macular, row.notes)
            for row in fresh.history.order_by("history_date", "history_id")
        ],
    }


def _future() -> str:
    return (clinic_today() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("case", "changes", "field"),
    [
        ("good", {}, None),
        ("good-dated", {"assessed_on": "2024-03-01"}, None),
        ("future", {"assessed_on": "FUTURE"}, "assessed_on"),
        ("before-birth", {"assessed_on": "1990-01-01"}, "assessed_on"),
        ("on-the-birthday", {"assessed_on": BORN.isoformat()}, None),
    ],
)
def test_recording_an_assessment_is_decided_alike(doctor, case, changes, field) -> None:
    by_api, by_page = _twins()
    values = {"assessed_on": clinic_today().isoformat(), **ASSESSMENT, **changes}
    if values["assessed_on"] == "FUTURE":
        values["assessed_on"] = _future()
    api = client_for(doctor).post("/api/v1/assessments/", {**values, "patient": by_api.pk}, format="json")
    page = _page(doctor).post(reverse("chart:assessment_new", args=[by_page.pk]), _record_form(values))
    if field is None:
        assert api.status_code == 201, api.json()
        assert page.status_code == 302
        (mine,), (theirs,) = Assessment.objects.filter(patient=by_api), Assessment.objects.filter(patient=by_page)
        assert _assessment_row(mine) == _assessment_row(theirs)
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=400)
        assert not Assessment.objects.filter(patient__in=[by_api, by_page]).exists()


# --- assessments: correct ------------------------------------------------------------------------


def _saved_form(assessment: Assessment) -> dict[str, Any]:
    """The correction form as the page sends it: the saved values."""
    fresh = Assessment.objects.get(pk=assessment.pk)
    return {
        "assessed_on": fresh.assessed_on.isoformat(),
        "fitzpatrick_type": str(fresh.fitzpatrick_type),
        "qualitative_grade": str(fresh.qualitative_grade),
        "pih": fresh.pih,
        "pie": fresh.pie,
        "types_present": list(fresh.types_present),
        "notes": fresh.notes,
        "keloid_area_cm2": str(fresh.keloid_area_cm2),
        **{key: str(count) for key, count in fresh.lesions.items()},
    }


def _assessed(patient: Patient, doctor: Any) -> Assessment:
    return services.assessment_record(
        patient=patient,
        by=doctor,
        fitzpatrick_type=3,
        qualitative_grade=3,
        pih="mild",
        pie="none",
        lesions={"macular": 12, "punched_out_shallow": 25},
        assessed_on=clinic_today() - timedelta(days=30),
        notes="Baseline.",
    )


@pytest.mark.parametrize(
    ("case", "correction", "field", "status", "code"),
    [
        ("good", {"reason": "Recounted in better light"}, None, 200, ""),
        ("reason-kept-on-one-line", {"reason": "  Recounted \n  twice  "}, None, 200, ""),
        ("reason-blank", {"reason": ""}, "reason", 400, "invalid"),
        ("reason-spaces", {"reason": "   "}, "reason", 400, "invalid"),
        ("reason-too-long", {"reason": "x" * 101}, "reason", 400, "invalid"),
        ("reason-just-fits", {"reason": "x" * 100}, None, 200, ""),
        ("future", {"reason": "Date", "assessed_on": "FUTURE"}, "assessed_on", 400, "invalid"),
        ("before-birth", {"reason": "Date", "assessed_on": "1990-01-01"}, "assessed_on", 400, "invalid"),
        ("stale-version", {"reason": "Mine", "stale": True}, None, 409, "edit_conflict"),
    ],
)
def test_correcting_an_assessment_is_decided_alike(doctor, case, correction, field, status, code) -> None:
    by_api, by_page = _twins()
    mine, theirs = _assessed(by_api, doctor), _assessed(by_page, doctor)
    correction = dict(correction)
    if correction.get("assessed_on") == "FUTURE":
        correction["assessed_on"] = _future()
    stale = correction.pop("stale", False)
    api, page = client_for(doctor), _page(doctor)
    url = reverse("chart:assessment_correct", args=[by_page.pk, theirs.pk])
    # Each door reads the version it will send back: the API's updated_at, the page's hidden field.
    api_version = api.get(f"/api/v1/assessments/{mine.pk}/").json()["updated_at"]
    page_version = re.search(r'name="version" value="([^"]+)"', page.get(url).text).group(1)
    if stale:  # someone else corrects both after they were read
        manager = UserFactory(role="manager")
        for found in (mine, theirs):
            services.assessment_correct(assessment=found, by=manager, reason="Theirs", notes="Their notes")

    api_response = api.patch(
        f"/api/v1/assessments/{mine.pk}/",
        {"lesions": {"macular": 3}, "version": api_version, **correction},
        format="json",
    )
    form = {**_saved_form(theirs), "macular": "3", "version": page_version, **correction}
    page_response = page.post(url, form)

    if status == 200:
        assert api_response.status_code == 200, api_response.json()
        assert page_response.status_code == 302
    elif field is not None:
        _refused_alike(api_response, page_response, status=status, code=code, field=field, page_status=400)
    else:
        _refused_alike(api_response, page_response, status=status, code=code, field=None, page_status=409)
    assert _assessment_row(mine) == _assessment_row(theirs)


def test_the_api_needs_a_reason_for_a_correction_even_when_it_is_left_out(doctor) -> None:
    patient = PatientFactory()
    assessment = _assessed(patient, doctor)
    before = _assessment_row(assessment)
    response = client_for(doctor).patch(
        f"/api/v1/assessments/{assessment.pk}/", {"lesions": {"macular": 3}}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()["fields"]
    assert _assessment_row(assessment) == before


# --- plans ------------------------------------------------------------------------------------


def _plan_row(plan: TreatmentPlan) -> dict[str, Any]:
    fresh = TreatmentPlan.objects.get(pk=plan.pk)
    return {
        "treatment": fresh.treatment_id,
        "status": fresh.status,
        "start_after": fresh.start_after,
        "assessment": fresh.assessment_id is not None,
        "cancellation_reason": fresh.cancellation_reason,
        "sessions": list(
            fresh.sessions.order_by("number").values_list("number", "window_start", "window_end", "status")
        ),
        "history": fresh.history.count(),
    }


@pytest.mark.parametrize(
    ("case", "changes", "field"),
    [
        ("good", {}, None),
        ("good-later", {"start_after": "IN_A_WEEK"}, None),
        ("good-with-assessment", {"assessment": "OWN"}, None),
        ("too-many-sessions", {"sessions": 9}, "sessions"),
        ("too-few-sessions", {"sessions": 2}, "sessions"),
        ("starts-in-the-past", {"start_after": "2001-01-01"}, "start_after"),
        ("beyond-the-horizon", {"start_after": "BEYOND"}, "start_after"),
        ("single-visit-treatment", {"treatment": "SINGLE"}, "treatment"),
        ("another-patients-assessment", {"assessment": "OTHER"}, "assessment"),
    ],
)
def test_creating_a_plan_is_decided_alike(doctor, case, changes, field) -> None:
    course = TreatmentFactory(sessions_min=3, sessions_max=6)
    single = TreatmentFactory(interval_days_min=None, interval_days_max=None, sessions_min=1, sessions_max=1)
    stranger = _assessed(PatientFactory(), doctor)
    by_api, by_page = _twins()
    own = {by_api.pk: _assessed(by_api, doctor), by_page.pk: _assessed(by_page, doctor)}
    today = clinic_today()
    starts = {
        "IN_A_WEEK": (today + timedelta(days=7)).isoformat(),
        "BEYOND": (today + settings.CLINIC_STAFF_HORIZON + timedelta(days=1)).isoformat(),
    }

    def body(patient: Patient, *, api: bool) -> dict[str, Any]:
        treatment = single if changes.get("treatment") == "SINGLE" else course
        values: dict[str, Any] = {"sessions": changes.get("sessions", 4)}
        values["treatment"] = treatment.slug if api else treatment.pk
        start = changes.get("start_after")
        if start:
            values["start_after"] = starts.get(start, start)
        chosen = {"OWN": own[patient.pk], "OTHER": stranger}.get(changes.get("assessment", ""))
        if chosen is not None:
            values["assessment"] = chosen.pk
        return values

    api = client_for(doctor).post("/api/v1/plans/", {**body(by_api, api=True), "patient": by_api.pk}, format="json")
    page = _page(doctor).post(reverse("chart:plan_new", args=[by_page.pk]), body(by_page, api=False))
    plans = TreatmentPlan.objects.filter(patient__in=[by_api, by_page])
    if field is None:
        assert api.status_code == 201, api.json()
        assert page.status_code == 302
        assert _plan_row(plans.get(patient=by_api)) == _plan_row(plans.get(patient=by_page))
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=400)
        assert not plans.exists()


@pytest.mark.parametrize(
    ("case", "state", "refused"),
    [
        ("active", "active", False),
        ("already-cancelled", "cancelled", True),
        ("session-booked", "booked", True),
    ],
)
def test_cancelling_a_plan_is_decided_alike(doctor, case, state, refused) -> None:
    course = TreatmentFactory(sessions_min=3, sessions_max=6)
    by_api, by_page = _twins()
    plans = [services.plan_create(patient=p, treatment=course, sessions=3, by=doctor) for p in (by_api, by_page)]
    for plan in plans:
        if state == "cancelled":
            services.plan_cancel(plan=plan, by=doctor, reason="Earlier")
        elif state == "booked":
            first = plan.sessions.get(number=1)
            AppointmentFactory(patient=plan.patient, treatment=course, status=Appointment.Status.CONFIRMED)
            services.plan_session_booked(session=first, on=first.window_start, by=doctor)
    mine, theirs = plans
    api = client_for(doctor).post(f"/api/v1/plans/{mine.pk}/cancel/", {"reason": " Moved abroad "}, format="json")
    page = _page(doctor).post(reverse("chart:plan_cancel", args=[theirs.pk]), {"reason": " Moved abroad "}, follow=True)
    if refused:
        body = api.json()
        assert api.status_code == 409 and body["code"] == "invalid_state", body
        assert escape(body["detail"]) in page.content.decode()
    else:
        assert api.status_code == 200, api.json()
        assert "The plan was cancelled." in page.content.decode()
    assert _plan_row(mine) == _plan_row(theirs)
    assert PlanSession.objects.filter(plan=mine).count() == 3


# --- health declarations ------------------------------------------------------------------------


def _declaration_rows(patient: Patient) -> list[dict[str, Any]]:
    fields = [*DECLARATION_YES_NO, "isotretinoin_last_dose", "topical_retinoid_last_use", "allergies"]
    return list(HealthDeclaration.objects.filter(patient=patient).order_by("id").values(*fields, "allergies_other"))


DECLARATION_CASES = [
    ("good", {}, None),
    ("good-with-dates", {"isotretinoin_last_dose": "2025-01-10", "topical_retinoid_last_use": "2026-01-02"}, None),
    ("isotretinoin-in-the-future", {"isotretinoin_last_dose": "FUTURE"}, "isotretinoin_last_dose"),
    ("retinoid-in-the-future", {"topical_retinoid_last_use": "FUTURE"}, "topical_retinoid_last_use"),
    ("isotretinoin-implausibly-early", {"isotretinoin_last_dose": "1899-12-31"}, "isotretinoin_last_dose"),
]


def _answers(changes: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = dict.fromkeys(DECLARATION_YES_NO, False)
    answers.update(anticoagulants=True, allergies=["lidocaine", "hyaluronic_acid"], allergies_other="Plasters")
    answers.update(isotretinoin_last_dose=None, topical_retinoid_last_use=None)
    answers.update({key: _future() if value == "FUTURE" else value for key, value in changes.items()})
    return answers


def _yes_no(answers: dict[str, Any]) -> dict[str, Any]:
    return {name: "yes" if answers[name] else "no" for name in DECLARATION_YES_NO}


@pytest.mark.parametrize(("case", "changes", "field"), DECLARATION_CASES)
def test_a_patients_own_declaration_is_decided_alike(case, changes, field) -> None:
    by_api, by_page = _twins()
    answers = _answers(changes)
    api = client_for(by_api.user).post("/api/v1/me/health-declarations/", answers, format="json")
    form = {
        **_yes_no(answers),
        "isotretinoin": "yes" if answers["isotretinoin_last_dose"] else "no",
        "isotretinoin_date": answers["isotretinoin_last_dose"] or "",
        "retinoid": "yes" if answers["topical_retinoid_last_use"] else "no",
        "retinoid_date": answers["topical_retinoid_last_use"] or "",
        "allergies": answers["allergies"],
        "allergies_other": answers["allergies_other"],
    }
    page = _page(by_page.user).post(reverse("site:questionnaire"), form)
    if field is None:
        assert api.status_code == 201, api.json()
        assert page.status_code == 302
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=200)
    assert _declaration_rows(by_api) == _declaration_rows(by_page)


@pytest.mark.parametrize(("case", "changes", "field"), DECLARATION_CASES)
def test_a_declaration_entered_by_staff_is_decided_alike(desk, case, changes, field) -> None:
    by_api, by_page = _twins()
    answers = _answers(changes)
    api = client_for(desk).post(f"/api/v1/patients/{by_api.pk}/health-declarations/", answers, format="json")
    form = {
        **_yes_no(answers),
        "isotretinoin_last_dose": answers["isotretinoin_last_dose"] or "",
        "topical_retinoid_last_use": answers["topical_retinoid_last_use"] or "",
        "allergies": answers["allergies"],
        "allergies_other": answers["allergies_other"],
    }
    page = _page(desk).post(reverse("chart:declaration_new", args=[by_page.pk]), form)
    if field is None:
        assert api.status_code == 201, api.json()
        assert page.status_code == 302
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=400)
    assert _declaration_rows(by_api) == _declaration_rows(by_page)
    entered = HealthDeclaration.objects.filter(patient__in=[by_api, by_page]).values_list("entered_by", flat=True)
    assert set(entered) <= {desk.pk}


# --- profiles ---------------------------------------------------------------------------------


def _patient_row(patient: Patient) -> dict[str, Any]:
    fresh = Patient.objects.get(pk=patient.pk)
    return {
        "full_name": fresh.full_name,
        "date_of_birth": fresh.date_of_birth,
        "phone": fresh.phone,
        "preferred_language": fresh.preferred_language,
        "reminders_opt_out": fresh.reminders_opt_out,
        "history": fresh.history.count(),
    }


def _years_ago(years: int) -> str:
    today = clinic_today()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


PROFILE_CASES = [
    ("good", {"date_of_birth": "1990-01-02"}, None),
    ("born-today", {"date_of_birth": "TODAY"}, None),
    ("born-in-the-future", {"date_of_birth": "FUTURE"}, "date_of_birth"),
    ("born-too-long-ago", {"date_of_birth": "121_YEARS"}, "date_of_birth"),
    ("born-120-years-ago", {"date_of_birth": "120_YEARS"}, None),
]


def _birth(value: str) -> str:
    special = {"TODAY": clinic_today().isoformat(), "FUTURE": _future()}
    special.update({"121_YEARS": _years_ago(121), "120_YEARS": _years_ago(120)})
    return special.get(value, value)


@pytest.mark.parametrize(("case", "changes", "field"), PROFILE_CASES)
def test_a_patients_own_profile_is_decided_alike(case, changes, field) -> None:
    by_api, by_page = _twins(full_name="Chan Tai Man", phone="+85261234567", preferred_language="en")
    born = _birth(changes["date_of_birth"])
    api = client_for(by_api.user).patch(
        "/api/v1/me/", {"full_name": "Chan Tai Man", "date_of_birth": born}, format="json"
    )
    form = {
        "full_name": "Chan Tai Man",
        "phone": "+852 6123 4567",
        "date_of_birth": born,
        "preferred_language": "en",
    }
    page = _page(by_page.user).post(reverse("account:profile"), form)
    if field is None:
        assert api.status_code == 200, api.json()
        assert page.status_code == 302
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=200)
    assert _patient_row(by_api) == _patient_row(by_page)


@pytest.mark.parametrize(
    ("case", "changes", "field"),
    [*PROFILE_CASES, ("email-of-another-patient", {"date_of_birth": "1990-01-02", "email": "TAKEN"}, "email")],
)
def test_staffs_patient_edit_is_decided_alike(desk, case, changes, field) -> None:
    by_api, by_page = _twins(full_name="Chan Tai Man", phone="+85261234567", preferred_language="en")
    taken = PatientFactory().email
    born = _birth(changes["date_of_birth"])
    email = {by_api.pk: by_api.email, by_page.pk: by_page.email}
    if changes.get("email") == "TAKEN":
        email = dict.fromkeys(email, taken)
    api = client_for(desk).patch(
        f"/api/v1/patients/{by_api.pk}/", {"date_of_birth": born, "email": email[by_api.pk]}, format="json"
    )
    form = {
        "full_name": "Chan Tai Man",
        "date_of_birth": born,
        "phone": "+85261234567",
        "email": email[by_page.pk],
        "preferred_language": "en",
    }
    page = _page(desk).post(reverse("chart:patient_edit", args=[by_page.pk]), form)
    if field is None:
        assert api.status_code == 200, api.json()
        assert page.status_code == 302
    else:
        _refused_alike(api, page, status=400, code="invalid", field=field, page_status=400)
    assert _patient_row(by_api) == _patient_row(by_page)


def test_registering_refuses_an_impossible_birth_date_at_both_doors() -> None:
    born = _future()
    api = client_for(None).post(
        "/api/v1/auth/register/",
        {
            "email": "new@example.com",
            "password": "a-long-passphrase-9",
            "full_name": "New Patient",
            "date_of_birth": born,
            "phone": "+85261110000",
            "preferred_language": "en",
        },
        format="json",
    )
    page = Client().post(
        reverse("site:register"),
        {
            "full_name": "Other Patient",
            "email": "other@example.com",
            "phone": "6111 0001",
            "date_of_birth": born,
            "password": "a-long-passphrase-9",
        },
    )
    _refused_alike(api, page, status=400, code="invalid", field="date_of_birth", page_status=200)
    assert not Patient.objects.filter(email__in=["new@example.com", "other@example.com"]).exists()
