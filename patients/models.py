from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from clinic.clock import clinic_today
from patients.validators import validate_e164

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    TRADITIONAL_CHINESE = "zh-hant", "繁體中文"


class FitzpatrickType(models.IntegerChoices):
    I = 1, "I"  # noqa: E741 - the clinical name of the type
    II = 2, "II"
    III = 3, "III"
    IV = 4, "IV"
    V = 5, "V"
    VI = 6, "VI"


class Patient(models.Model):
    """A person the clinic treats. A login is optional: reception can register
    a patient who phoned in; they claim the record later by password reset."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    full_name = models.CharField(_("full name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"))
    phone = models.CharField(
        _("phone"), max_length=20, validators=[validate_e164], help_text="E.164, e.g. +85291234567"
    )
    email = models.EmailField(_("email"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    fitzpatrick_type = models.PositiveSmallIntegerField(
        _("Fitzpatrick type"), choices=FitzpatrickType.choices, null=True, blank=True
    )
    reminders_opt_out = models.BooleanField(_("no reminder emails"), default=False)
    # Set by booking.erasure when a manager erases the patient on request: the
    # contact details and login are gone, the clinical records wait for their
    # retention to end. An erased patient cannot be booked or messaged.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row

    class Meta:
        ordering = ["full_name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="patient_email_unique"),
            models.CheckConstraint(
                condition=models.Q(fitzpatrick_type__isnull=True) | models.Q(fitzpatrick_type__range=(1, 6)),
                name="patient_fitzpatrick_range",
            ),
            models.CheckConstraint(
                condition=models.Q(preferred_language__in=["en", "zh-hant"]), name="patient_language_valid"
            ),
        ]
        indexes = [models.Index(fields=["phone"]), models.Index(Lower("full_name"), name="patient_name_lower")]

    def __str__(self) -> str:
        return f"{self.full_name} (#{self.pk})"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def age_on(self, day: date | None = None) -> int:
        day = day or clinic_today()
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Allergy(models.TextChoices):
    HYALURONIC_ACID = "hyaluronic_acid", _("Hyaluronic acid")
    LIDOCAINE = "lidocaine", _("Lidocaine")
    BOTULINUM_TOXIN = "botulinum_toxin", _("Botulinum toxin")
    SALICYLATE = "salicylate", _("Salicylate")


# The declaration's yes/no questions in questionnaire order; a "yes" to any of them is a risk to flag.
DECLARATION_YES_NO: tuple[str, ...] = (
    "pregnant_or_breastfeeding",
    "keloid_tendency",
    "cold_sore_history",
    "active_cold_sore",
    "anticoagulants",
    "photosensitising_medication",
    "active_skin_infection",
    "recent_sun_exposure",
    "autoimmune_condition",
    "neuromuscular_disorder",
    "active_acne",
    "implanted_electronic_device",
)


class HealthDeclaration(models.Model):
    """A patient's answers to the health questionnaire at one moment.

    Never edited: a change is a new declaration, and screening reads the newest
    (by ``submitted_at``, then id). Staff may enter one from a paper form."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="health_declarations")
    submitted_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff member who entered it from a paper form; empty when the patient submitted it.",
    )
    pregnant_or_breastfeeding = models.BooleanField(_("pregnant or breastfeeding"))
    isotretinoin_last_dose = models.DateField(_("last dose of oral isotretinoin"), null=True, blank=True)
    keloid_tendency = models.BooleanField(_("history of keloid or raised scars"))
    cold_sore_history = models.BooleanField(_("history of cold sores"))
    active_cold_sore = models.BooleanField(_("a cold sore now"))
    anticoagulants = models.BooleanField(_("blood thinners or a bleeding disorder"))
    photosensitising_medication = models.BooleanField(_("medicines or conditions that make skin sun-sensitive"))
    active_skin_infection = models.BooleanField(_("skin infection in the treatment area"))
    recent_sun_exposure = models.BooleanField(_("tan or sunburn in the last 2 months"))
    autoimmune_condition = models.BooleanField(_("autoimmune disease or weakened immunity"))
    neuromuscular_disorder = models.BooleanField(_("neuromuscular disorder"))
    active_acne = models.BooleanField(_("active inflamed acne in the area"))
    topical_retinoid_last_use = models.DateField(_("last use of a retinoid cream"), null=True, blank=True)
    implanted_electronic_device = models.BooleanField(_("pacemaker or other implanted electronic device"))
    allergies = models.JSONField(_("allergies"), default=list, blank=True)
    allergies_other = models.TextField(_("other allergies"), blank=True, max_length=2000)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["patient", "-submitted_at", "-id"], name="declaration_newest")]
        get_latest_by = ["submitted_at", "id"]

    def __str__(self) -> str:
        return f"Declaration #{self.pk} of patient #{self.patient_id} at {self.submitted_at:%Y-%m-%d}"


class AccessLogImmutable(Exception):
    """Something tried to change or delete a row of the access log."""


class AccessEventQuerySet(models.QuerySet["AccessEvent"]):
    """The log is append-only: the application may add rows and read them, never
    change or remove them (on PostgreSQL a trigger refuses it as well)."""

    def update(self, **kwargs: object) -> int:
        raise AccessLogImmutable("The access log cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AccessLogImmutable("The access log cannot be deleted.")


class AccessEvent(models.Model):
    """One read of a patient's clinical data by a staff member: who (kept as
    text too, so the row stays meaningful after the account is removed), in which
    role, what, through which door, when and from where. Written by
    ``patients.services.access_record``; never changed or deleted.

    ``patient`` has no database foreign key and is never cascaded: erasing a
    patient's contact details keeps this row, and neither the retention purge
    nor anything else may take the record of who read a chart with it."""

    class What(models.TextChoices):
        CHART = "chart", _("Patient chart")
        DECLARATIONS = "declarations", _("Health declarations")
        ASSESSMENT = "assessment", _("Scar assessments")
        PHOTO = "photo", _("Photos")
        PLAN = "plan", _("Treatment plans")
        SESSION_RECORD = "session_record", _("Session records")
        PROGRESS = "progress", _("Progress")
        HISTORY = "history", _("Change history")
        EXPORT = "export", _("Copy of the record")
        CONSENT = "consent", _("Consent forms")

    class Door(models.TextChoices):
        PAGE = "page", _("Staff pages")
        API = "api", _("API")
        ADMIN = "admin", _("Administration site")

    at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_role = models.CharField(_("role"), max_length=20)
    actor_name = models.CharField(_("staff member"), max_length=200)
    patient = models.ForeignKey(Patient, on_delete=models.DO_NOTHING, db_constraint=False, related_name="access_events")
    what = models.CharField(_("what"), max_length=20, choices=What.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    door = models.CharField(_("door"), max_length=10, choices=Door.choices)
    client_address = models.CharField(_("client address"), max_length=64, blank=True)

    objects = AccessEventQuerySet.as_manager()

    ROLE_LABELS = {
        "receptionist": _("Receptionist"),
        "practitioner": _("Practitioner"),
        "manager": _("Manager"),
        "staff": _("Administration account"),
    }

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"], name="access_at"),
            models.Index(fields=["patient", "-at", "-id"], name="access_patient_at"),
            models.Index(fields=["actor", "-at", "-id"], name="access_actor_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(door__in=["page", "api", "admin"]), name="access_door_valid"),
            models.CheckConstraint(
                condition=models.Q(
                    what__in=[
                        "chart",
                        "declarations",
                        "assessment",
                        "photo",
                        "plan",
                        "session_record",
                        "progress",
                        "history",
                        "export",
                        "consent",
                    ]
                ),
                name="access_what_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Access #{self.pk}: {self.what} of patient #{self.patient_id} by {self.actor_role}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AccessLogImmutable("The access log cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AccessLogImmutable("The access log cannot be deleted.")

    @property
    def actor_role_label(self) -> str:
        return str(self.ROLE_LABELS.get(self.actor_role, self.actor_role))


class SignedInDevice(models.Model):
    """Where a login is signed in: one API token (a phone app, an integration)
    or one browser session. The account pages and ``GET /api/v1/me/devices/``
    list them; revoking one deletes its token or session, and this row with it.

    ``last_used_at`` is refreshed at most once a minute (``DEVICE_SEEN_EVERY``),
    so a stream of requests does not turn every read into a write. The user
    agent is kept to name the device ("Safari on iPhone"), nothing else."""

    class Kind(models.TextChoices):
        TOKEN = "token", _("App or API")
        SESSION = "session", _("Browser")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_devices")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token = models.OneToOneField(
        "knox.AuthToken", null=True, blank=True, on_delete=models.CASCADE, related_name="device"
    )
    session_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_used_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="token", token__isnull=False, session_key__isnull=True)
                    | models.Q(kind="session", token__isnull=True, session_key__isnull=False)
                ),
                name="device_token_or_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} of user #{self.user_id}"


class ImportantDate(models.Model):
    """A date that matters to the patient (a wedding, a trip in the sun): a
    booking whose usual downtime overlaps it is flagged, never refused
    (treatments.downtime). ``ends_on`` equals ``starts_on`` for a single day.
    Written only by patients.services.important_date_add / _remove."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="important_dates")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    label = models.CharField(_("what"), max_length=80)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["starts_on", "ends_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="important_date_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"important date #{self.pk} of patient #{self.patient_id}"


class ChannelChoice(models.Model):
    """How a patient wants to hear about one topic (patients.channels): each
    row one channel, ``rank`` 1 tried first, the next used when a channel
    fails for good. No rows for a topic: email only, as before channels
    existed. One row with ``channel="off"``: an optional topic turned off.
    Written only by patients.channels.channels_set (and the reminders switch)."""

    class Topic(models.TextChoices):
        CONFIRMATIONS = "confirmations", _("Bookings and changes")
        REMINDERS = "reminders", _("Reminders")
        PLAN_NUDGES = "plan_nudges", _("Next-session reminders")
        WAITLIST_OFFERS = "waitlist_offers", _("Waitlist offers")
        CARE = "care", _("Pre-care and aftercare")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        OFF = "off", _("Off")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="channel_choices")
    topic = models.CharField(max_length=16, choices=Topic.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    rank = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["patient", "topic", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "topic", "channel"], name="channel_choice_once"),
            models.UniqueConstraint(fields=["patient", "topic", "rank"], name="channel_choice_rank_once"),
            models.CheckConstraint(
                condition=models.Q(topic__in=["confirmations", "reminders", "plan_nudges", "waitlist_offers", "care"]),
                name="channel_choice_topic_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms", "whatsapp", "off"]), name="channel_choice_channel_valid"
            ),
            models.CheckConstraint(condition=models.Q(rank__range=(1, 3)), name="channel_choice_rank_range"),
            # "Off" stands alone, and only where a patient may say no: reminders and plan nudges.
            models.CheckConstraint(
                condition=~models.Q(channel="off") | models.Q(rank=1, topic__in=["reminders", "plan_nudges"]),
                name="channel_choice_off_optional",
            ),
        ]

    def __str__(self) -> str:
        return f"patient #{self.patient_id} {self.topic} {self.rank}: {self.channel}"
