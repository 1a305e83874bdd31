"""The reports in the workspace (workspace/reports): who may open which, the
filters going round as GET parameters, bad filters shown on their fields with a
400, each table's CSV holding the numbers the page shows, and both languages.

The reports' numbers are someone else's tests (booking.report_*): here a
report of known tables stands in, so what the page does with them shows."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from booking import report_operations, report_outcomes
from booking.reports import Column, Figure, Report, ReportFilters, Table
from tests.factories import PatientFactory, PractitionerFactory, TreatmentFactory, UserFactory

pytestmark = pytest.mark.django_db

OUTCOMES = "/staff/reports/outcomes/"
OPERATIONS = "/staff/reports/operations/"


def _known_report(key: str, seen: list[ReportFilters]):
    def compute(filters: ReportFilters) -> Report:
        seen.append(filters)
        change = Table(
            key="score_change",
            title="Change in scar score by treatment",
            description="Baseline to latest.",
            columns=[
                Column("treatment", "Treatment"),
                Column("patients", "Patients", "count"),
                Column("change_median", "Median change (points)", "number"),
                Column("improved", "Improved", "percent"),
                Column("revenue", "Revenue", "money"),
            ],
            rows=[
                {
                    "treatment": "Pico laser",
                    "patients": 1204,
                    "change_median": -12.5,
                    "improved": 62.5,
                    "revenue": Decimal("35000.00"),
                },
                {
                    "treatment": "Chemical peel",
                    "patients": 6,
                    "change_median": None,
                    "improved": 0.0,
                    "revenue": Decimal("0.00"),
                },
            ],
            hidden=2,
            figure=Figure("bars", label="treatment", values=("change_median",), unit="points"),
        )
        plain = Table(
            key="courses",
            title="Courses completed or abandoned",
            description="",
            columns=[Column("status", "Status"), Column("courses", "Courses", "count")],
            rows=[{"status": "completed", "courses": 9}],
        )
        return Report(key=key, filters=filters, min_group=5, tables=[change, plain])

    return compute


@pytest.fixture
def seen(monkeypatch) -> list[ReportFilters]:
    found: list[ReportFilters] = []
    monkeypatch.setattr(report_outcomes, "outcomes_report", _known_report("outcomes", found))
    monkeypatch.setattr(report_operations, "operations_report", _known_report("operations", found))
    return found


def _user(role: str):
    if role == "patient":
        return PatientFactory().user
    if role == "practitioner":
        return PractitionerFactory().user
    return UserFactory(role=role)


# --- who may see what -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, seen) -> None:
    for url in (OUTCOMES, OPERATIONS, "/staff/reports/outcomes/score_change.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not seen


@pytest.mark.parametrize("role", ["patient", "receptionist"])
def test_patients_and_reception_may_not_open_the_reports(client, seen, role) -> None:
    client.force_login(_user(role))
    for url in (OUTCOMES, OPERATIONS, "/staff/reports/outcomes/score_change.csv"):
        assert client.get(url).status_code == 403
    assert not seen


def test_a_practitioner_sees_outcomes_of_their_own_patients_but_not_operations(client, seen) -> None:
    practitioner = PractitionerFactory()
    client.force_login(practitioner.user)
    page = client.get(OUTCOMES)
    assert page.status_code == 200
    assert "You see only the patients you have treated." in page.text
    assert seen[-1].own_patients_of == practitioner.pk
    assert re.search(r'href="/staff/reports/outcomes/" aria-current="page">Outcomes<', page.text)  # their nav
    assert reverse("reports:operations") not in page.text
    assert client.get(OPERATIONS).status_code == 403
    assert client.get("/staff/reports/operations/score_change.csv").status_code == 403
    assert client.get("/staff/reports/outcomes/score_change.csv").status_code == 200
    assert seen[-1].own_patients_of == practitioner.pk  # the CSV too covers only their patients


def test_a_manager_sees_both_reports_from_the_manage_menu(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    outcomes = client.get(OUTCOMES)
    assert outcomes.status_code == 200 and "<h1>Outcomes</h1>" in outcomes.text
    assert "You see only" not in outcomes.text and seen[-1].own_patients_of is None
    operations = client.get(OPERATIONS)
    assert operations.status_code == 200 and "<h1>Operations</h1>" in operations.text
    assert 'href="/staff/reports/operations/" aria-current="page">Operations</a>' in operations.text
    assert 'href="/staff/reports/outcomes/">Outcomes</a>' in operations.text
    assert 'name="target_grade"' in outcomes.text and 'name="target_grade"' not in operations.text


# --- what the page shows ----------------------------------------------------------------------


def test_each_table_has_its_figure_numbers_note_and_csv_link_and_a_contents_entry(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    page = client.get(OPERATIONS).text
    assert '<a href="#score_change">Change in scar score by treatment</a>' in page
    assert '<a href="#courses">Courses completed or abandoned</a>' in page
    section = page.split('id="score_change"', 1)[1].split("</section>", 1)[0]
    assert '<svg class="plot plot-bars"' in section and "Baseline to latest." in section
    assert '<th scope="row">Pico laser</th><td class="num">1,204</td><td class="num">-12.5</td>' in section
    assert '<td class="num">62.5%</td><td class="num">HK$35,000.00</td>' in section
    assert '<td class="num">—</td>' in section  # no median for the peel
    assert "2 groups not shown (fewer than 5 patients)." in section
    courses = page.split('id="courses"', 1)[1].split("</section>", 1)[0]
    assert "<svg" not in courses and "groups not shown" not in courses


def test_filters_go_round_as_get_parameters(client, seen) -> None:
    practitioner = PractitionerFactory()
    treatment = TreatmentFactory(slug="pico-laser", name_en="Pico laser")
    client.force_login(UserFactory(role="manager"))
    query = f"from=2026-01-01&to=2026-03-31&practitioner={practitioner.pk}&treatment=pico-laser&target_grade=1"
    page = client.get(f"{OUTCOMES}?{query}").text
    filters = seen[-1]
    assert (filters.start, filters.end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert (filters.practitioner_id, filters.treatment_id, filters.target_grade) == (practitioner.pk, treatment.pk, 1)
    assert 'name="from" value="2026-01-01"' in page and 'name="to" value="2026-03-31"' in page
    assert f'<option value="{practitioner.pk}" selected>' in page
    assert '<option value="pico-laser" selected>Pico laser</option>' in page
    assert '<option value="1" selected>' in page
    link = re.search(r'href="(/staff/reports/outcomes/score_change\.csv\?[^"]+)"', page)
    assert link is not None
    csv_link = link.group(1).replace("&amp;", "&")
    for part in query.split("&"):
        assert part in csv_link
    client.get(csv_link)
    assert seen[-1] == filters


def test_without_filters_the_form_shows_the_default_period(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    page = client.get(OPERATIONS).text
    filters = seen[-1]
    assert filters.days == 84
    assert f'name="from" value="{filters.start.isoformat()}"' in page


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-13-01", "from", "Give a date as YYYY-MM-DD."),
        ("from=2026-03-01&to=2026-01-01", "to", "The end of the period must not be before its start."),
        ("practitioner=abc", "practitioner", "Give an id."),
        ("treatment=no-such-thing", "treatment", "No such treatment."),
        ("target_grade=9", "target_grade", "Give a grade from 1 to 4."),
        # Shapes that once reached the database or Python's date arithmetic.
        ("treatment=co2%00", "treatment", "No such treatment."),
        ("practitioner=%C2%B2", "practitioner", "Give an id."),
        ("from=0001-01-01", "from", "Give a date as YYYY-MM-DD."),
        ("to=9999-12-31", "to", "Give a date as YYYY-MM-DD."),
    ],
)
def test_bad_filters_are_a_400_with_the_message_on_their_field(client, seen, query, field, message) -> None:
    client.force_login(UserFactory(role="manager"))
    response = client.get(f"{OUTCOMES}?{query}")
    assert response.status_code == 400
    page = response.text
    assert "Some filters are not valid." in page
    field_html = re.search(rf'<div class="field">\s*<label for="id_{field}">.*?</div>', page, re.S)
    assert field_html is not None and message in field_html.group(0)
    assert re.search(rf'<(input|select)[^>]*name="{field}"[^>]*aria-invalid="true"', page)
    assert "In this report" not in page and not seen
    assert client.get(f"/staff/reports/outcomes/score_change.csv?{query}").status_code == 400


# --- CSV --------------------------------------------------------------------------------------


def test_the_csv_has_the_numbers_of_the_table(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    response = client.get("/staff/reports/operations/score_change.csv?from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="operations-score_change-2026-01-01-2026-01-31.csv"'
    )
    assert response["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Treatment", "Patients", "Median change (points)", "Improved", "Revenue"]
    assert rows[1] == ["Pico laser", "1204", "-12.5", "62.5", "35000.00"]
    assert rows[2] == ["Chemical peel", "6", "", "0.0", "0.00"]


def test_an_unknown_table_or_report_is_404(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    assert client.get("/staff/reports/operations/no_such_table.csv").status_code == 404
    assert client.get("/staff/reports/finances/score_change.csv").status_code == 404


# --- languages --------------------------------------------------------------------------------


def test_the_pages_speak_chinese(client, seen) -> None:
    client.force_login(UserFactory(role="manager"))
    page = client.get(OUTCOMES, HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "<h1>療效</h1>" in page
    assert "下載 CSV" in page and "本報告內容" in page
    assert "2 組未顯示（少於 5 名病人）。" in page
    operations = client.get(OPERATIONS, HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "<h1>營運</h1>" in operations
    bad = client.get(f"{OUTCOMES}?from=2026-13-01", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert bad.status_code == 400 and "部分篩選條件無效" in bad.text
