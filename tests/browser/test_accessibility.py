"""WCAG 2.2 A and AA, checked by axe-core where a plain visit does not reach.

test_every_page.py runs axe on every page of the demo clinic, in both languages
at 390, 1280 and 1920 px. This file checks the states a visit does not show:
forms sent back with errors, which must name and tie each error to its field.
Keyboard use and focus are covered by the flows' own browser tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_every_page import SIGN_IN, _sign_in, axe_violations, demo  # noqa: F401 - the demo fixture


def _submit_empty(page: Any, base_url: str, path: str, button: str) -> None:
    page.goto(f"{base_url}{path}")
    page.locator("form").filter(has=page.get_by_role("button", name=button)).locator("[required]").evaluate_all(
        "fields => fields.forEach(f => f.removeAttribute('required'))"  # let the server answer, as without JS
    )
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", [390, 1280])
def test_forms_with_errors_meet_wcag_aa(page: Any, base_url: str, demo: dict, width: int) -> None:  # noqa: F811
    page.set_viewport_size({"width": width, "height": 900})
    found = []
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(SIGN_IN["patient"])
    page.locator("#id_password").fill("not the password")
    page.locator("#id_password").press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=alert], .errorlist, .error").count() > 0, "the login page shows no error"
    found += axe_violations(page, f"login with a wrong password at {width}px")

    _submit_empty(page, base_url, "/accounts/register/", "Create account")
    assert page.locator("[aria-invalid=true]").count() > 0, "registration marks no field invalid"
    found += axe_violations(page, f"empty registration at {width}px")

    _sign_in(page, base_url, SIGN_IN["reception"])
    _submit_empty(page, base_url, "/staff/patients/new/", "Add patient")
    assert page.locator("[aria-invalid=true]").count() > 0, "the new-patient form marks no field invalid"
    found += axe_violations(page, f"empty new patient at {width}px")
    assert not found, "\n".join(found)
