"""The chart's change history names fields in words, in the reader's language."""

from __future__ import annotations

import pytest

from patients.services import patient_update
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_history_names_the_patients_fields_in_words(client) -> None:
    receptionist = UserFactory(role="receptionist")
    patient = PatientFactory()
    patient_update(patient=patient, changed_by=receptionist, phone="+85261234567", full_name="Chan Siu Ming")
    client.force_login(receptionist)

    english = client.get(f"/staff/patients/{patient.pk}/history/").text
    history = english[english.index('id="history"') :]
    assert "Full name:" in history and "Phone:" in history
    assert "<code>full_name</code>" not in history and "<code>phone</code>" not in history

    chinese = client.get(f"/staff/patients/{patient.pk}/history/", HTTP_ACCEPT_LANGUAGE="zh-Hant").text
    assert "<code>full_name</code>" not in chinese[chinese.index('id="history"') :]
