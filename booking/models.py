"""Who and what can be booked, and the appointments that hold them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from booking.constraints import PostgresExclusionConstraint, TsTzRange
from clinic import formats
from patients.models import HealthDeclaration, Patient
from treatments.models import Bilingual, Category, DeviceKind, PlanSession, PreCareInstruction, RoomKind, Treatment

if TYPE_CHECKING:
    from django.contrib.auth.models import User


BIO_MAX_LENGTH = 800


def _practitioner_photo_path(instance: Practitioner, filename: str) -> str:
    # booking.profiles names files with a random uuid4; this only adds the folder.
    return f"practitioners/{filename}"


class Practitioner(Bilingual, models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practitioner")
    title_en = models.CharField(max_length=100, blank=True, help_text="e.g. Dermatologist, Aesthetic nurse")
    title_zh_hant = models.CharField(max_length=100, blank=True)
    bio_en = models.TextField(
        blank=True, max_length=BIO_MAX_LENGTH, help_text="A few sentences for patients: training, what they focus on."
    )
    bio_zh_hant = models.TextField(blank=True, max_length=BIO_MAX_LENGTH)
    # Public content, unlike clinical photos: written only by booking.profiles (checked,
    # re-encoded without metadata, random name) and served by the public site's own view,
    # never by a media URL that would expose the private storage.
    photo = models.ImageField(upload_to=_practitioner_photo_path, max_length=200, blank=True, editable=False)
    treatments = models.ManyToManyField(Treatment, blank=True, related_name="practitioners")
    active = models.BooleanField(default=True)

    history = HistoricalRecords(m2m_fields=[treatments])

    class Meta:
        ordering = ["user__last_name", "user__first_name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Room(Bilingual, models.Model):
    name_en = models.CharField(max_length=100)
    name_zh_hant = models.CharField(max_length=100, blank=True)
    kind = models.ForeignKey(RoomKind, on_delete=models.PROTECT, related_name="rooms")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name_en"]
        constraints = [models.UniqueConstraint(fields=["name_en"], name="room_name_unique")]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.kind})"


class Device(Bilingual, models.Model):
    name_en = models.CharField(max_length=100)
    name_zh_hant = models.CharField(max_length=100, blank=True)
    kind = models.ForeignKey(DeviceKind, on_delete=models.PROTECT, related_name="devices")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name_en"]
        constraints = [models.UniqueConstraint(fields=["name_en"], name="device_name_unique")]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.kind})"


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WorkingHours(models.Model):
    """One weekly working period in clinic-local wall-clock time, with an
    optional break. A weekday may have several non-overlapping periods."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()
    break_start = models.TimeField(null=True, blank=True)
    break_end = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["practitioner", "weekday", "start"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="hours_start_before_end"),
            models.CheckConstraint(condition=models.Q(weekday__range=(0, 6)), name="hours_weekday_valid"),
            models.CheckConstraint(
                condition=(models.Q(break_start__isnull=True) & models.Q(break_end__isnull=True))
                | (
                    models.Q(break_start__gt=models.F("start"))
                    & models.Q(break_end__gt=models.F("break_start"))
                    & models.Q(break_end__lt=models.F("end"))
                ),
                name="hours_break_inside",
            ),
        ]

    def __str__(self) -> str:
        text = f"{self.get_weekday_display()} {formats.time_text(self.start)}–{formats.time_text(self.end)}"
        if self.break_start and self.break_end:
            text += f" (break {formats.time_text(self.break_start)}–{formats.time_text(self.break_end)})"
        return text

    def clean(self) -> None:
        if self.practitioner_id is None or self.start is None or self.end is None:
            return
        overlapping = WorkingHours.objects.filter(
            practitioner_id=self.practitioner_id, weekday=self.weekday, start__lt=self.end, end__gt=self.start
        ).exclude(pk=self.pk)
        if overlapping.exists():
            raise ValidationError(_("These hours overlap other hours of the same practitioner on that day."))


class TimeOff(models.Model):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-start"]
        verbose_name_plural = "time off"
        constraints = [models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="timeoff_ordered")]
        indexes = [models.Index(fields=["practitioner", "end"])]

    def __str__(self) -> str:
        return f"{self.practitioner} off {formats.datetime_text(self.start)}–{formats.datetime_text(self.end)}"


class ClinicClosure(models.Model):
    class Kind(models.TextChoices):
        PUBLIC_HOLIDAY = "public_holiday", _("Public holiday")
        WEATHER = "weather", _("Weather warning (typhoon signal 8, black rainstorm)")
        OTHER = "other", _("Other")

    start = models.DateTimeField()
    end = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="closure_ordered"),
            models.UniqueConstraint(fields=["start", "end", "reason"], name="closure_unique"),
        ]
        indexes = [models.Index(fields=["end"])]

    def __str__(self) -> str:
        return f"Closed {formats.datetime_text(self.start)}–{formats.datetime_text(self.end)}: {self.reason}"


class AppointmentManager(models.Manager["Appointment"]):
    """Appointments people book: every status but ``held``. A held row is a
    waitlist offer's hold on a slot (booking/waitlist.py), not a visit, so no
    list, count, export or page sees it unless it asks ``Appointment.with_holds``."""

    def get_queryset(self) -> models.QuerySet[Appointment]:
        return super().get_queryset().exclude(status=Appointment.Status.HELD)


class Appointment(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")
        HELD = "held", _("Held for a waitlist offer")
        DEPOSIT_DUE = "deposit_due", _("Awaiting deposit")

    ACTIVE_STATUSES = (Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED)
    # What occupies practitioner, room and device: the exclusion constraints'
    # condition. A held row holds its slot until ``hold_expires_at``; after
    # that the engine ignores it and the next writer there deletes it.
    # A visit booked online whose treatment asks a deposit waits as
    # ``deposit_due`` while the patient pays (booking.deposits): it holds its
    # slot, the patient's time and its plan session until ``hold_expires_at``,
    # then the sweep (or the next writer there) cancels it and frees them.
    HOLDING_STATUSES = (*ACTIVE_STATUSES, Status.HELD, Status.DEPOSIT_DUE)

    class Source(models.TextChoices):
        PATIENT_ONLINE = "patient_online", _("Booked online by the patient")
        STAFF = "staff", _("Booked by staff")
        WALK_IN = "walk_in", _("Walk-in")

    class CancelledBy(models.TextChoices):
        PATIENT = "patient", _("Patient")
        CLINIC = "clinic", _("Clinic")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Stable calendar UID.")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    blocked_until = models.DateTimeField(help_text="End plus the treatment's buffer: resources are held until then.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PATIENT_ONLINE)
    notes = models.TextField(blank=True, max_length=2000)
    cautions = models.JSONField(default=list, blank=True, help_text="Screening cautions at booking time.")
    plan_session = models.ForeignKey(
        PlanSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
        help_text="The treatment-plan session this appointment is for; its active appointment is this one.",
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_reason = models.TextField(blank=True, max_length=2000)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE: grows with every change.")
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=8, choices=CancelledBy.choices, blank=True)
    cancelled_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancellation_reason = models.TextField(blank=True, max_length=2000)
    no_show_auto = models.BooleanField(
        default=False,
        help_text="Marked no-show by the missed-visit sweep (CLINIC_NO_SHOW_AFTER), not by a member of staff.",
    )
    hold_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A held row (a waitlist offer) holds its slot until then, no longer."
    )
    patient_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="The patient confirmed they are coming (a reminder's button or reply)."
    )
    patient_confirmed_via = models.CharField(
        max_length=10, blank=True, help_text="The channel of that confirmation: whatsapp, sms, email, portal or api."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row
    _change_reason: str  # likewise, as the history row's change reason

    objects = AppointmentManager()
    with_holds = models.Manager()  # noqa: DJ012 (after history: the first manager is the default)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["status", "start"]),
            models.Index(fields=["start", "blocked_until"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="appointment_start_before_end"),
            models.CheckConstraint(
                condition=models.Q(blocked_until__gte=models.F("end")), name="appointment_buffer_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["confirmed", "checked_in", "completed", "cancelled", "no_show", "held", "deposit_due"]
                ),
                name="appointment_status_valid",
            ),
            # A held row (and one awaiting its deposit) always says until when,
            # and nothing else has a hold.
            models.CheckConstraint(
                condition=models.Q(status="held", hold_expires_at__isnull=False, plan_session__isnull=True)
                | models.Q(status="deposit_due", hold_expires_at__isnull=False)
                | (~models.Q(status__in=["held", "deposit_due"]) & models.Q(hold_expires_at__isnull=True)),
                name="appointment_hold_has_expiry",
            ),
            PostgresExclusionConstraint(
                name="appointment_no_practitioner_overlap",
                expressions=[
                    ("practitioner", RangeOperators.EQUAL),
                    (TsTzRange("start", "blocked_until"), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(status__in=["confirmed", "checked_in", "completed", "held", "deposit_due"]),
            ),
            PostgresExclusionConstraint(
                name="appointment_no_room_overlap",
                expressions=[
                    ("room", RangeOperators.EQUAL),
                    (TsTzRange("start", "blocked_until"), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(status__in=["confirmed", "checked_in", "completed", "held", "deposit_due"]),
            ),
            PostgresExclusionConstraint(
                name="appointment_no_device_overlap",
                expressions=[
                    ("device", RangeOperators.EQUAL),
                    (TsTzRange("start", "blocked_until"), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(
                    status__in=["confirmed", "checked_in", "completed", "held", "deposit_due"], device__isnull=False
                ),
            ),
            PostgresExclusionConstraint(
                name="appointment_no_patient_overlap",
                expressions=[
                    ("patient", RangeOperators.EQUAL),
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(status__in=["confirmed", "checked_in", "completed", "deposit_due"]),
            ),
            # A plan session has at most one active appointment (the services lock
            # the plan first; this is the database's word on it).
            models.UniqueConstraint(
                fields=["plan_session"],
                condition=models.Q(
                    status__in=["confirmed", "checked_in", "completed", "deposit_due"], plan_session__isnull=False
                ),
                name="appointment_one_active_per_plan_session",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.treatment.slug} {formats.datetime_text(self.start)} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class SessionRecord(models.Model):
    """What was done at one appointment (docs/domain.md, Session records),
    written by ``booking.services.appointment_complete`` and never
    deleted; corrections keep history. ``parameters`` carry their unit in their
    keys and follow ``category``, the treatment's category when recorded
    (treatments.parameters)."""

    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="session_record")
    category = models.CharField(max_length=20, choices=Category.choices)
    areas = models.JSONField(default=list, blank=True, help_text="Area codes treated.")
    anaesthesia = models.CharField(max_length=200, blank=True)
    pain_score = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(10)])
    immediate_reaction = models.TextField(blank=True, max_length=2000)
    adverse_events = models.TextField(blank=True, max_length=2000)
    consent_version = models.CharField(
        max_length=200,
        blank=True,
        help_text="The consent forms and versions that counted, e.g. 'laser-resurfacing v2' (from the signatures).",
    )
    consent_signatures = models.ManyToManyField(
        "treatments.ConsentSignature",
        blank=True,
        related_name="session_records",
        help_text="The patient's signatures that counted when the session was completed.",
    )
    consent_override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a manager completed the session with consent missing.",
    )
    consent_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True, max_length=5000)
    parameters = models.JSONField(default=dict, blank=True)
    health_declaration = models.ForeignKey(
        HealthDeclaration,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The declaration in force when the session was done: the patient's newest.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pain_score__isnull=True) | models.Q(pain_score__lte=10),
                name="session_record_pain_range",
            ),
            models.CheckConstraint(condition=models.Q(category__in=Category.values), name="session_record_category"),
        ]

    def __str__(self) -> str:
        return f"Session record #{self.pk} of appointment #{self.appointment_id}"


class InjectableUse(models.Model):
    """One product injected at a filler, toxin or steroid session: product, lot,
    expiry and amount (treatments.injectables), so a recalled lot can be traced
    to its patients (``booking.selectors.injectable_uses``). Written with the
    session record by ``booking.services.appointment_complete``; never deleted
    except with the patient's erasure; corrections keep history.

    ``expiry`` is empty only on rows copied from session records made before
    these rows existed (their lot was free text in ``parameters``)."""

    class Unit(models.TextChoices):
        ML = "ml", _("ml")
        UNITS = "units", _("units")
        MG = "mg", _("mg")

    session_record = models.ForeignKey(SessionRecord, on_delete=models.PROTECT, related_name="injectables")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the session record.")
    product = models.CharField(max_length=200)
    lot = models.CharField(max_length=60, help_text="As printed on the product.")
    lot_key = models.CharField(
        max_length=60, db_index=True, help_text="The lot as searched: case, spaces and dashes folded."
    )
    expiry = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=10, choices=Unit.choices)

    history = HistoricalRecords()
    _history_user: User | None

    class Meta:
        ordering = ["session_record_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session_record", "position"], name="injectable_use_position"),
            models.CheckConstraint(condition=~models.Q(lot_key=""), name="injectable_use_lot_key"),
            models.CheckConstraint(condition=~models.Q(product=""), name="injectable_use_product"),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0), name="injectable_use_amount"
            ),
            models.CheckConstraint(condition=models.Q(unit__in=["ml", "units", "mg"]), name="injectable_use_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot}"


def new_message_id() -> str:
    """One Message-ID per notification, made with the row: every retry reuses
    it, so a mail client (or a test) can tell a repeat from a new message."""
    from django.core.mail import make_msgid

    return make_msgid(domain=urlsplit(settings.CLINIC_BASE_URL).hostname or "clinic.local")


class Notification(models.Model):
    """One email to a patient in the outbox (booking.notifications). Written
    in the transaction of the change that causes it; sent by the sweep.

    Identity, so each exists once: (kind, appointment, calendar sequence,
    reminder offset) for appointment notices; (kind, plan session, window
    start) for plan nudges."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Booking confirmation")
        RESCHEDULE = "reschedule", _("Reschedule notice")
        CANCELLATION = "cancellation", _("Cancellation notice")
        REMINDER = "reminder", _("Appointment reminder")
        SESSION_DUE = "session_due", _("Next session due")
        SESSION_LAST_CALL = "session_last_call", _("Next session: last call")
        AFTERCARE = "aftercare", _("Aftercare")
        PRE_CARE = "pre_care", _("Pre-care")
        WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
        MISSED_VISIT = "missed_visit", _("Missed visit")
        CHANGE_LINK = "change_link", _("Link to change a visit")
        DEPOSIT_REFUNDED = "deposit_refunded", _("Deposit paid too late, refunded")
        RECEIPT = "receipt", _("Receipt")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    class SkipReason(models.TextChoices):
        CANCELLED = "cancelled", _("The appointment was cancelled")
        RESCHEDULED = "rescheduled", _("Superseded: the appointment was moved")
        NOT_CONFIRMED = "not_confirmed", _("The appointment was checked in, completed or missed")
        OFFSET_PASSED = "offset_passed", _("The reminder time had passed when it was booked or moved")
        TOO_LATE = "too_late", _("Too late to be useful")
        OPTED_OUT = "opted_out", _("The patient turned reminders off")
        # Rows skipped before SMS and WhatsApp; NO_ADDRESS since.
        NO_EMAIL = "no_email", _("The patient has no email address")
        SESSION_CHANGED = "session_changed", _("The plan session was booked, moved or cancelled")
        ALREADY_SENT = "already_sent", _("Already sent for this visit before it was moved")
        NOT_APPLICABLE = "not_applicable", _("None of its instructions applies to this patient")
        NO_ADDRESS = "no_address", _("No address for any channel the patient chose")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(
        max_length=10,
        choices=Channel.choices,
        default=Channel.EMAIL,
        help_text="The channel it is sent on now: the patient's first choice, or the next after a permanent failure.",
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notifications")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    sequence = models.PositiveIntegerField(default=0, help_text="The appointment's calendar SEQUENCE it is about.")
    offset_minutes = models.PositiveIntegerField(default=0, help_text="Reminders: minutes before the start.")
    plan_session = models.ForeignKey(
        PlanSession, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    window_start = models.DateField(null=True, blank=True, help_text="Plan nudges: the window they are about.")
    waitlist_offer = models.ForeignKey(
        "WaitlistOffer", null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    ledger_entry = models.ForeignKey(
        "LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
        help_text="Receipts: the payment or refund, whose PDF the email carries.",
    )
    previous_start = models.DateTimeField(null=True, blank=True, help_text="Reschedule notices: the old time.")
    reason = models.TextField(blank=True, help_text="Reschedule notices: why the visit moved, as told to the patient.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claim = models.UUIDField(null=True, blank=True, editable=False, help_text="Who is sending it now.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    last_error = models.CharField(max_length=300, blank=True, help_text="Never holds patient data.")
    message_id = models.CharField(max_length=255, default=new_message_id, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    retried_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When staff last sent it again: channels that failed for good before then may be tried again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        indexes = [
            # The sweep: due pending rows, and claims that have expired.
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="notification_due"),
            models.Index(fields=["claimed_at"], condition=models.Q(status="sending"), name="notification_claimed"),
            models.Index(fields=["patient", "-due_at"], name="notification_patient_log"),
            models.Index(fields=["status", "-due_at"], name="notification_status_log"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "appointment", "sequence", "offset_minutes"],
                condition=models.Q(appointment__isnull=False),
                name="notification_once_per_appointment_change",
            ),
            models.UniqueConstraint(
                fields=["kind", "plan_session", "window_start"],
                condition=models.Q(plan_session__isnull=False),
                name="notification_once_per_session_window",
            ),
            models.UniqueConstraint(
                fields=["kind", "waitlist_offer"],
                condition=models.Q(waitlist_offer__isnull=False),
                name="notification_once_per_offer",
            ),
            models.UniqueConstraint(
                fields=["kind", "ledger_entry"],
                condition=models.Q(ledger_entry__isnull=False),
                name="notification_once_per_ledger_entry",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    appointment__isnull=False,
                    plan_session__isnull=True,
                    waitlist_offer__isnull=True,
                    ledger_entry__isnull=True,
                )
                | models.Q(
                    appointment__isnull=True,
                    plan_session__isnull=False,
                    window_start__isnull=False,
                    waitlist_offer__isnull=True,
                    ledger_entry__isnull=True,
                )
                | models.Q(
                    appointment__isnull=True,
                    plan_session__isnull=True,
                    waitlist_offer__isnull=False,
                    ledger_entry__isnull=True,
                )
                | models.Q(
                    appointment__isnull=True,
                    plan_session__isnull=True,
                    waitlist_offer__isnull=True,
                    ledger_entry__isnull=False,
                ),
                name="notification_about_one_thing",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "confirmation",
                        "reschedule",
                        "cancellation",
                        "reminder",
                        "session_due",
                        "session_last_call",
                        "aftercare",
                        "pre_care",
                        "waitlist_offer",
                        "missed_visit",
                        "change_link",
                        "deposit_refunded",
                        "receipt",
                    ]
                ),
                name="notification_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms", "whatsapp"]), name="notification_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "skipped", "failed"]),
                name="notification_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sending") | models.Q(claim__isnull=False, claimed_at__isnull=False),
                name="notification_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False), name="notification_sent_at"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} for patient #{self.patient_id} ({self.status})"


class NotificationDelivery(models.Model):
    """One attempt to send a notification on one channel, and what the
    provider said about it since: accepted (with the provider's message id),
    then delivered, read or failed as its delivery receipts arrive
    (booking/inbound.py). The notification log shows these rows, fallbacks
    included. Never holds patient data: ids, codes and the error's kind only."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted by the provider")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Notification.Channel.choices)
    provider_id = models.CharField(
        max_length=128, blank=True, help_text="The provider's message id (Twilio SID, WhatsApp wamid, Message-ID)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    permanent = models.BooleanField(
        default=False, help_text="A failure no retry on this channel can mend (bad number, not on WhatsApp...)."
    )
    error_code = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=300, blank=True, help_text="Never holds patient data.")
    fell_back_to = models.CharField(
        max_length=10, blank=True, help_text="The channel the notification moved to after this one failed for good."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=~models.Q(provider_id=""),
                name="notification_delivery_provider_once",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms", "whatsapp"]), name="notification_delivery_channel"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["accepted", "delivered", "read", "failed"]),
                name="notification_delivery_status",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} for notification #{self.notification_id} ({self.status})"


class InboundEvent(models.Model):
    """A provider's webhook event already handled (a button press, a reply, a
    delivery receipt), by the provider's own id for it: the unique constraint
    makes a replayed webhook change nothing the second time."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="inbound_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"


class PreCareAcknowledgement(models.Model):
    """The patient confirmed they have read a pre-care instruction for a visit
    (booking.precare.pre_care_acknowledge): from the email's link, their
    appointments page or the API. Kept when the visit moves: the instructions
    are the same visit's."""

    class Via(models.TextChoices):
        LINK = "link", _("The link in the email")
        PORTAL = "portal", _("The patient's appointments page")
        API = "api", _("The API")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="pre_care_acknowledgements")
    instruction = models.ForeignKey(PreCareInstruction, on_delete=models.PROTECT, related_name="acknowledgements")
    acknowledged_at = models.DateTimeField()
    via = models.CharField(max_length=8, choices=Via.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when confirmed from the email's link without signing in.",
    )

    class Meta:
        ordering = ["appointment", "instruction"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "instruction"], name="pre_care_acknowledged_once"),
            models.CheckConstraint(condition=models.Q(via__in=["link", "portal", "api"]), name="pre_care_via_valid"),
        ]

    def __str__(self) -> str:
        return f"Appointment #{self.appointment_id}: {self.instruction_id} acknowledged"


class Erasure(models.Model):
    """A patient's erasure on request (booking.erasure), and the log of its steps.

    Contact details and the login go at once; the clinical records are kept
    until ``purge_due`` (CLINIC_RECORD_RETENTION after the last visit), then the
    periodic purge deletes them and sets ``purged_at``. ``steps`` is the log:
    ``[{"step": <code>, "at": <ISO time>, "count": n}]``; it holds counts and
    ids, never the erased details."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="erasure")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200, blank=True, help_text="Kept if the account goes.")
    requested_at = models.DateTimeField(default=timezone.now)
    last_visit = models.DateField(null=True, blank=True, help_text="The clinic-local date retention counts from.")
    purge_due = models.DateTimeField(help_text="When the clinical records may be purged.")
    purged_at = models.DateTimeField(null=True, blank=True)
    steps = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["purge_due"], condition=models.Q(purged_at__isnull=True), name="erasure_due")]

    def __str__(self) -> str:
        return f"Erasure of patient #{self.patient_id}"


class WaitlistEntry(models.Model):
    """A patient waiting for a time: a treatment, optionally one practitioner,
    clinic-local dates [earliest, latest] and optionally parts of the day.
    Served first come, first served (``created_at``, then id) by
    booking.waitlist, which offers a freed slot to the first entry it suits."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        BOOKED = "booked", _("Booked from an offer")
        LEFT = "left", _("Left the waitlist")
        ENDED = "ended", _("Its dates have passed")

    class Part(models.TextChoices):
        MORNING = "morning", _("Morning")
        AFTERNOON = "afternoon", _("Afternoon")
        EVENING = "evening", _("Evening")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="waitlist_entries")
    practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    earliest = models.DateField()
    latest = models.DateField()
    parts = models.JSONField(default=list, blank=True, help_text="Empty: any time of day.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_entries"
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [
            models.Index(fields=["created_at", "id"], condition=models.Q(status="waiting"), name="waitlist_queue"),
            models.Index(fields=["patient", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(earliest__lte=models.F("latest")), name="waitlist_dates_ordered"),
            models.CheckConstraint(
                condition=models.Q(status__in=["waiting", "booked", "left", "ended"]), name="waitlist_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist #{self.pk} for patient #{self.patient_id} ({self.status})"


class WaitlistOffer(models.Model):
    """A freed slot offered to one entry, held for it (``hold``: an Appointment
    row with status ``held``, so the exclusion constraints keep everyone else
    off it) until ``expires_at``. The slot is copied here because the hold row
    is deleted when the offer ends: accepted (the booking takes its place),
    declined, expired or withdrawn."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    hold = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_offer"
    )
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff who offered it by hand; empty when the waitlist offered it.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The booking."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["expires_at"], condition=models.Q(status="open"), name="waitlist_offer_open"),
        ]
        constraints = [
            # One open offer per entry: a patient is never holding two slots for one wish.
            models.UniqueConstraint(
                fields=["entry"], condition=models.Q(status="open"), name="waitlist_one_open_offer_per_entry"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "accepted", "declined", "expired", "withdrawn"]),
                name="waitlist_offer_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="open") | models.Q(hold__isnull=False), name="waitlist_open_offer_holds"
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist offer #{self.pk} ({self.status})"


# --- outgoing webhooks (booking/webhooks.py) -------------------------------------------


class WebhookSubscription(models.Model):
    """A manager's subscription of one URL to some events (clinic.events.EVENT_TYPES).
    Deliveries are signed per the Standard Webhooks specification with ``secret``;
    after a rotation the ``previous_secret`` signs too until ``previous_expires_at``,
    so a receiver can switch without missing a message. ``clinical``: the
    payloads add names, contact details and treatments (booking/webhooks.py)."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types, e.g. appointment.created.")
    clinical = models.BooleanField(
        default=False, help_text="Payloads carry the treatment, the patient's name and contact details, plan details."
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, help_text="whsec_ and base64 of 32 random bytes.")
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Webhook #{self.pk} {urlsplit(self.url).hostname or ''}"


class WebhookDelivery(models.Model):
    """One event for one subscription, in the outbox of booking/webhooks.py,
    written in the transaction of the change. ``message_id`` is the
    ``webhook-id``: the same on every retry, so receivers can drop repeats.
    ``body`` is the payload exactly as sent, frozen when the event happened.
    Its life is a notification's: pending → sending (claimed) → sent, or back
    to pending with a back-off after a failed attempt, failed after the last.
    ``last_error`` is a short code (timeout, http_500...), never a response body."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    event_key = models.CharField(max_length=120, help_text="The event's identity: type, object and change.")
    message_id = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(
        Patient,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose event it is, so erasure can scrub a clinical payload.",
    )
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=40, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_due"),
            models.Index(fields=["claimed_at"], condition=models.Q(status="sending"), name="webhook_claimed"),
            models.Index(fields=["subscription", "-created_at"], name="webhook_log"),
        ]
        constraints = [
            # One event reaches one subscription once, however often it is announced.
            models.UniqueConstraint(fields=["subscription", "event_key"], name="webhook_once_per_subscription"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]), name="webhook_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sending") | models.Q(claim__isnull=False, claimed_at__isnull=False),
                name="webhook_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False), name="webhook_sent_at"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type} to webhook #{self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One request to the subscriber, for the delivery log: when, what it
    answered (status code) or how it failed (``error``, a short code), how long."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Attempt at delivery #{self.delivery_id}: {self.status_code or self.error}"


class CalendarFeed(models.Model):
    """A private iCalendar subscription URL (booking/feeds.py): a practitioner's
    schedule or a patient's own appointments, for Google, Apple or Outlook to
    poll. The token is the only credential, so it is long and random, and kept
    so the owner can see the address again (like Google's "secret address").
    Resetting revokes the row and makes a new one; a revoked row stays, so the
    managers' list can say who turned a feed off and when."""

    class Kind(models.TextChoices):
        PRACTITIONER = "practitioner", _("Practitioner's schedule")
        PATIENT = "patient", _("Patient's appointments")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    token = models.CharField(max_length=64, unique=True, editable=False)
    language = models.CharField(
        max_length=8,
        default="en",
        help_text="The events' language for a practitioner's feed (the page's when it was made); "
        "a patient's feed follows their preferred language.",
    )
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_fetched_at = models.DateTimeField(
        null=True, blank=True, help_text="Updated at most every few minutes, not on every fetch."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live feed per login and kind: making a new one revokes the old (feed_create).
            models.UniqueConstraint(
                fields=["user", "kind"], condition=models.Q(revoked_at__isnull=True), name="calendar_feed_one_live"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["practitioner", "patient"]), name="calendar_feed_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=["en", "zh-hant"]), name="calendar_feed_language_valid"
            ),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"Calendar feed #{self.pk} ({self.kind}, user #{self.user_id}, {state})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


# --- money: the ledger, deposits, packages and receipts (issue 20) -------------------------


def _money(**kwargs: object) -> models.DecimalField:
    """An amount in the clinic's currency (CLINIC_CURRENCY): cents, never floats."""
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)  # type: ignore[arg-type]


class PackageOffer(Bilingual, models.Model):
    """A course the clinic sells ("Pico laser x 4 at HKD 12,000"): the catalogue row."""

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="package_offers")
    name_en = models.CharField(max_length=200)
    name_zh_hant = models.CharField(max_length=200)
    sessions = models.PositiveSmallIntegerField(validators=[MinValueValidator(2), MaxValueValidator(50)])
    price = _money(validators=[MinValueValidator(0)])
    valid_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Days from sale until unused sessions expire.",
    )
    sold_online = models.BooleanField(default=True, help_text="Patients may buy it themselves on the site.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["treatment__display_order", "sessions", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="package_offer_price_not_negative"),
            models.CheckConstraint(condition=models.Q(sessions__gte=2), name="package_offer_sessions_at_least_two"),
        ]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.sessions} sessions, {self.price})"


class Package(models.Model):
    """A course a patient bought: so many sessions of one treatment, paid ahead.

    ``sessions_used`` only grows (booking.packages redeems one per completed
    visit, under a row lock); the database refuses more than were bought."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        USED = "used", _("All sessions used")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Refunded")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="packages")
    offer = models.ForeignKey(PackageOffer, null=True, blank=True, on_delete=models.SET_NULL, related_name="sold")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="packages")
    plan = models.ForeignKey(
        "treatments.TreatmentPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="packages"
    )
    name_en = models.CharField(max_length=200)
    name_zh_hant = models.CharField(max_length=200)
    sessions_total = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    sessions_used = models.PositiveSmallIntegerField(default=0)
    price = _money(validators=[MinValueValidator(0)])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_on = models.DateField(null=True, blank=True)
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"], name="package_patient_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sessions_used__lte=models.F("sessions_total")), name="package_not_overused"
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="package_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "used", "expired", "refunded"]), name="package_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Package #{self.pk} ({self.sessions_used}/{self.sessions_total}, {self.status})"

    @property
    def sessions_left(self) -> int:
        return self.sessions_total - self.sessions_used


class ReceiptCounter(models.Model):
    """The last receipt number given in a year. A new number is taken under
    this row's lock in the transaction that writes the ledger row, so a
    rollback gives the number back: the sequence has no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class LedgerEntry(models.Model):
    """One movement of money (or of prepaid value) on a patient's account.

    Amounts are positive; ``kind`` says which way they move the balance
    (booking.ledger.SIGN): payments and waivers raise it, charges, fees,
    refunds and package credits lower it. Rows are never edited or deleted:
    a refund is a row that ``reverses`` a payment, a waiver one that reverses
    a fee, and the reversed row's ``reversed_amount`` (checked by the
    database) can never pass its own amount."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")
        FEE = "fee", _("Fee")
        WAIVER = "waiver", _("Fee waived")
        PACKAGE_CREDIT = "package_credit", _("Package session used")

    class Method(models.TextChoices):
        NONE = "", _("—")
        ONLINE = "online", _("Online (card, Alipay HK, WeChat Pay)")
        CASH = "cash", _("Cash")
        CARD = "card", _("Card terminal")
        OCTOPUS = "octopus", _("Octopus")
        FPS = "fps", _("FPS")
        ALIPAY_HK = "alipay_hk", _("Alipay HK")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")
        PACKAGE = "package", _("Package")

    class Reason(models.TextChoices):
        """What a row is for, where its kind alone does not say."""

        OTHER = "", _("Other")
        DEPOSIT = "deposit", _("Deposit")
        TREATMENT = "treatment", _("Treatment")
        PACKAGE = "package", _("Package")
        LATE_CANCELLATION = "late_cancellation", _("Late cancellation")
        NO_SHOW = "no_show", _("No-show")
        HOLD_EXPIRED = "hold_expired", _("Payment after the hold expired")
        CANCELLED_IN_TIME = "cancelled_in_time", _("Cancelled in time")
        UNUSED_SESSIONS = "unused_sessions", _("Unused sessions")

    DESK_METHODS = (Method.CASH, Method.CARD, Method.OCTOPUS, Method.FPS, Method.ALIPAY_HK, Method.WECHAT_PAY)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    method = models.CharField(max_length=12, choices=Method.choices, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    amount = _money()
    reversed_amount = _money(default=0, help_text="Refunded (of a payment) or waived (of a fee) so far.")
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        help_text="The payment a refund returns, or the fee a waiver forgives.",
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="ledger"
    )
    package = models.ForeignKey(Package, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    provider = models.CharField(max_length=16, blank=True, help_text="The online provider (stripe); empty at the desk.")
    provider_ref = models.CharField(
        max_length=255, blank=True, help_text="The provider's id of this movement (payment intent, refund)."
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    receipt_number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    note = models.TextField(blank=True, max_length=2000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["patient", "created_at"], name="ledger_patient_created"),
            models.Index(fields=["created_at"], name="ledger_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(reversed_amount__gte=0, reversed_amount__lte=models.F("amount")),
                name="ledger_reversed_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["charge", "payment", "refund", "fee", "waiver", "package_credit"]),
                name="ledger_kind_valid",
            ),
            # Money that moved says how; a charge or a fee does not.
            models.CheckConstraint(
                condition=(models.Q(kind__in=["payment", "refund"]) & ~models.Q(method__in=["", "package"]))
                | (models.Q(kind="package_credit") & models.Q(method="package"))
                | (models.Q(kind__in=["charge", "fee", "waiver"]) & models.Q(method="")),
                name="ledger_method_fits_kind",
            ),
            # A refund returns a payment, a waiver forgives a fee; nothing else reverses.
            models.CheckConstraint(
                condition=(models.Q(kind__in=["refund", "waiver"]) & models.Q(reverses__isnull=False))
                | (~models.Q(kind__in=["refund", "waiver"]) & models.Q(reverses__isnull=True)),
                name="ledger_reversal_has_original",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["payment", "fee"]) | models.Q(reversed_amount=0),
                name="ledger_only_payments_and_fees_reversed",
            ),
            # One row per provider movement: a replayed or reordered webhook finds it there.
            models.UniqueConstraint(
                fields=["provider", "kind", "provider_ref"],
                condition=~models.Q(provider_ref=""),
                name="ledger_one_row_per_provider_ref",
            ),
            # One package credit per package and visit.
            models.UniqueConstraint(
                fields=["package", "appointment"],
                condition=models.Q(kind="package_credit"),
                name="ledger_one_credit_per_visit",
            ),
            models.CheckConstraint(
                condition=models.Q(receipt_number__isnull=True) | models.Q(kind__in=["payment", "refund"]),
                name="ledger_receipts_for_money_only",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.amount} for patient #{self.patient_id}"


class DepositCheckout(models.Model):
    """A deposit being paid online for a visit waiting as ``deposit_due``.

    Created with the held visit; ``session_id`` is the provider's checkout.
    The provider's signed webhook moves it to ``paid`` (booking.deposits);
    the sweep moves it to ``expired`` when the hold lapses; a payment that
    arrives after that is refunded (``refunded``)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for payment")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Paid late and refunded")
        CANCELLED = "cancelled", _("Cancelled")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="deposit_checkouts")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="deposit_checkouts"
    )
    package_offer = models.ForeignKey(
        PackageOffer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkouts",
        help_text="Set when the checkout buys a package rather than a visit's deposit.",
    )
    amount = _money()
    provider = models.CharField(max_length=16, default="stripe")
    session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payment_ref = models.CharField(max_length=255, blank=True, help_text="The provider's payment intent, once paid.")
    url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="checkout_status_expiry")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="checkout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "paid", "expired", "refunded", "cancelled"]),
                name="checkout_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Checkout #{self.pk} {self.amount} ({self.status})"


class ProviderRefund(models.Model):
    """A refund the clinic owes through the online provider, until the provider has made it.

    Written in the transaction that decides it (a timely cancellation, a late
    payment, unused package sessions); booking.deposits sends it after commit
    and again from the sweep until the provider answers, always with the same
    idempotency key, so the provider refunds once. The ledger's REFUND row is
    written when the provider has accepted, never before."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        DONE = "done", _("Refunded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="provider_refunds")
    amount = _money()
    reason = models.CharField(max_length=20, choices=LedgerEntry.Reason.choices, blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    provider_ref = models.CharField(max_length=255, blank=True)
    refund = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="provider_refund"
    )
    last_error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="provider_refund_due")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="provider_refund_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "done", "failed"]), name="provider_refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of {self.amount} ({self.status})"
