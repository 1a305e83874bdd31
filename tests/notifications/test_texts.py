"""The SMS and WhatsApp texts (booking/texts.py): every kind in both languages,
short, with its link, naming nothing clinical beyond what its email subject says."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from booking import texts
from booking.models import Notification
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW

pytestmark = pytest.mark.django_db

START = NOW.replace(day=14, hour=10, minute=30)  # Monday 14 January 2030, 10:30 in Hong Kong
KINDS = [
    "confirmation",
    "reschedule",
    "cancellation",
    "reminder",
    "aftercare",
    "missed_visit",
    "pre_care",
    "change_link",
    "deposit_refunded",
]
LATIN = re.compile(r"[A-Za-z]{3,}")


def text_for(appointment: Any, kind: str, channel: str) -> Any:
    row = Notification(kind=kind, patient=appointment.patient, appointment=appointment, due_at=NOW, next_attempt_at=NOW)
    row.pk = 1
    return texts.build_text(row, channel=channel, to="+85261234567", now=NOW)


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_short_text_in_both_languages(
    clock: Any, book: Callable, kind: str, language: str, channel: str
) -> None:
    patient = PatientFactory(preferred_language=language, full_name="Chan Tai Man")
    message = text_for(book(patient, START), kind, channel)

    assert message.channel == channel and message.to == "+85261234567" and message.language == language
    assert message.template == texts.TEMPLATES[kind].template
    assert len(message.params) == len(texts.TEMPLATES[kind].params)
    assert all(param.strip() for param in message.params)
    assert "http://testserver/" in message.text  # the one link that does the rest
    assert len(message.text) <= texts.SMS_LIMIT
    assert "Chan" not in message.text  # a phone's lock screen shows it to whoever holds it
    if language == "zh-hant":
        without_links = re.sub(r"https?://\S+", "", message.text)
        assert set(LATIN.findall(without_links)) <= {"Clear", "Skin", "Clinic"}, without_links


def test_a_reminder_names_no_treatment_as_its_subject_does(clock: Any, book: Callable) -> None:
    message = text_for(book(PatientFactory(), START), "reminder", "sms")
    assert message.text.startswith("Clear Skin Clinic: a reminder of your appointment on Mon, 14 Jan, 10:30.")
    assert "peel" not in message.text.lower()
    assert message.text.endswith("\nReply 1 to confirm, 2 to change")


def test_only_whatsapp_carries_buttons_and_only_on_reminders(clock: Any, book: Callable) -> None:
    appointment = book(PatientFactory(), START)
    assert text_for(appointment, "reminder", "whatsapp").buttons == (
        f"confirm:{appointment.uid}",
        f"change:{appointment.uid}",
    )
    assert text_for(appointment, "reminder", "sms").buttons == ()
    assert text_for(appointment, "confirmation", "whatsapp").buttons == ()
