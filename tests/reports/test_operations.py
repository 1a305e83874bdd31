"""The operations report on a small clinic whose numbers are worked out on paper.

The period is two clinic weeks: week 1 starts Monday 2 Nov 2026, week 2
Monday 9 Nov; the period ends Sunday 15 Nov. Times are Hong Kong time (UTC+8)
unless said otherwise. Each test builds only what its table needs and writes
the paper computation beside it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from booking.models import Appointment, LedgerEntry, Notification, NotificationDelivery, WorkingHours
from booking.report_operations import operations_report
from booking.reports import ReportFilters, Table
from tests.factories import (
    AppointmentFactory,
    ClinicClosureFactory,
    DeviceFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

HKT = ZoneInfo("Asia/Hong_Kong")
WEEK_1, WEEK_2 = "2026-11-02", "2026-11-09"
PERIOD = ReportFilters(start=date(2026, 11, 2), end=date(2026, 11, 15))
Status = Appointment.Status


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A Hong Kong wall-clock time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=HKT)


def table(key: str, filters: ReportFilters = PERIOD) -> Table:
    return operations_report(filters).table(key)


def row(found: Table, **match: Any) -> dict[str, Any]:
    rows = [r for r in found.rows if all(r[k] == v for k, v in match.items())]
    assert len(rows) == 1, (match, found.rows)
    return rows[0]


def working(practitioner: Any, start: time, end: time, break_: tuple[time, time] | None = None) -> None:
    """Monday to Friday, the same hours every day."""
    WorkingHours.objects.bulk_create(
        WorkingHours(
            practitioner=practitioner,
            weekday=day,
            start=start,
            end=end,
            break_start=break_[0] if break_ else None,
            break_end=break_[1] if break_ else None,
        )
        for day in range(5)
    )


@pytest.fixture
def clinic(settings: Any) -> dict[str, Any]:
    """Amy works 09:00–18:00 with lunch 13:00–14:00 (8 h a day, 40 h a week);
    Ben 10:00–14:00 (4 h a day, 20 h a week). One room, one device, two treatments."""
    settings.CLINIC_REPORT_MIN_GROUP = 1
    amy = PractitionerFactory(user__first_name="Amy", user__last_name="Chan", hours=False)
    ben = PractitionerFactory(user__first_name="Ben", user__last_name="Lee", hours=False)
    working(amy, time(9), time(18), (time(13), time(14)))
    working(ben, time(10), time(14))
    return {
        "amy": amy,
        "ben": ben,
        "room": RoomFactory(name_en="Room 1", name_zh_hant="一號房"),
        "device": DeviceFactory(name_en="CO2 laser", name_zh_hant="二氧化碳激光"),
        "peel": TreatmentFactory(slug="peel", name_en="Peel", name_zh_hant="換膚"),
        "laser": TreatmentFactory(slug="laser", name_en="Laser", name_zh_hant="激光"),
    }


def visit(
    clinic: dict[str, Any],
    start: datetime,
    *,
    minutes: int = 60,
    who: str = "amy",
    treatment: str = "peel",
    status: str = Status.COMPLETED,
    booked_days_ahead: float | None = None,
    **fields: Any,
) -> Appointment:
    """One visit; each gets its own patient unless told, so no two overlap a patient."""
    fields.setdefault("patient", PatientFactory())
    fields.setdefault("room", clinic["room"])
    appointment = AppointmentFactory(
        practitioner=clinic[who],
        treatment=clinic[treatment],
        start=start,
        end=start + timedelta(minutes=minutes),
        blocked_until=start + timedelta(minutes=minutes),
        status=status,
        **fields,
    )
    if booked_days_ahead is not None:
        Appointment.objects.filter(pk=appointment.pk).update(created_at=start - timedelta(days=booked_days_ahead))
    return appointment


# --- utilisation ----------------------------------------------------------------------


def test_practitioner_utilisation_is_booked_over_open_hours_by_week(clinic: dict[str, Any]) -> None:
    # Week 1, Amy: open 5 × 8 h = 40 h. Booked: three completed one-hour visits
    # and a one-hour no-show (it kept the slot) = 4 h → 4 / 40 = 10.0 %.
    # Not booked: a cancelled visit and one still waiting for its deposit.
    for day in (2, 3, 4):
        visit(clinic, at(day, 10))
    visit(clinic, at(5, 10), status=Status.NO_SHOW)
    visit(clinic, at(6, 10), status=Status.CANCELLED, cancelled_by="patient", cancelled_at=at(1, 10))
    visit(clinic, at(6, 15), status=Status.DEPOSIT_DUE, hold_expires_at=at(1, 10))
    # Week 2: a typhoon closes the clinic all Friday 13 Nov: Amy is open
    # 4 × 8 = 32 h, Ben 4 × 4 = 16 h. Ben's one 2-hour visit → 2 / 16 = 12.5 %.
    ClinicClosureFactory(start=at(13, 0), end=at(14, 0))
    visit(clinic, at(10, 10), minutes=120, who="ben")
    # Ben takes Wednesday of week 1 off (10:00–14:00): open 20 − 4 = 16 h, nothing booked.
    TimeOffFactory(practitioner=clinic["ben"], start=at(4, 10), end=at(4, 14))

    found = table("utilisation_practitioners")

    assert row(found, week=WEEK_1, name="Amy Chan") == {
        "week": WEEK_1,
        "name": "Amy Chan",
        "booked_hours": 4.0,
        "open_hours": 40.0,
        "utilisation": 10.0,
    }
    assert row(found, week=WEEK_2, name="Amy Chan")["open_hours"] == 32.0
    assert row(found, week=WEEK_2, name="Amy Chan")["utilisation"] == 0.0
    assert row(found, week=WEEK_1, name="Ben Lee")["open_hours"] == 16.0
    assert row(found, week=WEEK_2, name="Ben Lee")["utilisation"] == 12.5
    assert found.figure is not None and found.figure.series == "name"


def test_a_visit_belongs_to_its_clinic_week_and_one_crossing_sunday_midnight_is_split(
    clinic: dict[str, Any],
) -> None:
    # Sunday 8 Nov 23:30 to Monday 00:30 HKT: half an hour in each week.
    visit(clinic, at(8, 23, 30))
    # Monday 9 Nov 07:00 HKT is still Sunday (23:00) in UTC: it is week 2's.
    visit(clinic, at(9, 7))
    # Sunday 15 Nov 23:30 HKT (15:30 UTC): week 2, the last day of the period.
    visit(clinic, at(15, 23, 30), minutes=30)

    found = table("utilisation_practitioners")

    # Week 1: 0.5 h of 40 → 1.25 %, shown 1.2 (one decimal, half to even);
    # week 2: 0.5 + 1 + 0.5 = 2 h of 40 → 5.0 %.
    assert row(found, week=WEEK_1, name="Amy Chan")["booked_hours"] == 0.5
    assert row(found, week=WEEK_1, name="Amy Chan")["utilisation"] == 1.2
    assert row(found, week=WEEK_2, name="Amy Chan")["booked_hours"] == 2.0
    assert row(found, week=WEEK_2, name="Amy Chan")["utilisation"] == 5.0


def test_rooms_and_devices_are_open_when_the_clinic_is(clinic: dict[str, Any]) -> None:
    # The clinic's hours are the union of Amy's (09–13, 14–18) and Ben's (10–14):
    # 09:00–18:00, 9 h a day, 45 h in week 1. Week 2 loses Friday to a closure: 36 h.
    ClinicClosureFactory(start=at(13, 0), end=at(14, 0))
    # Room 1 holds 3 h of visits in week 1 (one of them with the laser) → 3 / 45 = 6.7 %.
    visit(clinic, at(2, 10), device=clinic["device"])
    visit(clinic, at(2, 11), minutes=120, who="ben")
    # The laser's visit in week 2, 90 minutes → 1.5 / 36 = 4.2 %.
    visit(clinic, at(10, 10), minutes=90, device=clinic["device"])

    # A room taken out of use with nothing booked has no rows.
    RoomFactory(name_en="Old room", active=False)

    rooms = table("utilisation_rooms")
    devices = table("utilisation_devices")

    assert row(rooms, week=WEEK_1, name="Room 1") == {
        "week": WEEK_1,
        "name": "Room 1",
        "booked_hours": 3.0,
        "open_hours": 45.0,
        "utilisation": 6.7,
    }
    assert row(rooms, week=WEEK_2, name="Room 1")["open_hours"] == 36.0
    assert {r["name"] for r in rooms.rows} == {"Room 1"}
    assert row(devices, week=WEEK_1, name="CO2 laser")["booked_hours"] == 1.0
    assert row(devices, week=WEEK_2, name="CO2 laser")["utilisation"] == 4.2


# --- attendance ------------------------------------------------------------------------


def test_no_shows_and_late_cancellations_by_treatment(clinic: dict[str, Any]) -> None:
    # Peel, ten visits due: six completed, two no-shows, one cancelled by the
    # patient 23 h before (late), one cancelled by the patient exactly 24 h before
    # (in time: the notice is 24 h). No-shows 2 / 10 = 20.0 %, late 1 / 10 = 10.0 %.
    for hour in range(10, 16):
        visit(clinic, at(2, hour))
    visit(clinic, at(3, 10), status=Status.NO_SHOW)
    visit(clinic, at(3, 11), status=Status.NO_SHOW)
    visit(clinic, at(4, 10), status=Status.CANCELLED, cancelled_by="patient", cancelled_at=at(3, 11))
    visit(clinic, at(4, 11), status=Status.CANCELLED, cancelled_by="patient", cancelled_at=at(3, 11))
    # Not due: the clinic cancelled it (a typhoon), however late.
    visit(clinic, at(4, 12), status=Status.CANCELLED, cancelled_by="clinic", cancelled_at=at(4, 11))
    # Laser, one visit, kept.
    visit(clinic, at(5, 10), treatment="laser")

    found = table("attendance_by_treatment")

    assert row(found, label="Peel") == {
        "label": "Peel",
        "visits": 10,
        "no_shows": 2,
        "no_show_rate": 20.0,
        "late_cancellations": 1,
        "late_cancellation_rate": 10.0,
    }
    assert row(found, label="Laser")["no_show_rate"] == 0.0
    with translation.override("zh-hant"):
        assert {r["label"] for r in table("attendance_by_treatment").rows} == {"換膚", "激光"}


def test_attendance_by_weekday_uses_the_clinic_calendar(clinic: dict[str, Any]) -> None:
    # Monday 9 Nov 07:00 HKT is Sunday in UTC: it is a Monday no-show here.
    visit(clinic, at(9, 7), status=Status.NO_SHOW)
    visit(clinic, at(2, 10))
    # Saturday 7 Nov: one visit, kept.
    visit(clinic, at(7, 10))

    found = table("attendance_by_weekday")

    # Monday: 2 due, 1 no-show → 50.0 %. Saturday: 1 due, 0 no-shows.
    assert [r["label"] for r in found.rows] == ["Monday", "Saturday"]
    assert row(found, label="Monday")["no_show_rate"] == 50.0
    assert row(found, label="Saturday")["visits"] == 1
    with translation.override("zh-hant"):
        chinese = table("attendance_by_weekday")
    assert chinese.title == "按星期劃分的缺席及逾時取消"
    assert [r["label"] for r in chinese.rows] == ["星期一", "星期六"]
    assert [str(c.label) for c in chinese.columns][:3] == ["星期", "應到預約", "缺席"]


def test_attendance_and_lead_time_by_how_far_ahead_visits_were_booked(clinic: dict[str, Any]) -> None:
    # Seven peel visits booked 0.5, 1, 2, 4, 8, 16 and 32 days ahead; the one
    # booked 32 days ahead is a no-show.
    for hour, ahead in zip(range(10, 17), (0.5, 1, 2, 4, 8, 16), strict=False):
        visit(clinic, at(2, hour), booked_days_ahead=ahead)
    visit(clinic, at(3, 10), booked_days_ahead=32, status=Status.NO_SHOW)

    bands = table("attendance_by_lead_time")
    lead = table("lead_time")

    # Bands: under 1 day {0.5}, 1–2 {1, 2}, 3–6 {4}, 7–13 {8}, 14–29 {16}, 30+ {32 (no-show)}.
    assert [(r["label"], r["visits"]) for r in bands.rows] == [
        ("Under 1 day", 1),
        ("1–2 days", 2),
        ("3–6 days", 1),
        ("7–13 days", 1),
        ("14–29 days", 1),
        ("30 days or more", 1),
    ]
    assert row(bands, label="30 days or more")["no_show_rate"] == 100.0
    # Sorted: 0.5 1 2 4 8 16 32. Median (position 3) = 4; lower quartile
    # (position 1.5) = 1 + 0.5 × (2 − 1) = 1.5; upper (position 4.5) = 8 + 0.5 × 8 = 12.
    assert row(lead, treatment="Peel") == {
        "treatment": "Peel",
        "visits": 7,
        "median_days": 4.0,
        "q1_days": 1.5,
        "q3_days": 12.0,
    }


def test_groups_under_the_minimum_are_left_out(clinic: dict[str, Any], settings: Any) -> None:
    settings.CLINIC_REPORT_MIN_GROUP = 5
    # Peel: five visits (shown); laser: four (left out, counted as hidden).
    for hour in range(10, 15):
        visit(clinic, at(2, hour), booked_days_ahead=3)
    for hour in range(10, 14):
        visit(clinic, at(3, hour), treatment="laser", booked_days_ahead=3)

    report = operations_report(PERIOD)

    for key in ("attendance_by_treatment", "lead_time"):
        found = report.table(key)
        assert [r.get("label", r.get("treatment")) for r in found.rows] == ["Peel"], key
        assert found.hidden == 1
    # Monday has 5 visits, Tuesday 4: Tuesday is left out.
    assert [r["label"] for r in report.table("attendance_by_weekday").rows] == ["Monday"]
    # All nine were booked 3 days ahead: one band of nine, shown.
    assert report.table("attendance_by_lead_time").rows[0]["visits"] == 9


# --- patients, reminders, revenue ---------------------------------------------------------


def test_new_and_returning_patients_by_week(clinic: dict[str, Any]) -> None:
    first, regular, newcomer = PatientFactory(), PatientFactory(), PatientFactory()
    # First: first completed visit ever in week 1 (new), back in week 2 (returning).
    visit(clinic, at(2, 10), patient=first)
    visit(clinic, at(10, 10), patient=first)
    # Regular: completed a visit in October, again in week 1 (returning), twice (counted once).
    visit(clinic, datetime(2026, 10, 5, 10, tzinfo=HKT), patient=regular)
    visit(clinic, at(3, 10), patient=regular)
    visit(clinic, at(4, 10), patient=regular)
    # Newcomer: a no-show in week 1 (not a visit), first completed visit in week 2 (new).
    visit(clinic, at(5, 10), patient=newcomer, status=Status.NO_SHOW)
    visit(clinic, at(11, 10), patient=newcomer)

    found = table("patients_new_returning")

    assert found.rows == [
        {"week": WEEK_1, "new": 1, "returning": 1, "patients": 2},
        {"week": WEEK_2, "new": 1, "returning": 1, "patients": 2},
    ]


def reminder(appointment: Appointment, *deliveries: tuple[str, str]) -> None:
    notification = Notification.objects.create(
        kind=Notification.Kind.REMINDER,
        patient=appointment.patient,
        appointment=appointment,
        offset_minutes=1440,
        due_at=appointment.start - timedelta(days=1),
        next_attempt_at=appointment.start - timedelta(days=1),
    )
    NotificationDelivery.objects.bulk_create(
        NotificationDelivery(notification=notification, channel=channel, status=status)
        for channel, status in deliveries
    )


def test_reminders_sent_failed_and_confirmed_by_channel(clinic: dict[str, Any]) -> None:
    one, two, three, four = (visit(clinic, at(2, hour), status=Status.CONFIRMED) for hour in (10, 11, 12, 15))
    reminder(one, ("email", "accepted"))
    # SMS failed for good, the reminder fell back to WhatsApp, which delivered it.
    reminder(two, ("sms", "failed"), ("whatsapp", "delivered"))
    reminder(three, ("whatsapp", "read"))
    # A booking confirmation is not a reminder.
    Notification.objects.create(
        kind=Notification.Kind.CONFIRMATION,
        patient=four.patient,
        appointment=four,
        due_at=at(1, 10),
        next_attempt_at=at(1, 10),
    ).deliveries.create(channel="email", status="accepted")
    Appointment.objects.filter(pk__in=[two.pk, three.pk]).update(
        patient_confirmed_via="whatsapp", patient_confirmed_at=at(1, 12)
    )
    Appointment.objects.filter(pk=four.pk).update(patient_confirmed_via="portal", patient_confirmed_at=at(1, 12))

    found = table("reminders")

    assert row(found, channel="Email") == {
        "channel": "Email",
        "sent": 1,
        "delivered": 0,
        "failed": 0,
        "failure_rate": 0.0,
        "confirmed": 0,
    }
    assert row(found, channel="SMS")["failed"] == 1
    assert row(found, channel="SMS")["failure_rate"] == 100.0
    assert row(found, channel="WhatsApp")["sent"] == 2
    assert row(found, channel="WhatsApp")["delivered"] == 2
    assert row(found, channel="WhatsApp")["confirmed"] == 2
    assert row(found, channel="Patient portal")["confirmed"] == 1


def money(patient: Any, kind: str, amount: str, when: datetime, **fields: Any) -> LedgerEntry:
    if kind in ("payment", "refund"):
        fields.setdefault("method", "cash")
    return LedgerEntry.objects.create(
        patient=patient,
        kind=kind,
        amount=Decimal(amount),
        created_at=when,
        idempotency_key=f"test-{kind}-{amount}-{when.isoformat()}",
        **fields,
    )


def test_revenue_by_week_from_the_ledger(clinic: dict[str, Any]) -> None:
    patient = PatientFactory()
    # Week 1: HK$1,000 for a treatment, a HK$500 deposit, HK$200 of the 1,000
    # refunded, a HK$300 late-cancellation fee; the deposit paid at Sunday 23:59
    # (15:59 UTC) is still week 1's.
    paid = money(patient, "payment", "1000.00", at(2, 11), reason="treatment")
    money(patient, "payment", "500.00", at(8, 23, 59), reason="deposit", method="online")
    money(patient, "refund", "200.00", at(3, 11), reverses=paid)
    fee = money(patient, "fee", "300.00", at(4, 11), reason="late_cancellation")
    # Week 2: Monday 00:30 HKT (Sunday 16:30 UTC) a HK$80.50 payment; the fee waived.
    money(patient, "payment", "80.50", at(9, 0, 30))
    money(patient, "waiver", "300.00", at(10, 11), reverses=fee)

    found = table("revenue")

    # Net = payments − refunds: week 1 1,500 − 200 = 1,300; week 2 80.50.
    assert found.rows == [
        {
            "week": WEEK_1,
            "payments": Decimal("1500.00"),
            "deposits": Decimal("500.00"),
            "refunds": Decimal("200.00"),
            "fees": Decimal("300.00"),
            "waived": Decimal("0.00"),
            "net": Decimal("1300.00"),
        },
        {
            "week": WEEK_2,
            "payments": Decimal("80.50"),
            "deposits": Decimal("0.00"),
            "refunds": Decimal("0.00"),
            "fees": Decimal("0.00"),
            "waived": Decimal("300.00"),
            "net": Decimal("80.50"),
        },
    ]


# --- filters and query counts --------------------------------------------------------------


def test_practitioner_and_treatment_filters_narrow_the_tables(clinic: dict[str, Any]) -> None:
    visit(clinic, at(2, 10), status=Status.NO_SHOW)
    visit(clinic, at(2, 11), treatment="laser")
    visit(clinic, at(2, 12), who="ben")

    only_ben = ReportFilters(start=PERIOD.start, end=PERIOD.end, practitioner_id=clinic["ben"].pk)
    only_laser = ReportFilters(
        start=PERIOD.start, end=PERIOD.end, treatment_id=clinic["laser"].pk, treatment_slug="laser"
    )

    assert {r["name"] for r in table("utilisation_practitioners", only_ben).rows} == {"Ben Lee"}
    assert table("attendance_by_treatment", only_ben).rows[0]["visits"] == 1
    assert table("attendance_by_treatment", only_ben).rows[0]["no_shows"] == 0
    assert [r["label"] for r in table("attendance_by_treatment", only_laser).rows] == ["Laser"]
    # Amy's utilisation keeps both her visits whatever the treatment: open hours are not per treatment.
    assert row(table("utilisation_practitioners", only_laser), week=WEEK_1, name="Amy Chan")["booked_hours"] == 2.0


def test_the_query_count_does_not_grow_with_the_data(clinic: dict[str, Any], django_assert_num_queries: Any) -> None:
    def fill(day: int) -> None:
        for hour in range(9, 18):
            appointment = visit(clinic, at(day, hour), status=Status.CONFIRMED, device=clinic["device"])
            reminder(appointment, ("sms", "failed"), ("email", "accepted"))
            money(appointment.patient, "payment", f"{hour}.00", at(day, hour), reason="deposit", method="online")

    fill(2)
    with CaptureQueriesContext(connection) as small:
        operations_report(PERIOD)
    for day in (3, 4, 5, 10, 11):
        fill(day)
    with django_assert_num_queries(len(small.captured_queries)):
        report = operations_report(PERIOD)

    assert sum(r["visits"] for r in report.table("attendance_by_treatment").rows) == 54
    assert len(small.captured_queries) <= 20
