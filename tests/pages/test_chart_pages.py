"""The chart's lists that grow with the patient's history (assessments, session
records, appointments) show the newest page with a count and links to the older
ones, so a long history neither slows the chart nor hides anything: older items
are one click away, and the page costs the same number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment, SessionRecord
from patients.services import patient_update
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
)
from tests.pages.chart_fixtures import full_history, staff
from treatments.services import assessment_correct
from workspace.chart.chart import HISTORY_LIMIT, PAGE_SIZE

pytestmark = pytest.mark.django_db

MORE = PAGE_SIZE + 5  # one full page and some older ones


def _long_history(patient, doctor, count: int = MORE) -> None:
    """``count`` past assessments, health declarations and completed visits with
    their session records, a day apart, the newest yesterday."""
    treatment = TreatmentFactory()
    practitioner = PractitionerFactory(treatments=[treatment])
    now = timezone.now().replace(second=0, microsecond=0)
    for days_ago in range(1, count + 1):
        AssessmentFactory(
            patient=patient, assessed_by=doctor, assessed_on=timezone.localdate() - timedelta(days=days_ago)
        )
        visit = AppointmentFactory(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            start=now - timedelta(days=days_ago),
            status=Appointment.Status.COMPLETED,
        )
        SessionRecord.objects.create(
            appointment=visit, category=treatment.category, recorded_at=visit.end, recorded_by=doctor
        )
        # A declaration before each visit; the newest (yesterday's) flags blood thinners.
        HealthDeclarationFactory(patient=patient, submitted_at=visit.start, anticoagulants=days_ago == 1)


@pytest.fixture
def doctor():
    return staff("practitioner")


@pytest.fixture
def patient(doctor):
    found = PatientFactory(full_name="Ho Ka Yan")
    _long_history(found, doctor)
    return found


def _section(html: str, name: str) -> str:
    """The section's own part of the page, without the summary header."""
    return html[html.index(f'id="{name}"') :]


def _rows(html: str, marker: str) -> int:
    return html.count(marker)


def test_assessments_show_the_newest_page_with_a_count_and_the_older_a_click_away(client, doctor, patient) -> None:
    client.force_login(doctor)
    url = reverse("chart:assessments", args=[patient.pk])
    newest = patient.assessments.order_by("-assessed_on").first()
    oldest = patient.assessments.order_by("assessed_on").first()

    first = client.get(url).text
    assert _rows(first, '<tr id="assessment-') == PAGE_SIZE
    assert f'id="assessment-{newest.pk}"' in first and f'id="assessment-{oldest.pk}"' not in first
    assert f"Showing 1–{PAGE_SIZE} of {MORE}, newest first." in first
    assert 'href="?page=2"' in first
    # The trend still draws every assessment, not only this page's.
    assert f"{MORE} assessments; the table below" in first

    second = client.get(url + "?page=2").text
    assert _rows(second, '<tr id="assessment-') == MORE - PAGE_SIZE
    assert f'id="assessment-{oldest.pk}"' in second and f'id="assessment-{newest.pk}"' not in second
    assert f"Showing {PAGE_SIZE + 1}–{MORE} of {MORE}, newest first." in second
    assert 'href="?page=1"' in second


@pytest.mark.parametrize("name", ["patient", "assessments", "records", "appointments"])
def test_a_page_number_that_is_not_one_gives_a_page_not_an_error(client, doctor, patient, name) -> None:
    client.force_login(doctor)
    url = reverse(f"chart:{name}", args=[patient.pk])
    last = client.get(url + "?page=2").text
    assert client.get(url + "?page=99").text.count("<tr") == last.count("<tr")  # past the end: the last page
    for bad in ("abc", "-1", "0", "1.5", "9" * 30):
        response = client.get(url, {"page": bad})
        assert response.status_code == 200, bad


def test_session_records_and_appointments_are_paged_newest_first(client, doctor, patient) -> None:
    client.force_login(doctor)
    records = SessionRecord.objects.filter(appointment__patient=patient).order_by("-recorded_at")
    newest, oldest = records.first(), records.last()
    url = reverse("chart:records", args=[patient.pk])
    first, second = client.get(url).text, client.get(url + "?page=2").text
    newest_link = reverse("chart:session_record", args=[newest.appointment_id])
    oldest_link = reverse("chart:session_record", args=[oldest.appointment_id])
    assert newest_link in first and oldest_link not in first
    assert oldest_link in second and newest_link not in second
    assert f"of {MORE}, newest first." in first

    visits = Appointment.objects.filter(patient=patient).order_by("-start")
    url = reverse("chart:appointments", args=[patient.pk])
    first, second = client.get(url).text, client.get(url + "?page=2").text
    newest_visit = reverse("staff:appointment", args=[visits.first().pk])
    oldest_visit = reverse("staff:appointment", args=[visits.last().pk])
    assert f'href="{newest_visit}"' in first and f'href="{oldest_visit}"' not in first
    assert f'href="{oldest_visit}"' in second
    assert '<nav class="row pages"' in first


def test_a_short_history_has_no_pager(client, doctor) -> None:
    client.force_login(doctor)
    patient = PatientFactory()
    full_history(patient, doctor, n=2)
    for name in ("assessments", "records", "appointments"):
        html = client.get(reverse(f"chart:{name}", args=[patient.pk])).text
        assert '<nav class="row pages"' not in html and "Showing 1–" not in html, name


def test_a_correction_is_still_shown_on_the_paged_assessments(client, doctor, patient) -> None:
    newest = patient.assessments.order_by("-assessed_on").first()
    assessment_correct(assessment=newest, by=doctor, reason="Miscounted", lesions={"macular": 3})
    client.force_login(doctor)
    html = client.get(reverse("chart:assessments", args=[patient.pk])).text
    row = html[html.index(f'id="assessment-{newest.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Corrected " in row


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_each_paged_sections_queries_are_the_same_for_a_short_and_a_long_history(client, doctor) -> None:
    client.force_login(doctor)
    short, long = PatientFactory(), PatientFactory()
    _long_history(short, doctor, count=2)
    _long_history(long, doctor, count=MORE)
    for name in ("patient", "assessments", "records", "appointments"):
        small = _count(client, reverse(f"chart:{name}", args=[short.pk]))
        assert _count(client, reverse(f"chart:{name}", args=[long.pk])) == small, name
        assert _count(client, reverse(f"chart:{name}", args=[long.pk]) + "?page=2") == small, name
    # Opening the page of one assessment (the history's links) costs the same too.
    url = reverse("chart:assessments", args=[short.pk]) + f"?assessment={short.assessments.first().pk}"
    small = _count(client, url)
    url = reverse("chart:assessments", args=[long.pk]) + f"?assessment={long.assessments.last().pk}"
    assert _count(client, url) == small


def test_the_history_shows_the_newest_changes_and_the_older_ones_on_the_next_page(client, doctor) -> None:
    patient = PatientFactory()
    desk = staff("receptionist")
    for number in range(HISTORY_LIMIT + 3):  # the patient's own changes: any member of staff sees them
        patient_update(patient=patient, changed_by=desk, phone=f"+8526{number:07d}")
    AssessmentFactory(patient=patient, assessed_by=doctor)
    client.force_login(desk)
    url = reverse("chart:history", args=[patient.pk])
    first, second = (_section(client.get(page).text, "history") for page in (url, url + "?page=2"))
    newest, oldest = f"+8526{HISTORY_LIMIT + 2:07d}", "+85260000000"
    assert first.count("<tr>") - 1 == HISTORY_LIMIT  # the head's row and one per change
    assert newest in first and oldest not in first
    assert oldest in second and newest not in second
    # The changes and the patient's creation; a receptionist's history leaves out the assessment.
    assert f"Showing 1–{HISTORY_LIMIT} of {HISTORY_LIMIT + 4}," in first and 'href="?page=2"' in first
    assert client.get(url, {"page": "x"}).status_code == 200
    assert _section(client.get(url, {"page": "999"}).text, "history").count("<tr>") == second.count("<tr>")
    client.force_login(doctor)
    assert f"Showing 1–{HISTORY_LIMIT} of {HISTORY_LIMIT + 5}," in client.get(url).text


def test_the_historys_queries_are_the_same_for_every_page_and_length(client, doctor) -> None:
    client.force_login(doctor)
    short, long = PatientFactory(), PatientFactory()
    full_history(short, doctor, n=1)
    full_history(long, doctor, n=1)
    _long_history(long, doctor, count=MORE * 2)  # more than one page of assessments created
    url = reverse("chart:history", args=[long.pk])
    small = _count(client, reverse("chart:history", args=[short.pk]))
    assert _count(client, url) == small
    assert _count(client, url + "?page=2") == small


def test_the_historys_link_to_an_older_assessment_opens_the_page_that_lists_it(client, doctor, patient) -> None:
    client.force_login(doctor)
    oldest = patient.assessments.order_by("assessed_on").first()
    history = "".join(client.get(reverse("chart:history", args=[patient.pk]), {"page": n}).text for n in (1, 2))
    link = f"{reverse('chart:assessments', args=[patient.pk])}?assessment={oldest.pk}#assessment-{oldest.pk}"
    assert f'href="{link}"' in history
    assert f'id="assessment-{oldest.pk}"' in client.get(link).text
    url = reverse("chart:assessments", args=[patient.pk])
    someone_elses = AssessmentFactory(assessed_by=doctor)
    for wanted in ("abc", str(someone_elses.pk), "9" * 40):  # not one of theirs: the newest page
        html = client.get(url, {"assessment": wanted}).text
        assert f"Showing 1–{PAGE_SIZE} of {MORE}" in html and f'id="assessment-{someone_elses.pk}"' not in html


def test_declarations_are_paged_and_the_newest_flags_the_header_on_every_page(client, patient) -> None:
    client.force_login(staff("receptionist"))
    url = reverse("chart:patient", args=[patient.pk])
    first, second = client.get(url).text, client.get(url + "?page=2").text
    for html in (first, second):  # the summary's risk flags come from the newest declaration
        summary = html[html.index('class="chart-summary"') : html.index('class="chart-sections"')]
        assert "Blood thinners" in summary
    declarations = _section(first, "declarations")
    assert declarations.count("<tr>") - 1 == PAGE_SIZE and declarations.count(">Latest<") == 1
    assert f"Showing 1–{PAGE_SIZE} of {MORE}, newest first." in declarations
    older = _section(second, "declarations")
    assert older.count("<tr>") - 1 == MORE - PAGE_SIZE and ">Latest<" not in older
