"""Minimal valid objects. Tests state only what matters to them."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from booking.models import (
    Appointment,
    ClinicClosure,
    Device,
    Notification,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from patients.models import HealthDeclaration, Patient
from treatments.models import (
    LESION_KEYS,
    Assessment,
    Category,
    ConsentForm,
    ConsentVersion,
    ContraindicationRule,
    DeviceKind,
    RoomKind,
    Treatment,
)
from treatments.scoring import goodman_baron_score


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def role(obj: User, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            obj.groups.add(Group.objects.get(name=extracted))
            obj.is_staff = True
            obj.save(update_fields=["is_staff"])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    user = factory.SubFactory(UserFactory)
    full_name = factory.Faker("name")
    date_of_birth = date(1995, 5, 17)
    phone = factory.Sequence(lambda n: f"+85261{n % 1000000:06d}")
    email = factory.LazyAttribute(lambda p: p.user.email if p.user else "")
    preferred_language = "en"
    fitzpatrick_type = 3


class HealthDeclarationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthDeclaration

    patient = factory.SubFactory(PatientFactory)
    pregnant_or_breastfeeding = False
    isotretinoin_last_dose = None
    keloid_tendency = False
    cold_sore_history = False
    active_cold_sore = False
    anticoagulants = False
    photosensitising_medication = False
    active_skin_infection = False
    recent_sun_exposure = False
    autoimmune_condition = False
    neuromuscular_disorder = False
    active_acne = False
    topical_retinoid_last_use = None
    implanted_electronic_device = False
    allergies = factory.LazyFunction(list)


class RoomKindFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoomKind
        django_get_or_create = ("slug",)

    slug = "treatment"
    name_en = factory.LazyAttribute(lambda k: f"{k.slug.title()} room")
    name_zh_hant = "治療室"


class DeviceKindFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceKind
        django_get_or_create = ("slug",)

    slug = "pico"
    name_en = factory.LazyAttribute(lambda k: f"{k.slug.upper()} laser")
    name_zh_hant = "激光"


class TreatmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Treatment
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"treatment-{n}")
    category = Category.PEEL
    name_en = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())
    name_zh_hant = "療程"
    suits = factory.LazyFunction(lambda: ["pih"])
    duration_minutes = 30
    buffer_minutes = 0
    sessions_min = 3
    sessions_max = 6
    interval_days_min = 14
    interval_days_max = 35
    price = Decimal("900.00")
    room_kind = factory.SubFactory(RoomKindFactory)
    device_kind = None


class ContraindicationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContraindicationRule

    treatment = factory.SubFactory(TreatmentFactory)
    code = "PREG"
    severity = "block"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    name_en = factory.Sequence(lambda n: f"Room {n}")
    kind = factory.SubFactory(RoomKindFactory)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    name_en = factory.Sequence(lambda n: f"Device {n}")
    kind = factory.SubFactory(DeviceKindFactory)


class PractitionerFactory(factory.django.DjangoModelFactory):
    """Works Monday to Saturday 10:00-19:00 with lunch 13:00-14:00 unless
    ``hours=False``; qualified for ``treatments=[...]``."""

    class Meta:
        model = Practitioner
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role="practitioner")
    title_en = "Dermatologist"
    title_zh_hant = "皮膚科醫生"

    @factory.post_generation
    def treatments(obj: Practitioner, create: bool, extracted: list[Treatment] | None, **kwargs: object) -> None:
        if create and extracted:
            obj.treatments.set(extracted)

    @factory.post_generation
    def hours(obj: Practitioner, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create and extracted is not False:
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    practitioner=obj,
                    weekday=day,
                    start=time(10),
                    end=time(19),
                    break_start=time(13),
                    break_end=time(14),
                )
                for day in range(6)
            )


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    practitioner = factory.SubFactory(PractitionerFactory)
    start = factory.LazyFunction(timezone.now)
    end = factory.LazyAttribute(lambda t: t.start + timedelta(hours=4))
    reason = "Conference"


class ClinicClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicClosure

    start = factory.LazyFunction(timezone.now)
    end = factory.LazyAttribute(lambda c: c.start + timedelta(hours=8))
    kind = ClinicClosure.Kind.WEATHER
    reason = "Typhoon signal No. 8"


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment row as the database holds it; bypasses the booking
    services, so tests of the constraints can write any combination."""

    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    treatment = factory.SubFactory(TreatmentFactory)
    practitioner = factory.SubFactory(PractitionerFactory)
    room = factory.SubFactory(RoomFactory)
    device = None
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    end = factory.LazyAttribute(lambda a: a.start + timedelta(minutes=a.treatment.duration_minutes))
    blocked_until = factory.LazyAttribute(lambda a: a.end + timedelta(minutes=a.treatment.buffer_minutes))
    status = Appointment.Status.CONFIRMED


class AssessmentFactory(factory.django.DjangoModelFactory):
    """An assessment row with its score computed as the service would."""

    class Meta:
        model = Assessment

    patient = factory.SubFactory(PatientFactory)
    assessed_on = factory.LazyFunction(timezone.localdate)
    fitzpatrick_type = 3
    qualitative_grade = 3
    pih = "mild"
    pie = "none"
    macular = 12
    punched_out_shallow = 25
    quantitative_score = factory.LazyAttribute(
        lambda a: goodman_baron_score(
            {key: getattr(a, key, 0) for key in LESION_KEYS}, getattr(a, "keloid_area_cm2", Decimal("0"))
        )
    )


class NotificationFactory(factory.django.DjangoModelFactory):
    """An outbox row, due now, for a new appointment (bypasses the services)."""

    class Meta:
        model = Notification

    appointment = factory.SubFactory(AppointmentFactory)
    patient = factory.LazyAttribute(lambda n: n.appointment.patient)
    kind = Notification.Kind.CONFIRMATION
    due_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyAttribute(lambda n: n.due_at)


class ConsentFormFactory(factory.django.DjangoModelFactory):
    """A consent form covering ``categories`` (peels by default, like
    TreatmentFactory's treatments)."""

    class Meta:
        model = ConsentForm
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"consent-{n}")
    title_en = factory.LazyAttribute(lambda f: f"Consent to {f.slug}")
    title_zh_hant = "治療同意書"
    categories = factory.LazyFunction(lambda: [Category.PEEL.value])


class ConsentVersionFactory(factory.django.DjangoModelFactory):
    """A published version (pass ``published_at=None`` for a draft)."""

    class Meta:
        model = ConsentVersion

    form = factory.SubFactory(ConsentFormFactory)
    number = factory.LazyAttribute(lambda v: v.form.versions.count() + 1)
    summary_en = "What the treatment does."
    summary_zh_hant = "療程簡介。"
    risks_en = "Redness and swelling."
    risks_zh_hant = "泛紅及腫脹。"
    alternatives_en = "Other treatments, or none."
    alternatives_zh_hant = "其他療程，或不接受治療。"
    aftercare_en = "Sunscreen every day."
    aftercare_zh_hant = "每日塗防曬。"
    photos_en = "Photos are part of your record."
    photos_zh_hant = "照片屬於您的紀錄。"
    keeps_earlier_signatures = False
    published_at = factory.LazyFunction(timezone.now)
