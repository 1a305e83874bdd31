"""The catalogue: what the clinic offers and what each treatment needs.

Clinical rules (intervals, contraindications) are editable data seeded by
demo/clinic.py (docs/domain.md), never constants in code; unverified values carry
``verified=False`` for a clinician to review in the admin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from treatments.plans import SessionState


def is_chinese(language: str | None = None) -> bool:
    language = (language or get_language() or "en").lower()
    return language.startswith("zh")


class Bilingual:
    """``obj.localized("name")`` reads ``name_zh_hant`` or ``name_en``."""

    def localized(self, field: str, language: str | None = None) -> str:
        if is_chinese(language):
            value = getattr(self, f"{field}_zh_hant", "")
            if value:
                return value
        return getattr(self, f"{field}_en")


class ScarType(models.TextChoices):
    PIH = "pih", _("Post-inflammatory hyperpigmentation (mark)")
    PIE = "pie", _("Post-inflammatory erythema (mark)")
    ICEPICK = "icepick", _("Icepick scar")
    ROLLING = "rolling", _("Rolling scar")
    BOXCAR_SHALLOW = "boxcar_shallow", _("Boxcar scar, shallow")
    BOXCAR_DEEP = "boxcar_deep", _("Boxcar scar, deep")
    HYPERTROPHIC = "hypertrophic", _("Hypertrophic scar")
    KELOID = "keloid", _("Keloid")


class Category(models.TextChoices):
    LASER = "laser", _("Laser")
    RF_MICRONEEDLING = "rf_microneedling", _("RF microneedling")
    MICRONEEDLING = "microneedling", _("Microneedling")
    PEEL = "peel", _("Chemical peel")
    TCA_CROSS = "tca_cross", _("TCA CROSS")
    FILLER = "filler", _("Filler")
    STEROID = "steroid", _("Steroid injection")
    TOXIN = "toxin", _("Botulinum toxin")
    SUBCISION = "subcision", _("Subcision")
    PUNCH = "punch", _("Punch techniques")
    RESURFACING = "resurfacing", _("Resurfacing")
    FACIAL = "facial", _("Facial")
    CONSULTATION = "consultation", _("Consultation")


class RoomKind(Bilingual, models.Model):
    """A kind of room a treatment needs: laser room, treatment room, ..."""

    slug = models.SlugField(unique=True)
    name_en = models.CharField(max_length=100)
    name_zh_hant = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name_en


class DeviceKind(Bilingual, models.Model):
    """A kind of device a treatment needs: the Pico laser, the RF device, ..."""

    slug = models.SlugField(unique=True)
    name_en = models.CharField(max_length=100)
    name_zh_hant = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name_en


class Treatment(Bilingual, models.Model):
    slug = models.SlugField(unique=True, max_length=80)
    category = models.CharField(max_length=20, choices=Category.choices)
    name_en = models.CharField(max_length=200)
    name_zh_hant = models.CharField(max_length=200)
    description_en = models.TextField(blank=True)
    description_zh_hant = models.TextField(blank=True)
    pre_care_en = models.TextField(blank=True)
    pre_care_zh_hant = models.TextField(blank=True)
    aftercare_en = models.TextField(blank=True)
    aftercare_zh_hant = models.TextField(blank=True)
    suits = models.JSONField(default=list, blank=True, help_text="Scar type codes this treatment suits.")
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(600)])
    buffer_minutes = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)], help_text="Cleaning and turnover time after the appointment."
    )
    sessions_min = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    sessions_max = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty for open-ended courses.")
    interval_days_min = models.PositiveSmallIntegerField(null=True, blank=True)
    interval_days_max = models.PositiveSmallIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    # A deposit asked at online booking (booking.deposits): a fixed amount or a
    # percent of the price, never both; neither means no deposit.
    deposit_amount = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(1)]
    )
    deposit_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    late_cancel_keeps_deposit = models.BooleanField(
        default=True, help_text="A cancellation inside the notice keeps the deposit as a fee."
    )
    no_show_keeps_deposit = models.BooleanField(default=True, help_text="A no-show keeps the deposit as a fee.")
    room_kind = models.ForeignKey(RoomKind, on_delete=models.PROTECT, related_name="treatments")
    device_kind = models.ForeignKey(
        DeviceKind, null=True, blank=True, on_delete=models.PROTECT, related_name="treatments"
    )
    verified = models.BooleanField(
        default=False, help_text="A clinician has checked the durations, intervals and rules of this treatment."
    )
    # Days of visible redness, swelling, crusting or bruising after one session:
    # what treatments.downtime compares with the patient's dates that matter.
    downtime_days_min = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(90)])
    downtime_days_max = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(90)])
    downtime_note_en = models.CharField(
        max_length=80, blank=True, help_text='What the downtime looks like, e.g. "bruising"; empty for redness.'
    )
    downtime_note_zh_hant = models.CharField(max_length=80, blank=True)
    downtime_verified = models.BooleanField(
        default=False, help_text="A clinician has checked the downtime (the seeded values are estimates)."
    )
    active = models.BooleanField(default=True)
    display_order = models.PositiveSmallIntegerField(default=100)
    # The clinic's own choice for the home page (treatments.selectors.featured_treatments),
    # apart from the catalogue's order: what a scar clinic leads with is not the first in the list.
    featured = models.BooleanField(default=False, help_text="Shown on the home page's featured treatments.")
    featured_order = models.PositiveSmallIntegerField(
        default=100, help_text="Position among the featured treatments: lower comes first."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["display_order", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sessions_max__isnull=True) | models.Q(sessions_max__gte=models.F("sessions_min")),
                name="treatment_sessions_ordered",
            ),
            models.CheckConstraint(
                condition=(models.Q(interval_days_min__isnull=True) & models.Q(interval_days_max__isnull=True))
                | models.Q(interval_days_max__gte=models.F("interval_days_min")),
                name="treatment_intervals_ordered",
            ),
            models.CheckConstraint(condition=models.Q(category__in=Category.values), name="treatment_category_valid"),
            models.CheckConstraint(
                condition=models.Q(downtime_days_max__gte=models.F("downtime_days_min")),
                name="treatment_downtime_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(deposit_amount__isnull=True) | models.Q(deposit_percent__isnull=True),
                name="treatment_one_kind_of_deposit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.slug})"

    @property
    def plannable(self) -> bool:
        return self.interval_days_min is not None and self.interval_days_max is not None


class ContraindicationCode(models.TextChoices):
    PREG = "PREG", _("Pregnant or breastfeeding")
    ISO = "ISO", _("Oral isotretinoin recently")
    INF = "INF", _("Active skin infection at the treatment site")
    HSV_ACTIVE = "HSV_ACTIVE", _("A cold sore now")
    HSV_HX = "HSV_HX", _("History of cold sores")
    KELOID = "KELOID", _("History of keloid or hypertrophic scars")
    FST_IV_VI = "FST_IV_VI", _("Fitzpatrick skin type IV to VI")
    ANTICOAG = "ANTICOAG", _("Anticoagulants or a bleeding disorder")
    PHOTOSENS = "PHOTOSENS", _("Photosensitising medication or disorder")
    TAN = "TAN", _("Tan or sunburn in the last 2 months")
    AUTOIMMUNE = "AUTOIMMUNE", _("Autoimmune disease or immunosuppression")
    NEUROMUSC = "NEUROMUSC", _("Neuromuscular disorder")
    ALLERGY_HA = "ALLERGY_HA", _("Allergy to hyaluronic acid")
    ALLERGY_LIDOCAINE = "ALLERGY_LIDOCAINE", _("Allergy to lidocaine")
    ALLERGY_TOXIN = "ALLERGY_TOXIN", _("Allergy to botulinum toxin")
    ALLERGY_SALICYLATE = "ALLERGY_SALICYLATE", _("Allergy to salicylate")
    ACNE_ACTIVE = "ACNE_ACTIVE", _("Active inflammatory acne in the area")
    RETINOID_TOP = "RETINOID_TOP", _("Topical retinoid in the last 2 weeks")
    IMPLANT_DEVICE = "IMPLANT_DEVICE", _("Pacemaker or other implanted electronic device")


class Severity(models.TextChoices):
    BLOCK = "block", _("Block")
    CAUTION = "caution", _("Caution")


class ContraindicationRule(models.Model):
    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="contraindications")
    code = models.CharField(max_length=24, choices=ContraindicationCode.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    verified = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["treatment", "severity", "code"]
        constraints = [
            models.UniqueConstraint(fields=["treatment", "code"], name="contraindication_once_per_treatment"),
            models.CheckConstraint(condition=models.Q(severity__in=Severity.values), name="contraindication_severity"),
            models.CheckConstraint(
                condition=models.Q(code__in=ContraindicationCode.values), name="contraindication_code_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.treatment.slug}: {self.code} ({self.severity})"


class GapRule(Bilingual, models.Model):
    """Spacing between two different treatments (clinic protocol, docs/domain.md):
    the ``later`` treatment no sooner than ``min_days`` after the ``earlier`` one,
    counted on clinic-local dates. Each side is a category or one treatment.
    "Not within 2 weeks before or after" is two rules, one each way. Evaluated by
    treatments.gaps; checked when booking, moving and planning (booking.spacing)."""

    earlier_category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    earlier_treatment = models.ForeignKey(
        Treatment, null=True, blank=True, on_delete=models.CASCADE, related_name="gap_rules_as_earlier"
    )
    later_category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    later_treatment = models.ForeignKey(
        Treatment, null=True, blank=True, on_delete=models.CASCADE, related_name="gap_rules_as_later"
    )
    min_days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="The later treatment may happen no sooner than this many days after the earlier one.",
    )
    severity = models.CharField(max_length=8, choices=Severity.choices)
    note_en = models.CharField(max_length=300, blank=True)
    note_zh_hant = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    verified = models.BooleanField(default=False, help_text="A clinician has checked this rule.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["later_category", "later_treatment", "earlier_category", "earlier_treatment", "min_days"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(earlier_category="") & models.Q(earlier_treatment__isnull=False))
                | (~models.Q(earlier_category="") & models.Q(earlier_treatment__isnull=True)),
                name="gap_rule_one_earlier_side",
                violation_error_message=_("Choose a category or one treatment for the earlier side, not both."),
            ),
            models.CheckConstraint(
                condition=(models.Q(later_category="") & models.Q(later_treatment__isnull=False))
                | (~models.Q(later_category="") & models.Q(later_treatment__isnull=True)),
                name="gap_rule_one_later_side",
                violation_error_message=_("Choose a category or one treatment for the later side, not both."),
            ),
            models.CheckConstraint(
                condition=models.Q(min_days__gte=1) & models.Q(min_days__lte=730), name="gap_rule_min_days_range"
            ),
            models.CheckConstraint(condition=models.Q(severity__in=Severity.values), name="gap_rule_severity"),
            models.CheckConstraint(
                condition=models.Q(earlier_category__in=["", *Category.values])
                & models.Q(later_category__in=["", *Category.values]),
                name="gap_rule_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.sentence()

    def side_text(self, side: str) -> str:
        treatment = getattr(self, f"{side}_treatment")
        if treatment is not None:
            return str(treatment.localized("name"))
        return str(_("any %(category)s treatment") % {"category": Category(getattr(self, f"{side}_category")).label})

    def sentence(self) -> str:
        """The rule as one readable sentence (the admin's list)."""
        return str(
            _("%(later)s no sooner than %(days)s days after %(earlier)s (%(severity)s)")
            % {
                "later": self.side_text("later"),
                "days": self.min_days,
                "earlier": self.side_text("earlier"),
                "severity": Severity(self.severity).label,
            }
        )


class PreCareCondition(models.TextChoices):
    """Who an instruction is for, read from the patient's newest health
    declaration (treatments.precare.applies)."""

    EVERYONE = "", _("Everyone having the treatment")
    COLD_SORE_HISTORY = "cold_sore_history", _("Patients who have had cold sores")


PRE_CARE_DAYS_MAX = 120


class PreCareInstruction(Bilingual, models.Model):
    """One thing a patient must do before a visit, sent ``days_before`` the visit
    (booking.notifications plans the emails) and confirmed by the patient
    (booking.PreCareAcknowledgement). Clinic protocol, editable by managers in
    the admin; seeded from domain.md by demo/clinic.py."""

    code = models.SlugField(unique=True, max_length=60, help_text="A stable name for the seed and the admin.")
    treatments = models.ManyToManyField(Treatment, related_name="pre_care_instructions", blank=True)
    days_before = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(PRE_CARE_DAYS_MAX)],
        help_text="Sent at the clinic's send hour this many days before the visit (0: the morning of the visit).",
    )
    title_en = models.CharField(max_length=120)
    title_zh_hant = models.CharField(max_length=120)
    text_en = models.TextField(max_length=2000)
    text_zh_hant = models.TextField(max_length=2000)
    condition = models.CharField(
        max_length=24,
        choices=PreCareCondition.choices,
        default=PreCareCondition.EVERYONE,
        blank=True,
        help_text="Only for patients whose newest health declaration says so.",
    )
    order = models.PositiveSmallIntegerField(default=100, help_text="Position within one email: lower comes first.")
    active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-days_before", "order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days_before__lte=PRE_CARE_DAYS_MAX), name="pre_care_days_before_range"
            ),
            models.CheckConstraint(
                condition=models.Q(condition__in=PreCareCondition.values), name="pre_care_condition_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title_en} ({self.days_before} d before)"

    @property
    def localized_title(self) -> str:
        """For templates: the title in the active language."""
        return self.localized("title")

    @property
    def localized_text(self) -> str:
        return self.localized("text")


# --- clinical records ------------------------------------------------------------------
#
# Assessments, their photos and treatment plans belong to a patient and are
# never deleted (PROTECT everywhere, no delete in the API or the admin); every
# change keeps a history row with who and when. Writes go through
# treatments.services only.


class MarkSeverity(models.TextChoices):
    NONE = "none", _("None")
    MILD = "mild", _("Mild")
    MODERATE = "moderate", _("Moderate")
    SEVERE = "severe", _("Severe")


class QualitativeGrade(models.IntegerChoices):
    MACULAR = 1, _("1 macular")
    MILD = 2, _("2 mild")
    MODERATE = 3, _("3 moderate")
    SEVERE = 4, _("4 severe")


# The ten Goodman & Baron lesion counts, by their API key (treatments/scoring.py);
# each is a column of Assessment so the database checks it and history diffs it.
LESION_KEYS: tuple[str, ...] = (
    "macular",
    "mild_atrophic",
    "moderate_atrophic",
    "punched_out_shallow",
    "broad_shallow",
    "punched_out_deep_normal_base",
    "punched_out_deep_abnormal_base",
    "linear_troughed",
    "broad_deep",
    "hyperplastic_papular",
)
LESION_COUNT_MAX = 9999
KELOID_AREA_MAX = 9999  # cm², a sanity bound far beyond a whole back


def _lesion_field() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=0, validators=[MaxValueValidator(LESION_COUNT_MAX)])


class Assessment(models.Model):
    """One grading of a patient's scars. The raw counts are kept so the score
    can be recomputed if the table is corrected; ``quantitative_score`` is
    what ``treatments.scoring.goodman_baron_score`` gave when it was saved."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="assessments")
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fitzpatrick_type = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(6)])
    macular = _lesion_field()
    mild_atrophic = _lesion_field()
    moderate_atrophic = _lesion_field()
    punched_out_shallow = _lesion_field()
    broad_shallow = _lesion_field()
    punched_out_deep_normal_base = _lesion_field()
    punched_out_deep_abnormal_base = _lesion_field()
    linear_troughed = _lesion_field()
    broad_deep = _lesion_field()
    hyperplastic_papular = _lesion_field()
    keloid_area_cm2 = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(KELOID_AREA_MAX)],
    )
    types_present = models.JSONField(default=list, blank=True, help_text="Scar type codes seen.")
    qualitative_grade = models.PositiveSmallIntegerField(choices=QualitativeGrade.choices)
    pih = models.CharField(max_length=8, choices=MarkSeverity.choices, default=MarkSeverity.NONE)
    pie = models.CharField(max_length=8, choices=MarkSeverity.choices, default=MarkSeverity.NONE)
    notes = models.TextField(blank=True, max_length=5000)
    quantitative_score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(84)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row
    _change_reason: str  # likewise, the reason for the change

    class Meta:
        ordering = ["-assessed_on", "-id"]
        indexes = [models.Index(fields=["patient", "assessed_on", "id"], name="assessment_patient_date")]
        constraints = [
            models.CheckConstraint(condition=models.Q(fitzpatrick_type__range=(1, 6)), name="assessment_fitzpatrick"),
            models.CheckConstraint(condition=models.Q(qualitative_grade__range=(1, 4)), name="assessment_grade"),
            models.CheckConstraint(condition=models.Q(quantitative_score__range=(0, 84)), name="assessment_score"),
            models.CheckConstraint(
                condition=models.Q(keloid_area_cm2__gte=0, keloid_area_cm2__lte=KELOID_AREA_MAX),
                name="assessment_keloid_area",
            ),
            models.CheckConstraint(
                condition=models.Q(pih__in=MarkSeverity.values, pie__in=MarkSeverity.values),
                name="assessment_marks_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(**{f"{key}__lte": LESION_COUNT_MAX for key in LESION_KEYS}),
                name="assessment_lesion_counts_max",
            ),
        ]

    def __str__(self) -> str:
        return f"Assessment #{self.pk} of patient #{self.patient_id} on {self.assessed_on}"

    @property
    def lesions(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in LESION_KEYS}


class PhotoView(models.TextChoices):
    FRONT = "front", _("Front")
    LEFT_45 = "left_45", _("Left 45°")
    RIGHT_45 = "right_45", _("Right 45°")
    LEFT_90 = "left_90", _("Left 90°")
    RIGHT_90 = "right_90", _("Right 90°")


def _photo_path(instance: AssessmentPhoto, filename: str) -> str:
    # The service names files with a random uuid4; this only adds the folder.
    return f"photos/{filename}"


class AssessmentPhoto(models.Model):
    """A standardised photo taken with an assessment. The files live in the
    private default storage under random names and are served only by the
    authorised API endpoints; EXIF (location included) was stripped on upload."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="photos")
    view = models.CharField(max_length=10, choices=PhotoView.choices)
    taken_at = models.DateTimeField(default=timezone.now)
    image = models.FileField(upload_to=_photo_path, max_length=200, editable=False)
    thumbnail = models.FileField(upload_to=_photo_path, max_length=200, editable=False)
    content_type = models.CharField(max_length=20, editable=False)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(view__in=PhotoView.values), name="photo_view_valid"),
            models.CheckConstraint(
                condition=models.Q(content_type__in=["image/jpeg", "image/png"]), name="photo_content_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Photo #{self.pk} ({self.view}) of assessment #{self.assessment_id}"


class TreatmentPlan(models.Model):
    """A course of sessions of one treatment for one patient. A patient may
    have several plans at once. Windows follow treatments.plans."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="plans")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="plans")
    assessment = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.PROTECT, related_name="plans")
    start_after = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"], name="plan_patient_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "completed", "cancelled"]), name="plan_status"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan #{self.pk}: {self.treatment.slug} for patient #{self.patient_id} ({self.status})"


class PlanSession(models.Model):
    """Session ``number`` of a plan. ``status`` is what happened to it;
    ``overdue`` is not stored but computed at read time (treatments.plans).

    ``booked_on`` and ``completed_on`` are the clinic-local dates the booking
    services report (the session's active appointment is the one appointment
    with ``plan_session`` = this row and an active status); they anchor the
    next session's window, which is stored and recomputed on every change."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        BOOKED = "booked", _("Booked")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    window_start = models.DateField()
    window_end = models.DateField()
    status: models.CharField[str, SessionState]  # one of Status, as treatments/plans.py reads it
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    booked_on = models.DateField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    _history_user: User | None  # set before a save: django-simple-history records it on the history row

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_session_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="plan_session_number_positive"),
            models.CheckConstraint(
                condition=models.Q(window_start__lte=models.F("window_end")), name="plan_session_window_ordered"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "booked", "completed", "cancelled"]),
                name="plan_session_status",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} of plan #{self.plan_id} ({self.status})"


# --- informed consent ------------------------------------------------------------------
#
# A consent form (for some treatments, or whole categories) has numbered
# versions. A manager writes a draft and publishes it; a published version never
# changes again (treatments.consents refuses, and so does a PostgreSQL trigger).
# A patient's signature binds the exact text shown (kept with its SHA-256) to
# one version. Whether a signature still counts when a newer version is
# published is the newer version's word: ``keeps_earlier_signatures``.


class ConsentForm(Bilingual, models.Model):
    """One consent document. It applies to the treatments named and to every
    treatment of the categories named; a treatment needs every active form that
    applies to it (treatments.consents.forms_for)."""

    slug = models.SlugField(unique=True, max_length=80)
    title_en = models.CharField(max_length=200)
    title_zh_hant = models.CharField(max_length=200)
    treatments = models.ManyToManyField(Treatment, blank=True, related_name="consent_forms")
    categories = models.JSONField(default=list, blank=True, help_text="Category codes this form covers.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(m2m_fields=[treatments])
    _history_user: User | None

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title_en


class PhotoUse(models.TextChoices):
    """What a patient lets the clinic do with their photos. Clinical use (the
    chart, the patient's own progress) is part of every treatment's consent;
    teaching and marketing are separate choices."""

    CLINICAL = "clinical", _("Clinical use only")
    TEACHING = "teaching", _("Teaching")
    MARKETING = "marketing", _("Marketing")


class ConsentVersion(models.Model):
    """One numbered version of a form, in both languages: risks, alternatives,
    aftercare and the photo-use explanation. Editable while a draft;
    immutable once published."""

    SECTIONS = ("summary", "risks", "alternatives", "aftercare", "photos")

    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    summary_en = models.TextField(max_length=5000)
    summary_zh_hant = models.TextField(max_length=5000)
    risks_en = models.TextField(max_length=10000)
    risks_zh_hant = models.TextField(max_length=10000)
    alternatives_en = models.TextField(max_length=5000)
    alternatives_zh_hant = models.TextField(max_length=5000)
    aftercare_en = models.TextField(max_length=5000)
    aftercare_zh_hant = models.TextField(max_length=5000)
    photos_en = models.TextField(max_length=5000)
    photos_zh_hant = models.TextField(max_length=5000)
    keeps_earlier_signatures = models.BooleanField(
        default=False,
        help_text="Signatures of earlier versions stay valid (a wording fix); off when patients must sign again.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords()
    _history_user: User | None

    class Meta:
        ordering = ["form", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="consent_version_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="consent_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.form.slug} v{self.number}"

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def section(self, name: str, language: str | None = None) -> str:
        return str(getattr(self, f"{name}_zh_hant" if is_chinese(language) else f"{name}_en"))


class ConsentSignature(models.Model):
    """A patient's consent to one version: the exact text they were shown and
    its SHA-256, the name they typed, their drawing (SVG of strokes, or none
    when they typed instead), their photo choices, when, from where, through
    which door and who witnessed it at the desk. Never deleted or changed, but
    for withdrawal, which keeps history."""

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        DESK = "desk", _("At the front desk")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="consent_signatures")
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="signatures")
    language = models.CharField(max_length=8, help_text="The language of the text shown.")
    text = models.TextField(help_text="The exact text shown when signing.")
    text_sha256 = models.CharField(max_length=64)
    full_name = models.CharField(max_length=200)
    signature_svg = models.TextField(blank=True, help_text="The drawn signature; empty when typed instead.")
    photo_teaching = models.BooleanField(default=False)
    photo_marketing = models.BooleanField(default=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    signed_at = models.DateTimeField()
    client_address = models.GenericIPAddressField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_reason = models.CharField(max_length=500, blank=True)

    history = HistoricalRecords()
    _history_user: User | None

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(channel__in=["online", "desk"]), name="consent_channel_valid"),
            models.CheckConstraint(condition=~models.Q(full_name=""), name="consent_signature_named"),
            models.CheckConstraint(
                condition=models.Q(channel="online") | models.Q(witnessed_by__isnull=False),
                name="consent_desk_witnessed",
            ),
        ]
        indexes = [models.Index(fields=["patient", "version"], name="consent_signature_patient")]

    def __str__(self) -> str:
        return f"Consent #{self.pk}: patient #{self.patient_id}, {self.version_id}"

    @property
    def photo_use(self) -> list[str]:
        uses = [PhotoUse.CLINICAL.value]
        if self.photo_teaching:
            uses.append(PhotoUse.TEACHING.value)
        if self.photo_marketing:
            uses.append(PhotoUse.MARKETING.value)
        return uses
