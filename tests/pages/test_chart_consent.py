"""The session record page and consent: completing is refused in place while
the patient has not signed; a manager may complete with a reason, which is
kept; a practitioner is told to have the patient sign."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment, SessionRecord
from patients.models import AccessEvent
from tests.consent import sign_for
from tests.factories import (
    AppointmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    PatientFactory,
    TreatmentFactory,
)
from tests.pages.chart_fixtures import staff
from treatments.models import Category

pytestmark = pytest.mark.django_db

BODY = {"areas": ["forehead"], "passes": "2", "pain_score": "3"}


@pytest.fixture
def appointment() -> Appointment:
    laser = TreatmentFactory(slug="fractional-laser", category=Category.LASER)
    form = ConsentFormFactory(slug="laser-resurfacing", title_en="laser and resurfacing", categories=["laser"])
    ConsentVersionFactory(form=form)
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    return AppointmentFactory(
        patient=PatientFactory(full_name="Chan Tai Man"),
        treatment=laser,
        start=start,
        status=Appointment.Status.CHECKED_IN,
        checked_in_at=start - timedelta(minutes=5),
    )


def test_a_practitioner_is_refused_in_place_and_told_why(client, appointment) -> None:
    client.force_login(staff("practitioner"))
    url = reverse("chart:session_record", args=[appointment.pk])
    page = client.get(url).text
    assert "Chan Tai Man has not signed the current consent for laser and resurfacing (version 1)." in page
    assert "Only a manager may complete the session without it." in page
    assert 'name="consent_override_reason"' not in page
    response = client.post(url, {**BODY, "consent_override_reason": "She said yes"})
    assert response.status_code == 409
    assert "has not signed the current consent" in response.text
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN and not SessionRecord.objects.exists()
    assert AccessEvent.objects.filter(what=AccessEvent.What.CONSENT, patient=appointment.patient).exists()


def test_a_manager_completes_with_a_reason_which_is_kept(client, appointment) -> None:
    manager = staff("manager")
    client.force_login(manager)
    url = reverse("chart:session_record", args=[appointment.pk])
    assert 'name="consent_override_reason"' in client.get(url).text
    refused = client.post(url, BODY)
    assert refused.status_code == 409 and "has not signed the current consent" in refused.text
    response = client.post(url, {**BODY, "consent_override_reason": "Signed on paper at the desk"})
    assert response.status_code == 302
    record = SessionRecord.objects.get(appointment=appointment)
    assert record.consent_override_reason == "Signed on paper at the desk" and record.consent_override_by == manager
    shown = client.get(url).text
    assert "Completed without the patient's consent by" in shown and "Signed on paper at the desk" in shown


def test_once_signed_the_session_completes_with_the_signature(client, appointment) -> None:
    [signature] = sign_for(appointment.patient, appointment.treatment)
    client.force_login(staff("practitioner"))
    url = reverse("chart:session_record", args=[appointment.pk])
    page = client.get(url).text
    assert "has not signed" not in page and "signed" in page
    assert client.post(url, BODY).status_code == 302
    record = SessionRecord.objects.get(appointment=appointment)
    assert list(record.consent_signatures.all()) == [signature] and record.consent_override_reason == ""
    assert "laser-resurfacing v1" in client.get(url).text
