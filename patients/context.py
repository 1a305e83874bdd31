"""The visitor's role, for every page's template (the clinic itself: clinic/context.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from patients.roles import PATIENT, is_staff_role, role_of


def role(request: HttpRequest) -> dict[str, Any]:
    role = role_of(getattr(request, "user", None))
    return {"user_role": role, "user_is_staff": is_staff_role(role), "user_is_patient": role == PATIENT}
