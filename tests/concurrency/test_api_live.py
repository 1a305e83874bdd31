"""Fifty real HTTP clients race for one slot through a live server on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from knox.models import AuthToken

from booking.models import Appointment
from tests.api.conftest import next_weekday_at
from tests.factories import HealthDeclarationFactory, PatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 50


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    for attempt in range(10):
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (ConnectionResetError, urllib.error.URLError):
            # The test server's listen backlog is 10: connections beyond it are
            # reset before Django sees them, and a real client tries again.
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("the server never accepted the connection")


def test_fifty_clients_booking_one_slot_get_one_201_and_49_409(live_server) -> None:  # type: ignore[no-untyped-def]
    treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=10)
    RoomFactory(kind=treatment.room_kind)
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    PractitionerFactory(treatments=[treatment])
    tokens = []
    for _ in range(CLIENTS):
        patient = PatientFactory()
        HealthDeclarationFactory(patient=patient)
        tokens.append(AuthToken.objects.create(patient.user)[1])
    start = next_weekday_at(11)
    practitioner_id = treatment.practitioners.order_by("pk").first().pk
    body = {"treatment": treatment.slug, "start": start.isoformat(), "practitioner": practitioner_id}
    url = f"{live_server.url}/api/v1/appointments/"
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def client(token: str) -> None:
        barrier.wait()
        outcome = _post(url, token, body)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: CLIENTS - 1}, statuses
    assert {body["code"] for status, body in results if status == 409} == {"slot_unavailable"}
    assert Appointment.objects.filter(start=start, status="confirmed").count() == 1
