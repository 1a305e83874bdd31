"""WCAG 2.2 A and AA, checked by axe-core on every page of the demo clinic.

axe finds what a machine can: contrast, labels, names of buttons and links,
landmarks, headings, ARIA misuse, document language. Each page is checked in
English and Traditional Chinese at a phone's width (patients) or a desk's
(staff); any violation fails the test with the rule, the page and the element.
Keyboard use and focus are covered by the flows' own browser tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User

from patients.models import AccessEvent
from tests.browser.test_every_page import _sign_in, demo  # noqa: F401 - the demo clinic fixture

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


def _check(page: Any, base_url: str, paths: list[str]) -> list[str]:
    axe = Axe()
    found = []
    for path in paths:
        page.goto(f"{base_url}{path}")
        page.wait_for_load_state("networkidle")
        results = axe.run(page, options=WCAG_AA)
        for violation in results.response["violations"]:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:3]
            found.append(f"{path}: {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def _both_languages(page: Any, base_url: str, paths: list[str]) -> list[str]:
    found = _check(page, base_url, paths)
    page.get_by_role("button", name="繁體中文").first.click()
    page.wait_for_load_state()
    return found + _check(page, base_url, paths)


def test_patient_pages_meet_wcag_aa(page: Any, base_url: str, demo: dict) -> None:  # noqa: F811
    public = ["/", "/treatments/", "/treatments/pico-laser/", "/book/?treatment=pico-laser&practitioner=any",
              "/accounts/login/", "/accounts/register/", "/accounts/password-reset/"]  # fmt: skip
    found = _check(page, base_url, public)
    _sign_in(page, base_url, "patient@example.com")
    private = ["/appointments/", f"/appointments/{demo['appointment'].pk}/", "/me/", "/me/password/", "/me/health/",
               "/me/devices/", "/progress/", f"/plans/{demo['plan'].pk}/", "/me/access-log/", "/me/export/"]  # fmt: skip
    found += _both_languages(page, base_url, private)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("who", ["reception@example.com", "doctor@example.com"])
def test_staff_pages_meet_wcag_aa(page: Any, base_url: str, demo: dict, who: str) -> None:  # noqa: F811
    page.set_viewport_size({"width": 1366, "height": 900})
    _sign_in(page, base_url, who)
    emily = demo["emily"].pk
    paths = ["/staff/", f"/staff/?date={demo['today'].start.date().isoformat()}&view=week", "/staff/?by=room",
             "/staff/book/", "/staff/closures/", "/staff/due/", "/staff/no-shows/", "/staff/notifications/failed/",
             "/staff/patients/", f"/staff/patients/{emily}/", f"/staff/appointments/{demo['today'].pk}/",
             "/staff/second-factor/settings/"]  # fmt: skip
    if who.startswith("doctor"):
        paths += [f"/staff/patients/{emily}/assessments/new/"]
        paths += [f"/staff/patients/{emily}/assessments/{demo['emily'].assessments.first().pk}/correct/"]
    found = _both_languages(page, base_url, paths)
    assert not found, "\n".join(found)


def test_access_log_pages_meet_wcag_aa(page: Any, base_url: str, demo: dict) -> None:  # noqa: F811
    """The manager's access-log pages, with rows: opening the chart first writes some."""
    page.set_viewport_size({"width": 1366, "height": 900})
    _sign_in(page, base_url, "manager@example.com")
    emily = demo["emily"].pk
    manager = User.objects.get(username="manager@example.com").pk
    paths = [f"/staff/patients/{emily}/", f"/staff/patients/{emily}/access-log/", "/staff/access-log/",
             f"/staff/access-log/?actor={manager}"]  # fmt: skip
    found = _both_languages(page, base_url, paths)
    assert not found, "\n".join(found)
    assert AccessEvent.objects.filter(patient_id=emily, actor_id=manager).exists()
