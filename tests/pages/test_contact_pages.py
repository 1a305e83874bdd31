"""How we contact the patient, on the pages: "How we contact you" on /me/, the
chart's contact page for reception, and the channels and fallbacks shown in the
notification log and on Failed messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from booking.models import Notification, NotificationDelivery
from patients import channels
from patients.models import Patient
from tests.factories import AppointmentFactory, NotificationFactory, PatientFactory
from tests.pages.helpers import assert_translated
from tests.pages.staff_fixtures import Clinic, make_clinic

pytestmark = pytest.mark.django_db

LOCMEM = {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


@pytest.fixture
def clinic() -> Clinic:
    return make_clinic()


@pytest.fixture
def texts_on(settings: Any) -> None:
    settings.CLINIC_CHANNELS = {"sms": LOCMEM, "whatsapp": LOCMEM}


def orders(patient: Patient) -> dict[str, list[str]]:
    return channels.orders(Patient.objects.get(pk=patient.pk))


def choices(first: str, *rest: str, topics: tuple[str, ...] = channels.TOPICS, places: int = 3) -> dict[str, str]:
    """A POST of the form: every topic the same order."""
    data = {}
    for topic in topics:
        order = [first, *rest]
        for place in range(places):
            data[f"{topic}_{place + 1}"] = order[place] if place < len(order) else ""
    return data


# --- the patient's profile ------------------------------------------------------------------


def test_the_profile_offers_only_the_channels_the_clinic_sends_on(client: Client, settings: Any) -> None:
    settings.CLINIC_CHANNELS = {"sms": LOCMEM}
    patient = PatientFactory(phone="+85291234567")
    client.force_login(patient.user)
    text = client.get("/me/").text

    assert "How we contact you" in text
    assert '<option value="sms">SMS</option>' in text
    assert "WhatsApp</option>" not in text
    assert 'name="reminders_2"' in text and 'name="reminders_3"' not in text  # two channels: two places
    assert "+852 9123 4567" in text  # where SMS goes
    assert "If a message cannot be delivered that way" in text


def test_with_email_alone_the_profile_still_turns_reminders_off(client: Client, settings: Any) -> None:
    settings.CLINIC_CHANNELS = {}
    patient = PatientFactory()
    client.force_login(patient.user)
    assert "We send these messages by email." in client.get("/me/").text

    data = {f"{topic}_1": "email" for topic in channels.TOPICS} | {"reminders_1": "off", "plan_nudges_1": "off"}
    response = client.post("/me/channels/", data)
    assert response.status_code == 302 and response.headers["Location"] == "/me/#contact-heading"
    patient.refresh_from_db()
    assert patient.reminders_opt_out is True


@pytest.mark.usefixtures("texts_on")
def test_a_patient_puts_whatsapp_first_with_email_as_fallback(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    response = client.post("/me/channels/", choices("whatsapp", "email") | {"plan_nudges_1": "off"})

    assert response.status_code == 302
    assert orders(patient)["confirmations"] == ["whatsapp", "email"]
    assert orders(patient)["plan_nudges"] == []
    page = client.get("/me/").text
    assert "Saved. This is how we will contact you from now on." in page
    assert '<option value="whatsapp" selected>WhatsApp</option>' in page


@pytest.mark.usefixtures("texts_on")
def test_a_choice_the_rules_refuse_is_shown_on_its_topic(client: Client) -> None:
    patient = PatientFactory(phone="+85221234567")  # a landline
    client.force_login(patient.user)
    response = client.post("/me/channels/", choices("email") | {"reminders_1": "sms"})

    assert response.status_code == 400
    assert "SMS needs a mobile phone number on the profile." in response.text
    assert 'id="contact-reminders-error"' in response.text
    assert orders(patient)["reminders"] == ["email"]  # nothing saved


@pytest.mark.usefixtures("texts_on")
def test_the_profile_section_reads_whole_in_chinese(client: Client) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    client.force_login(patient.user)
    response = client.get("/me/", **ZH)
    assert "我們如何聯絡你" in response.text
    assert_translated(response.text, allow=[patient.full_name, "WhatsApp"])


def test_staff_and_strangers_cannot_post_a_patients_choices(client: Client, clinic: Clinic) -> None:
    assert client.post("/me/channels/", choices("email")).status_code == 302  # to sign in
    client.force_login(clinic.receptionist)
    assert client.post("/me/channels/", choices("email")).status_code == 403


# --- the chart ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("patient", 403), ("practitioner", 403), ("receptionist", 200), ("manager", 200)],
)
def test_who_may_open_the_contact_page(client: Client, clinic: Clinic, role: str, status: int) -> None:
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    assert client.get(f"/staff/patients/{clinic.patient.pk}/contact/").status_code == status


@pytest.mark.usefixtures("texts_on")
def test_reception_sets_sms_first_and_the_chart_says_so(client: Client, clinic: Clinic) -> None:
    client.force_login(clinic.receptionist)
    url = f"/staff/patients/{clinic.patient.pk}/contact/"
    response = client.post(url, choices("sms", "whatsapp", "email"))

    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/patients/{clinic.patient.pk}/#contact"
    assert orders(clinic.patient)["care"] == ["sms", "whatsapp", "email"]
    details = client.get(f"/staff/patients/{clinic.patient.pk}/").text
    assert "SMS, then WhatsApp, then Email" in details
    assert "Change how we contact them" in details


@pytest.mark.usefixtures("texts_on")
def test_practitioners_read_the_choices_but_get_no_link_to_change_them(client: Client, clinic: Clinic) -> None:
    channels.channels_set(patient=clinic.patient, topics={"reminders": []})
    client.force_login(clinic.practitioner.user)
    details = client.get(f"/staff/patients/{clinic.patient.pk}/").text
    assert "How we contact them" in details and "Change how we contact them" not in details


@pytest.mark.usefixtures("texts_on")
def test_a_channel_that_cannot_reach_the_patient_is_marked(client: Client, clinic: Clinic) -> None:
    channels.channels_set(patient=clinic.patient, topics={"reminders": ["sms", "email"]})
    Patient.objects.filter(pk=clinic.patient.pk).update(phone="+85221234567")  # changed to a landline since
    client.force_login(clinic.receptionist)
    details = client.get(f"/staff/patients/{clinic.patient.pk}/").text
    assert "<s>SMS</s>" in details and "cannot reach them now" in details


@pytest.mark.usefixtures("texts_on")
def test_the_contact_page_refuses_an_empty_transactional_topic(client: Client, clinic: Clinic) -> None:
    client.force_login(clinic.manager)
    data = choices("email") | {"confirmations_1": "off"}  # not a choice the form offers there
    response = client.post(f"/staff/patients/{clinic.patient.pk}/contact/", data)
    assert response.status_code == 400
    assert "Nothing was saved." in response.text


# --- the notification log and Failed messages -------------------------------------------------


def _fell_back(patient: Patient, day: int = 1, **fields: Any) -> Notification:
    """A message that failed on WhatsApp, fell back to SMS and failed there too."""
    visit = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=day))
    notification = NotificationFactory(appointment=visit, channel="sms", status="failed", **fields)
    NotificationDelivery.objects.create(
        notification=notification,
        channel="whatsapp",
        status="failed",
        permanent=True,
        error_code="131026",
        fell_back_to="sms",
    )
    NotificationDelivery.objects.create(
        notification=notification, channel="sms", status="failed", permanent=True, error_code="21211"
    )
    return notification


def test_the_chart_log_shows_each_channel_and_the_fallback(client: Client, clinic: Clinic) -> None:
    _fell_back(clinic.patient, attempts=1, last_error="ChannelError: 21211 (permanent); no other channel")
    client.force_login(clinic.receptionist)
    text = client.get(f"/staff/patients/{clinic.patient.pk}/appointments/").text

    assert "Messages to the patient (email, SMS, WhatsApp)" in text
    assert "WhatsApp: <span" in text and "131026" in text and "fell back to SMS" in text
    assert "21211" in text


def test_the_chart_log_reads_the_same_queries_however_many_messages(
    client: Client, clinic: Clinic, django_assert_max_num_queries: Any
) -> None:
    client.force_login(clinic.receptionist)
    url = f"/staff/patients/{clinic.patient.pk}/appointments/"
    _fell_back(clinic.patient)
    client.get(url)  # warm: sessions, the second-factor device
    with django_assert_max_num_queries(200) as one:
        client.get(url)
    for day in range(2, 8):
        _fell_back(clinic.patient, day=day)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(url)


def test_failed_messages_show_the_trail_and_can_be_sent_again(client: Client, clinic: Clinic) -> None:
    failed = _fell_back(clinic.patient, attempts=1, last_error="ChannelError: 21211 (permanent); no other channel")
    client.force_login(clinic.receptionist)
    page = client.get("/staff/notifications/failed/")

    assert "Messages that could not be sent" in page.text
    assert "fell back to SMS" in page.text and "no other channel" in page.text
    assert client.post(f"/staff/notifications/{failed.pk}/send-again/").status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.retried_at is not None) == ("pending", True)


def test_failed_messages_read_the_same_queries_however_many(
    client: Client, clinic: Clinic, django_assert_max_num_queries: Any
) -> None:
    client.force_login(clinic.receptionist)
    _fell_back(clinic.patient)
    client.get("/staff/notifications/failed/")
    with django_assert_max_num_queries(200) as one:
        client.get("/staff/notifications/failed/")
    for _ in range(6):
        _fell_back(PatientFactory())
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get("/staff/notifications/failed/")
