"""The waitlist offer email: the slot, who, until when it is held, one link
to the offer page, and that declining passes the time on; in both languages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from booking import notifications, waitlist
from booking.models import Notification
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW

pytestmark = pytest.mark.django_db


def deliver() -> list[mail.EmailMultiAlternatives]:
    mail.outbox.clear()
    notifications.notifications_sweep(dispatch=notifications.deliver_here)
    return list(mail.outbox)  # type: ignore[arg-type]


@pytest.fixture
def offer(clock: Any, treatment: Any, practitioner: Any, receptionist: Any) -> Any:
    def make(language: str) -> Any:
        patient = PatientFactory(preferred_language=language)
        entry = waitlist.waitlist_join(
            patient=patient, treatment=treatment, earliest=NOW.date(), latest=NOW.date(), by=patient.user, staff=False
        )
        found = waitlist.open_offer_for(entry)
        assert found is not None
        return found

    return make


def links(text: str) -> set[str]:
    return {word.strip('"<>()') for word in text.replace("href=", " ").split() if "://" in word}


def test_the_offer_email_in_english(offer: Any) -> None:
    made = offer("en")
    [message] = deliver()
    assert message.subject == "A time has opened up: " + made.entry.treatment.name_en + ", Mon, 7 Jan, 11:15"
    url = f"http://testserver/waitlist/offers/{made.pk}/"
    for part in (message.body, message.alternatives[0][0]):
        assert "Mon, 7 Jan 2030, 11:15 (Hong Kong time" in part
        assert "09:15 today" in part
        assert made.practitioner.name in part
        assert "passes to the next person" in part
    assert {link for link in links(message.body) if "/waitlist/" in link} == {url} or url in message.body


def test_the_offer_email_in_chinese(offer: Any) -> None:
    offer("zh-hant")
    [message] = deliver()
    assert message.subject.startswith("有空檔了：")
    assert message.extra_headers["Content-Language"] == "zh-Hant"
    assert "今天09:15" in message.body
    assert "轉給下一位" in message.body


def test_an_offer_decided_before_its_email_left_sends_nothing(offer: Any) -> None:
    made = offer("en")
    waitlist.offer_decline(offer=made, by=made.entry.patient.user)
    assert deliver() == []
    assert Notification.objects.get(waitlist_offer=made).skip_reason == "too_late"
    # Held until the online notice before 11:15 begins, so accepting stays possible.
    assert made.expires_at - NOW == timedelta(minutes=15)
