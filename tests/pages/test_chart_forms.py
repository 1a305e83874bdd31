"""The chart's forms: what they save, and bad input answered in place (the
typed values kept, nothing changed, never a 500)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment, SessionRecord
from clinic import formats
from patients.models import HealthDeclaration, Patient
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory
from tests.pages.chart_fixtures import assess, checked_in_plan_appointment, laser, picture, staff, upload
from treatments.models import LESION_KEYS, Assessment, AssessmentPhoto, Category, PlanSession, TreatmentPlan
from treatments.scoring import goodman_baron_score
from workspace.chart.forms import DECLARATION_QUESTIONS

pytestmark = pytest.mark.django_db

ASSESSMENT = {
    "assessed_on": "",
    "fitzpatrick_type": "4",
    "macular": "12",
    "mild_atrophic": "5",
    "punched_out_shallow": "25",
    "punched_out_deep_normal_base": "3",
    "keloid_area_cm2": "",
    "qualitative_grade": "3",
    "types_present": ["rolling", "icepick"],
    "pih": "moderate",
    "pie": "mild",
    "notes": "Baseline before the course.",
}


@pytest.fixture
def doctor(client):
    user = staff("practitioner")
    client.force_login(user)
    return user


def _assessment(**changes) -> dict:
    body = {**ASSESSMENT, "assessed_on": timezone.localdate().isoformat()}
    body.update(changes)
    return body


# --- patients ------------------------------------------------------------------------------


def test_search_finds_by_name_phone_and_email_and_pages(client) -> None:
    client.force_login(staff("receptionist"))
    PatientFactory(full_name="Wong Siu Ming", phone="+85291234567", user=None, email="wong@example.com")
    for index in range(30):
        PatientFactory(full_name=f"Lee {index:02d}")
    assert "Wong Siu Ming" in client.get(reverse("chart:patients"), {"q": "siu"}).text
    assert "Wong Siu Ming" in client.get(reverse("chart:patients"), {"q": "9123 4567"}).text
    assert "Wong Siu Ming" in client.get(reverse("chart:patients"), {"q": "WONG@exa"}).text
    assert "No patient matches" in client.get(reverse("chart:patients"), {"q": "nobody"}).text
    first = client.get(reverse("chart:patients"), {"q": "Lee"})
    assert "30 patients" in first.text and "Page 1 of 2" in first.text and "Lee 25" not in first.text
    second = client.get(reverse("chart:patients"), {"q": "Lee", "page": "2"})
    assert "Lee 29" in second.text
    assert client.get(reverse("chart:patients"), {"page": "x\x00"}).status_code == 200
    assert client.get(reverse("chart:patients"), {"q": "a" * 500}).status_code == 200


def test_live_search_returns_only_the_results(client) -> None:
    client.force_login(staff("receptionist"))
    PatientFactory(full_name="Wong Siu Ming")
    response = client.get(
        reverse("chart:patients"), {"q": "wong"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="patient-results"
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="patient-results"')
    assert "<html" not in response.text and "Wong Siu Ming" in response.text


def test_a_receptionist_adds_a_patient_without_a_login(client) -> None:
    client.force_login(staff("receptionist"))
    response = client.post(
        reverse("chart:patient_new"),
        {
            "full_name": "  Ho   Ka Yan ",
            "date_of_birth": "1990-02-03",
            "phone": "9123 4567",
            "email": "HO@example.com",
            "preferred_language": "zh-hant",
        },
    )
    patient = Patient.objects.get(full_name="Ho Ka Yan")
    assert response.status_code == 302 and response.headers["Location"] == reverse("chart:patient", args=[patient.pk])
    assert patient.user is None and patient.phone == "+85291234567" and patient.email == "ho@example.com"


def test_adding_a_patient_with_bad_input_keeps_what_was_typed(client) -> None:
    client.force_login(staff("receptionist"))
    PatientFactory(email="taken@example.com", user=None)
    body = {
        "full_name": "Ho Ka Yan",
        "date_of_birth": "2999-01-01",
        "phone": "12",
        "email": "taken@example.com",
        "preferred_language": "en",
    }
    response = client.post(reverse("chart:patient_new"), body)
    assert response.status_code == 400
    assert "Enter a valid phone number" in response.text
    assert 'value="Ho Ka Yan"' in response.text and 'aria-invalid="true"' in response.text
    body.update(phone="91234567")  # the shape is right now: the service's rules answer
    response = client.post(reverse("chart:patient_new"), body)
    assert response.status_code == 400
    assert "The date of birth cannot be in the future." in response.text
    assert 'value="Ho Ka Yan"' in response.text and 'aria-invalid="true"' in response.text
    assert not Patient.objects.filter(full_name="Ho Ka Yan").exists()
    body.update(date_of_birth="1990-01-01")
    response = client.post(reverse("chart:patient_new"), body)
    assert response.status_code == 400 and "already uses this email" in response.text
    assert 'aria-describedby="id_email_helptext id_email_error"' in response.text


def test_editing_details_goes_through_patient_update_and_keeps_history(client) -> None:
    user = staff("receptionist")
    client.force_login(user)
    patient = PatientFactory(full_name="Old Name")
    body = {
        "full_name": "New Name",
        "date_of_birth": "1995-05-17",
        "phone": patient.phone,
        "email": patient.email,
        "preferred_language": "en",
    }
    response = client.post(reverse("chart:patient_edit", args=[patient.pk]), body)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.full_name == "New Name"
    chart = client.get(reverse("chart:history", args=[patient.pk])).text
    assert "New Name" in chart and "Old Name" in chart  # the history shows the old value
    body["email"] = ""
    response = client.post(reverse("chart:patient_edit", args=[patient.pk]), body)
    assert response.status_code == 400 and "needs an email" in response.text


# --- declarations --------------------------------------------------------------------------


def _declaration(**answers) -> dict:
    body = dict.fromkeys(DECLARATION_QUESTIONS, "no")
    body.update(answers)
    return body


def test_entering_a_paper_declaration_flags_its_risks_on_the_chart(client) -> None:
    user = staff("receptionist")
    client.force_login(user)
    patient = PatientFactory()
    chart = client.get(reverse("chart:patient", args=[patient.pk])).text
    assert "Health declaration missing." in chart
    body = _declaration(anticoagulants="yes", allergies=["lidocaine"])
    response = client.post(reverse("chart:declaration_new", args=[patient.pk]), body)
    assert response.status_code == 302
    declaration = HealthDeclaration.objects.get(patient=patient)
    assert declaration.entered_by == user and declaration.anticoagulants and declaration.allergies == ["lidocaine"]
    chart = client.get(reverse("chart:patient", args=[patient.pk])).text
    assert "Health declaration missing." not in chart
    assert "Blood thinners or a bleeding disorder" in chart and "Allergy: Lidocaine" in chart


def test_a_declaration_needs_every_answer_and_sane_dates(client) -> None:
    client.force_login(staff("receptionist"))
    patient = PatientFactory()
    body = _declaration(isotretinoin_last_dose="2999-01-01")
    del body["active_acne"]
    response = client.post(reverse("chart:declaration_new", args=[patient.pk]), body)
    assert response.status_code == 400
    assert "Answer yes or no." in response.text
    response = client.post(
        reverse("chart:declaration_new", args=[patient.pk]), _declaration(isotretinoin_last_dose="2999-01-01")
    )
    assert response.status_code == 400
    assert "This date cannot be in the future." in response.text
    assert not HealthDeclaration.objects.filter(patient=patient).exists()


def test_a_stale_declaration_is_flagged(client) -> None:
    from tests.factories import HealthDeclarationFactory

    client.force_login(staff("receptionist"))
    patient = PatientFactory()
    declaration = HealthDeclarationFactory(patient=patient)
    HealthDeclaration.objects.filter(pk=declaration.pk).update(
        submitted_at=timezone.now() - timezone.timedelta(days=400)
    )
    assert "Health declaration out of date." in client.get(reverse("chart:patient", args=[patient.pk])).text


# --- assessments ---------------------------------------------------------------------------


def test_an_assessment_with_photos_is_saved_with_the_servers_score(client, doctor) -> None:
    patient = PatientFactory(fitzpatrick_type=None)
    body = _assessment(photo_front=upload("front.png"), photo_left_45=upload("left.jpg", fmt="JPEG"))
    response = client.post(reverse("chart:assessment_new", args=[patient.pk]), body)
    assert response.status_code == 302, response.text
    assessment = Assessment.objects.get(patient=patient)
    expected = goodman_baron_score({"macular": 12, "mild_atrophic": 5, "punched_out_shallow": 25,
                                    "punched_out_deep_normal_base": 3})  # fmt: skip
    assert assessment.quantitative_score == expected
    assert assessment.assessed_by == doctor and assessment.types_present == ["icepick", "rolling"]
    assert sorted(p.view for p in assessment.photos.all()) == ["front", "left_45"]
    patient.refresh_from_db()
    assert patient.fitzpatrick_type == 4
    chart = client.get(response.headers["Location"].split("#")[0])
    assert f"score {expected}" in chart.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"macular": "-3"}, "A count cannot be negative."),
        ({"macular": "1" + "0" * 30}, "Give a whole number of lesions."),
        ({"macular": "99999"}, "At most 9999 lesions."),
        ({"macular": "2.5"}, "Give a whole number of lesions."),
        ({"keloid_area_cm2": "-1"}, "An area cannot be negative."),
        ({"keloid_area_cm2": "NaN"}, "Give an area in cm²"),
        ({"keloid_area_cm2": "1e400"}, "The area is too large."),
        ({"fitzpatrick_type": "9"}, "Select a valid choice"),
        ({"qualitative_grade": ""}, "Choose the qualitative grade."),
        ({"assessed_on": "2999-01-01"}, "An assessment cannot be dated in the future."),
        ({"assessed_on": "1980-01-01"}, "That is before the patient was born."),
        ({"types_present": ["nonsense"]}, "Select a valid choice"),
        ({"notes": "x" * 6000}, "Ensure this value has at most 5000 characters"),
    ],
)
def test_bad_assessment_input_is_answered_in_place(client, doctor, changes, message) -> None:
    patient = PatientFactory()
    response = client.post(reverse("chart:assessment_new", args=[patient.pk]), _assessment(**changes))
    assert response.status_code == 400
    assert message in response.text
    assert "Nothing was saved." in response.text
    assert 'value="25"' in response.text  # what was typed stays
    assert not Assessment.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a picture", "Upload a JPEG or PNG picture."),
        (picture("GIF"), "Upload a JPEG or PNG picture."),
        (picture("PNG")[:60], "damaged or incomplete"),
    ],
)
def test_a_wrong_photo_saves_nothing(client, doctor, content, message) -> None:
    patient = PatientFactory()
    body = _assessment(photo_front=upload("front.png"), photo_right_90=upload("x.png", content=content))
    response = client.post(reverse("chart:assessment_new", args=[patient.pk]), body)
    assert response.status_code == 400
    assert message in response.text
    assert 'id="id_photo_right_90_error"' in response.text
    assert not Assessment.objects.filter(patient=patient).exists()
    assert not AssessmentPhoto.objects.exists()


def test_a_photo_over_10_mb_is_refused(client, doctor, monkeypatch) -> None:
    from workspace.chart import views

    monkeypatch.setattr(views, "MAX_BYTES", 100)
    patient = PatientFactory()
    body = _assessment(photo_front=upload("front.png"))
    response = client.post(reverse("chart:assessment_new", args=[patient.pk]), body)
    assert response.status_code == 400 and "larger than 10 MB" in response.text
    assert not Assessment.objects.exists()


def test_the_live_score_fragment_is_the_scoring_functions_result(client, doctor) -> None:
    rng = random.Random(8)
    url = reverse("chart:assessment_score")
    for _round in range(25):
        counts = {key: rng.choice([0, 0, 1, 5, 10, 11, 20, 21, 300]) for key in LESION_KEYS}
        area = rng.choice(["0", "0.5", "4.99", "5", "20", "20.01"])
        body = {key: str(value) for key, value in counts.items()}
        body.update(keloid_area_cm2=area, qualitative_grade="2")
        response = client.post(url, body, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        expected = goodman_baron_score(counts, Decimal(area))
        assert f'data-score="{expected}"' in response.text
        assert "<html" not in response.text and "2 mild" in response.text


def test_the_live_score_names_the_counts_to_fix(client, doctor) -> None:
    response = client.post(reverse("chart:assessment_score"), {"macular": "-1", "broad_deep": "abc"})
    assert response.status_code == 200
    assert 'data-score=""' in response.text and "Fix these to see the score" in response.text
    assert 'href="#id_macular"' in response.text and 'href="#id_broad_deep"' in response.text


def test_the_assessment_form_asks_for_the_live_score(client, doctor) -> None:
    patient = PatientFactory(fitzpatrick_type=5)
    page = client.get(reverse("chart:assessment_new", args=[patient.pk])).text
    assert 'hx-trigger="input changed delay:300ms"' in page
    assert f'hx-post="{reverse("chart:assessment_score")}"' in page
    assert 'data-score="0"' in page
    assert '<option value="5" selected>' in page  # the patient's skin type is the default


# --- plans ---------------------------------------------------------------------------------


def test_a_plan_is_created_and_cancelled(client, doctor) -> None:
    patient = PatientFactory()
    treatment = TreatmentFactory(name_en="Chemical peel")
    response = client.post(
        reverse("chart:plan_new", args=[patient.pk]), {"treatment": treatment.pk, "sessions": "4", "start_after": ""}
    )
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient)
    assert plan.sessions.count() == 4
    chart = client.get(reverse("chart:plans", args=[patient.pk])).text
    assert "Book session 1" in chart and f"plan_session={plan.sessions.get(number=1).pk}" in chart
    response = client.post(reverse("chart:plan_cancel", args=[plan.pk]), {"reason": "Moved abroad"}, follow=True)
    plan.refresh_from_db()
    assert plan.status == "cancelled" and "The plan was cancelled." in response.text
    response = client.post(reverse("chart:plan_cancel", args=[plan.pk]), {"reason": ""}, follow=True)
    assert response.status_code == 200 and "Only an active plan can be cancelled." in response.text


def test_bad_plan_input_is_answered_in_place(client, doctor) -> None:
    patient = PatientFactory()
    treatment = TreatmentFactory(sessions_min=3, sessions_max=6)
    single = TreatmentFactory(interval_days_min=None, interval_days_max=None)
    url = reverse("chart:plan_new", args=[patient.pk])
    response = client.post(url, {"treatment": treatment.pk, "sessions": "9"})
    assert response.status_code == 400 and "planned in 3 to 6 sessions" in response.text
    response = client.post(url, {"treatment": single.pk, "sessions": "1"})
    assert response.status_code == 400 and "This treatment has no interval between sessions." in response.text
    response = client.post(url, {"treatment": treatment.pk, "sessions": "3", "start_after": "2001-01-01"})
    assert response.status_code == 400 and "cannot start in the past" in response.text
    other = assess(PatientFactory(), doctor)
    response = client.post(url, {"treatment": treatment.pk, "sessions": "3", "assessment": other.pk})
    assert response.status_code == 400 and "This assessment is of another patient." in response.text
    assert not TreatmentPlan.objects.filter(patient=patient).exists()


def test_a_plan_with_a_booked_session_says_why_it_cannot_be_cancelled(client, doctor) -> None:
    appointment = AppointmentFactory(status=Appointment.Status.CONFIRMED)
    treatment = appointment.treatment
    from treatments import services

    plan = services.plan_create(patient=appointment.patient, treatment=treatment, sessions=3, by=doctor)
    services.plan_session_booked(session=plan.sessions.get(number=1), on=timezone.localdate(), by=doctor)
    response = client.post(reverse("chart:plan_cancel", args=[plan.pk]), {"reason": ""}, follow=True)
    assert "Cancel the appointment first." in response.text
    plan.refresh_from_db()
    assert plan.status == "active"


# --- session records -----------------------------------------------------------------------


def test_completing_a_session_advances_the_plan_and_offers_the_next(client, doctor) -> None:
    patient = PatientFactory()
    appointment = checked_in_plan_appointment(patient, doctor)
    url = reverse("chart:session_record", args=[appointment.pk])
    page = client.get(url).text
    assert "Fluence (J/cm²)" in page and "Wavelength (nm)" in page
    body = {"areas": ["left_cheek", "forehead"], "fluence_j_cm2": "2.5", "passes": "2", "pain_score": "4",
            "device": "PicoSure", "notes": "Tolerated well"}  # fmt: skip
    response = client.post(url, body)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "completed"
    record = SessionRecord.objects.get(appointment=appointment)
    assert record.areas == ["forehead", "left_cheek"] and record.parameters == {
        "fluence_j_cm2": 2.5,
        "passes": 2,
        "device": "PicoSure",
    }
    assert record.pain_score == 4 and record.recorded_by == doctor
    session = appointment.plan_session
    session.refresh_from_db()
    assert session.status == PlanSession.Status.COMPLETED
    done = client.get(url).text
    nxt = session.plan.sessions.get(number=2)
    assert "Book session 2" in done and f"plan_session={nxt.pk}" in done
    assert "1 of 3 sessions done" in done


def test_the_form_is_prefilled_from_the_plans_previous_session(client, doctor) -> None:
    patient = PatientFactory()
    first = checked_in_plan_appointment(patient, doctor)
    body = {"areas": ["nose"], "energy_mj": "300", "spot_size_mm": "6", "pain_score": "2"}
    assert client.post(reverse("chart:session_record", args=[first.pk]), body).status_code == 302
    plan = first.plan_session.plan
    second_session = plan.sessions.get(number=2)
    start = first.start + timezone.timedelta(hours=1)
    from treatments import services

    second = AppointmentFactory(
        patient=patient,
        treatment=first.treatment,
        practitioner=first.practitioner,
        start=start,
        status=Appointment.Status.CHECKED_IN,
        plan_session=second_session,
    )
    services.plan_session_booked(session=second_session, on=timezone.localdate(start), by=doctor)
    page = client.get(reverse("chart:session_record", args=[second.pk])).text
    assert "Prefilled from the previous session" in page
    assert 'name="energy_mj" value="300"' in page
    assert 'value="nose" checked' in page or ('value="nose"' in page and "checked" in page)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"fluence_j_cm2": "1000"}, "Give a number from 0 to 100."),
        ({"fluence_j_cm2": "abc"}, "Give a number, e.g. 2.5."),
        ({"passes": "1.5"}, "Give a whole number."),
        ({"fluence_j_cm2": "2", "energy_mj": "300"}, "Give only one of fluence_j_cm2 or energy_mj."),
        ({"pain_score": "11"}, "Select a valid choice"),
        ({"areas": ["elbow"]}, "Select a valid choice"),
        ({"device": "x" * 300}, "at most 200 characters"),
        ({"fluence_j_cm2": "inf"}, "Give a number, e.g. 2.5."),
    ],
)
def test_bad_session_input_is_answered_in_place(client, doctor, body, message) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor)
    body = {"notes": "kept text", **body}
    response = client.post(reverse("chart:session_record", args=[appointment.pk]), body)
    assert response.status_code == 400
    assert message in response.text and "kept text" in response.text
    appointment.refresh_from_db()
    assert appointment.status == "checked_in" and not SessionRecord.objects.exists()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("cancelled", "This appointment was cancelled"),
        ("no_show", "did not come to this appointment"),
        ("confirmed", "has not been checked in yet"),
    ],
)
def test_the_wrong_state_is_a_clear_message(client, doctor, status, message) -> None:
    appointment = AppointmentFactory(status=status, treatment=laser())
    url = reverse("chart:session_record", args=[appointment.pk])
    page = client.get(url)
    assert page.status_code == 200 and message in page.text and "Complete session" not in page.text
    response = client.post(url, {"notes": "x"})
    assert response.status_code == 409 and message in response.text
    appointment.refresh_from_db()
    assert appointment.status == status


def test_completing_twice_shows_the_record_not_an_error(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor)
    url = reverse("chart:session_record", args=[appointment.pk])
    assert client.post(url, {"notes": "first"}).status_code == 302
    again = client.post(url, {"notes": "second"})
    assert again.status_code == 409 and "already completed" in again.text and "first" in again.text
    assert SessionRecord.objects.get().notes == "first"


def test_a_race_to_complete_is_a_message(client, doctor, monkeypatch) -> None:
    """Checked in when the form was shown, completed by someone else before it was saved."""
    from booking import services as booking_services
    from workspace.chart import views

    appointment = checked_in_plan_appointment(PatientFactory(), doctor)

    def other_first(**kwargs):
        Appointment.objects.filter(pk=appointment.pk).update(status="no_show")
        return booking_services.appointment_complete(**kwargs)

    monkeypatch.setattr(views, "appointment_complete", other_first)
    response = client.post(reverse("chart:session_record", args=[appointment.pk]), {"notes": "typed"})
    assert response.status_code == 409
    assert "Only a checked-in appointment can be completed." in response.text and "typed" in response.text


def test_a_consultation_records_no_parameters(client, doctor) -> None:
    treatment = TreatmentFactory(category=Category.CONSULTATION, interval_days_min=None, interval_days_max=None)
    appointment = AppointmentFactory(treatment=treatment, status="checked_in", start=timezone.now())
    url = reverse("chart:session_record", args=[appointment.pk])
    assert "Treatment parameters" not in client.get(url).text
    assert client.post(url, {"notes": "Discussed options", "fluence_j_cm2": "3"}).status_code == 302
    assert SessionRecord.objects.get().parameters == {}


def test_staff_user_without_name_renders(client) -> None:
    user = UserFactory(role="manager", first_name="", last_name="")
    client.force_login(user)
    patient = PatientFactory()
    assess(patient, user)
    assert client.get(reverse("chart:patient", args=[patient.pk])).status_code == 200


# --- the chart's drawings and comparisons --------------------------------------------------


def test_the_trend_is_drawn_from_every_assessment_with_the_sessions_marked() -> None:
    from datetime import date

    from workspace.chart.chart import trend_chart

    rows = [
        Assessment(pk=1, assessed_on=date(2026, 1, 1), quantitative_score=30, qualitative_grade=4),
        Assessment(pk=2, assessed_on=date(2026, 3, 1), quantitative_score=18, qualitative_grade=3),
        Assessment(pk=3, assessed_on=date(2026, 5, 1), quantitative_score=9, qualitative_grade=2),
    ]
    chart = trend_chart(rows, [date(2026, 2, 1), date(2026, 4, 1), date(2027, 1, 1)])
    assert chart is not None
    assert [p.score for p in chart.points] == [30, 18, 9]
    assert chart.points[0].x == chart.left and chart.points[-1].x == chart.right
    assert chart.points[0].y < chart.points[1].y < chart.points[2].y  # lower score, lower on the chart
    assert chart.points[0].grade_y < chart.points[2].grade_y
    assert [day for _x, day in chart.sessions] == [date(2026, 2, 1), date(2026, 4, 1)]  # only inside the range
    assert len(chart.line.split()) == 3
    assert trend_chart([], []) is None


def test_photos_are_compared_by_view_and_chosen_dates(client, doctor) -> None:
    patient = PatientFactory()
    old = assess(patient, doctor, days_ago=60, photos=1)
    middle = assess(patient, doctor, days_ago=30, photos=1)
    new = assess(patient, doctor, days_ago=0, photos=1)
    first, second, last = (a.photos.get() for a in (old, middle, new))
    url = reverse("chart:photos", args=[patient.pk])

    def shown(photo) -> str:
        return reverse("chart:photo", args=[patient.pk, photo.pk, "image"])

    page = client.get(url).text  # first and latest by default
    assert shown(first) in page and shown(last) in page and shown(second) not in page
    assert formats.date_text(old.assessed_on) in page and old.assessed_on.isoformat() not in page
    chosen = client.get(
        url, {"view": "front", "a": middle.pk, "b": "junk"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="photos-compare"
    )
    assert chosen.text.lstrip().startswith('<div id="photos-compare"')
    assert shown(second) in chosen.text and shown(last) in chosen.text and shown(first) not in chosen.text
    # Without scripts the same choice is a plain GET: the whole page, reloadable.
    page = client.get(url, {"view": "front", "a": middle.pk, "b": old.pk}).text
    assert shown(second) in page and shown(first) in page and shown(last) not in page
    assert f'<option value="{middle.pk}" selected>' in page
    # Another patient's assessment is never picked.
    stranger = assess(PatientFactory(), doctor, photos=1)
    page = client.get(url, {"a": stranger.pk}).text
    assert f"/photos/{stranger.photos.get().pk}/" not in page and shown(first) in page


def test_overdue_sessions_stand_out_on_the_chart(client, doctor) -> None:
    patient = PatientFactory()
    from treatments import services

    plan = services.plan_create(patient=patient, treatment=TreatmentFactory(), sessions=3, by=doctor)
    past = timezone.localdate() - timezone.timedelta(days=3)
    PlanSession.objects.filter(plan=plan, number=1).update(
        window_start=past - timezone.timedelta(days=20), window_end=past
    )
    page = client.get(reverse("chart:plans", args=[patient.pk])).text
    assert "1 overdue" in page and 'class="plan-state plan-state-overdue">Overdue' in page
    assert 'tr class="overdue"' in page


def test_the_notification_log_lists_the_patients_emails(client) -> None:
    from booking.models import Notification
    from tests.factories import NotificationFactory

    client.force_login(staff("receptionist"))
    patient = PatientFactory()
    NotificationFactory(
        appointment=AppointmentFactory(patient=patient),
        patient=patient,
        status=Notification.Status.FAILED,
        last_error="SMTPServerDisconnected",
        attempts=6,
    )
    NotificationFactory(appointment=AppointmentFactory(), kind=Notification.Kind.REMINDER)  # someone else's
    page = client.get(reverse("chart:appointments", args=[patient.pk])).text
    section = page[page.index('id="notifications"') :]
    assert "Booking confirmation" in section and "Failed" in section and "SMTPServerDisconnected" in section
    assert "6 attempts" in section and "Appointment reminder" not in section


def test_an_upload_too_large_is_refused_before_it_is_read(client, doctor) -> None:
    patient = PatientFactory()
    response = client.generic(
        "POST",
        reverse("chart:assessment_new", args=[patient.pk]),
        b"x" * 10,
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(60 * 1024 * 1024),
    )
    assert response.status_code == 400 and "The photos together are too large." in response.text
    assert not Assessment.objects.exists()


def test_the_session_form_shows_the_patients_risk_flags(client, doctor) -> None:
    from tests.factories import HealthDeclarationFactory

    patient = PatientFactory()
    appointment = checked_in_plan_appointment(patient, doctor)
    url = reverse("chart:session_record", args=[appointment.pk])
    assert "Health declaration missing." in client.get(url).text
    HealthDeclarationFactory(patient=patient, cold_sore_history=True, isotretinoin_last_dose=timezone.localdate())
    page = client.get(url).text
    assert "History of cold sores" in page and "Isotretinoin, last dose" in page
