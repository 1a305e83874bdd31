"""``manage.py seed_demo``: the demo clinic (demo/clinic.py), idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from booking.models import ClinicClosure, Device, Practitioner, Room, WorkingHours
from demo.clinic import _one_year_later, hong_kong_holidays
from patients.models import Patient
from treatments.models import ContraindicationRule, ScarType, Treatment

pytestmark = pytest.mark.django_db

# The clinic's reference table of treatments, kept here as written: the
# seed's own transcription is checked against the table, not against itself.
# A backslash continues a row on the next line.
DOMAIN_TABLE = """
| `steroid-injection` | steroid | Intralesional steroid injection | 類固醇疤痕注射 | \
hypertrophic, keloid | 3–6 | 21–42 | 15* | 5 | 800 | treatment room | \
INF B, ALLERGY_LIDOCAINE C, PREG C, FST_IV_VI C |
| `ha-filler` | filler | Hyaluronic acid filler | 透明質酸填充 | rolling, boxcar_shallow | 1–2 | \
14–365 | 30* | 10 | 4800 | treatment room | \
PREG B, ALLERGY_HA B, INF B, HSV_ACTIVE B, ACNE_ACTIVE C, AUTOIMMUNE C, ANTICOAG C, KELOID C |
| `dermabrasion` | resurfacing | Dermabrasion | 磨皮術 | boxcar_shallow, rolling | 1–2 | 180–365* | \
60* | 15 | 9800 | procedure room | \
ISO B, FST_IV_VI B*, KELOID B*, ACNE_ACTIVE B, HSV_HX C, ANTICOAG C, PREG C |
| `microdermabrasion` | resurfacing | Microdermabrasion | 微晶磨皮 | pih | 6–10 | 7–14 | 30 | 10 | \
680 | treatment room | ACNE_ACTIVE B, INF B, KELOID C, TAN C, RETINOID_TOP C |
| `co2-fractional` | laser | Fractional CO2 laser resurfacing | 點陣二氧化碳激光 | \
boxcar_shallow, boxcar_deep, rolling, icepick | 1–3 | 28–90 | 45* | 15 | 6800 | \
laser room + CO2 laser | \
HSV_HX B, INF B, TAN B, ISO C, PREG C, FST_IV_VI C, PHOTOSENS C, KELOID C, ANTICOAG C, AUTOIMMUNE C |
| `nafl-1550` | laser | Non-ablative fractional laser 1550 nm | 1550 非剝脫點陣激光 | \
boxcar_shallow, rolling, pih | 3–6 | 21–42 | 30* | 10 | 3800 | laser room + 1550 laser | \
PREG C, HSV_HX C, TAN C, FST_IV_VI C, PHOTOSENS C |
| `fotona-laser-peel` | laser | Fotona laser peeling | Fotona 激光換膚 | boxcar_shallow, rolling | \
2–4 | 28–42* | 20 | 10 | 3200 | laser room + Fotona | \
HSV_HX B, INF B, TAN B, ISO C, PREG C, FST_IV_VI C, KELOID C |
| `pico-laser` | laser | Pico laser (fractional lens) whitening and rejuvenation | 蜂巢皮秒激光 | \
boxcar_shallow, rolling, pih | 4–6 | 28–56 | 30* | 10 | 3500 | laser room + Pico laser | \
PREG C, TAN C, PHOTOSENS C, HSV_HX C |
| `peel-superficial` | peel | Superficial chemical peel (glycolic / salicylic) | 果酸／水楊酸換膚 | \
pih, pie, boxcar_shallow | 4–6 | 14–35 | 30* | 10 | 900 | treatment room | \
INF B, HSV_ACTIVE B, ALLERGY_SALICYLATE B, PREG C, RETINOID_TOP C, TAN C |
| `peel-tca-medium` | peel | Medium-depth TCA peel | 中層化學換膚（TCA） | \
boxcar_shallow, rolling, pih | 1–3 | 90–270* | 45* | 10 | 2800 | treatment room | \
HSV_HX B, TAN B, FST_IV_VI C, ISO C, PREG C, KELOID C |
| `tca-cross` | tca_cross | TCA CROSS | TCA CROSS 點酸 | icepick, boxcar_deep | 3–6 | 14–56 | 20 | \
5 | 1500 | treatment room | INF B, HSV_ACTIVE B, FST_IV_VI C, KELOID C, PREG C |
| `rf-microneedling` | rf_microneedling | Fractional radiofrequency microneedling | 點陣射頻微針 | \
rolling, boxcar_shallow, boxcar_deep, pie | 3–4 | 28–42 | 45* | 15 | 4200 | \
treatment room + RF device | INF B, IMPLANT_DEVICE B*, ACNE_ACTIVE C, PREG C, KELOID C, ANTICOAG C |
| `microneedling` | microneedling | Skin needling (microneedling) | 微針 | \
rolling, boxcar_shallow | 3–6 | 28–42 | 60 | 15 | 1800 | treatment room | \
INF B, ACNE_ACTIVE B, KELOID C, ANTICOAG C, PREG C |
| `botox` | toxin | Botulinum toxin (OnabotulinumtoxinA) | 肉毒桿菌素注射 | hypertrophic, keloid | \
1–4 | 90–180 | 15* | 5 | 2500 | treatment room | INF B, ALLERGY_TOXIN B, NEUROMUSC B, PREG C |
| `subcision` | subcision | Subcision | 皮下分離術 | rolling, boxcar_shallow | 2–4 | 28–42* | 30* | \
15 | 3000 | procedure room | INF B, ANTICOAG C, KELOID C, ACNE_ACTIVE C, PREG C |
| `punch-excision` | punch | Punch excision / elevation (surgery) | 環鑽切除／提升 | \
icepick, boxcar_deep | 1–3 | 28–56 | 45* | 15 | 2200 | procedure room | \
INF B, ACNE_ACTIVE B, ANTICOAG C, KELOID C |
| `hydrafacial` | facial | HydraFacial renewal | HydraFacial 水飛梭 | pih | 1–open | 28–42 | 30 | \
10 | 1280 | treatment room + HydraFacial | INF B, HSV_ACTIVE B, RETINOID_TOP C, TAN C, ISO C |
| `consultation` | consultation | Scar consultation and assessment | 暗瘡印及凹凸洞評估 | \
all eight codes | 1–1 | — | 30 | 0 | 0 | consultation room | none: no declaration needed |
"""

DEVICES_IN_TABLE = {
    "CO2 laser": "co2",
    "1550 laser": "nafl-1550",
    "Fotona": "fotona",
    "Pico laser": "pico",
    "RF device": "rf",
    "HydraFacial": "hydrafacial",
}
DEMO_ACCOUNTS = {
    "manager@example.com": "manager",
    "reception@example.com": "receptionist",
    "doctor@example.com": "practitioner",
    "patient@example.com": None,
}


def _domain_rows() -> list[dict[str, Any]]:
    rows = []
    for line in DOMAIN_TABLE.strip().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        slug, category, name_en, name_zh, suits, sessions, interval, minutes, buffer, hkd, needs, rules = cells
        low, high = sessions.split("–")
        room, _, device = needs.partition(" + ")
        estimated = minutes.endswith("*") or interval.endswith("*")
        interval_min = interval_max = None
        if interval != "—":
            interval_min, interval_max = (int(n) for n in interval.rstrip("*").split("–"))
        rows.append(
            {
                "slug": slug.strip("`"),
                "category": category,
                "name_en": name_en,
                "name_zh_hant": name_zh,
                "suits": set(ScarType.values) if suits == "all eight codes" else set(suits.split(", ")),
                "sessions_min": int(low),
                "sessions_max": None if high == "open" else int(high),
                "interval_days_min": interval_min,
                "interval_days_max": interval_max,
                "duration_minutes": int(minutes.rstrip("*")),
                "buffer_minutes": int(buffer),
                "price": Decimal(hkd),
                "room_kind": room.removesuffix(" room"),
                "device_kind": DEVICES_IN_TABLE[device] if device else None,
                "verified": not estimated,
                "rules": set()
                if rules.startswith("none")
                else {
                    (code, {"B": "block", "C": "caution"}[sev.rstrip("*")], not sev.endswith("*"))
                    for code, sev in (rule.split() for rule in rules.split(", "))
                },
            }
        )
    return rows


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seed(settings: Any) -> Callable[[], str]:
    settings.DEBUG = True

    def run() -> str:
        out = StringIO()
        call_command("seed_demo", stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def seeded(seed: Callable[[], str]) -> str:
    return seed()


def _dump() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the seed could touch, history and m2m
    tables included, timestamps and password hashes included."""
    dump = {}
    for label in ("auth", "patients", "treatments", "booking"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            dump[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return dump


def test_seeding_twice_changes_nothing(seed: Callable[[], str]) -> None:
    first = seed()
    before = _dump()
    second = seed()
    after = _dump()

    assert "Demo clinic seeded." in first
    assert "nothing changed" in second
    assert "created: nothing" in second and "updated: nothing" in second and "deleted: nothing" in second
    assert before.keys() == after.keys()
    for label, rows in before.items():
        assert after[label] == rows, label
    assert len(before["treatments.HistoricalTreatment"]) == 18  # one "created" row each, no more


def test_catalogue_is_domain_md_exactly(seeded: str) -> None:
    expected = {row["slug"]: row for row in _domain_rows()}
    treatments = Treatment.objects.select_related("room_kind", "device_kind").prefetch_related("contraindications")

    assert {t.slug for t in treatments} == set(expected) and len(expected) == 18
    for treatment in treatments:
        row = expected[treatment.slug]
        actual = {
            "slug": treatment.slug,
            "category": treatment.category,
            "name_en": treatment.name_en,
            "name_zh_hant": treatment.name_zh_hant,
            "suits": set(treatment.suits),
            "sessions_min": treatment.sessions_min,
            "sessions_max": treatment.sessions_max,
            "interval_days_min": treatment.interval_days_min,
            "interval_days_max": treatment.interval_days_max,
            "duration_minutes": treatment.duration_minutes,
            "buffer_minutes": treatment.buffer_minutes,
            "price": treatment.price,
            "room_kind": treatment.room_kind.slug,
            "device_kind": treatment.device_kind.slug if treatment.device_kind else None,
            "verified": treatment.verified,
            "rules": {(r.code, r.severity, r.verified) for r in treatment.contraindications.all()},
        }
        assert actual == row, treatment.slug
        assert len(treatment.suits) == len(set(treatment.suits))
        assert treatment.active


def test_catalogue_spot_checks(seeded: str) -> None:
    co2 = Treatment.objects.get(slug="co2-fractional")
    assert (co2.sessions_min, co2.sessions_max) == (1, 3)
    assert (co2.interval_days_min, co2.interval_days_max) == (28, 90)
    assert (co2.duration_minutes, co2.buffer_minutes, co2.price) == (45, 15, Decimal("6800.00"))
    assert (co2.room_kind.slug, co2.device_kind.slug) == ("laser", "co2")
    assert co2.verified is False  # 45* minutes
    rules = {r.code: (r.severity, r.verified) for r in co2.contraindications.all()}
    assert rules["HSV_HX"] == ("block", True)
    assert rules["AUTOIMMUNE"] == ("caution", True)
    assert len(rules) == 10

    assert Treatment.objects.get(slug="hydrafacial").sessions_max is None
    dermabrasion = ContraindicationRule.objects.filter(treatment__slug="dermabrasion")
    assert dermabrasion.get(code="FST_IV_VI").verified is False
    assert dermabrasion.get(code="ISO").verified is True

    consultation = Treatment.objects.get(slug="consultation")
    assert not consultation.contraindications.exists()
    assert consultation.interval_days_min is None and consultation.interval_days_max is None
    assert consultation.suits == ScarType.values
    assert Treatment.objects.first() == consultation  # display order puts it first


def test_every_treatment_has_patient_information_in_both_languages(seeded: str) -> None:
    for treatment in Treatment.objects.all():
        for name in ("description", "pre_care", "aftercare"):
            assert getattr(treatment, f"{name}_en"), (treatment.slug, name)
            assert getattr(treatment, f"{name}_zh_hant"), (treatment.slug, name)
    co2 = Treatment.objects.get(slug="co2-fractional")
    assert "2 weeks" in co2.pre_care_en and "45 minutes" in co2.pre_care_en and "antiviral" in co2.pre_care_en
    assert "兩星期" in co2.pre_care_zh_hant and "45分鐘" in co2.pre_care_zh_hant
    peel = Treatment.objects.get(slug="peel-superficial")
    assert "48 hours" in peel.pre_care_en and "2 weeks" not in peel.pre_care_en
    assert "2 months" in Treatment.objects.get(slug="dermabrasion").pre_care_en


def test_demo_clinic_rooms_and_devices(seeded: str) -> None:
    rooms = Room.objects.filter(active=True)
    assert sorted(rooms.values_list("kind__slug", flat=True)) == [
        "consultation",
        "laser",
        "laser",
        "procedure",
        "treatment",
        "treatment",
    ]
    assert all(room.name_zh_hant for room in rooms)
    devices = Device.objects.filter(active=True)
    assert sorted(devices.values_list("kind__slug", flat=True)) == sorted(
        ["co2", "nafl-1550", "fotona", "pico", "rf", "hydrafacial"]
    )
    assert all(device.name_zh_hant and device.kind.name_zh_hant for device in devices)


def test_every_treatment_has_two_qualified_practitioners_who_work(seeded: str) -> None:
    practitioners = Practitioner.objects.select_related("user").prefetch_related("treatments", "working_hours")
    assert practitioners.count() == 4
    for treatment in Treatment.objects.all():
        qualified = [p for p in practitioners if p.active and treatment in p.treatments.all()]
        assert len(qualified) >= 2, treatment.slug
    for practitioner in practitioners:
        assert practitioner.user.first_name and practitioner.user.last_name
        assert practitioner.title_en and practitioner.title_zh_hant
        assert practitioner.user.is_staff
        assert list(practitioner.user.groups.values_list("name", flat=True)) == ["practitioner"]
        hours = {h.weekday: (h.start, h.end, h.break_start, h.break_end) for h in practitioner.working_hours.all()}
        assert practitioner.working_hours.count() == 6
        assert hours == {
            **{day: (time(10), time(19), time(13), time(14)) for day in range(5)},
            5: (time(10), time(16), None, None),
        }


def test_demo_doctor_is_qualified_for_every_treatment(seeded: str) -> None:
    doctor = Practitioner.objects.get(user__username="doctor@example.com")
    assert set(doctor.treatments.all()) == set(Treatment.objects.all())


def test_demo_accounts_sign_in_with_the_demo_password_and_have_their_roles(seeded: str) -> None:
    for username, group in DEMO_ACCOUNTS.items():
        user = User.objects.get(username=username)
        assert user.email == username
        assert Client().login(request=HttpRequest(), username=username, password="clinic-demo"), username
        assert list(user.groups.values_list("name", flat=True)) == ([group] if group else [])
        assert user.is_staff is (group is not None)
        assert not user.is_superuser


def test_demo_patient_has_a_patient_record(seeded: str) -> None:
    patient = Patient.objects.get(user__username="patient@example.com")
    assert patient.phone == "+85291234567"
    assert patient.preferred_language == "en"
    assert patient.fitzpatrick_type == 3
    assert patient.email == "patient@example.com"
    patient.full_clean()


def test_hong_kong_holidays_for_the_next_twelve_months_are_closures(seeded: str) -> None:
    zone = ZoneInfo("Asia/Hong_Kong")
    today = timezone.localdate()
    closures = list(ClinicClosure.objects.filter(kind=ClinicClosure.Kind.PUBLIC_HOLIDAY))
    assert len(closures) >= 10
    days = {}
    for closure in closures:
        start, end = closure.start.astimezone(zone), closure.end.astimezone(zone)
        assert start.time() == time(0) and end.time() == time(0)
        assert end.date() == start.date() + timedelta(days=1)
        assert today <= start.date() < _one_year_later(today)
        days[start.date()] = closure.reason
    new_year = date(today.year + (today > date(today.year, 1, 1)), 1, 1)
    christmas = date(today.year + (today > date(today.year, 12, 25)), 12, 25)
    assert days[new_year] == "The first day of January"
    assert days[christmas] == "Christmas Day"


def test_holidays_window_is_twelve_months_from_the_given_day() -> None:
    found = hong_kong_holidays(date(2027, 1, 2))
    assert found[0][0] >= date(2027, 1, 2)
    assert found[-1][0] < date(2028, 1, 2)
    assert (date(2027, 12, 25), "Christmas Day") in found
    assert all(day != date(2027, 1, 1) for day, _ in found)
    assert _one_year_later(date(2028, 2, 29)) == date(2029, 2, 28)


def test_a_second_run_restores_edited_demo_values_and_drops_stale_rules(seed: Callable[[], str]) -> None:
    seed()
    co2 = Treatment.objects.get(slug="co2-fractional")
    Treatment.objects.filter(pk=co2.pk).update(price=Decimal("1.00"))
    co2.contraindications.get(code="HSV_HX").delete()
    co2.contraindications.create(code="NEUROMUSC", severity="block")

    output = seed()

    co2.refresh_from_db()
    assert co2.price == Decimal("6800.00")
    assert set(co2.contraindications.values_list("code", flat=True)) >= {"HSV_HX"}
    assert not co2.contraindications.filter(code="NEUROMUSC").exists()
    assert "1 treatments" in output and "1 contraindication rules" in output


def test_password_reset_by_a_second_run_when_it_no_longer_checks(seed: Callable[[], str]) -> None:
    seed()
    manager = User.objects.get(username="manager@example.com")
    manager.set_password("something-else-entirely")
    manager.save(update_fields=["password"])

    output = seed()

    assert Client().login(request=HttpRequest(), username="manager@example.com", password="clinic-demo")
    assert "1 passwords" in output


def test_refuses_to_run_with_debug_off(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())
    assert not Treatment.objects.exists()


def test_runs_with_debug_off_when_forced(settings: Any) -> None:
    settings.DEBUG = False
    call_command("seed_demo", "--force", stdout=StringIO())
    assert Treatment.objects.count() == 18
    assert WorkingHours.objects.count() == 24


def test_demo_history_gives_the_pages_something_to_show(seeded: str) -> None:
    from booking.models import Appointment, Notification
    from patients.models import Patient
    from treatments.models import Assessment, AssessmentPhoto, PlanSession

    emily = Patient.objects.get(user__username="patient@example.com")
    scores = list(
        Assessment.objects.filter(patient=emily).order_by("assessed_on").values_list("quantitative_score", flat=True)
    )
    assert len(scores) == 3 and scores[0] > scores[1] > scores[2]  # improving
    assert AssessmentPhoto.objects.filter(assessment__patient=emily).count() == 9
    sessions = dict(PlanSession.objects.filter(plan__patient=emily).values_list("number", "status"))
    assert sessions[1] == sessions[2] == PlanSession.Status.COMPLETED and sessions[3] == PlanSession.Status.PENDING
    assert Appointment.objects.filter(patient=emily, status=Appointment.Status.COMPLETED).count() == 2
    assert Appointment.objects.filter(start__gte=timezone.now(), status=Appointment.Status.CONFIRMED).exists()
    # Injectable sessions with their lots; one filler lot went to three patients (the Lot recall page).
    from booking.models import InjectableUse
    from demo.history import SHARED_FILLER_LOT
    from treatments.injectables import normalise_lot

    shared = InjectableUse.objects.filter(lot_key=normalise_lot(SHARED_FILLER_LOT))
    assert shared.values("session_record__appointment__patient").distinct().count() == 3
    assert not InjectableUse.objects.filter(expiry__isnull=True).exists()
    assert set(InjectableUse.objects.values_list("unit", flat=True)) == {"ml", "mg", "units"}
    # Nothing is mailed about the invented past.
    assert not Notification.objects.filter(
        status=Notification.Status.PENDING, appointment__start__lt=timezone.now()
    ).exists()
    assert "Demo history seeded" in seeded


def test_demo_history_is_seeded_once(seed: Callable[[], str]) -> None:
    from treatments.models import Assessment

    seed()
    count = Assessment.objects.count()
    assert "Demo history seeded" not in seed()
    assert Assessment.objects.count() == count


def test_demo_year_of_courses_gives_the_reports_groups_to_show(seeded: str) -> None:
    """The reports hide groups under CLINIC_REPORT_MIN_GROUP patients: the demo's
    year of courses (demo/outcomes.py) must give several treatments enough
    patients with a baseline and a later assessment, visits with their session
    records, and the mishaps the operations report counts."""
    from django.conf import settings
    from django.db.models import Count, F, Min

    from booking.models import Appointment, LedgerEntry, Notification, SessionRecord
    from demo.outcomes import PHONE_PREFIX
    from treatments.models import Assessment, PlanSession, TreatmentPlan

    year_ago = timezone.now() - timedelta(days=365)
    patients = Patient.objects.filter(phone__startswith=PHONE_PREFIX)
    assert 40 <= patients.count() <= 60
    assert set(patients.values_list("fitzpatrick_type", flat=True)) >= {3, 4, 5}

    completed = Appointment.objects.filter(
        patient__in=patients, status=Appointment.Status.COMPLETED, start__gte=year_ago
    )
    # A treatment counts when at least the minimum group of patients had a
    # completed visit of it with an assessment before the first such visit and another after it.
    firsts = completed.values("patient_id", "treatment__slug").annotate(first=Min("start"))
    by_treatment: dict[str, int] = {}
    for row in firsts:
        first_day = row["first"].astimezone(ZoneInfo("Asia/Hong_Kong")).date()
        assessed = Assessment.objects.filter(patient_id=row["patient_id"])
        if assessed.filter(assessed_on__lte=first_day).exists() and assessed.filter(assessed_on__gt=first_day).exists():
            by_treatment[row["treatment__slug"]] = by_treatment.get(row["treatment__slug"], 0) + 1
    shown = [slug for slug, n in by_treatment.items() if n >= settings.CLINIC_REPORT_MIN_GROUP]
    assert len(shown) >= 3, by_treatment
    assert {"co2-fractional", "subcision"} <= set(by_treatment)  # the combination is there

    records = SessionRecord.objects.filter(appointment__in=completed)
    assert records.count() == completed.count() >= 100
    assert records.exclude(adverse_events="").count() >= 5
    assert records.filter(category="laser", parameters__has_key="fluence_j_cm2").exists()
    assert not completed.filter(session_record__consent_signatures=None).exists()  # consent before every visit

    # Abandoned and overdue courses, no-shows and late cancellations.
    plans = TreatmentPlan.objects.filter(patient__in=patients)
    assert plans.filter(status=TreatmentPlan.Status.CANCELLED, cancelled_at__isnull=False).count() >= 3
    overdue = PlanSession.objects.filter(
        plan__in=plans.filter(status=TreatmentPlan.Status.ACTIVE),
        status=PlanSession.Status.PENDING,
        window_end__lt=timezone.localdate(),
    )
    assert overdue.values("plan").distinct().count() >= 3
    visits = Appointment.objects.filter(patient__in=patients)
    assert visits.filter(status=Appointment.Status.NO_SHOW).count() >= 3
    late = [
        a
        for a in visits.filter(status=Appointment.Status.CANCELLED, cancelled_by=Appointment.CancelledBy.PATIENT)
        if a.cancelled_at is not None and a.start - a.cancelled_at < settings.CLINIC_CANCELLATION_NOTICE
    ]
    assert len(late) >= 3
    # Bookings were made ahead of the visit (the lead time report), never after it.
    assert not visits.filter(created_at__gt=F("start")).exists()
    leads = [(start - created).days for start, created in visits.values_list("start", "created_at")]
    assert min(leads) <= 1 and max(leads) >= 14  # booked the day before and weeks ahead

    # Nothing about the invented past is left for the worker to send; reminders have their outcomes.
    notes = Notification.objects.filter(patient__in=patients)
    assert not notes.filter(status=Notification.Status.PENDING).exists()
    reminders = notes.filter(kind=Notification.Kind.REMINDER).values("status").annotate(n=Count("id"))
    assert {row["status"] for row in reminders} >= {"sent", "failed", "skipped"}
    assert visits.exclude(patient_confirmed_via="").count() >= 10

    # Money: deposits and payments with gap-free receipt numbers.
    entries = LedgerEntry.objects.filter(patient__in=patients)
    assert entries.filter(kind=LedgerEntry.Kind.PAYMENT, reason=LedgerEntry.Reason.DEPOSIT).exists()
    numbers = sorted(
        number for number in LedgerEntry.objects.values_list("receipt_number", flat=True) if number is not None
    )
    for year in {n[:4] for n in numbers}:
        mine = [int(n[5:]) for n in numbers if n.startswith(year)]
        assert mine == list(range(1, len(mine) + 1)), year


def test_the_demo_reports_have_something_to_show(seeded: str) -> None:
    """What a manager sees on opening the reports of the demo clinic: outcomes
    for several treatments, not a page of hidden groups."""
    from django.contrib.auth.models import AnonymousUser

    from booking.report_operations import operations_report
    from booking.report_outcomes import outcomes_report
    from booking.reports import filters_from

    outcomes = outcomes_report(filters_from({}, user=AnonymousUser(), default_days=365))
    assert len(outcomes.table("score_change").rows) >= 3
    assert len(outcomes.table("adverse_by_treatment").rows) >= 3
    assert outcomes.table("courses").rows
    operations = operations_report(filters_from({}, user=AnonymousUser(), default_days=84))
    assert operations.table("utilisation_practitioners").rows
    assert operations.table("revenue").rows
