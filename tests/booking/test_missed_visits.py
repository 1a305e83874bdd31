"""Issue 18, missed visits: a confirmed visit nobody checked in by its end plus
CLINIC_NO_SHOW_AFTER is marked no-show by the periodic sweep, through the same
steps as the button: plan session released, the patient told kindly once,
the staff lists updated. Safe to run twice, or alongside the button."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from booking import notifications, tasks
from booking.models import Appointment, Notification
from booking.services import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_no_show,
    appointments_mark_missed,
)
from clinic.celery import app
from clinic.errors import InvalidState
from tests.booking.conftest import MONDAY
from tests.factories import HealthDeclarationFactory, UserFactory
from treatments import services as clinical
from treatments.models import PlanSession

pytestmark = pytest.mark.django_db

Kind, Status, Skip = Notification.Kind, Notification.Status, Notification.SkipReason


@pytest.fixture(autouse=True)
def no_show_after(settings: Any) -> None:
    settings.CLINIC_NO_SHOW_AFTER = timedelta(minutes=30)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Ids handed to the broker after commit (no broker in these tests)."""
    sent: list[list[int]] = []
    monkeypatch.setattr(notifications, "publish", lambda ids, claim=None: sent.append(list(ids)) or True)
    return sent


@pytest.fixture
def book(patient: Any, treatment: Any, practitioner: Any, room: Any, now: datetime) -> Callable[..., Appointment]:
    """``book(start)`` as the patient, online, on Monday morning."""

    def make(start: datetime, **kwargs: Any) -> Appointment:
        return appointment_book(
            patient=patient,
            treatment=treatment,
            start=start,
            practitioner=practitioner,
            booked_by=patient.user,
            staff=False,
            now=now,
            **kwargs,
        )

    return make


def missed_rows(appointment: Appointment) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(appointment=appointment, kind=Kind.MISSED_VISIT).values_list(
            "status", "skip_reason"
        )
    )


def test_nothing_happens_before_the_end_plus_the_grace(book: Callable, at: Callable) -> None:
    visit = book(at(10))  # 10:00–10:30

    assert appointments_mark_missed(now=at(10, 59)) == 0

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CONFIRMED
    assert missed_rows(visit) == []


def test_an_unattended_visit_is_marked_and_the_patient_told_once(
    book: Callable, at: Callable, published: list, django_capture_on_commit_callbacks: Any
) -> None:
    visit = book(at(10))
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert appointments_mark_missed(now=at(11)) == 1

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.NO_SHOW
    assert visit.no_show_auto is True
    assert missed_rows(visit) == [(Status.PENDING, "")]
    row = Notification.objects.get(appointment=visit, kind=Kind.MISSED_VISIT)
    assert published == [[row.pk]]  # sent straight after commit, like a cancellation notice
    # Nothing before the visit is left to send.
    assert not Notification.objects.filter(appointment=visit, kind=Kind.REMINDER, status=Status.PENDING).exists()
    # The history row says no one pressed the button.
    last = visit.history.order_by("-history_date", "-history_id").first()
    assert last.history_user is None and "automatically" in last.history_change_reason


def test_running_the_sweep_twice_marks_once_and_emails_once(
    book: Callable, at: Callable, published: list, django_capture_on_commit_callbacks: Any
) -> None:
    visit = book(at(10))
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = appointments_mark_missed(now=at(11))
        second = appointments_mark_missed(now=at(11, 5))

    assert (first, second) == (1, 0)
    assert len(missed_rows(visit)) == 1
    assert len(published) == 1


def test_the_task_is_thin_and_safe_to_run_twice(book: Callable, at: Callable, published: list) -> None:
    visit = book(at(10))

    with time_machine.travel(at(11, 1), tick=False):
        tasks.mark_missed_visits()
        tasks.mark_missed_visits()

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.NO_SHOW
    assert len(missed_rows(visit)) == 1


def test_beat_runs_the_sweep_every_five_minutes() -> None:
    entry = app.conf.beat_schedule["missed-visits"]
    assert entry["task"] == "booking.tasks.mark_missed_visits"
    assert entry["schedule"] == 300.0
    assert "booking.tasks.mark_missed_visits" in app.tasks


def test_checked_in_cancelled_and_completed_visits_are_untouched(
    book: Callable, at: Callable, receptionist: Any, patient: Any, published: list
) -> None:
    checked_in = book(at(10))
    cancelled = book(at(11))
    appointment_check_in(appointment=checked_in, by=receptionist, now=at(9, 55))
    appointment_cancel(appointment=cancelled, by=receptionist, staff=True, now=at(9))
    completed = book(at(14))
    Appointment.objects.filter(pk=completed.pk).update(status=Appointment.Status.COMPLETED)

    assert appointments_mark_missed(now=at(18)) == 0

    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses == {
        checked_in.pk: Appointment.Status.CHECKED_IN,
        cancelled.pk: Appointment.Status.CANCELLED,
        completed.pk: Appointment.Status.COMPLETED,
    }
    assert not Notification.objects.filter(kind=Kind.MISSED_VISIT).exists()


def test_an_empty_setting_turns_the_sweep_off(book: Callable, at: Callable, settings: Any) -> None:
    settings.CLINIC_NO_SHOW_AFTER = None
    visit = book(at(10))

    assert appointments_mark_missed(now=at(10, day=MONDAY + timedelta(days=1))) == 0

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CONFIRMED


def test_a_missed_plan_session_is_released_to_be_booked_again(
    book: Callable, at: Callable, patient: Any, treatment: Any, published: list
) -> None:
    HealthDeclarationFactory(patient=patient)
    plan = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=3, start_after=MONDAY, today=MONDAY, by=UserFactory()
    )
    session = plan.sessions.get(number=1)
    visit = book(at(10), plan_session_id=session.pk)
    session.refresh_from_db()
    assert session.status == PlanSession.Status.BOOKED

    assert appointments_mark_missed(now=at(11)) == 1

    session.refresh_from_db()
    assert session.status == PlanSession.Status.PENDING
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.NO_SHOW
    assert missed_rows(visit) == [(Status.PENDING, "")]


def test_the_button_tells_the_patient_the_same_way(
    book: Callable, at: Callable, receptionist: Any, published: list, django_capture_on_commit_callbacks: Any
) -> None:
    visit = book(at(10))
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        appointment_no_show(appointment=visit, by=receptionist, now=at(10, 20))

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.NO_SHOW and visit.no_show_auto is False
    assert missed_rows(visit) == [(Status.PENDING, "")]
    assert len(published) == 1
    assert visit.history.order_by("-history_date", "-history_id").first().history_user == receptionist
    # The sweep that follows finds nothing to do.
    assert appointments_mark_missed(now=at(11)) == 0
    assert len(missed_rows(visit)) == 1


def test_the_button_after_the_sweep_is_refused_politely(book: Callable, at: Callable, receptionist: Any) -> None:
    visit = book(at(10))
    appointments_mark_missed(now=at(11))

    with pytest.raises(InvalidState):
        appointment_no_show(appointment=visit, by=receptionist, now=at(11, 1))
    assert len(missed_rows(visit)) == 1


def test_a_visit_long_ago_is_marked_silently(book: Callable, at: Callable, published: list) -> None:
    """Beat was stopped for over a week: the old visit is marked, but the
    patient is not emailed about it now; the row says why."""
    old = book(at(10))
    recent = book(at(16))
    published.clear()
    later = at(16, day=MONDAY + timedelta(days=7, hours=1))  # old: 7 days 5h30 ago; recent: under 7 days

    assert appointments_mark_missed(now=later) == 2

    assert missed_rows(old) == [(Status.SKIPPED, Skip.TOO_LATE)]
    assert missed_rows(recent) == [(Status.PENDING, "")]
    old.refresh_from_db()
    assert old.status == Appointment.Status.NO_SHOW


def test_a_waiting_notice_is_not_sent_once_the_no_show_is_undone(book: Callable, at: Callable) -> None:
    visit = book(at(10))
    appointments_mark_missed(now=at(11))
    row = Notification.objects.select_related("patient", "appointment").get(appointment=visit, kind=Kind.MISSED_VISIT)
    assert notifications.skip_reason(row, now=at(11, 1)) == ""

    Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.COMPLETED)  # corrected in the admin
    row.appointment.refresh_from_db()
    assert notifications.skip_reason(row, now=at(11, 2)) == Skip.NOT_CONFIRMED


# --- the staff's list and the patient's pages ----------------------------------------------


@pytest.mark.parametrize(("language", "words"), [("en", "Marked automatically"), ("zh-hant", "系統自動標記")])
def test_the_no_show_list_shows_who_marked_it(
    client: Any, book: Callable, at: Callable, receptionist: Any, language: str, words: str
) -> None:
    auto = book(at(10))
    by_hand = book(at(14))
    appointments_mark_missed(now=at(11))
    appointment_no_show(appointment=by_hand, by=receptionist, now=at(14, 10))
    client.force_login(receptionist)

    page = client.get("/staff/no-shows/?date=2030-01-07", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert page.count(words) == 1
    assert auto.patient.full_name in page
    panel = client.get(reverse("staff:appointment", args=[auto.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert words in panel.content.decode()


@pytest.mark.parametrize(("language", "words"), [("en", "We missed you"), ("zh-hant", "未能見到你")])
def test_the_patient_sees_the_missed_visit_kindly_with_book_again(
    client: Any, book: Callable, at: Callable, patient: Any, treatment: Any, language: str, words: str
) -> None:
    visit = book(at(10))
    appointments_mark_missed(now=at(11))
    with time_machine.travel(at(12), tick=False):
        client.force_login(patient.user)
        listing = client.get("/appointments/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        detail = client.get(f"/appointments/{visit.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    rebook = f"/book/?treatment={treatment.slug}"
    for page in (listing, detail):
        assert words in page
        assert rebook in page


def test_a_missed_plan_session_offers_that_session_again(
    client: Any, book: Callable, at: Callable, patient: Any, treatment: Any
) -> None:
    HealthDeclarationFactory(patient=patient)
    plan = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=3, start_after=MONDAY, today=MONDAY, by=UserFactory()
    )
    session = plan.sessions.get(number=1)
    visit = book(at(10), plan_session_id=session.pk)
    appointments_mark_missed(now=at(11))
    with time_machine.travel(at(12), tick=False):
        client.force_login(patient.user)
        detail = client.get(f"/appointments/{visit.pk}/").content.decode()

    assert f"/book/?plan_session={session.pk}" in detail
    assert "Book this session again" in detail


# --- races on PostgreSQL -------------------------------------------------------------------


def _race(*work: Callable[[], Any]) -> list[str]:
    barrier = threading.Barrier(len(work))
    outcomes = ["not run"] * len(work)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = work[index]()
            outcomes[index] = f"ok {result}" if isinstance(result, int) else "ok"
        except Exception as error:  # the outcome under test
            outcomes[index] = type(error).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("trial", range(5))
def test_a_sweep_racing_the_button_marks_once_and_emails_once(
    book: Callable, at: Callable, receptionist: Any, published: list, trial: int
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")
    visits = [book(at(10 + hour)) for hour in range(3)]

    outcomes = _race(
        lambda: appointments_mark_missed(now=at(14)),
        lambda: appointments_mark_missed(now=at(14)),
        lambda: appointment_no_show(appointment=visits[1], by=receptionist, now=at(14)),
    )

    assert "not run" not in outcomes
    # The button either won its visit or found it already marked (InvalidState, shown in place).
    assert outcomes[2] in ("ok", "InvalidState"), outcomes
    for visit in visits:
        visit.refresh_from_db()
        assert visit.status == Appointment.Status.NO_SHOW
        assert len(missed_rows(visit)) == 1
    swept = sum(int(outcome.split()[1]) for outcome in outcomes[:2])
    assert swept + (outcomes[2] == "ok") == 3
