"""The signed consent's PDF through its three doors (the API, the patient's
pages, the chart) and the patient's list of their consent forms: who may
download which, the download's headers, and the access log."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from patients.models import AccessEvent
from tests.api.conftest import client_for
from tests.factories import ConsentFormFactory, ConsentVersionFactory, PatientFactory, UserFactory
from tests.treatments.test_consents import sign
from treatments import consents

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed() -> Any:
    version = ConsentVersionFactory(form=ConsentFormFactory(title_en="Chemical peel", title_zh_hant="化學換膚"))
    patient = PatientFactory(full_name="Chan Tai Man")
    return sign(patient, version, photo_use=["clinical", "marketing"])


def _is_the_pdf(response: Any, signature: Any) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="consent-{signature.pk}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert signature.text_sha256 in text


def _reads() -> list[tuple[Any, ...]]:
    return list(AccessEvent.objects.order_by("id").values_list("actor_role", "patient_id", "what", "object_id", "door"))


# --- the API ---------------------------------------------------------------------------------


def test_the_api_gives_the_patient_their_own_pdf_and_another_patients_is_404(signed: Any) -> None:
    url = f"/api/v1/consents/{signed.pk}.pdf"
    _is_the_pdf(client_for(signed.patient.user).get(url), signed)

    other = client_for(PatientFactory().user).get(url)
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"
    assert _reads() == []  # a patient's own reads are not logged


@pytest.mark.parametrize(("role", "status"), [("practitioner", 200), ("manager", 200), ("receptionist", 403)])
def test_the_api_gives_clinicians_the_pdf_and_logs_the_read(signed: Any, role: str, status: int) -> None:
    response = client_for(UserFactory(role=role)).get(f"/api/v1/consents/{signed.pk}.pdf")

    assert response.status_code == status
    if status == 200:
        _is_the_pdf(response, signed)
        assert _reads() == [(role, signed.patient_id, "consent", signed.pk, "api")]
    else:
        assert response.json()["code"] == "permission_denied"
        assert _reads() == []


# --- the patient's pages -----------------------------------------------------------------------


def test_a_patient_downloads_their_own_pdf_from_their_pages(client: Client, signed: Any) -> None:
    client.force_login(signed.patient.user)
    _is_the_pdf(client.get(reverse("site:consent_pdf", args=[signed.pk])), signed)

    client.force_login(PatientFactory().user)
    assert client.get(reverse("site:consent_pdf", args=[signed.pk])).status_code == 404


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_do_not_use_the_patients_download(client: Client, signed: Any, role: str) -> None:
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("site:consent_pdf", args=[signed.pk])).status_code == 403


def test_the_patients_list_shows_each_signature_with_its_state_and_pdf(client: Client, signed: Any) -> None:
    withdrawn = sign(signed.patient, ConsentVersionFactory(form=ConsentFormFactory(title_en="Toxin")))
    consents.consent_withdraw(signature=withdrawn, by=signed.patient.user, reason="Not now")
    outdated_form = ConsentFormFactory(title_en="Laser")
    outdated = sign(signed.patient, ConsentVersionFactory(form=outdated_form))
    ConsentVersionFactory(form=outdated_form, keeps_earlier_signatures=False)  # must sign again
    sign(PatientFactory(), signed.version)  # someone else's
    client.force_login(signed.patient.user)

    page = client.get(reverse("site:consents"))

    assert page.status_code == 200
    text = page.text
    assert "Chemical peel" in text and "Valid" in text
    assert "Clinical use only, Marketing" in text
    assert "Toxin" in text and "Withdrawn" in text and "Not now" in text
    assert "Laser" in text and "Sign the new version" in text
    for signature in (signed, withdrawn, outdated):
        assert reverse("site:consent_pdf", args=[signature.pk]) in text
    assert text.count('.pdf" download') == 3


def test_the_patients_list_reads_in_chinese(client: Client, signed: Any) -> None:
    client.force_login(signed.patient.user)
    page = client.get(reverse("site:consents"), headers={"accept-language": "zh-hant"})
    assert "化學換膚" in page.text and "您的同意書" in page.text


def test_the_patients_list_says_when_nothing_is_signed(client: Client) -> None:
    client.force_login(PatientFactory().user)
    page = client.get(reverse("site:consents"))
    assert "You have not signed a consent form yet." in page.text


# --- the chart ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("practitioner", 200), ("manager", 200), ("receptionist", 403)])
def test_clinicians_download_from_the_chart_and_the_read_is_logged(
    client: Client, signed: Any, role: str, status: int
) -> None:
    client.force_login(UserFactory(role=role))
    response = client.get(reverse("chart:consent_pdf", args=[signed.patient_id, signed.pk]))

    assert response.status_code == status
    if status == 200:
        _is_the_pdf(response, signed)
        assert _reads() == [(role, signed.patient_id, "consent", signed.pk, "page")]


def test_the_chart_download_is_404_under_another_patients_chart(client: Client, signed: Any) -> None:
    client.force_login(UserFactory(role="practitioner"))
    other = PatientFactory()
    assert client.get(reverse("chart:consent_pdf", args=[other.pk, signed.pk])).status_code == 404
    assert _reads() == []
