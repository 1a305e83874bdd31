"""A lived-in demo clinic: the demo patient's course so far, and a few days of appointments.

``make run`` seeds the catalogue and accounts (demo/clinic.py); this adds what
makes the pages worth looking at: Emily Cheung's three assessments with photos,
a Pico laser plan with two sessions done and the third due now, a patient whose
next session is overdue, filler, steroid and toxin sessions (one filler lot
shared by three patients, for the Lot recall page), and appointments for other patients today and on the
next working days, some already checked in.

Everything goes through the same services the pages use, with ``now`` set to
the day it happened, so the history obeys every booking rule. It is seeded once:
when the demo patient already has an assessment, nothing happens. Emails for
the invented past are marked skipped so the worker does not send them.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from booking import services, waitlist
from booking.availability import find_slots
from booking.models import Appointment, Notification, Practitioner
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import ApplicationError
from patients import channels as patient_channels
from patients.models import DECLARATION_YES_NO, Patient
from patients.services import declaration_submit, patient_create
from treatments import consents
from treatments import services as clinical
from treatments.models import Assessment, PhotoUse, PhotoView, Treatment

DEMO_EMAIL = "patient@example.com"

# (full name, phone, language) of patients registered by phone, without a login.
WALK_INS: tuple[tuple[str, str, str], ...] = (
    ("Wong Ka Ming", "+85262345678", "zh-hant"),
    ("Chloe Lam", "+85263456789", "en"),
    ("陳美玲", "+85264567890", "zh-hant"),
    ("Jason Ho", "+85265678901", "en"),
    ("李嘉欣", "+85266789012", "zh-hant"),
)

# Lesion counts at each assessment of the demo patient, improving with treatment.
COURSE: tuple[dict[str, int], ...] = (
    {"macular": 24, "mild_atrophic": 22, "moderate_atrophic": 14, "punched_out_shallow": 12, "broad_shallow": 6},
    {"macular": 15, "mild_atrophic": 14, "moderate_atrophic": 9, "punched_out_shallow": 8, "broad_shallow": 3},
    {"macular": 6, "mild_atrophic": 8, "moderate_atrophic": 4, "punched_out_shallow": 3, "broad_shallow": 0},
)
PHOTO_VIEWS = (PhotoView.FRONT, PhotoView.LEFT_45, PhotoView.RIGHT_45)
LASER_RECORD: dict[str, Any] = {
    "areas": ["left_cheek", "right_cheek"],
    "anaesthesia": "Topical numbing cream, 45 minutes",
    "pain_score": 3,
    "immediate_reaction": "Mild redness, settled within the hour",
    "parameters": {"wavelength_nm": 1064, "energy_mj": 2.5, "spot_size_mm": 8, "passes": 2},
}


# Injectable sessions of the last weeks (treatments.injectables): one filler lot
# went to three patients, so the Lot recall page has something to find.
SHARED_FILLER_LOT = "HA24-0917"
INJECTABLES: tuple[tuple[int, str, int, dict[str, Any]], ...] = (
    # (walk-in index, treatment, days ago, the record)
    (1, "ha-filler", 49, {"product": "Restylane Volyme", "lot": SHARED_FILLER_LOT, "expiry_days": 420, "amount": 1}),
    (2, "ha-filler", 35, {"product": "Restylane Volyme", "lot": SHARED_FILLER_LOT, "expiry_days": 406, "amount": 0.8}),
    (4, "ha-filler", 21, {"product": "Restylane Volyme", "lot": SHARED_FILLER_LOT, "expiry_days": 392, "amount": 1}),
    (
        3,
        "steroid-injection",
        28,
        {"product": "Kenalog-10 (triamcinolone)", "lot": "KT3391", "expiry_days": 300, "amount": 5},
    ),
    (0, "botox", 42, {"product": "Botox 100 U", "lot": "C8812A", "expiry_days": 180, "amount": 20}),
)
INJECTABLE_PARAMETERS: dict[str, dict[str, Any]] = {
    "ha-filler": {"volume_ml": 1, "sites": 6, "depth": "subdermal", "needle_or_cannula": "cannula"},
    "steroid-injection": {"concentration_mg_ml": 10, "total_dose_mg": 5},
    "botox": {"dilution": "2.5 ml per 100 U", "units": 20, "units_per_site": 2},
}


@dataclass
class History:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n

    def lines(self) -> list[str]:
        return [f"{what}: {n} created" for what, n in sorted(self.created.items())]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clinic_zone())


def _working_day(day: date) -> date:
    """The day itself, or the next day the demo clinic opens (Monday to Saturday, no holiday)."""
    from booking.models import ClinicClosure

    while True:
        start = _at(day, 0)
        closed = ClinicClosure.objects.filter(start__lt=start + timedelta(days=1), end__gt=start).exists()
        if day.weekday() != 6 and not closed:
            return day
        day += timedelta(days=1)


def photo(seed: int, lesions: int, label: str) -> bytes:
    """A simple drawn face with ``lesions`` marks: enough to see the change between visits."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)  # noqa: S311 - dots on a drawing, not a secret
    image = Image.new("RGB", (640, 640), (236, 226, 214))
    draw = ImageDraw.Draw(image)
    draw.ellipse((120, 70, 520, 590), fill=(226, 185, 152), outline=(190, 150, 120), width=4)
    for _ in range(lesions):
        x, y = rng.randint(180, 460), rng.randint(300, 500)
        r = rng.randint(4, 9)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(170, 110, 95))
    draw.text((20, 20), label, fill=(60, 60, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _first_slot(treatment: Treatment, day: date, *, now: datetime, after: time = time(10), **kwargs: Any) -> Any:
    slots = find_slots(
        treatment=treatment, first_date=day, last_date=day + timedelta(days=6), staff=True, now=now, **kwargs
    )
    later = [s for s in slots if s.start.astimezone(clinic_zone()).time() >= after]
    return (later or slots)[0]


def _book(
    *, patient: Patient, treatment: Treatment, day: date, by: User, now: datetime, after: time = time(10), **kwargs: Any
) -> Appointment:
    window = kwargs.pop("window", None)
    slot = _first_slot(treatment, day, now=now, after=after, window=window)
    return services.appointment_book(
        patient=patient,
        treatment=treatment,
        start=slot.start,
        practitioner=Practitioner.objects.get(pk=slot.practitioner_id),
        window=window,
        booked_by=by,
        staff=True,
        source=Appointment.Source.STAFF,
        now=now,
        **kwargs,
    )


def _sign_consent(appointment: Appointment, by: User) -> None:
    """The patient signs every form the visit needs at the desk, witnessed by
    ``by``, just before it starts (the demo's past visits had consent)."""
    for need in consents.missing(patient=appointment.patient, treatment=appointment.treatment):
        services.appointment_consent_sign(
            appointment=appointment,
            version=need.version,
            full_name=appointment.patient.full_name,
            photo_use=[PhotoUse.TEACHING.value],
            language=appointment.patient.preferred_language,
            by=by,
            staff=True,
            now=appointment.start - timedelta(minutes=10),
        )


def _done(appointment: Appointment, by: User, record: dict[str, Any] | None = None) -> None:
    _sign_consent(appointment, by)
    services.appointment_check_in(appointment=appointment, by=by, now=appointment.start)
    services.appointment_complete(appointment=appointment, by=by, record=record or {}, now=appointment.end)


def _assess(patient: Patient, by: User, on: date, number: int, history: History) -> Assessment:
    lesions = COURSE[number]
    assessment = clinical.assessment_record(
        patient=patient,
        by=by,
        fitzpatrick_type=3,
        qualitative_grade=3 if number == 0 else 2,
        pih="moderate" if number == 0 else "mild",
        pie="mild" if number < 2 else "none",
        lesions=lesions,
        types_present=["boxcar_shallow", "rolling", "pih"],
        assessed_on=on,
        notes="Demo assessment",
    )
    history.count("assessments")
    for index, view in enumerate(PHOTO_VIEWS):
        data = photo(seed=number * 10 + index, lesions=sum(lesions.values()), label=f"{view.label} {on.isoformat()}")
        clinical.photo_add(assessment=assessment, view=view, upload=io.BytesIO(data), size=len(data), by=by)
        history.count("photos")
    return assessment


def _declare(patient: Patient, history: History) -> None:
    """A health declaration with nothing to declare."""
    no: dict[str, Any] = dict.fromkeys(DECLARATION_YES_NO, False)
    declaration_submit(patient=patient, **no)
    history.count("health declarations")


def seed_history(*, today: date | None = None) -> History:
    """Seeds the demo clinic's recent past and next days; safe to call again (does nothing then)."""
    history = History()
    patient = Patient.objects.select_related("user").filter(user__username=DEMO_EMAIL).first()
    if patient is None or Assessment.objects.filter(patient=patient).exists():
        return history
    today = today or clinic_today()
    doctor = User.objects.get(username="doctor@example.com")
    reception = User.objects.get(username="reception@example.com")
    pico = Treatment.objects.get(slug="pico-laser")
    peel = Treatment.objects.get(slug="peel-superficial")
    consultation = Treatment.objects.get(slug="consultation")

    # Emily Cheung: assessed 12 weeks ago, two Pico sessions since, the third due now.
    _declare(patient, history)
    start = _working_day(today - timedelta(days=84))
    first = _assess(patient, doctor, start, 0, history)
    plan = clinical.plan_create(
        patient=patient, treatment=pico, sessions=4, by=doctor, assessment=first, start_after=start, today=start
    )
    history.count("treatment plans")
    session_day = start
    for number in (1, 2):
        session = plan.sessions.get(number=number)
        session_day = _working_day(max(session_day, session.window_start))
        appointment = _book(
            patient=patient,
            treatment=pico,
            day=session_day,
            by=reception,
            now=_at(session_day, 8),
            plan_session_id=session.pk,
            window=(session.window_start, session.window_end),
        )
        _done(appointment, doctor, LASER_RECORD)
        history.count("completed appointments")
        if number == 2:
            _assess(patient, doctor, appointment.start.astimezone(clinic_zone()).date(), 1, history)
        session_day = session_day + timedelta(days=35)
    _assess(patient, doctor, _working_day(today - timedelta(days=7)), 2, history)

    # Patients registered by phone; the first one's peel course is overdue.
    others = []
    for full_name, phone, language in WALK_INS:
        other = Patient.objects.filter(phone=phone).first() or patient_create(
            created_by=reception, full_name=full_name, date_of_birth=date(1992, 3, 14), phone=phone,
            preferred_language=language,
        )  # fmt: skip
        others.append(other)
        _declare(other, history)
        history.count("patients without a login")
    _channels(patient, others, history)
    overdue_start = _working_day(today - timedelta(days=70))
    overdue_plan = clinical.plan_create(
        patient=others[0], treatment=peel, sessions=4, by=doctor, start_after=overdue_start, today=overdue_start
    )
    history.count("treatment plans")
    session = overdue_plan.sessions.get(number=1)
    _done(
        _book(
            patient=others[0], treatment=peel, day=overdue_start, by=reception, now=_at(overdue_start, 8),
            plan_session_id=session.pk, window=(session.window_start, session.window_end),
        ),
        doctor,
    )  # fmt: skip
    history.count("completed appointments")

    _injectable_sessions(others, today=today, doctor=doctor, reception=reception, history=history)

    # Today and the next two working days: a few appointments, the morning's already checked in.
    now = timezone.now()
    day = _working_day(today)
    for offset, (other, treatment, hour) in enumerate(
        [(others[1], consultation, 10), (others[2], peel, 11), (others[3], consultation, 15), (others[4], peel, 16)]
    ):
        booking_now = min(now, _at(day, 8)) if day == today else now
        try:
            appointment = _book(
                patient=other, treatment=treatment, day=day, by=reception, now=booking_now, after=time(hour)
            )
        except (ApplicationError, IndexError):  # a full demo day (no free time) must not stop `make run`
            continue
        history.count("upcoming appointments")
        if appointment.start <= now and appointment.start.astimezone(clinic_zone()).date() == today and offset < 2:
            services.appointment_check_in(appointment=appointment, by=reception, now=now)
        if offset == 1:
            day = _working_day(day + timedelta(days=1))
    _waitlist(patient, others, today=today, history=history)
    # The invented past sends no email: only what is still to come may go out.
    Notification.objects.filter(Q(appointment__start__lt=now) | Q(due_at__lt=now - timedelta(hours=1))).filter(
        status=Notification.Status.PENDING
    ).update(status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.TOO_LATE)
    return history


def _channels(patient: Patient, others: list[Patient], history: History) -> None:
    """How the demo's patients want to hear from the clinic (patients/channels.py):
    Emily on WhatsApp first, email if that fails; the patients registered by
    phone (no email) on WhatsApp then SMS, or SMS alone. Seeded whether or not
    SMS_URL and WHATSAPP_URL are set: the outbox passes over a channel the
    clinic does not offer (``make run`` offers both, on the console)."""
    every = list(patient_channels.CHANNELS)
    whatsapp_first = {topic: ["whatsapp", "email"] for topic in patient_channels.TOPICS}
    whatsapp_first["plan_nudges"] = ["email"]
    patient_channels.channels_set(patient=patient, topics=whatsapp_first, offered=every)
    history.count("patients with channels chosen")
    for number, other in enumerate(others):
        order = ["whatsapp", "sms"] if number % 2 == 0 else ["sms"]
        patient_channels.channels_set(
            patient=other, topics=dict.fromkeys(patient_channels.TOPICS, order), offered=every
        )
        history.count("patients with channels chosen")


def _injectable_sessions(
    others: list[Patient], *, today: date, doctor: User, reception: User, history: History
) -> None:
    """Filler, steroid and toxin sessions with their product, lot and expiry."""
    for index, slug, days_ago, used in INJECTABLES:
        treatment = Treatment.objects.get(slug=slug)
        day = _working_day(today - timedelta(days=days_ago))
        try:
            appointment = _book(
                patient=others[index], treatment=treatment, day=day, by=reception, now=_at(day, 8), after=time(14)
            )
        except (ApplicationError, IndexError):  # no free time that week: the demo goes on without it
            continue
        record = {
            "areas": ["left_cheek", "right_cheek"],
            "anaesthesia": "Topical numbing cream, 30 minutes",
            "pain_score": 2,
            "parameters": INJECTABLE_PARAMETERS[slug],
            "injectables": [
                {
                    "product": used["product"],
                    "lot": used["lot"],
                    "expiry": (day + timedelta(days=used["expiry_days"])).isoformat(),
                    "amount": used["amount"],
                }
            ],
        }
        _done(appointment, doctor, record)
        history.count("completed appointments")


def _waitlist(patient: Patient, others: list[Patient], *, today: date, history: History) -> None:
    """Emily waits for a peel in the next two weeks (a free time is held for her
    at once: the offer pages have something to show); a walk-in waits for Pico
    laser evenings, with nothing offered yet (the desk's offer-by-hand page)."""
    wishes = [
        (patient, "peel-superficial", [], 14),
        (others[2], "pico-laser", ["evening"], 21),
    ]
    for who, slug, parts, days in wishes:
        try:
            waitlist.waitlist_join(
                patient=who,
                treatment=Treatment.objects.get(slug=slug),
                earliest=_working_day(today + timedelta(days=1)),
                latest=today + timedelta(days=days),
                parts=parts,
                by=who.user,
                staff=who.user is None,
            )
        except ApplicationError:  # already waiting (seeded before): nothing to add
            continue
        history.count("waitlist entries")
