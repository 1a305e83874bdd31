"""Correcting a saved assessment from the chart: who may, what is kept (the
history with the reason), errors in place, photos added later, and the
chart's history naming people and treatments instead of ids."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tests.factories import PatientFactory
from tests.pages.chart_fixtures import assess, full_history, laser, staff, upload
from tests.pages.helpers import assert_translated
from treatments import services
from treatments.models import Assessment
from treatments.scoring import goodman_baron_score

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


@pytest.fixture
def doctor() -> Any:
    user = staff("practitioner")
    user.first_name, user.last_name = "Wong", "Ka Yan"
    user.save()
    return user


@pytest.fixture
def assessment(doctor) -> Assessment:
    patient = PatientFactory(full_name="Chan Tai Man")
    return assess(patient, doctor, photos=1, macular=12, punched_out_shallow=25)


def _url(assessment: Assessment, patient_pk: int | None = None) -> str:
    return reverse("chart:assessment_correct", args=[patient_pk or assessment.patient_id, assessment.pk])


def _body(assessment: Assessment, **changes: Any) -> dict[str, Any]:
    """The form as the page sends it: the saved values, then the changes."""
    body: dict[str, Any] = {
        "assessed_on": assessment.assessed_on.isoformat(),
        "fitzpatrick_type": str(assessment.fitzpatrick_type),
        "qualitative_grade": str(assessment.qualitative_grade),
        "pih": assessment.pih,
        "pie": assessment.pie,
        "types_present": list(assessment.types_present),
        "notes": assessment.notes,
        "keloid_area_cm2": str(assessment.keloid_area_cm2),
        **{key: str(count) for key, count in assessment.lesions.items()},
        "version": Assessment.objects.get(pk=assessment.pk).updated_at.isoformat(),
    }
    body.update(changes)
    return body


def _snapshot(assessment: Assessment) -> tuple:
    fresh = Assessment.objects.get(pk=assessment.pk)
    return (fresh.lesions, fresh.quantitative_score, fresh.notes, fresh.history.count(), fresh.photos.count())


# --- who may ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, assessment) -> None:
    for method in (client.get, client.post):
        response = method(_url(assessment))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", ["patient", "receptionist"])
def test_patients_and_receptionists_get_403_and_change_nothing(client, assessment, role) -> None:
    user = assessment.patient.user if role == "patient" else staff("receptionist")
    client.force_login(user)
    before = _snapshot(assessment)
    assert client.get(_url(assessment)).status_code == 403
    assert client.post(_url(assessment), _body(assessment, macular="1", reason="x")).status_code == 403
    assert _snapshot(assessment) == before


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_clinicians_see_the_form_prefilled_with_the_saved_values(client, assessment, role) -> None:
    client.force_login(staff(role))
    response = client.get(_url(assessment))
    assert response.status_code == 200
    html = response.text
    assert 'name="macular" value="12"' in html and 'name="punched_out_shallow" value="25"' in html
    assert 'name="notes"' in html and "Baseline</textarea>" in html
    assert f'value="{assessment.assessed_on.isoformat()}"' in html
    assert f'<output data-score="{assessment.quantitative_score}">' in html  # the live score starts from the saved one
    assert 'hx-post="/staff/assessments/score/"' in html
    assert 'name="reason"' in html and "Save correction" in html
    photo = assessment.photos.get()
    assert reverse("chart:photo", args=[assessment.patient_id, photo.pk, "thumbnail"]) in html


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_another_patients_assessment_is_404(client, assessment, role) -> None:
    client.force_login(staff(role))
    other = PatientFactory()
    before = _snapshot(assessment)
    assert client.get(_url(assessment, other.pk)).status_code == 404
    assert client.post(_url(assessment, other.pk), _body(assessment, macular="1", reason="x")).status_code == 404
    assert client.get(reverse("chart:assessment_correct", args=[assessment.patient_id, 987654])).status_code == 404
    assert _snapshot(assessment) == before


# --- saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_a_correction_changes_the_score_and_shows_in_the_history(client, assessment, doctor, role) -> None:
    corrector = staff(role)
    corrector.first_name, corrector.last_name = "Lee", "Mei Ling"
    corrector.save()
    client.force_login(corrector)
    body = _body(assessment, macular="3", broad_deep="4", reason="Miscounted macular scars")
    response = client.post(_url(assessment), body)
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("chart:assessments", args=[assessment.patient_id])

    fresh = Assessment.objects.get(pk=assessment.pk)
    expected = goodman_baron_score({"macular": 3, "punched_out_shallow": 25, "broad_deep": 4})
    assert fresh.quantitative_score == expected != assessment.quantitative_score
    assert fresh.macular == 3 and fresh.broad_deep == 4 and fresh.assessed_by == doctor  # who assessed stays
    latest = fresh.history.order_by("-history_date", "-history_id").first()
    assert latest.history_type == "~" and latest.history_user == corrector
    assert latest.history_change_reason == "Miscounted macular scars"

    chart = client.get(response.headers["Location"])
    html = chart.text
    assert (
        f"The assessment of {fresh.assessed_on.day} {fresh.assessed_on:%b %Y} was corrected: Goodman &amp; Baron score {expected}."
        in html
    )
    row = html[html.index(f'id="assessment-{fresh.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Corrected " in row and "Lee Mei Ling" in row and f"<strong>{expected}</strong>" in row
    html = client.get(reverse("chart:history", args=[assessment.patient_id])).text
    history = html[html.index('id="history"') :]
    assert "Macular: flat, red or brown:" in history
    assert f'<del><span translate="no">{assessment.quantitative_score}</span></del>' in history
    assert f'<ins><span translate="no">{expected}</span></ins>' in history
    assert 'Reason: <span translate="no">Miscounted macular scars</span>' in history


def test_the_form_says_when_who_and_why_it_was_last_corrected(client, assessment, doctor) -> None:
    client.force_login(doctor)
    assert "Last corrected" not in client.get(_url(assessment)).text
    assert client.post(_url(assessment), _body(assessment, macular="4", reason="Better light")).status_code == 302
    html = " ".join(client.get(_url(assessment)).text.split())
    assert "Last corrected " in html and "(Hong Kong time (HKT))" in html
    assert '<span translate="no">Wong Ka Yan</span> · Reason: <span translate="no">Better light</span>' in html
    assert 'name="macular" value="4"' in html


def test_only_what_changed_is_sent_and_an_unchanged_form_is_refused(client, assessment, doctor) -> None:
    client.force_login(doctor)
    before = _snapshot(assessment)
    response = client.post(_url(assessment), _body(assessment, reason="Nothing really"))
    assert response.status_code == 400
    assert "Nothing was changed." in response.text
    assert _snapshot(assessment) == before


def test_a_change_needs_a_reason(client, assessment, doctor) -> None:
    client.force_login(doctor)
    before = _snapshot(assessment)
    response = client.post(_url(assessment), _body(assessment, macular="3", notes="Recounted"))
    assert response.status_code == 400
    assert "Say why the assessment is corrected" in response.text
    assert 'id="id_reason"' in response.text and 'aria-invalid="true"' in response.text
    assert 'name="macular" value="3"' in response.text and "Recounted</textarea>" in response.text
    assert _snapshot(assessment) == before
    response = client.post(_url(assessment), _body(assessment, macular="3", reason="x" * 101))
    assert response.status_code == 400 and "At most 100 characters." in response.text
    assert _snapshot(assessment) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"macular": "-1"}, "A count cannot be negative."),
        ({"macular": "100000"}, "At most"),
        ({"macular": "9" * 40}, "Give a whole number of lesions."),
        ({"broad_deep": "lots"}, "Give a whole number of lesions."),
        ({"broad_deep": "2.5"}, "Give a whole number of lesions."),
        ({"keloid_area_cm2": "-3"}, "An area cannot be negative."),
        ({"keloid_area_cm2": "1e999"}, "cm²"),
        ({"qualitative_grade": "9"}, "Choose a grade."),
        ({"assessed_on": "2999-01-01"}, "An assessment cannot be dated in the future."),
        ({"assessed_on": "1901-01-01"}, "That is before the patient was born."),
        ({"photo_front": "not a file"}, None),
    ],
)
def test_bad_input_is_answered_in_place_and_changes_nothing(client, assessment, doctor, changes, message) -> None:
    client.force_login(doctor)
    before = _snapshot(assessment)
    body = _body(assessment, notes="Typed before the error", reason="Recount", **changes)
    if "photo_front" in changes:
        body["photo_front"] = upload(content=b"not a picture at all")
        body["macular"] = "3"
    response = client.post(_url(assessment), body)
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    if message:
        assert message in response.text
    assert "Typed before the error</textarea>" in response.text and 'value="Recount"' in response.text
    assert _snapshot(assessment) == before


def test_photos_can_be_added_without_a_reason(client, assessment, doctor) -> None:
    client.force_login(doctor)
    before_history = assessment.history.count()
    body = _body(assessment, photo_left_45=upload("left.png"), photo_right_45=upload("right.jpg", fmt="JPEG"))
    response = client.post(_url(assessment), body)
    assert response.status_code == 302
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert sorted(fresh.photos.values_list("view", flat=True)) == ["front", "left_45", "right_45"]
    assert fresh.history.count() == before_history  # the values did not change: no new version
    assert fresh.photos.get(view="left_45").uploaded_by == doctor
    chart = client.get(response.headers["Location"])
    assert f"2 photos added to the assessment of {fresh.assessed_on.day} {fresh.assessed_on:%b %Y}." in chart.text
    # The history lists each photo as added, by whom (photos have no history rows of their own).
    chart = client.get(reverse("chart:history", args=[fresh.patient_id]))
    history = " ".join(chart.text[chart.text.index('id="history"') :].split())
    assert history.count("Assessment photo") == 3
    assert "Photo angle: <ins>Left 45°</ins>" in history and "Photo angle: <ins>Right 45°</ins>" in history
    link = f'/assessments/?assessment={fresh.pk}#assessment-{fresh.pk}"'  # the page that lists it
    assert link in history and '<span translate="no">Wong Ka Yan</span>' in history
    desk = staff("receptionist")
    client.force_login(desk)
    assert "Assessment photo" not in client.get(response.headers["Location"]).text


def test_a_correction_and_a_photo_together(client, assessment, doctor) -> None:
    client.force_login(doctor)
    body = _body(assessment, mild_atrophic="2", reason="Missed two", photo_front=upload())
    response = client.post(_url(assessment), body)
    assert response.status_code == 302
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert fresh.mild_atrophic == 2 and fresh.photos.count() == 2
    assert "1 photo added." in client.get(response.headers["Location"]).text


def test_a_correction_saved_meanwhile_by_someone_else_is_not_undone_silently(client, assessment, doctor) -> None:
    client.force_login(doctor)
    opened = _body(assessment, notes="Recounted on the left", reason="Notes")  # the form as opened
    assert f'name="version" value="{opened["version"]}"' in client.get(_url(assessment)).text
    services.assessment_correct(assessment=assessment, by=staff("manager"), lesions={"macular": 5}, reason="Other")
    before = _snapshot(assessment)

    response = client.post(_url(assessment), opened)
    assert response.status_code == 409
    assert "Someone else corrected this assessment after you opened it" in response.text
    assert "Recounted on the left</textarea>" in response.text  # what was typed stays
    assert _snapshot(assessment) == before
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert f'name="version" value="{fresh.updated_at.isoformat()}"' in response.text

    # Saving again after checking replaces their values, on purpose.
    response = client.post(_url(assessment), {**opened, "version": fresh.updated_at.isoformat()})
    assert response.status_code == 302
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert fresh.notes == "Recounted on the left" and fresh.macular == 12


def test_a_correction_racing_another_is_refused_under_the_lock(client, assessment, doctor, monkeypatch) -> None:
    from workspace.chart import views

    client.force_login(doctor)
    checked = views._check_photos

    def meanwhile(form):  # another clinician saves between this request's read and its write
        services.assessment_correct(assessment=assessment, by=staff("manager"), notes="Theirs", reason="x")
        return checked(form)

    monkeypatch.setattr(views, "_check_photos", meanwhile)
    response = client.post(_url(assessment), _body(assessment, macular="1", reason="Mine"))
    assert response.status_code == 409  # the service's check, under its lock
    assert "Someone else corrected this assessment after you opened it" in response.text
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert fresh.notes == "Theirs" and fresh.macular == 12
    assert f'name="version" value="{fresh.updated_at.isoformat()}"' in response.text


def test_adding_a_photo_needs_no_fresh_form(client, assessment, doctor) -> None:
    client.force_login(doctor)
    opened = _body(assessment)
    services.assessment_correct(assessment=assessment, by=staff("manager"), notes="Changed meanwhile", reason="x")
    fresh = Assessment.objects.get(pk=assessment.pk)
    body = {**_body(fresh), "version": opened["version"], "photo_left_90": upload()}
    assert client.post(_url(assessment), body).status_code == 302
    assert Assessment.objects.get(pk=assessment.pk).photos.count() == 2


def test_correcting_the_newest_assessments_skin_type_updates_the_patient(client, assessment, doctor) -> None:
    client.force_login(doctor)
    response = client.post(_url(assessment), _body(assessment, fitzpatrick_type="4", reason="Type IV, not III"))
    assert response.status_code == 302
    assessment.patient.refresh_from_db()
    assert assessment.patient.fitzpatrick_type == 4


# --- the history names people and treatments -------------------------------------------------


def test_the_history_shows_names_not_ids(client, doctor) -> None:
    patient = PatientFactory()
    found = assess(patient, doctor)
    treatment = laser()
    services.plan_create(patient=patient, treatment=treatment, sessions=3, by=doctor, assessment=found)
    client.force_login(doctor)
    html = client.get(reverse("chart:history", args=[patient.pk])).text
    history = " ".join(html[html.index('id="history"') :].split())
    assert 'Assessed by: <ins><span translate="no">Wong Ka Yan</span></ins>' in history
    assert 'Treatment: <ins><span translate="no">Pico laser</span></ins>' in history
    assert f"{found.assessed_on.day} {found.assessed_on:%b %Y} · score {found.quantitative_score}" in history
    assert 'Created by: <ins><span translate="no">Wong Ka Yan</span></ins>' in history
    # No changed value is a bare id (the "What" column's object numbers are another matter).
    for pk in (doctor.pk, treatment.pk):
        assert f"<ins>#{pk}<" not in history and f'translate="no">#{pk}<' not in history
    assert not re.search(r"<ins>(<span[^>]*>)?#\d+<", history)

    chinese = client.get(reverse("chart:history", args=[patient.pk]), **ZH).text
    assert "皮秒激光" in chinese[chinese.index('id="history"') :]


def test_the_receptionists_history_names_who_entered_a_declaration(client) -> None:
    from patients.models import DECLARATION_YES_NO
    from patients.services import declaration_submit

    desk = staff("receptionist")
    desk.first_name, desk.last_name = "Ho", "Siu Fung"
    desk.save()
    patient = PatientFactory()
    answers = dict.fromkeys(DECLARATION_YES_NO, False)
    declaration_submit(patient=patient, entered_by=desk, allergies=[], allergies_other="", **answers)
    client.force_login(desk)
    html = client.get(reverse("chart:history", args=[patient.pk])).text
    history = " ".join(html[html.index('id="history"') :].split())
    assert 'Entered by: <ins><span translate="no">Ho Siu Fung</span></ins>' in history
    assert f"#{desk.pk}<" not in history


def test_the_charts_queries_stay_flat_with_corrections_and_named_keys(client, doctor) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(doctor)

    def count(patient) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("chart:patient", args=[patient.pk])).status_code == 200
        return len(queries)

    small, large = PatientFactory(), PatientFactory()
    for patient, n in ((small, 1), (large, 6)):
        full_history(patient, doctor, n=n)
        for index, found in enumerate(Assessment.objects.filter(patient=patient)):
            services.assessment_correct(
                assessment=found, by=staff("manager"), reason=f"r{index}", lesions={"macular": 1}
            )
        services.plan_create(
            patient=patient, treatment=laser() if n == 1 else patient.plans.first().treatment, sessions=3, by=doctor,
            assessment=Assessment.objects.filter(patient=patient).first(),
        )  # fmt: skip
    assert count(large) == count(small)


# --- Traditional Chinese ---------------------------------------------------------------------


def test_the_correction_page_and_its_errors_are_translated(client, assessment, doctor) -> None:
    from django.contrib.auth.models import User

    names = ["Fitzpatrick", "III", "Baseline", "Recount", assessment.patient.full_name]
    for user in User.objects.all():
        names += [user.first_name, user.last_name, user.username]
    client.force_login(doctor)
    response = client.get(_url(assessment), **ZH)
    assert response.status_code == 200
    assert 'lang="zh-Hant-HK"' in response.text
    assert_translated(response.content, allow=names)
    response = client.post(_url(assessment), _body(assessment, macular="-1", reason="Recount"), **ZH)
    assert response.status_code == 400
    assert_translated(response.content, allow=names)
    response = client.post(_url(assessment), _body(assessment, macular="3"), **ZH)
    assert response.status_code == 400
    assert_translated(response.content, allow=names)
    response = client.post(_url(assessment), _body(assessment, macular="3", reason="Recount"), **ZH)
    assert response.status_code == 302
    chart = client.get(response.headers["Location"], **ZH)
    assert_translated(chart.content, allow=names)
    again = client.get(_url(assessment), **ZH)  # now with its last correction named
    assert "上次更正" in again.text
    assert_translated(again.content, allow=names)


def test_date_pickers_hold_iso_dates_in_chinese_too(client, assessment, doctor) -> None:
    """A ``type="date"`` input shows nothing unless its value is YYYY-MM-DD, whatever the language."""
    client.force_login(doctor)
    on = assessment.assessed_on.isoformat()
    for url in (_url(assessment), reverse("chart:assessment_new", args=[assessment.patient_id])):
        html = client.get(url, **ZH).text
        assert f'type="date" name="assessed_on" value="{on}"' in html, url
    born = assessment.patient.date_of_birth.isoformat()
    html = client.get(reverse("chart:patient_edit", args=[assessment.patient_id]), **ZH).text
    assert f'value="{born}"' in html
