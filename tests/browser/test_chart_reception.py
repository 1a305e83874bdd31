"""The front desk in the chart, in Traditional Chinese and with the keyboard:
find a patient, enter their paper health declaration, and see no clinical
record on the way."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from patients.models import HealthDeclaration
from tests.factories import PatientFactory
from tests.pages.chart_fixtures import assess, staff


def test_a_receptionist_enters_a_paper_declaration_in_chinese(page: Any, base_url: str, shot: Any) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    desk = staff("receptionist")
    patient = PatientFactory(full_name="黃小明", phone="+85291234567")
    assess(patient, staff("practitioner"), photos=1)

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_role("button", name="繁體中文").click()
    page.locator("#id_username").fill(desk.email)
    page.locator("#id_password").fill("correct-horse-battery")
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{base_url}/staff/")

    page.goto(f"{base_url}/staff/patients/")
    page.get_by_label("以姓名、電話或電郵搜尋").fill("9123 4567")
    result = page.locator("#patient-results").get_by_role("link", name="黃小明")
    expect(result).to_be_visible()
    shot("search-by-phone")
    result.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="黃小明", level=1)).to_be_visible()
    expect(page.locator(".risks")).to_contain_text("未有健康聲明。")
    # No clinical section for the front desk.
    expect(page.locator("#assessments")).to_have_count(0)
    expect(page.locator("#photos")).to_have_count(0)
    expect(page.locator("main img")).to_have_count(0)
    shot("chart-in-chinese")

    page.locator(".risks").get_by_role("link", name="從紙本表格輸入").click()
    expect(page.get_by_role("heading", name="從紙本表格輸入健康聲明")).to_be_visible()
    # Saving with answers missing keeps what was chosen and says which are missing.
    page.locator("input[name=anticoagulants][value=yes]").check()
    page.get_by_role("button", name="儲存聲明").click()
    expect(page.get_by_text("未有儲存任何資料。請檢查以下標示的欄位。")).to_be_visible()
    expect(page.locator("input[name=anticoagulants][value=yes]")).to_be_checked()
    shot("declaration-errors-in-place")
    for radio in page.locator("input[type=radio][value=no]").all():
        name = radio.get_attribute("name")
        if not page.locator(f"input[name={name}]:checked").count():
            radio.check()
    page.get_by_role("button", name="儲存聲明").press("Enter")
    expect(page.get_by_text("健康聲明已記錄。")).to_be_visible()
    expect(page.locator(".chart-summary .tag.risk")).to_have_count(1)  # the flags are in the summary
    shot("declaration-recorded")
    declaration = HealthDeclaration.objects.get(patient=patient)
    assert declaration.entered_by == desk and declaration.anticoagulants and not declaration.keloid_tendency
