"""How a patient is contacted: the rules (patients.channels) and the API that
patients and staff use to set them. Who may call what is in test_permissions.py,
odd bodies in test_bad_input.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from clinic.errors import InvalidInput, InvalidState
from patients import channels
from patients.models import ChannelChoice, Patient
from patients.services import patient_update
from tests.api.conftest import client_for
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

LOCMEM = {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}}
EMAIL_ONLY = {topic: ["email"] for topic in channels.TOPICS}


@pytest.fixture(autouse=True)
def text_channels(settings: Any) -> None:
    settings.CLINIC_CHANNELS = {"sms": LOCMEM, "whatsapp": LOCMEM}


def orders(patient: Patient) -> dict[str, list[str]]:
    return channels.orders(Patient.objects.get(pk=patient.pk))


# --- the rules ----------------------------------------------------------------------------


def test_a_patient_who_never_chose_is_reached_by_email_on_every_topic() -> None:
    assert orders(PatientFactory()) == EMAIL_ONLY
    assert not ChannelChoice.objects.exists()


def test_a_patient_orders_channels_per_topic_and_other_topics_stay() -> None:
    patient = PatientFactory()
    channels.channels_set(patient=patient, topics={"reminders": ["whatsapp", "sms", "email"]})
    channels.channels_set(patient=patient, topics={"confirmations": ["sms"]})

    assert orders(patient) == {**EMAIL_ONLY, "reminders": ["whatsapp", "sms", "email"], "confirmations": ["sms"]}


def test_email_alone_is_stored_as_no_rows() -> None:
    patient = PatientFactory()
    channels.channels_set(patient=patient, topics={"care": ["sms"]})
    channels.channels_set(patient=patient, topics={"care": ["email"]})
    assert not ChannelChoice.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("topics", "field"),
    [
        ({"reminders": ["whatsapp", "whatsapp"]}, "reminders"),
        ({"reminders": ["fax"]}, "reminders"),
        ({"confirmations": []}, "confirmations"),
        ({"waitlist_offers": []}, "waitlist_offers"),
        ({"care": []}, "care"),
        ({"birthdays": ["email"]}, "topics"),
    ],
)
def test_bad_choices_are_refused_and_nothing_is_written(topics: dict[str, list[str]], field: str) -> None:
    patient = PatientFactory()
    with pytest.raises(InvalidInput) as refused:
        channels.channels_set(patient=patient, topics={"plan_nudges": ["sms"], **topics})
    assert field in (refused.value.fields or {})
    assert orders(patient) == EMAIL_ONLY


def test_a_channel_the_clinic_does_not_offer_is_refused(settings: Any) -> None:
    settings.CLINIC_CHANNELS = {"sms": LOCMEM}
    patient = PatientFactory()
    with pytest.raises(InvalidInput) as refused:
        channels.channels_set(patient=patient, topics={"reminders": ["whatsapp"]})
    assert refused.value.fields == {"reminders": ["The clinic does not send messages by WhatsApp."]}
    assert channels.available() == ["email", "sms"]


@pytest.mark.parametrize("phone", ["+85221234567", ""])  # a landline takes no texts; an erased number
def test_texts_need_a_mobile_number(phone: str) -> None:
    patient = PatientFactory()
    Patient.objects.filter(pk=patient.pk).update(phone=phone)
    patient.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        channels.channels_set(patient=patient, topics={"reminders": ["sms"], "care": ["whatsapp"]})
    assert refused.value.fields == {
        "reminders": ["SMS needs a mobile phone number on the profile."],
        "care": ["WhatsApp needs a mobile phone number on the profile."],
    }


def test_email_needs_an_address() -> None:
    walk_in = PatientFactory(user=None, email="")
    with pytest.raises(InvalidInput) as refused:
        channels.channels_set(patient=walk_in, topics={"confirmations": ["sms", "email"]})
    assert refused.value.fields == {"confirmations": ["Email needs an email address on the profile."]}
    channels.channels_set(patient=walk_in, topics={"confirmations": ["sms"]})


def test_mobile_numbers_are_read_as_e164() -> None:
    assert channels.mobile_number("+85291234567") == "+85291234567"
    assert channels.mobile_number("9123 4567") == "+85291234567"  # a Hong Kong number
    assert channels.mobile_number("+85221234567") == ""  # a landline
    assert channels.mobile_number("not a number") == ""


def test_turning_both_optional_topics_off_is_the_old_opt_out_and_back() -> None:
    patient = PatientFactory()
    channels.channels_set(patient=patient, topics={"reminders": []})
    patient.refresh_from_db()
    assert patient.reminders_opt_out is False  # plan nudges still come
    assert orders(patient)["reminders"] == []

    channels.channels_set(patient=patient, topics={"plan_nudges": []})
    patient.refresh_from_db()
    assert patient.reminders_opt_out is True

    channels.channels_set(patient=patient, topics={"plan_nudges": ["whatsapp"]})
    patient.refresh_from_db()
    assert patient.reminders_opt_out is False
    assert orders(patient)["plan_nudges"] == ["whatsapp"]


def test_the_old_switch_turns_both_optional_topics_off_and_on(receptionist: User) -> None:
    patient = PatientFactory()
    channels.channels_set(patient=patient, topics={"reminders": ["whatsapp"]})

    patient_update(patient=patient, changed_by=receptionist, reminders_opt_out=True)
    assert orders(patient)["reminders"] == [] and orders(patient)["plan_nudges"] == []

    patient_update(patient=Patient.objects.get(pk=patient.pk), changed_by=receptionist, reminders_opt_out=False)
    assert orders(patient)["reminders"] == ["email"] and orders(patient)["plan_nudges"] == ["email"]
    assert orders(patient)["confirmations"] == ["email"]


def test_an_erased_patients_choices_cannot_be_set() -> None:
    patient = PatientFactory(erased_at="2030-01-01T00:00:00Z")
    with pytest.raises(InvalidState):
        channels.channels_set(patient=patient, topics={"reminders": []})


def test_the_sender_passes_over_channels_that_cannot_reach_the_patient(settings: Any) -> None:
    patient = PatientFactory(phone="+85221234567")  # a landline
    assert channels.usable(patient, ["whatsapp", "sms", "email"]) == ["email"]
    settings.CLINIC_CHANNELS = {}
    assert channels.usable(PatientFactory(), ["whatsapp", "email"]) == ["email"]


# --- the API --------------------------------------------------------------------------------


@pytest.fixture
def receptionist() -> User:
    return UserFactory(role="receptionist")


def test_a_patient_reads_and_sets_their_channels(as_a: APIClient, patient_a: Patient) -> None:
    response = as_a.get("/api/v1/me/channels/")
    assert response.status_code == 200
    assert response.json() == {"available": ["email", "sms", "whatsapp"], "topics": EMAIL_ONLY}

    response = as_a.put(
        "/api/v1/me/channels/", {"topics": {"reminders": ["whatsapp", "email"], "plan_nudges": []}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["topics"] == {**EMAIL_ONLY, "reminders": ["whatsapp", "email"], "plan_nudges": []}
    assert orders(patient_a)["reminders"] == ["whatsapp", "email"]


def test_the_api_names_the_topic_of_each_refusal(as_a: APIClient) -> None:
    response = as_a.put("/api/v1/me/channels/", {"topics": {"confirmations": [], "reminders": ["sms"]}}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["topics.confirmations"]


def test_reception_sets_a_patients_channels_taken_by_phone(patient_a: Patient, receptionist: User) -> None:
    response = client_for(receptionist).put(
        f"/api/v1/patients/{patient_a.pk}/channels/", {"topics": {"confirmations": ["sms", "email"]}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert orders(patient_a)["confirmations"] == ["sms", "email"]
    doctor = client_for(UserFactory(role="practitioner"))
    assert doctor.get(f"/api/v1/patients/{patient_a.pk}/channels/").json()["topics"]["confirmations"] == [
        "sms",
        "email",
    ]


def test_an_erased_patient_is_409(receptionist: User) -> None:
    erased = PatientFactory(erased_at="2030-01-01T00:00:00Z")
    response = client_for(receptionist).put(
        f"/api/v1/patients/{erased.pk}/channels/", {"topics": {"reminders": []}}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


def test_the_answer_lists_only_configured_channels(as_a: APIClient, settings: Any) -> None:
    settings.CLINIC_CHANNELS = {}
    assert as_a.get("/api/v1/me/channels/").json()["available"] == ["email"]


def test_the_profile_switch_and_the_channels_agree(as_a: APIClient) -> None:
    as_a.patch("/api/v1/me/", {"reminders_opt_out": True}, format="json")
    topics = as_a.get("/api/v1/me/channels/").json()["topics"]
    assert topics["reminders"] == [] and topics["plan_nudges"] == [] and topics["confirmations"] == ["email"]

    as_a.put("/api/v1/me/channels/", {"topics": {"reminders": ["sms"]}}, format="json")
    assert as_a.get("/api/v1/me/").json()["reminders_opt_out"] is False
