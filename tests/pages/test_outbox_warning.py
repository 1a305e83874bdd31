"""Staff see a stalled outbox: due messages more than CLINIC_NOTIFICATION_STALL_AFTER late."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from booking.models import Notification
from booking.selectors import notifications_late
from tests.factories import NotificationFactory
from tests.pages.helpers import assert_translated
from tests.pages.staff_fixtures import make_clinic

pytestmark = pytest.mark.django_db

WARNING = "Messages to patients are running late"


def late(minutes: float, **fields) -> Notification:
    due = timezone.now() - timedelta(minutes=minutes)
    return NotificationFactory(due_at=due, next_attempt_at=due, **fields)


@pytest.fixture
def clinic():
    return make_clinic()


def test_only_messages_late_past_the_threshold_count() -> None:
    now = timezone.now()
    late(12)
    late(6)
    late(2)  # due, but a sweep may simply not have come round yet
    retrying = late(30)
    Notification.objects.filter(pk=retrying.pk).update(attempts=2, next_attempt_at=now + timedelta(minutes=4))
    stuck = late(1)
    Notification.objects.filter(pk=stuck.pk).update(
        status="sending", claim=uuid.uuid4(), claimed_at=now - timedelta(minutes=8)
    )
    sent = late(40)
    Notification.objects.filter(pk=sent.pk).update(status="sent", sent_at=now)

    delay = notifications_late(now=now)
    assert delay.count == 3  # 12 and 6 minutes late, and the one a dead sender holds
    assert now - delay.oldest_due == pytest.approx(timedelta(minutes=12), abs=timedelta(seconds=5))


def test_every_staff_page_warns_with_the_count_and_the_failed_emails_page_explains(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    assert WARNING not in client.get("/staff/").text
    late(9)
    late(7)

    schedule = client.get("/staff/").text
    assert f"{WARNING}: 2 due more than 5 minutes ago" in schedule
    assert 'href="/staff/notifications/failed/"' in schedule
    failed = client.get("/staff/notifications/failed/").text
    assert f"{WARNING}: 2 due" in failed
    assert "The oldest was due at" in failed
    assert failed.count(WARNING) == 1


def test_the_warning_reads_chinese_on_chinese_pages(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    late(9)
    client.cookies["django_language"] = "zh-hant"
    page = client.get("/staff/notifications/failed/").text
    assert "給病人的訊息延誤了：有 1 則" in page
    assert_translated(page, allow=["Redis"])  # a product name


def test_patients_never_see_it(client, clinic) -> None:
    late(30)
    client.force_login(clinic.patient.user)
    for path in ("/", "/appointments/", "/progress/"):
        assert WARNING not in client.get(path).text


def test_the_outbox_check_fails_while_messages_are_late(clinic, capsys) -> None:
    call_command("outbox_check")
    assert "nothing late" in capsys.readouterr().out
    late(20)
    with pytest.raises(CommandError, match="1 notification"):
        call_command("outbox_check")
