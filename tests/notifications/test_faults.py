"""Faults: the mail server refusing, a worker killed mid-batch, two sweeps at
once, Redis stopped. Real processes and servers throughout; the database is
this test's PostgreSQL database (transactional tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from booking import notifications
from booking.models import Appointment, Notification
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, PatientFactory
from tests.notifications.conftest import PrivateRedis, SmtpSink, Workers, short_reminder, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def due_confirmations(count: int, treatment: Any, practitioner: Any) -> list[Notification]:
    """``count`` confirmations due now, for appointments an hour apart."""
    room = practitioner.treatments.get().room_kind.rooms.get()
    patients = [PatientFactory() for _ in range(10)]
    first = timezone.now() + timedelta(days=3)
    appointments = [
        AppointmentFactory(
            patient=patients[n % len(patients)],
            treatment=treatment,
            practitioner=practitioner,
            room=room,
            start=first + timedelta(hours=n),
        )
        for n in range(count)
    ]
    now = timezone.now()
    return Notification.objects.bulk_create(
        Notification(
            kind=Notification.Kind.CONFIRMATION,
            patient_id=a.patient_id,
            appointment=a,
            due_at=now,
            next_attempt_at=now,
        )
        for a in appointments
    )


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Notification.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


@pytest.fixture
def book_api(receptionist: Any, practitioner: Any, treatment: Any) -> Callable[..., Any]:
    api = client_for(receptionist)

    def book(patient: Any, start: Any) -> Any:
        began = time.monotonic()
        response = api.post(
            "/api/v1/appointments/",
            {"treatment": treatment.slug, "start": start.isoformat(), "patient": patient.pk},
            format="json",
        )
        return response, time.monotonic() - began

    return book


@pytest.mark.redis
def test_smtp_refusing_for_a_while_then_accepting_sends_each_message_once(
    workers: Workers, smtp: SmtpSink, book_api: Callable
) -> None:
    smtp.refuse_for(5)
    worker = workers.start(beat=True, NOTIFICATION_MAX_ATTEMPTS=10)
    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    for hour in range(3):
        response, _ = book_api(PatientFactory(), start + timedelta(hours=hour))
        assert response.status_code == 201, response.content

    smtp.wait_for("confirmation", count=3, timeout=60)
    sent = Notification.objects.filter(kind="confirmation", status="sent")
    wait_until(lambda: sent.count() == 3, timeout=30, what="the confirmations marked sent")
    worker.wait_for_sweeps(3)  # retries would have come by now
    assert len(smtp.of_kind("confirmation")) == 3
    assert smtp.duplicates() == {}
    assert smtp.refused >= 3
    for row in Notification.objects.filter(kind="confirmation"):
        assert row.status == "sent"
        assert row.attempts > 1
        assert row.last_error.startswith("SMTPDataError: 451")


@pytest.mark.redis
def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_its_messages_in_flight(
    workers: Workers, smtp: SmtpSink, treatment: Any, practitioner: Any
) -> None:
    rows = due_confirmations(200, treatment, practitioner)
    smtp.delay = 0.02
    concurrency = 2
    first = workers.start(concurrency=concurrency)
    notifications.notifications_sweep()  # claims all 200 and publishes them in batches of 20
    wait_until(lambda: smtp.count() >= 40, timeout=30, what="40 messages")
    first.kill()
    in_flight = set(Notification.objects.filter(status="sending").values_list("message_id", flat=True))
    assert in_flight, "the worker was killed with nothing in hand: kill it earlier"

    workers.start(concurrency=concurrency, beat=True, NOTIFICATION_CLAIM_SECONDS=3)
    wait_until(lambda: statuses() == {"sent": 200}, timeout=120, what="every row sent")

    received = {r.message_id for r in smtp.received}
    assert received == {row.message_id for row in rows}  # nothing lost
    repeated = smtp.duplicates()
    # The documented window: a message the server took just as its sender
    # died. At most one per pool process, and only messages then in flight.
    assert sum(n - 1 for n in repeated.values()) <= concurrency
    assert set(repeated) <= in_flight


def test_two_sweeps_at_once_send_each_message_once(
    smtp: SmtpSink, treatment: Any, practitioner: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.MAILERS = smtp.mailers()
    rows = due_confirmations(120, treatment, practitioner)
    smtp.delay = 0.005
    monkeypatch.setattr(notifications, "SWEEP_ROUND", 10)  # many small claims, interleaved
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(notifications.notifications_sweep(dispatch=notifications.deliver_here))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(r.claimed for r in results)[0] > 0, "one sweep did all the work: no overlap was tested"
    assert sum(r.claimed for r in results) == 120
    assert smtp.duplicates() == {}
    assert {r.message_id for r in smtp.received} == {row.message_id for row in rows}
    assert statuses() == {"sent": 120}


def test_a_sweep_skips_rows_another_sweep_is_claiming_instead_of_waiting(treatment: Any, practitioner: Any) -> None:
    due_confirmations(10, treatment, practitioner)
    locked = threading.Event()
    release = threading.Event()

    def hold_five() -> None:
        try:
            with transaction.atomic():
                list(Notification.objects.order_by("pk").select_for_update()[:5])
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_five)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        began = time.monotonic()
        _token, claimed = notifications.notifications_claim_due(now=timezone.now())
        assert time.monotonic() - began < 2
        assert len(claimed) == 5
        assert set(claimed).isdisjoint(Notification.objects.order_by("pk").values_list("pk", flat=True)[:5])
    finally:
        release.set()
        holder.join()


@pytest.mark.redis
def test_with_redis_stopped_booking_answers_and_the_reminder_goes_out_once_redis_is_back(
    workers: Workers,
    smtp: SmtpSink,
    private_redis: PrivateRedis,
    use_broker: Callable[[str], None],
    book_api: Callable,
    settings: Any,
) -> None:
    use_broker(private_redis.url)
    worker = workers.start(beat=True, broker=private_redis.url)
    start, offset = short_reminder(timezone.now())
    settings.CLINIC_REMINDER_OFFSETS = [timedelta(minutes=offset)]

    private_redis.stop()
    patient = PatientFactory()
    response, took = book_api(patient, start)
    assert response.status_code == 201, response.content
    assert took < 5
    appointment = Appointment.objects.get(pk=response.json()["id"])
    # The worker has tried the broker again since the booking and found it still down.
    since = worker.mark()
    wait_until(
        lambda: "Cannot connect to redis" in worker.log.read_bytes()[since:].decode(errors="replace"),
        timeout=30,
        what="the worker to retry the broker",
    )
    assert smtp.received == []  # nothing can move while the broker is down
    confirmation = Notification.objects.get(appointment=appointment, kind="confirmation")
    assert (confirmation.status, confirmation.attempts) == ("pending", 0)

    private_redis.start()
    smtp.wait_for("confirmation", timeout=60)
    reminder = Notification.objects.get(appointment=appointment, kind="reminder")
    [received] = smtp.wait_for("reminder", timeout=max(0.0, (reminder.due_at - timezone.now()).total_seconds()) + 60)
    assert received.at >= reminder.due_at.timestamp() - 0.5
    wait_until(lambda: statuses() == {"sent": 2}, timeout=10, what="both rows marked sent")
    worker.wait_for_sweeps(3)
    assert len(smtp.of_kind("confirmation")) == 1
    assert len(smtp.of_kind("reminder")) == 1
    assert smtp.duplicates() == {}
