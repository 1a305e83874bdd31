"""The catalogue: what the clinic offers and what each treatment needs.

Clinical rules (intervals, contraindications) are editable data seeded from
shared/domain.md, never constants in code; unverified values carry
``verified=False`` for a clinician to review in the admin.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


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
    room_kind = models.ForeignKey(RoomKind, on_delete=models.PROTECT, related_name="treatments")
    device_kind = models.ForeignKey(
        DeviceKind, null=True, blank=True, on_delete=models.PROTECT, related_name="treatments"
    )
    verified = models.BooleanField(
        default=False, help_text="A clinician has checked the durations, intervals and rules of this treatment."
    )
    active = models.BooleanField(default=True)
    display_order = models.PositiveSmallIntegerField(default=100)

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
