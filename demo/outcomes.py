"""A year of acne-scar courses, so the managers' reports have groups big enough to show.

The reports (booking.report_outcomes, booking.report_operations) hide any group
of fewer than CLINIC_REPORT_MIN_GROUP patients, so the demo patient and the
walk-ins of demo/history.py alone would leave every table empty. This adds
about fifty invented patients who came over the past year for the clinic's
common scar treatments, alone and combined (subcision then CO2 laser, TCA CROSS
then RF microneedling): a baseline assessment, sessions at the treatment's
interval with plausible device settings, follow-up assessments that mostly
improve (a few do not), the odd adverse event, no-shows, late cancellations,
abandoned and overdue courses, the reminders those visits had and what the
desk took.

Why rows and not the booking services: going through appointment_book,
check-in and complete for some 250 visits takes tens of seconds, and ``make
run`` should stay quick. So the visits are placed here on a grid that keeps
the rules the services and the database keep (working hours, qualified
practitioner, a free room and device of the right kind, no two active visits
of a practitioner, room, device or patient at once, spacing of a patient's
visits, plan windows from treatments.plans, session parameters validated by
treatments.parameters), with history rows written as the services would.
Money goes through booking.ledger (the only writer of the ledger, which
numbers the receipts).

A fixed seed makes the demo the same on every run for the same day; it is
seeded once (when its first patient exists, nothing happens). Every
notification is already sent, failed or skipped, so the worker sends nothing
about the invented past.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from booking import ledger
from booking.models import (
    Appointment,
    Device,
    LedgerEntry,
    Notification,
    NotificationDelivery,
    Practitioner,
    ReceiptCounter,
    Room,
    SessionRecord,
    WorkingHours,
)
from clinic.clock import clinic_zone
from patients.models import DECLARATION_YES_NO, HealthDeclaration, Patient
from treatments import consents
from treatments.models import Assessment, ConsentSignature, PlanSession, Treatment, TreatmentPlan
from treatments.parameters import validate_areas, validate_parameters
from treatments.plans import Anchor, plan_windows
from treatments.scoring import goodman_baron_score

SEED = 21  # issue 21: the reports
PHONE_PREFIX = "+8526900"  # the outcome patients' numbers: +852 6900 0001 ...

# (English name, surname and given names as romanised in Hong Kong, Chinese name, preferred language)
NAMES: tuple[tuple[str, str, str, str], ...] = (
    ("Ivy", "Chan Ka Yee", "陳嘉儀", "en"),
    ("Kelvin", "Lee Chun Hei", "李俊熙", "zh-hant"),
    ("Mandy", "Wong Man Yi", "王敏儀", "zh-hant"),
    ("Jason", "Cheung Wai Lok", "張偉樂", "en"),
    ("Karen", "Lau Hoi Ching", "劉凱晴", "en"),
    ("Tommy", "Ng Chi Fung", "吳志峰", "zh-hant"),
    ("Winnie", "Ho Wing Sze", "何詠詩", "en"),
    ("Eric", "Leung Ka Chun", "梁家俊", "zh-hant"),
    ("Cindy", "Yeung Pui Yan", "楊佩欣", "en"),
    ("Derek", "Tsang Ho Yin", "曾浩然", "en"),
    ("Fiona", "Kwok Sze Wing", "郭思穎", "zh-hant"),
    ("Gary", "Lam Tsz Kin", "林子健", "zh-hant"),
    ("Hazel", "Tang Hiu Tung", "鄧曉彤", "en"),
    ("Ivan", "Mak Ka Wai", "麥家偉", "zh-hant"),
    ("Janice", "Chow Mei Ling", "周美玲", "en"),
    ("Kenneth", "Fung Siu Lung", "馮兆龍", "zh-hant"),
    ("Louisa", "Tam Yan Yan", "譚欣欣", "en"),
    ("Marco", "Lui Chun Kit", "呂俊傑", "en"),
    ("Natalie", "Choi Ching Man", "蔡靜雯", "zh-hant"),
    ("Oscar", "Siu Tin Yau", "蕭天佑", "zh-hant"),
    ("Phoebe", "Kong Lok Yi", "江樂怡", "en"),
    ("Raymond", "Yip Wing Hong", "葉永康", "zh-hant"),
    ("Stephanie", "Law Hoi Yan", "羅凱欣", "en"),
    ("Terence", "Poon Chi Ho", "潘志豪", "en"),
    ("Vivian", "So Wai Man", "蘇慧敏", "zh-hant"),
    ("Wilson", "Au Yeung Ming", "歐陽明", "zh-hant"),
    ("Yvonne", "Chu Suk Yee", "朱淑儀", "en"),
    ("Alan", "Hui Kwok Wah", "許國華", "zh-hant"),
    ("Bonnie", "Wan Hoi Lam", "溫凱琳", "en"),
    ("Calvin", "Pang Ka Lok", "彭家樂", "en"),
    ("Daisy", "Cheng Yuen Ting", "鄭婉婷", "zh-hant"),
    ("Edmond", "Lo Kin Man", "盧健文", "zh-hant"),
    ("Gloria", "Shek Wing Yan", "石穎欣", "en"),
    ("Henry", "Ma Tsz Chung", "馬子聰", "en"),
    ("Iris", "Tong Sin Yi", "唐倩儀", "zh-hant"),
    ("Jacky", "Kwan Chun Yu", "關振宇", "zh-hant"),
    ("Kitty", "Yu Ka Man", "余嘉雯", "en"),
    ("Leo", "Tse Long Hin", "謝朗軒", "en"),
    ("Michelle", "Wu Hiu Lam", "胡曉琳", "zh-hant"),
    ("Nelson", "Liu Wai Kit", "廖偉傑", "zh-hant"),
    ("Olivia", "Sin Tsz Ching", "冼芷晴", "en"),
    ("Patrick", "Chiu Ho Man", "趙浩文", "en"),
    ("Queenie", "Lai Mei Kwan", "黎美君", "zh-hant"),
    ("Ricky", "Chung Kwok Keung", "鍾國強", "zh-hant"),
    ("Sharon", "Fan Hoi Yee", "范凱儀", "en"),
    ("Timothy", "Hung Chi Wai", "洪智偉", "en"),
    ("Venus", "Koo Wing Chi", "顧詠芝", "zh-hant"),
    ("Wing", "Tsui Wing Hang", "徐永恒", "zh-hant"),
)

# Courses: the treatments a patient has, in order, with the sessions planned
# and the days between sessions the doctor aims for (inside the catalogue's interval).
COURSES: dict[str, tuple[tuple[str, int, tuple[int, int]], ...]] = {
    "co2": (("co2-fractional", 3, (42, 60)),),
    "pico": (("pico-laser", 5, (28, 42)),),
    "rf": (("rf-microneedling", 3, (28, 38)),),
    "tca": (("tca-cross", 3, (28, 35)),),
    "subcision+co2": (("subcision", 2, (28, 35)), ("co2-fractional", 2, (42, 56))),
    "tca+rf": (("tca-cross", 2, (28, 35)), ("rf-microneedling", 3, (28, 38))),
}
# How many patients have each course (48 in all: one per name).
COHORTS: tuple[tuple[str, int], ...] = (
    ("co2", 8),
    ("pico", 10),
    ("rf", 8),
    ("tca", 7),
    ("subcision+co2", 8),
    ("tca+rf", 7),
)
# Lesion counts at baseline (Goodman & Baron sub-types, treatments.scoring) each course works on.
LESIONS: dict[str, tuple[str, ...]] = {
    "co2": ("mild_atrophic", "moderate_atrophic", "punched_out_shallow", "broad_shallow", "linear_troughed"),
    "pico": ("macular", "mild_atrophic", "moderate_atrophic", "punched_out_shallow"),
    "rf": ("mild_atrophic", "moderate_atrophic", "broad_shallow", "linear_troughed"),
    "tca": ("punched_out_shallow", "punched_out_deep_normal_base", "punched_out_deep_abnormal_base"),
    "subcision+co2": ("moderate_atrophic", "broad_shallow", "linear_troughed", "broad_deep"),
    "tca+rf": ("moderate_atrophic", "punched_out_deep_normal_base", "punched_out_deep_abnormal_base", "broad_deep"),
}
SCAR_TYPES: dict[str, list[str]] = {
    "co2": ["boxcar_shallow", "rolling"],
    "pico": ["pih", "boxcar_shallow"],
    "rf": ["rolling", "boxcar_shallow"],
    "tca": ["icepick", "boxcar_deep"],
    "subcision+co2": ["rolling", "boxcar_deep"],
    "tca+rf": ["icepick", "rolling"],
}
FITZPATRICK = ((2, 4), (3, 38), (4, 40), (5, 18))  # (type, weight): mostly III-V, as in Hong Kong

ADVERSE_EVENTS: dict[str, tuple[str, ...]] = {
    "co2-fractional": (
        "PIH on left cheek, resolved in 4 weeks with hydroquinone",
        "PIH on both cheeks, resolved in 8 weeks",
        "Prolonged erythema for 3 weeks",
        "Acneiform eruption at day 5, settled with doxycycline",
    ),
    "pico-laser": ("Pinpoint petechiae, settled in 3 days", "Transient PIH on right cheek, resolved in 3 weeks"),
    "rf-microneedling": ("Grid marks for 10 days", "PIH along the jawline, resolved in 5 weeks"),
    "subcision": ("Bruising lasting 10 days", "Small nodule at the entry point, resolved in 4 weeks"),
    "tca-cross": ("Hyperpigmentation at treated scars, resolved in 6 weeks", "Scab shed late (day 12)"),
}
# A session's chance of an adverse event: by treatment, more at higher settings and darker skin.
ADVERSE_BASE = {
    "co2-fractional": 0.09,
    "pico-laser": 0.03,
    "rf-microneedling": 0.05,
    "subcision": 0.06,
    "tca-cross": 0.05,
}
CANCEL_REASONS = ("Unwell", "Work trip", "Family matter", "Forgot another appointment")
ABANDON_REASONS = (
    "Moved overseas for work",
    "Could not take the downtime",
    "Cost: will continue later",
    "Pregnant: course stopped",
    "Happy with the result so far",
)
GRID = timedelta(minutes=15)


@dataclass
class Outcomes:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n

    def lines(self) -> list[str]:
        return [f"{what}: {n} created" for what, n in sorted(self.created.items())]


class Diary:
    """Who and what is taken when: the exclusion constraints' picture, kept in Python
    while the year is laid out (existing appointments of demo/history.py included)."""

    def __init__(self, treatments: dict[str, Treatment]) -> None:
        self.taken: dict[tuple[str, int], list[tuple[datetime, datetime]]] = defaultdict(list)
        self.hours = {(h.practitioner_id, h.weekday): h for h in WorkingHours.objects.all()}
        self.practitioners = {
            slug: list(
                Practitioner.objects.filter(active=True, treatments=treatment)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for slug, treatment in treatments.items()
        }
        self.rooms = defaultdict(list)
        for room in Room.objects.filter(active=True).order_by("pk"):
            self.rooms[room.kind_id].append(room.pk)
        self.devices = defaultdict(list)
        for device in Device.objects.filter(active=True).order_by("pk"):
            self.devices[device.kind_id].append(device.pk)
        for row in Appointment.with_holds.filter(status__in=Appointment.HOLDING_STATUSES).values(
            "practitioner_id", "room_id", "device_id", "patient_id", "start", "end", "blocked_until"
        ):
            self.take(row["practitioner_id"], row["room_id"], row["device_id"], row["patient_id"], dict(row))

    def free(self, key: tuple[str, int], start: datetime, until: datetime) -> bool:
        return all(until <= s or start >= e for s, e in self.taken[key])

    def take(self, practitioner: int, room: int, device: int | None, patient: int, span: dict[str, Any]) -> None:
        for key in (("p", practitioner), ("r", room)) + ((("d", device),) if device else ()):
            self.taken[key].append((span["start"], span["blocked_until"]))
        self.taken[("pt", patient)].append((span["start"], span["end"]))

    def place(
        self, rng: random.Random, treatment: Treatment, day: date, preferred: int, patient: int
    ) -> dict[str, Any] | None:
        """A free time on ``day`` with a qualified practitioner (``preferred`` first), a
        room and device of the treatment's kinds; None when the day is full or closed."""
        zone = clinic_zone()
        length = timedelta(minutes=treatment.duration_minutes)
        held = length + timedelta(minutes=treatment.buffer_minutes)
        qualified = self.practitioners[treatment.slug]
        people = ([preferred] if preferred in qualified else []) + [p for p in qualified if p != preferred]
        for practitioner in people:
            hours = self.hours.get((practitioner, day.weekday()))
            if hours is None:
                continue
            spans = [(hours.start, hours.end)]
            if hours.break_start and hours.break_end:
                spans = [(hours.start, hours.break_start), (hours.break_end, hours.end)]
            starts = []
            for opens, closes in spans:
                moment = datetime.combine(day, opens, tzinfo=zone)
                closing = datetime.combine(day, closes, tzinfo=zone)
                while moment + held <= closing:
                    starts.append(moment)
                    moment += GRID
            rng.shuffle(starts)
            for start in starts:
                until = start + held
                if not self.free(("p", practitioner), start, until):
                    continue
                if not self.free(("pt", patient), start - timedelta(hours=1), start + length + timedelta(hours=1)):
                    continue
                room = next((r for r in self.rooms[treatment.room_kind_id] if self.free(("r", r), start, until)), None)
                if room is None:
                    continue
                device = None
                if treatment.device_kind_id is not None:
                    device = next(
                        (d for d in self.devices[treatment.device_kind_id] if self.free(("d", d), start, until)), None
                    )
                    if device is None:
                        continue
                return {
                    "practitioner_id": practitioner,
                    "room_id": room,
                    "device_id": device,
                    "start": start,
                    "end": start + length,
                    "blocked_until": until,
                }
        return None


def _past_holidays(today: date) -> set[date]:
    """Hong Kong's holidays of the past year: the demo clinic was closed then too."""
    from demo.clinic import hong_kong_holidays

    return {day for day, _ in hong_kong_holidays(today - timedelta(days=400))}


def _working_before(day: date, latest: date, holidays: set[date]) -> date:
    """``day`` or the working day before it, and never after ``latest`` (a plan window's end)."""
    day = min(day, latest)
    while day.weekday() == 6 or day in holidays:
        day -= timedelta(days=1)
    return day


def _weighted(rng: random.Random, choices: tuple[tuple[int, int], ...]) -> int:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _parameters(rng: random.Random, slug: str, fitzpatrick: int) -> tuple[dict[str, Any], float]:
    """Settings a clinician would use, gentler on darker skin; and how intense they
    were (0 gentle .. 1 strong), which raises the chance of an adverse event."""
    dark = fitzpatrick >= 4
    if slug == "co2-fractional":
        fluence = rng.choice((8, 10, 12) if dark else (10, 12, 15, 18, 20))
        density = rng.choice((5, 8, 10) if dark else (10, 15, 20, 25))
        passes = rng.choice((1, 2))
        intensity = (fluence - 8) / 12 * 0.5 + (density - 5) / 20 * 0.5
        return {
            "device": "CO2 Laser",
            "wavelength_nm": 10600,
            "mode": "fractional",
            "fluence_j_cm2": fluence,
            "density_percent": density,
            "spot_size_mm": 0.12,
            "passes": passes,
        }, intensity
    if slug == "pico-laser":
        pico_fluence = rng.choice((0.4, 0.6, 0.8, 1.0, 1.2))
        pico_density = rng.choice((5, 10, 15))
        return {
            "device": "Pico Laser",
            "wavelength_nm": 1064,
            "mode": "fractional lens (MLA)",
            "fluence_j_cm2": pico_fluence,
            "density_percent": pico_density,
            "spot_size_mm": 8,
            "pulse_duration": "450 ps",
            "passes": 2,
        }, (pico_fluence - 0.4) / 0.8
    if slug == "rf-microneedling":
        energy = rng.choice((20, 30, 40) if dark else (30, 40, 50, 60))
        depth = rng.choice((1.5, 2.0, 2.5, 3.0))
        return {
            "device": "RF Microneedling Device",
            "tip": "49-pin insulated",
            "energy_mj_per_pin": energy,
            "needle_depth_mm": depth,
            "passes": rng.choice((2, 3)),
        }, (energy - 20) / 40 * 0.6 + (depth - 1.5) / 1.5 * 0.4
    if slug == "subcision":
        return {"instrument": rng.choice(("18G Nokor needle", "Cannula 22G")), "scars_treated": rng.randint(6, 20)}, 0.5
    concentration = rng.choice((50, 70, 100) if not dark else (50, 70))
    return {
        "concentration_percent": concentration,
        "applicator": "Wooden toothpick",
        "scars_treated": rng.randint(10, 40),
    }, (concentration - 50) / 50


@dataclass
class Visit:
    """One planned visit before it becomes rows."""

    patient: Patient
    treatment: Treatment
    plan_index: int
    number: int
    status: str
    slot: dict[str, Any]
    booked_at: datetime
    source: str
    parameters: dict[str, Any] = field(default_factory=dict)
    areas: list[str] = field(default_factory=list)
    adverse: str = ""
    pain: int = 3
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    reason: str = ""
    appointment: Appointment | None = None  # once written

    def row(self) -> Appointment:
        if self.appointment is None:
            raise RuntimeError("the visit's appointment is written first")
        return self.appointment


@dataclass
class Course:
    patient: Patient
    kind: str
    practitioner: int
    fitzpatrick: int
    response: float
    baseline: dict[str, int]
    grade: int
    plans: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[tuple[date, float]] = field(default_factory=list)  # (day, progress 0..1)


def seed_outcomes(*, today: date) -> Outcomes:
    """Seeds the year of courses; safe to call again (does nothing then)."""
    done = Outcomes()
    if Patient.objects.filter(phone__startswith=PHONE_PREFIX).exists():
        return done
    if not User.objects.filter(username="doctor@example.com").exists():
        return done  # the catalogue and staff are not seeded: nothing to build on
    with transaction.atomic():
        _seed(today=today, done=done)
    return done


def _seed(*, today: date, done: Outcomes) -> None:
    rng = random.Random(SEED)  # noqa: S311 - invented demo data, not a secret
    zone = clinic_zone()
    reception = User.objects.get(username="reception@example.com")
    doctor = User.objects.get(username="doctor@example.com")
    slugs = {slug for course in COURSES.values() for slug, _, _ in course}
    treatments = {t.slug: t for t in Treatment.objects.filter(slug__in=slugs).select_related("room_kind")}
    diary = Diary(treatments)
    holidays = _past_holidays(today)
    staff_user = dict(Practitioner.objects.values_list("pk", "user_id"))
    users = {u.pk: u for u in User.objects.filter(pk__in=staff_user.values())}

    def working(day: date) -> date:
        while day.weekday() == 6 or day in holidays:
            day += timedelta(days=1)
        return day

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    # --- patients ----------------------------------------------------------------------
    kinds = [kind for kind, n in COHORTS for _ in range(n)]
    rng.shuffle(kinds)
    patients: list[Patient] = []
    for index, (given, rest, chinese, language) in enumerate(NAMES[: len(kinds)], start=1):
        full_name = chinese if language == "zh-hant" and index % 3 == 0 else f"{given} {rest} {chinese}"
        patient = Patient(
            full_name=full_name,
            date_of_birth=date(rng.randint(1980, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            phone=f"{PHONE_PREFIX}{index:04d}",
            email=f"{given.lower()}.{rest.split()[0].lower()}{index}@example.com" if index % 2 else "",
            preferred_language=language,
            fitzpatrick_type=_weighted(rng, FITZPATRICK),
        )
        patient._history_date = at(today - timedelta(days=365), 9)  # type: ignore[attr-defined]
        patients.append(patient)
    patients = bulk_create_with_history(patients, Patient, default_user=reception)
    if patients[0].pk is None:  # a backend that does not return keys
        patients = list(Patient.objects.filter(phone__startswith=PHONE_PREFIX).order_by("phone"))
    done.count("report demo patients", len(patients))

    # --- courses laid out in time ------------------------------------------------------
    courses: list[Course] = []
    visits: list[Visit] = []
    lapsed = set(rng.sample(range(len(patients)), 6))  # stop coming: their plan becomes overdue
    abandoned = set(rng.sample(sorted(set(range(len(patients))) - lapsed), 5))  # plan cancelled
    for index, (patient, kind) in enumerate(zip(patients, kinds, strict=True)):
        first_slug = COURSES[kind][0][0]
        fitzpatrick = patient.fitzpatrick_type or 3
        response = 0.0 if rng.random() < 0.12 else rng.uniform(0.35, 0.9)
        baseline = {key: rng.randint(6, 28) for key in LESIONS[kind]}
        grade = 4 if sum(baseline.values()) > 75 else 3
        if kind == "pico":
            grade = 2 if sum(baseline.values()) < 45 else 3
        course = Course(
            patient=patient,
            kind=kind,
            practitioner=rng.choice(diary.practitioners[first_slug]),
            fitzpatrick=fitzpatrick,
            response=response,
            baseline=baseline,
            grade=grade,
        )
        first_visit = working(today - timedelta(days=rng.randint(120, 345)))
        course.assessments.append((first_visit, 0.0))
        floor = at(first_visit, 12)  # nothing is booked before the consultation, or the visit before
        day = first_visit
        total = sum(n for _, n, _ in COURSES[kind])
        done_sessions = 0
        stop_after = rng.randint(1, 2) if index in lapsed or index in abandoned else None
        stopped = False
        for plan_index, (slug, sessions, (low, high)) in enumerate(COURSES[kind]):
            treatment = treatments[slug]
            plan: dict[str, Any] = {
                "treatment": treatment,
                "sessions": sessions,
                "start_after": day,
                "interval": (treatment.interval_days_min or 0, treatment.interval_days_max or 0),
                "completed": [],
                "stopped": False,
            }
            course.plans.append(plan)
            if stopped:
                plan["stopped"] = True
                break
            for number in range(1, sessions + 1):
                if number == 1 and plan_index == 0:
                    target = working(day + timedelta(days=rng.randint(7, 14)))
                elif number == 1:
                    target = working(day + timedelta(days=rng.randint(low, high)))
                    plan["start_after"] = target
                else:
                    target = working(day + timedelta(days=rng.randint(low, high)))
                if target >= today:
                    break
                # The odd missed or cancelled visit first; the session is booked again a week or two later.
                window_end = (
                    plan["start_after"] + timedelta(days=plan["interval"][1] - plan["interval"][0])
                    if number == 1
                    else day + timedelta(days=plan["interval"][1])
                )
                rebook = _working_before(target + timedelta(days=rng.randint(4, 14)), window_end, holidays)
                mishap = rng.random()
                if mishap < 0.16 and target < rebook < today:
                    slot = diary.place(rng, treatment, target, course.practitioner, patient.pk)
                    if slot is not None:
                        booked_at = max(
                            floor, slot["start"] - timedelta(days=rng.randint(7, 21), hours=rng.randint(0, 8))
                        )
                        if mishap < 0.07:
                            status, cancelled_at, by, reason = Appointment.Status.NO_SHOW, None, "", ""
                            diary.take(slot["practitioner_id"], slot["room_id"], slot["device_id"], patient.pk, slot)
                        elif mishap < 0.12:  # late: by phone, less than the notice before
                            status, by = Appointment.Status.CANCELLED, Appointment.CancelledBy.PATIENT
                            cancelled_at = slot["start"] - timedelta(hours=rng.randint(2, 20))
                            reason = rng.choice(CANCEL_REASONS)
                        else:
                            status, by = Appointment.Status.CANCELLED, Appointment.CancelledBy.PATIENT
                            cancelled_at = slot["start"] - timedelta(days=rng.randint(2, 6))
                            reason = rng.choice(CANCEL_REASONS)
                        visits.append(
                            Visit(
                                patient=patient,
                                treatment=treatment,
                                plan_index=plan_index,
                                number=number,
                                status=status,
                                slot=slot,
                                booked_at=booked_at,
                                source=Appointment.Source.STAFF,
                                cancelled_at=cancelled_at,
                                cancelled_by=by,
                                reason=reason,
                            )
                        )
                        if cancelled_at is not None:
                            visits[-1].cancelled_at = cancelled_at = max(cancelled_at, booked_at + timedelta(hours=1))
                        floor = cancelled_at or slot["end"]
                        target = rebook
                slot = None
                for _attempt in range(10):
                    slot = diary.place(rng, treatment, target, course.practitioner, patient.pk)
                    if slot is not None:
                        break
                    target = working(target + timedelta(days=1))
                if slot is None or target >= today:
                    break
                diary.take(slot["practitioner_id"], slot["room_id"], slot["device_id"], patient.pk, slot)
                parameters, intensity = _parameters(rng, slug, fitzpatrick)
                chance = ADVERSE_BASE[slug] * (1 + intensity) * (1.8 if fitzpatrick >= 4 else 1)
                lead = rng.choice((0, 1, 2, 4, 7, 10, 14, 21, 28, 35))
                booked_at = max(
                    floor,
                    min(
                        slot["start"] - timedelta(hours=2),
                        slot["start"] - timedelta(days=lead, hours=rng.randint(0, 6)),
                    ),
                )
                floor = slot["end"]
                visits.append(
                    Visit(
                        patient=patient,
                        treatment=treatment,
                        plan_index=plan_index,
                        number=number,
                        status=Appointment.Status.COMPLETED,
                        slot=slot,
                        booked_at=booked_at,
                        source=Appointment.Source.STAFF,  # no login: they phone or book at the desk
                        parameters=parameters,
                        areas=rng.choice((["left_cheek", "right_cheek"], ["left_cheek", "right_cheek", "temples"])),
                        adverse=rng.choice(ADVERSE_EVENTS[slug]) if rng.random() < chance else "",
                        pain=rng.randint(2, 6),
                    )
                )
                day = target
                plan["completed"].append(target)
                done_sessions += 1
                if done_sessions in (2, 4) and done_sessions < total:
                    course.assessments.append((target, done_sessions / total))  # reviewed before the session
                if stop_after is not None and done_sessions == stop_after:
                    stopped = True
                    plan["stopped"] = True
                    break
            if stopped or len(plan["completed"]) < sessions:
                break
        if not stopped and done_sessions == total:
            review = working(day + timedelta(days=rng.randint(28, 42)))
            if review < today:
                course.assessments.append((review, 1.0))
        courses.append(course)

    # --- assessments and plans ---------------------------------------------------------
    assessment_rows: list[Assessment] = []
    owners: list[tuple[Course, int]] = []
    for course in courses:
        for number, (day, progress) in enumerate(course.assessments):
            drop = course.response * progress
            lesions = {
                key: max(0, round(count * (1 - drop * rng.uniform(0.85, 1.1))))
                for key, count in course.baseline.items()
            }
            score = goodman_baron_score(lesions)
            baseline_score = goodman_baron_score(course.baseline)
            improved = (baseline_score - score) / baseline_score if baseline_score else 0
            grade = course.grade - (2 if improved >= 0.5 else 1 if improved >= 0.25 else 0)
            graded = Assessment(
                patient=course.patient,
                assessed_on=day,
                assessed_by=users[staff_user[course.practitioner]],
                fitzpatrick_type=course.fitzpatrick,
                types_present=SCAR_TYPES[course.kind] + (["pih"] if course.fitzpatrick >= 4 and number == 0 else []),
                qualitative_grade=max(1, grade),
                pih="moderate" if number == 0 and course.fitzpatrick >= 4 else "mild" if progress < 1 else "none",
                pie="mild" if number == 0 else "none",
                notes="Baseline before the course" if number == 0 else "Review",
                quantitative_score=score,
                **lesions,
            )
            graded._history_date = at(day, 10)  # type: ignore[attr-defined]
            graded._history_user = graded.assessed_by
            assessment_rows.append(graded)
            owners.append((course, number))
    assessment_rows = bulk_create_with_history(assessment_rows, Assessment, default_user=doctor)
    Assessment.objects.bulk_update(  # auto_now_add wrote today over the invented past
        [_with_created(row, at(row.assessed_on, 10)) for row in assessment_rows], ["created_at", "updated_at"]
    )
    baselines = {id(course): row for (course, number), row in zip(owners, assessment_rows, strict=True) if number == 0}
    done.count("report demo assessments", len(assessment_rows))

    plan_rows: list[TreatmentPlan] = []
    plan_owner: list[tuple[Course, dict[str, Any]]] = []
    for index, course in enumerate(courses):
        for plan in course.plans:
            if not plan["completed"] and plan["stopped"] and plan is not course.plans[0]:
                continue  # never started: the second plan was not made
            abandoned_now = plan["stopped"] and index in abandoned
            complete = len(plan["completed"]) == plan["sessions"]
            last = plan["completed"][-1] if plan["completed"] else plan["start_after"]
            row = TreatmentPlan(
                patient=course.patient,
                treatment=plan["treatment"],
                assessment=baselines[id(course)],
                start_after=plan["start_after"],
                status=TreatmentPlan.Status.COMPLETED
                if complete
                else TreatmentPlan.Status.CANCELLED
                if abandoned_now
                else TreatmentPlan.Status.ACTIVE,
                created_by=users[staff_user[course.practitioner]],
                cancelled_at=at(working(last + timedelta(days=rng.randint(20, 40))), 12)
                if abandoned_now and not complete
                else None,
                cancellation_reason=rng.choice(ABANDON_REASONS) if abandoned_now and not complete else "",
            )
            if row.cancelled_at is not None and row.cancelled_at.date() >= today:
                row.cancelled_at = at(today - timedelta(days=1), 12)
            row._history_date = at(plan["start_after"], 9)  # type: ignore[attr-defined]
            plan["row"] = row
            plan_rows.append(row)
            plan_owner.append((course, plan))
    plan_rows = bulk_create_with_history(plan_rows, TreatmentPlan, default_user=doctor)
    for (_, plan), row in zip(plan_owner, plan_rows, strict=True):
        plan["row"] = _with_created(row, at(plan["start_after"], 9))
    TreatmentPlan.objects.bulk_update(plan_rows, ["created_at", "updated_at"])  # auto_now_add wrote today
    done.count("report demo treatment plans", len(plan_rows))

    session_rows: list[PlanSession] = []
    for _, plan in plan_owner:
        completed = plan["completed"]
        low, high = plan["interval"]
        anchors = [Anchor(completed_on=completed[i] if i < len(completed) else None) for i in range(plan["sessions"])]
        windows = plan_windows(start_after=plan["start_after"], interval_min=low, interval_max=high, anchors=anchors)
        cancelled = plan["row"].status == TreatmentPlan.Status.CANCELLED
        for number, window in enumerate(windows, start=1):
            is_done = number <= len(completed)
            state = (
                PlanSession.Status.COMPLETED
                if is_done
                else PlanSession.Status.CANCELLED
                if cancelled
                else PlanSession.Status.PENDING
            )
            session = PlanSession(
                plan=plan["row"],
                number=number,
                window_start=window.start,
                window_end=window.end,
                status=state,
                booked_on=completed[number - 1] if is_done else None,
                completed_on=completed[number - 1] if is_done else None,
            )
            session._history_date = at(completed[number - 1] if is_done else plan["start_after"], 18)  # type: ignore[attr-defined]
            session_rows.append(session)
    session_rows = bulk_create_with_history(session_rows, PlanSession, default_user=doctor)
    session_by = {(s.plan_id, s.number): s for s in session_rows}

    # --- appointments, session records, consent -----------------------------------------
    course_of = {course.patient.pk: course for course in courses}
    appointment_rows = []
    for visit in visits:
        course = course_of[visit.patient.pk]
        plan = course.plans[visit.plan_index]
        completed = visit.status == Appointment.Status.COMPLETED
        booked = Appointment(
            patient=visit.patient,
            treatment=visit.treatment,
            status=visit.status,
            source=visit.source,
            plan_session=session_by.get((plan["row"].pk, visit.number)) if "row" in plan else None,
            booked_by=reception,
            sequence=2 if completed else 1,
            checked_in_at=visit.slot["start"] - timedelta(minutes=rng.randint(2, 15)) if completed else None,
            completed_at=visit.slot["end"] if completed else None,
            cancelled_at=visit.cancelled_at,
            cancelled_by=visit.cancelled_by,
            cancelled_by_user=reception if visit.cancelled_at else None,
            cancellation_reason=visit.reason,
            **visit.slot,
        )
        booked._history_date = visit.slot["end"]  # type: ignore[attr-defined]
        appointment_rows.append(booked)
    appointment_rows = bulk_create_with_history(appointment_rows, Appointment, default_user=reception)
    for visit, row in zip(visits, appointment_rows, strict=True):
        visit.appointment = row
    Appointment.objects.bulk_update(
        [_with(row, created_at=visit.booked_at) for visit, row in zip(visits, appointment_rows, strict=True)],
        ["created_at"],
    )
    done.count("report demo appointments", len(appointment_rows))

    Patient.objects.bulk_update(  # registered the morning of their consultation, not today
        [_with_created(course.patient, at(course.assessments[0][0], 9, 30)) for course in courses],
        ["created_at", "updated_at"],
    )

    # Every patient signed the forms their treatments need at the desk before the first visit.
    needs = consents.needs([(0, t) for t in treatments.values()])
    versions = {slug: [need.version for need in needs[(0, t.pk)]] for slug, t in treatments.items()}
    first_signed: dict[tuple[int, int], datetime] = {}
    for visit in visits:
        for version in versions[visit.treatment.slug]:
            key = (visit.patient.pk, version.pk)
            first_signed[key] = min(first_signed.get(key, visit.slot["start"]), visit.slot["start"])
    patient_by_pk = {p.pk: p for p in patients}
    version_by_pk = {v.pk: v for vs in versions.values() for v in vs}
    signatures = []
    for (patient_pk, version_pk), start in sorted(first_signed.items()):
        patient = patient_by_pk[patient_pk]
        version = version_by_pk[version_pk]
        language = "zh-hant" if patient.preferred_language == "zh-hant" else "en"
        text = consents.consent_text(version, language)
        signature = ConsentSignature(
            patient=patient,
            version=version,
            language=language,
            text=text,
            text_sha256=consents.text_sha256(text),
            full_name=patient.full_name,
            photo_teaching=True,
            channel=ConsentSignature.Channel.DESK,
            signed_at=start - timedelta(minutes=20),
            signed_by=reception,
            witnessed_by=reception,
        )
        signature._history_date = signature.signed_at  # type: ignore[attr-defined]
        signatures.append(signature)
    signatures = bulk_create_with_history(signatures, ConsentSignature, default_user=reception)
    signed = {(s.patient_id, s.version_id): s for s in signatures}
    done.count("report demo consent signatures", len(signatures))

    declarations = []
    for patient in patients:
        starts = [v.slot["start"] for v in visits if v.patient.pk == patient.pk]
        answers: dict[str, Any] = dict.fromkeys(DECLARATION_YES_NO, False)
        declaration = HealthDeclaration(
            patient=patient, submitted_at=(min(starts) if starts else at(today, 9)) - timedelta(days=3), **answers
        )
        declaration._history_date = declaration.submitted_at  # type: ignore[attr-defined]
        declarations.append(declaration)
    declarations = bulk_create_with_history(declarations, HealthDeclaration, default_user=reception)
    declared = {d.patient_id: d for d in declarations}

    records = []
    record_visits = [v for v in visits if v.status == Appointment.Status.COMPLETED]
    for visit in record_visits:
        parameters, errors = validate_parameters(visit.treatment.category, visit.parameters)
        areas, area_errors = validate_areas(visit.areas)
        if errors or area_errors:  # the demo's own settings are wrong: fail loudly, never store them
            raise ValueError(f"demo session parameters for {visit.treatment.slug}: {errors or area_errors}")
        version_text = ", ".join(f"{v.form.slug} v{v.number}" for v in versions[visit.treatment.slug])[:200]
        record = SessionRecord(
            appointment=visit.row(),
            category=visit.treatment.category,
            areas=areas,
            anaesthesia="Topical numbing cream, 45 minutes"
            if visit.treatment.category != "subcision"
            else "Local anaesthetic, lidocaine 1% with adrenaline",
            pain_score=visit.pain,
            immediate_reaction="Expected redness and swelling",
            adverse_events=visit.adverse,
            parameters=parameters,
            health_declaration=declared[visit.patient.pk],
            recorded_by=users[staff_user[visit.slot["practitioner_id"]]],
            recorded_at=visit.slot["end"],
            consent_version=version_text,
        )
        record._history_date = visit.slot["end"]  # type: ignore[attr-defined]
        records.append(record)
    records = bulk_create_with_history(records, SessionRecord, default_user=doctor)
    links = [
        SessionRecord.consent_signatures.through(
            sessionrecord_id=record.pk, consentsignature_id=signed[(visit.patient.pk, version.pk)].pk
        )
        for visit, record in zip(record_visits, records, strict=True)
        for version in versions[visit.treatment.slug]
    ]
    SessionRecord.consent_signatures.through.objects.bulk_create(links)
    done.count("report demo session records", len(records))

    _notifications(rng, visits, done)
    _money(rng, record_visits, reception, done)


def _with(row: Appointment, **values: Any) -> Appointment:
    for name, value in values.items():
        setattr(row, name, value)
    return row


def _channel_of(patient: Patient) -> str:
    """WhatsApp for most, SMS for some, email for those who gave one and like it."""
    digit = int(patient.phone[-1])
    if patient.email and digit % 4 == 1:
        return Notification.Channel.EMAIL
    return Notification.Channel.SMS if digit % 3 == 0 else Notification.Channel.WHATSAPP


def _notifications(rng: random.Random, visits: list[Visit], done: Outcomes) -> None:
    """The booking confirmation and the reminders (CLINIC_REMINDER_OFFSETS) each
    visit had: sent with the provider's delivery receipts, a few failed, the
    rest skipped (cancelled before, or booked too late); some patients
    answered a reminder with "I'm coming"."""
    rows: list[Notification] = []
    deliveries: list[tuple[int, dict[str, Any]]] = []
    confirmed: list[Appointment] = []
    offsets = [int(offset.total_seconds() // 60) for offset in settings.CLINIC_REMINDER_OFFSETS]

    def delivered(channel: str, at: datetime, failed: bool = False) -> dict[str, Any]:
        provider = {"whatsapp": "wamid.DEMO", "sms": "SMDEMO", "email": "<demo."}[
            channel
        ] + f"{rng.getrandbits(64):016x}"
        if channel == "email":
            provider += "@clinic.example>"
        if failed:
            code = {"whatsapp": "131026", "sms": "30006", "email": "550"}[channel]
            return {"channel": channel, "provider_id": provider, "status": "failed", "permanent": True,
                    "error_code": code, "error": "Message undeliverable", "at": at}  # fmt: skip
        status = "read" if channel == "whatsapp" and rng.random() < 0.7 else "delivered"
        return {"channel": channel, "provider_id": provider, "status": status, "at": at}

    for visit in visits:
        appointment = visit.row()
        channel = _channel_of(visit.patient)
        booked = visit.booked_at
        sent_at = booked + timedelta(minutes=1)
        rows.append(
            Notification(
                kind=Notification.Kind.CONFIRMATION, channel=channel, patient=visit.patient, appointment=appointment,
                due_at=booked, next_attempt_at=booked, status=Notification.Status.SENT, attempts=1, sent_at=sent_at,
            )
        )  # fmt: skip
        deliveries.append((len(rows) - 1, delivered(channel, sent_at)))
        for offset in offsets:
            due = appointment.start - timedelta(minutes=offset)
            row = Notification(
                kind=Notification.Kind.REMINDER, channel=channel, patient=visit.patient, appointment=appointment,
                offset_minutes=offset, due_at=due, next_attempt_at=due,
            )  # fmt: skip
            if due <= booked:
                row.status, row.skip_reason = Notification.Status.SKIPPED, Notification.SkipReason.OFFSET_PASSED
            elif visit.cancelled_at is not None and visit.cancelled_at <= due:
                row.status, row.skip_reason = Notification.Status.SKIPPED, Notification.SkipReason.CANCELLED
            elif rng.random() < 0.05:
                row.status, row.attempts, row.last_error = Notification.Status.FAILED, 1, "Message undeliverable"
                rows.append(row)
                deliveries.append((len(rows) - 1, delivered(channel, due, failed=True)))
                continue
            else:
                row.status, row.attempts, row.sent_at = Notification.Status.SENT, 1, due
                rows.append(row)
                deliveries.append((len(rows) - 1, delivered(channel, due)))
                if (
                    offset == max(offsets)
                    and channel != Notification.Channel.EMAIL
                    and visit.status != Appointment.Status.CANCELLED
                    and rng.random() < 0.55
                ):
                    appointment.patient_confirmed_at = due + timedelta(minutes=rng.randint(3, 240))
                    appointment.patient_confirmed_via = channel
                    confirmed.append(appointment)
                continue
            rows.append(row)
    rows = Notification.objects.bulk_create(rows)
    Notification.objects.bulk_update([_with_created(row, row.due_at) for row in rows], ["created_at"])
    moments = [values.pop("at") for _, values in deliveries]
    delivery_rows = NotificationDelivery.objects.bulk_create(
        [NotificationDelivery(notification=rows[index], **values) for index, values in deliveries]
    )
    NotificationDelivery.objects.bulk_update(  # auto_now_add wrote today over the invented past
        [_with_created(row, moment) for row, moment in zip(delivery_rows, moments, strict=True)],
        ["created_at", "updated_at"],
    )
    Appointment.objects.bulk_update(confirmed, ["patient_confirmed_at", "patient_confirmed_via"])
    done.count("report demo notifications", len(rows))


def _with_created(row: Any, moment: datetime) -> Any:
    row.created_at = moment
    if hasattr(row, "updated_at"):
        row.updated_at = moment
    return row


def _money(rng: random.Random, visits: list[Visit], by: User, done: Outcomes) -> None:
    """What the desk took: a deposit when a laser visit was booked (for some), then the
    treatment's charge and its payment on the day.

    Written in bulk rather than through booking.ledger.entry_record (some 400
    rows at a few queries each doubled the seed's time), so this keeps its
    rules by hand: a positive amount, a desk method on payments only, a unique
    key, and receipt numbers taken as one block from each year's counter
    (ledger.receipt_number_next's counter, locked), gap-free in time order."""
    methods = (
        LedgerEntry.Method.CARD, LedgerEntry.Method.FPS, LedgerEntry.Method.OCTOPUS,
        LedgerEntry.Method.ALIPAY_HK, LedgerEntry.Method.WECHAT_PAY, LedgerEntry.Method.CASH,
    )  # fmt: skip
    rows: list[LedgerEntry] = []

    def add(visit: Visit, kind: str, amount: Decimal, reason: str, moment: datetime, key: str) -> None:
        method = rng.choice(methods) if kind == LedgerEntry.Kind.PAYMENT else ""
        rows.append(
            LedgerEntry(
                patient=visit.patient, kind=kind, method=method, reason=reason, amount=ledger.money(amount),
                appointment=visit.row(), idempotency_key=f"demo-outcomes-{visit.row().uid}-{key}", recorded_by=by,
                created_at=moment,
            )
        )  # fmt: skip

    for visit in visits:
        price = visit.treatment.price
        deposit = ledger.deposit_for(visit.treatment) or Decimal("0")
        if deposit and rng.random() < 0.6:
            add(visit, LedgerEntry.Kind.PAYMENT, deposit, LedgerEntry.Reason.DEPOSIT, visit.booked_at, "deposit")
        else:
            deposit = Decimal("0")
        add(visit, LedgerEntry.Kind.CHARGE, price, LedgerEntry.Reason.TREATMENT, visit.slot["end"], "charge")
        if price - deposit > 0:
            moment = visit.slot["end"] + timedelta(minutes=5)
            add(visit, LedgerEntry.Kind.PAYMENT, price - deposit, LedgerEntry.Reason.TREATMENT, moment, "payment")
    rows.sort(key=lambda row: row.created_at)
    receipted = [row for row in rows if row.kind in ledger.RECEIPTED]
    by_year: dict[int, list[LedgerEntry]] = defaultdict(list)
    for row in receipted:
        by_year[row.created_at.astimezone(clinic_zone()).year].append(row)
    for year, entries in sorted(by_year.items()):
        ReceiptCounter.objects.get_or_create(year=year)
        counter = ReceiptCounter.objects.select_for_update().get(year=year)
        for number, row in enumerate(entries, start=counter.last + 1):
            row.receipt_number = f"{year}-{number:06d}"
        counter.last += len(entries)
        counter.save(update_fields=["last"])
    LedgerEntry.objects.bulk_create(rows)
    done.count("report demo ledger entries", len(rows))
