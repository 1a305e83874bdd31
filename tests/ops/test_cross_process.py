"""Past one machine: the guarantees hold across processes, not only across threads.

Two web servers (``bin/serve``: gunicorn, two processes of four threads each) on two
ports, two Celery workers and one beat, all on this test's PostgreSQL database, one
private Redis and the test's SMTP sink. Concurrent clients race through both servers
for the same slots and the same waitlist offer; then a second beat is started by
mistake and more work falls due while both tick (confirmations the SMTP server
first turns away, so that the sweeps' retries send them). What must hold (docs/scaling.md):

* one booking per slot (the database's exclusion constraints), every loser a clean
  409 in the API's error shape, no 5xx from either server;
* one winner for one waitlist offer;
* every notification sent exactly once (the outbox's atomic claims), however many
  beats sweep and whichever worker or server hands a row out.

``-s`` prints the figures: requests per server, status codes, bookings, messages per
kind, duplicates, sweeps sent per beat and run per worker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from knox.models import AuthToken

from booking.models import Appointment, Notification, WaitlistOffer, WorkingHours
from tests.factories import HealthDeclarationFactory, PatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory
from tests.notifications.conftest import (
    CELERY,
    ROOT,
    SWEEP_TASK,
    PrivateRedis,
    SmtpSink,
    Worker,
    Workers,
    database_url,
    finished_sweeps,
    wait_until,
    workers,  # noqa: F401 (fixture)
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

SLOT_RACERS = 40  # clients racing for the first slots, half through each server
SLOTS = 4  # practitioners free at the same time: the slots they race for
LATE_RACERS = 10  # clients racing while two beats run
LATE_SLOTS = 2
OFFER_ACCEPTS = 6  # the offer's holder pressing "accept" on several devices
GRID = 5  # CLINIC_SLOT_MINUTES in every process
REFUSE_SECONDS = 5  # the SMTP server turns mail away this long in step 4: retries, sent by the sweeps

# Settings every process shares (web servers, workers, beats), as CLINIC_* variables.
SHARED = {
    "SLOT_MINUTES": str(GRID),
    "MIN_NOTICE": "1m",
    "NOTIFICATION_SWEEP_SECONDS": "1",
    "NOTIFICATION_RETRY_SECONDS": "1",
    "NOTIFICATION_CLAIM_SECONDS": "30",
}


# --- a beat in its own process ---------------------------------------------------------


class Beat(Worker):
    """``celery -A clinic beat`` in its own process group: started, read and stopped as a worker is."""

    def sweeps_sent(self) -> int:
        """Notification sweeps this beat has sent to the broker."""
        return self.output().count(f"Sending due task notifications-sweep ({SWEEP_TASK})")


@pytest.fixture
def beats(tmp_path: Path, smtp: SmtpSink) -> Iterator[Callable[[str], Beat]]:
    """``beats(broker)`` starts ``celery -A clinic beat`` (what a deployment runs
    once) and returns once it has sent its first sweep."""
    started: list[Beat] = []

    def start(broker: str) -> Beat:
        env = {
            **os.environ,
            "CLINIC_NAME": django_settings.CLINIC_NAME,
            "CLINIC_BASE_URL": django_settings.CLINIC_BASE_URL,
            "CLINIC_TIME_ZONE": django_settings.CLINIC_TIME_ZONE,
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker,
            "EMAIL_URL": smtp.url,
            "PYTHONUNBUFFERED": "1",
            **{f"CLINIC_{name}": value for name, value in SHARED.items()},
        }
        log = tmp_path / f"beat-{len(started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [CELERY, "-A", "clinic", "beat", "--loglevel=INFO"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        beat = Beat(process, log)
        started.append(beat)
        wait_until(lambda: beat.sweeps_sent() or process.poll() is not None, timeout=60, what="the beat's first sweep")
        assert process.poll() is None, beat.output()[-3000:]
        return beat

    yield start
    for beat in started:
        beat.stop()


# --- clients ---------------------------------------------------------------------------


@dataclass
class Tally:
    """Every answer, per server."""

    answers: Counter[tuple[str, int]]
    lock: threading.Lock

    def __init__(self) -> None:
        self.answers = Counter()
        self.lock = threading.Lock()

    def record(self, server: str, status: int) -> None:
        with self.lock:
            self.answers[(server, status)] += 1

    def per_server(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (server, _status), n in self.answers.items():
            counts[server] += n
        return dict(sorted(counts.items()))

    def statuses(self) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for (_server, status), n in self.answers.items():
            counts[status] += n
        return dict(sorted(counts.items()))


def call(base: str, name: str, tally: Tally, token: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """POST as a patient's device would, retrying only a connection the server
    never accepted (a full listen backlog), never an answer."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body if body is not None else {}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    for attempt in range(20):
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except (ConnectionResetError, ConnectionRefusedError, urllib.error.URLError):
            time.sleep(0.05 * (attempt + 1))
            continue
        tally.record(name, status)
        try:
            return status, json.loads(payload or b"{}")
        except ValueError:
            return status, {"unparsed": payload[:200].decode(errors="replace")}
    raise AssertionError(f"{name} never accepted the connection")


def race(jobs: list[Callable[[], tuple[int, dict[str, Any]]]]) -> list[tuple[int, dict[str, Any]]]:
    """Runs every job at once (a barrier lets them go together) and returns the answers in order."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
        barrier.wait(timeout=60)
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def clean_refusals(answers: list[tuple[int, dict[str, Any]]]) -> Counter[str]:
    """The codes of the refusals; fails on a 5xx or an answer not in the error shape."""
    codes: Counter[str] = Counter()
    for status, body in answers:
        assert status < 500, (status, body)
        if status >= 400:
            assert isinstance(body.get("code"), str) and isinstance(body.get("detail"), str), (status, body)
            codes[f"{status} {body['code']}"] += 1
    return codes


# --- time ------------------------------------------------------------------------------


def next_grid_slot(after: datetime) -> datetime:
    """The first start on the clinic's grid (every GRID minutes from local midnight) at or after ``after``."""
    local = timezone.localtime(after)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=GRID)
    return midnight + -(-(local - midnight) // step) * step


# --- the outbox ------------------------------------------------------------------------


def sweeps_run(worker: Worker) -> int:
    return len(re.findall(rf"Task {re.escape(SWEEP_TASK)}\[[0-9a-f-]+\] succeeded", worker.output()))


def sweeps_since(pool: list[Worker], marks: list[int]) -> int:
    """Whole sweeps the workers ran, together, that they received after ``marks``;
    0 while any task either received since then is still running (a sweep on one
    worker may hand its rows to the other)."""
    counts = [finished_sweeps(worker, mark) for worker, mark in zip(pool, marks, strict=True)]
    return 0 if None in counts else sum(count or 0 for count in counts)


def workers_swept(pool: list[Worker], count: int, timeout: float = 60) -> None:
    """A barrier, not a sleep: the workers have run ``count`` whole sweeps received
    after this point, and every task they received since (deliveries included).
    Which worker gets a sweep is the broker's choice, so they are counted together."""
    marks = [worker.mark() for worker in pool]
    wait_until(lambda: sweeps_since(pool, marks) >= count, timeout=timeout, what=f"{count} sweep(s) on the workers")


def settled(due_by: datetime) -> bool:
    """Every row due by ``due_by`` is sent or skipped (none pending, none on its way)."""
    return not Notification.objects.filter(due_at__lte=due_by, status__in=["pending", "sending"]).exists()


def exactly_once(smtp: SmtpSink, due_by: datetime) -> Counter[str]:
    """Each row due by ``due_by`` that was sent arrived once, nothing arrived twice,
    and nothing arrived that no row sent. Returns the messages received per kind."""
    assert smtp.duplicates() == {}, smtp.duplicates()
    received = Counter(message.message_id for message in smtp.received)
    rows = Notification.objects.filter(due_at__lte=due_by)
    assert not rows.filter(status="failed").exists(), list(rows.filter(status="failed").values("kind", "last_error"))
    sent = set(rows.filter(status="sent").values_list("message_id", flat=True))
    assert sent <= set(received), "a row marked sent whose message never arrived"
    known = dict(Notification.objects.filter(status="sent").values_list("message_id", "kind"))
    assert set(received) <= set(known), "a message arrived that no sent row accounts for"
    by_kind: Counter[str] = Counter(known[message_id] for message_id in received)
    for message in smtp.received:
        assert message.kind == known[message.message_id]
    return by_kind


# --- the test --------------------------------------------------------------------------


def test_two_servers_two_workers_and_two_beats_book_once_and_send_once(
    serve: Any,
    private_redis: PrivateRedis,
    smtp: SmtpSink,
    workers: Workers,  # noqa: F811 (the fixture imported above)
    beats: Callable[[str], Beat],
    settings: Any,
) -> None:
    began = time.monotonic()
    for name, value in SHARED.items():
        setattr(settings, f"CLINIC_{name}", int(value) if value.isdigit() else value)
    settings.CLINIC_MIN_NOTICE = timedelta(minutes=1)

    # Everything the races need, in the database before any process reads it.
    treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=10)
    practitioners = []
    for _ in range(SLOTS + LATE_SLOTS):
        RoomFactory(kind=treatment.room_kind)
        practitioner = PractitionerFactory(treatments=[treatment], hours=False)
        WorkingHours.objects.bulk_create(  # round the clock, every day: the real clock always finds a slot
            WorkingHours(practitioner=practitioner, weekday=day, start=clock_time(0), end=clock_time(23, 59))
            for day in range(7)
        )
        practitioners.append(practitioner)

    def patient_token() -> tuple[Any, str]:
        patient = PatientFactory()
        HealthDeclarationFactory(patient=patient)
        return patient, AuthToken.objects.create(patient.user)[1]

    racers = [patient_token()[1] for _ in range(SLOT_RACERS)]
    holder, holder_token = patient_token()
    bystanders = [patient_token()[1] for _ in range(2 * OFFER_ACCEPTS)]
    late_racers = [patient_token()[1] for _ in range(LATE_RACERS)]

    # Start every process, two at a time (the machine may have two cores).
    environment = {f"CLINIC_{name}": value for name, value in SHARED.items()}
    environment["CLINIC_TIME_ZONE"] = settings.CLINIC_TIME_ZONE
    web = {"REDIS_URL": private_redis.url, "EMAIL_URL": smtp.url, "WEB_WORKERS": "2", "WEB_THREADS": "4"}
    with ThreadPoolExecutor(max_workers=3) as pool:
        first_server = pool.submit(serve, **web, **environment)
        first_worker = pool.submit(workers.start, concurrency=2, broker=private_redis.url, **SHARED)
        first_beat = pool.submit(beats, private_redis.url)
        servers = [first_server.result()]
        pool_workers = [first_worker.result()]
        beat_one = first_beat.result()
        second_server = pool.submit(serve, **web, **environment)
        second_worker = pool.submit(workers.start, concurrency=2, broker=private_redis.url, **SHARED)
        servers.append(second_server.result())
        pool_workers.append(second_worker.result())
    started = time.monotonic() - began
    tally = Tally()
    names = ["A", "B"]

    def post(index: int, token: str, path: str, body: Any = None) -> Callable[[], tuple[int, dict[str, Any]]]:
        server = servers[index % 2]
        return lambda: call(server.base, names[index % 2], tally, token, path, body)

    # 1. Forty clients, half through each server, race for four slots at the same time.
    start = next_grid_slot(timezone.now() + timedelta(minutes=10))
    jobs = [
        post(
            i,
            token,
            "/api/v1/appointments/",
            {"treatment": treatment.slug, "start": start.isoformat(), "practitioner": practitioners[i % SLOTS].pk},
        )
        for i, token in enumerate(racers)
    ]
    answers = race(jobs)
    assert Counter(status for status, _ in answers) == {201: SLOTS, 409: SLOT_RACERS - SLOTS}, clean_refusals(answers)
    assert clean_refusals(answers) == {"409 slot_unavailable": SLOT_RACERS - SLOTS}
    for practitioner in practitioners[:SLOTS]:
        assert Appointment.objects.filter(practitioner=practitioner, start=start, status="confirmed").count() == 1
    bookings = SLOTS

    steps = {"slots": round(time.monotonic() - began, 1)}

    # 2. The holder of a waitlist offer accepts on several devices through both servers,
    #    while other patients try the same offer (not theirs) and book its slot directly.
    tomorrow = timezone.localdate() + timedelta(days=1)
    status, entry = call(
        servers[0].base,
        "A",
        tally,
        holder_token,
        "/api/v1/waitlist/",
        {"treatment": treatment.slug, "earliest": tomorrow.isoformat(), "latest": tomorrow.isoformat()},
    )
    assert status == 201, entry
    offer = WaitlistOffer.objects.get(entry__patient=holder, status="open")
    # The holder accepts from the email, as a patient does (an offer accepted before
    # its email goes makes the email pointless: it is then skipped, not sent).
    smtp.wait_for("waitlist_offer", timeout=60)
    accept = f"/api/v1/waitlist/offers/{offer.pk}/accept/"
    direct = {"treatment": treatment.slug, "start": offer.start.isoformat(), "practitioner": offer.practitioner_id}
    jobs = [post(i, holder_token, accept) for i in range(OFFER_ACCEPTS)]
    jobs += [post(i, token, accept) for i, token in enumerate(bystanders[:OFFER_ACCEPTS])]
    jobs += [post(i, token, "/api/v1/appointments/", direct) for i, token in enumerate(bystanders[OFFER_ACCEPTS:])]
    answers = race(jobs)
    accepts = answers[:OFFER_ACCEPTS]
    assert sum(1 for status, _ in accepts if status == 201) == 1, accepts
    # The others find the offer used (or, mid-booking, its slot taken): 409s all.
    refused = clean_refusals(accepts)
    assert sum(refused.values()) == OFFER_ACCEPTS - 1, accepts
    assert set(refused) <= {"409 invalid_state", "409 slot_unavailable"}, refused
    assert clean_refusals(answers[OFFER_ACCEPTS : 2 * OFFER_ACCEPTS]) == {"404 not_found": OFFER_ACCEPTS}
    assert clean_refusals(answers[2 * OFFER_ACCEPTS :]) == {"409 slot_unavailable": OFFER_ACCEPTS}
    [won] = Appointment.objects.filter(practitioner=offer.practitioner_id, start=offer.start, status="confirmed")
    assert won.patient_id == holder.pk
    assert not Appointment.with_holds.filter(status="held").exists()
    bookings += 1

    steps["offer"] = round(time.monotonic() - began, 1)

    # 3. The outbox drains with one beat: each confirmation and the offer once.
    wait_until(lambda: settled(timezone.now()), timeout=60, what="the outbox to drain")
    workers_swept(pool_workers, 3)
    first = exactly_once(smtp, timezone.now())
    assert first == {"confirmation": bookings, "waitlist_offer": 1}, first

    # 4. A second beat by mistake. While both tick, more clients race, and the SMTP
    #    server turns their confirmations away for a few seconds: only the sweeps of
    #    both beats can send them, on their retries. Still each message once.
    steps["drained"] = round(time.monotonic() - began, 1)
    beat_two = beats(private_redis.url)
    steps["second beat"] = round(time.monotonic() - began, 1)
    beat_two_from = timezone.now()
    smtp.refuse_for(REFUSE_SECONDS)
    late_start = next_grid_slot(timezone.now() + timedelta(minutes=20))
    jobs = [
        post(
            i,
            token,
            "/api/v1/appointments/",
            {
                "treatment": treatment.slug,
                "start": late_start.isoformat(),
                "practitioner": practitioners[SLOTS + i % LATE_SLOTS].pk,
            },
        )
        for i, token in enumerate(late_racers)
    ]
    answers = race(jobs)
    assert clean_refusals(answers) == {"409 slot_unavailable": LATE_RACERS - LATE_SLOTS}
    bookings += LATE_SLOTS
    booked = timezone.now()

    wait_until(lambda: settled(booked), timeout=60, what="the retries to go")
    workers_swept(pool_workers, 6)  # both beats tick a few more times: nothing more may go
    by_kind = exactly_once(smtp, booked)
    assert by_kind == {"confirmation": bookings, "waitlist_offer": 1}, by_kind
    assert Appointment.objects.filter(status="confirmed").count() == bookings
    late = Notification.objects.filter(kind="confirmation", appointment__start=late_start)
    assert sorted(late.values_list("status", flat=True)) == ["sent"] * LATE_SLOTS
    assert not late.filter(sent_at__lt=beat_two_from).exists()
    # Turned away first (each, unless a busy machine delayed one past the window),
    # then sent by a sweep's retry.
    retried = late.filter(attempts__gte=2).count()
    assert retried >= 1 and smtp.refused >= retried, (retried, smtp.refused)
    assert beat_one.process.poll() is None and beat_two.process.poll() is None
    assert beat_two.sweeps_sent() >= 3, "the second beat was sweeping too"

    figures = {
        "data and processes ready at": f"{started:.1f} s",
        "requests per server": tally.per_server(),
        "status codes": tally.statuses(),
        "bookings": Appointment.objects.filter(status="confirmed").count(),
        "messages sent": dict(sorted(by_kind.items())),
        "duplicates": len(smtp.duplicates()),
        "refused by SMTP": smtp.refused,
        "late confirmations sent on a retry": retried,
        "sweeps sent per beat": [beat_one.sweeps_sent(), beat_two.sweeps_sent()],
        "sweeps run per worker": [sweeps_run(worker) for worker in pool_workers],
        "steps done at (s)": steps,
        "wall time": f"{time.monotonic() - began:.1f} s",
    }
    print("\ncross-process figures:", json.dumps(figures, ensure_ascii=False))
