"""The reports in a real browser: a manager opens operations and outcomes at a
desk's width and a phone's, follows the contents to a table, switches to
Traditional Chinese, and a practitioner finds Outcomes in their own nav. axe-core
checks each state; screenshots go to test-results/ as the other journeys'.

The numbers are the report modules' business (their own tests): a report with
one figure of each kind stands in, so the page's layout is what is looked at."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from booking import report_operations, report_outcomes
from booking.reports import Column, Figure, Report, ReportFilters, Table
from tests.browser.test_every_page import axe_violations
from tests.browser.test_staff_workspace import sign_in, watch_console
from tests.factories import PractitionerFactory, UserFactory


def _report(key: str):  # type: ignore[no-untyped-def]
    def compute(filters: ReportFilters) -> Report:
        weeks = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(12)]
        names = ["Mei Chan", "Ka Wong", "陳大文"]
        return Report(
            key=key,
            filters=filters,
            min_group=5,
            tables=[
                Table(
                    key="score_change",
                    title="Change in scar score by treatment",
                    description="Goodman & Baron quantitative score, baseline to latest.",
                    columns=[
                        Column("treatment", "Treatment"),
                        Column("patients", "Patients", "count"),
                        Column("median", "Median change (points)", "number"),
                        Column("q1", "Lower quartile", "number"),
                        Column("q3", "Upper quartile", "number"),
                    ],
                    rows=[
                        {"treatment": "Fractional CO2 laser", "patients": 42, "median": -12.5, "q1": -18, "q3": -6},
                        {
                            "treatment": "RF microneedling + subcision",
                            "patients": 17,
                            "median": -8,
                            "q1": -11,
                            "q3": -2,
                        },
                        {"treatment": "果酸換膚", "patients": 9, "median": 1.5, "q1": -1, "q3": 3},
                    ],
                    hidden=2,
                    figure=Figure("ranges", label="treatment", values=("median",), low="q1", high="q3", unit="points"),
                ),
                Table(
                    key="adverse_events",
                    title="Adverse events per 100 sessions",
                    description="By treatment.",
                    columns=[Column("treatment", "Treatment"), Column("rate", "Per 100 sessions", "rate")],
                    rows=[{"treatment": "Fractional CO2 laser", "rate": 4.2}, {"treatment": "Peel", "rate": 0.8}],
                    figure=Figure("bars", label="treatment", values=("rate",)),
                ),
                Table(
                    key="utilisation",
                    title="Practitioner utilisation by week",
                    description="Hours booked as a share of hours open.",
                    columns=[
                        Column("week", "Week"),
                        Column("who", "Practitioner"),
                        Column("u", "Utilisation", "percent"),
                    ],
                    rows=[
                        {"week": w, "who": n, "u": 40.0 + 12 * j + (i % 4) * 3}
                        for i, w in enumerate(weeks)
                        for j, n in enumerate(names)
                    ],
                    figure=Figure("lines", label="week", values=("u",), series="who", unit="%"),
                ),
                Table(
                    key="reminders",
                    title="Reminders by channel",
                    description="Sent, failed and confirmed.",
                    columns=[
                        Column("channel", "Channel"),
                        Column("delivered", "Delivered", "count"),
                        Column("failed", "Failed", "count"),
                        Column("deposits", "Deposits", "money"),
                    ],
                    rows=[
                        {"channel": "Email", "delivered": 420, "failed": 12, "deposits": Decimal("12500.00")},
                        {"channel": "SMS", "delivered": 130, "failed": 30, "deposits": None},
                    ],
                    figure=Figure("stacked", label="channel", values=("delivered", "failed")),
                ),
                Table(
                    key="empty",
                    title="Sessions to reach the target grade",
                    description="",
                    columns=[Column("treatment", "Treatment"), Column("sessions", "Sessions", "number")],
                    rows=[],
                    hidden=3,
                    figure=Figure("bars", label="treatment", values=("sessions",)),
                ),
            ],
        )

    return compute


@pytest.fixture(autouse=True)
def _known_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_outcomes, "outcomes_report", _report("outcomes"))
    monkeypatch.setattr(report_operations, "operations_report", _report("operations"))


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_manager_reads_both_reports_at_a_desk_and_on_a_phone(page: Any, base_url: str, shot: Any) -> None:
    manager = UserFactory(role="manager", first_name="Max", last_name="Lam")
    errors = watch_console(page)
    sign_in(page, base_url, manager)
    page.locator("summary", has_text="Manage").click()
    page.get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", level=1, name="Operations")).to_be_visible()
    figures = page.locator("svg.plot")
    expect(figures).to_have_count(4)
    expect(page.locator(".plot-empty")).to_contain_text("Nothing to draw")
    expect(page.get_by_text("3 groups not shown (fewer than 5 patients).")).to_be_visible()
    found = axe_violations(page, "operations at 1366px")
    shot("operations-desk")

    page.get_by_role("link", name="Reminders by channel", exact=True).click()
    expect(page).to_have_url(re.compile(r"#reminders$"))
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"Download CSV\s*: Reminders by channel")).click()
    assert download.value.suggested_filename.startswith("operations-reminders-")

    page.get_by_label("From").fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("Some filters are not valid.")
    found += axe_violations(page, "operations with bad filters")
    shot("bad-filters")

    page.goto(f"{base_url}/staff/reports/outcomes/")
    expect(page.get_by_role("heading", level=1, name="Outcomes")).to_be_visible()
    found += axe_violations(page, "outcomes at 1366px")
    shot("outcomes-desk")
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()  # clinic.js makes the tables that now scroll sideways focusable as the page loads
    _fits(page, 360)
    found += axe_violations(page, "outcomes at 360px")
    shot("outcomes-phone")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", level=1, name="療效")).to_be_visible()
    _fits(page, 360)
    shot("outcomes-phone-chinese")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base_url}/staff/reports/operations/")
    expect(page.get_by_role("heading", level=1, name="營運")).to_be_visible()
    found += axe_violations(page, "operations in Chinese")
    shot("operations-desk-chinese")
    assert not found, "\n".join(found)
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_practitioner_finds_outcomes_in_their_nav(page: Any, base_url: str, shot: Any) -> None:
    practitioner = PractitionerFactory(user=UserFactory(role="practitioner", first_name="Mei", last_name="Chan"))
    sign_in(page, base_url, practitioner.user)
    page.get_by_role("link", name="Outcomes").click()
    expect(page.get_by_role("heading", level=1, name="Outcomes")).to_be_visible()
    expect(page.get_by_role("link", name="Outcomes")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("You see only the patients you have treated.")).to_be_visible()
    expect(page.get_by_role("link", name="Operations")).to_have_count(0)
    found = axe_violations(page, "outcomes as a practitioner")
    shot("outcomes-practitioner")
    assert not found, "\n".join(found)
