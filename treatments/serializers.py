from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from clinic.api import (
    AwareDateTimeField,
    BoundedListField,
    CleanCharField,
    StrictIntegerField,
    StrictPrimaryKeyRelatedField,
)
from clinic.clock import clinic_today
from patients.models import Patient
from treatments import selectors
from treatments.models import (
    KELOID_AREA_MAX,
    LESION_COUNT_MAX,
    LESION_KEYS,
    Assessment,
    AssessmentPhoto,
    MarkSeverity,
    PhotoView,
    PlanSession,
    ScarType,
    Treatment,
    TreatmentPlan,
)


class TreatmentSerializer(serializers.ModelSerializer):
    """A treatment in the request's language (Accept-Language)."""

    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    pre_care = serializers.SerializerMethodField()
    aftercare = serializers.SerializerMethodField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)
    currency = serializers.SerializerMethodField()
    suits = serializers.ListField(child=serializers.CharField())
    downtime_days = serializers.SerializerMethodField(
        help_text="Usual days of visible redness, swelling or bruising after one session (clinic estimates); "
        "0 and 0 for none."
    )

    class Meta:
        model = Treatment
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "category",
            "duration_minutes",
            "sessions_min",
            "sessions_max",
            "interval_days_min",
            "interval_days_max",
            "price",
            "currency",
            "suits",
            "pre_care",
            "aftercare",
            "downtime_days",
        ]

    def get_name(self, treatment: Treatment) -> str:
        return treatment.localized("name")

    def get_description(self, treatment: Treatment) -> str:
        return treatment.localized("description")

    def get_pre_care(self, treatment: Treatment) -> str:
        return treatment.localized("pre_care")

    def get_aftercare(self, treatment: Treatment) -> str:
        return treatment.localized("aftercare")

    def get_currency(self, treatment: Treatment) -> str:
        return settings.CLINIC_CURRENCY

    @extend_schema_field(
        inline_serializer("DowntimeDays", fields={"min": serializers.IntegerField(), "max": serializers.IntegerField()})
    )
    def get_downtime_days(self, treatment: Treatment) -> dict[str, int]:
        return {"min": treatment.downtime_days_min, "max": treatment.downtime_days_max}


class TreatmentSlugField(serializers.SlugRelatedField):
    """A treatment referenced by slug; unknown or inactive slugs are 400."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault("queryset", Treatment.objects.filter(active=True))
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> Treatment:
        if not isinstance(data, str) or len(data) > 80 or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- clinical records ------------------------------------------------------------------------


class LesionsSerializer(serializers.Serializer):
    """The ten Goodman & Baron counts by API key; a missing key is 0, an unknown key 400."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {key: StrictIntegerField(min_value=0, max_value=LESION_COUNT_MAX, required=False) for key in LESION_KEYS}

    def to_internal_value(self, data: Any) -> dict[str, int]:
        if isinstance(data, dict):
            # At most the first ten unknown keys are named: a body of 100,000 keys
            # gets a short answer.
            unknown = [str(key)[:60] for key in data if key not in LESION_KEYS][:10]
            if unknown:
                raise serializers.ValidationError(
                    {key: [_("Unknown lesion key. Known: %s.") % ", ".join(LESION_KEYS)] for key in unknown}
                )
        return super().to_internal_value(data)


def _keloid_area_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal(KELOID_AREA_MAX),
        coerce_to_string=False,
        help_text="Total keloidal/hypertrophic area in cm², 2 decimals.",
        **kwargs,
    )


class _AssessmentFields(serializers.Serializer):
    assessed_on = serializers.DateField(
        required=False,
        help_text="Clinic-local date; default today. Not in the future, not before the patient's birth.",
    )
    fitzpatrick_type = StrictIntegerField(min_value=1, max_value=6)
    lesions = LesionsSerializer(required=False)
    keloid_area_cm2 = _keloid_area_field(required=False)
    types_present = BoundedListField(
        child=serializers.ChoiceField(choices=ScarType.choices), required=False, max_length=len(ScarType.values) * 2
    )
    qualitative_grade = StrictIntegerField(min_value=1, max_value=4)
    pih = serializers.ChoiceField(choices=MarkSeverity.choices)
    pie = serializers.ChoiceField(choices=MarkSeverity.choices)
    notes = CleanCharField(allow_blank=True, required=False, max_length=5000)


class AssessmentInputSerializer(_AssessmentFields):
    patient = StrictPrimaryKeyRelatedField(queryset=Patient.objects.all())


class AssessmentCorrectionSerializer(_AssessmentFields):
    """Every assessment field optional (``lesions`` changes only the counts it
    names); ``reason`` required, ``version`` optional. The rules (a reason that
    is not blank, at most 100 characters; dates; the version) are the
    service's: treatments.services.assessment_correct."""

    reason = CleanCharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="Why the assessment is corrected, kept in its history: not blank, at most 100 characters.",
    )
    version = AwareDateTimeField(
        required=False,
        help_text="The assessment's updated_at as you read it. If it has been saved since, the correction is "
        "refused with 409 edit_conflict instead of silently undoing the other change; omit it to overwrite.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in fields.items():
            if name != "reason":
                field.required = False
        return fields

    # Never partial, although it is PATCH's body: its other fields are optional
    # already, and ``reason`` stays required (in validation and in the schema,
    # which drf-spectacular would otherwise render as all-optional for PATCH).
    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass


class PhotoSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = AssessmentPhoto
        fields = ["id", "assessment", "view", "taken_at", "image_url", "thumbnail_url", "width", "height"]
        read_only_fields = fields

    def _url(self, name: str, photo: AssessmentPhoto) -> str:
        path = reverse(name, kwargs={"pk": photo.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_image_url(self, photo: AssessmentPhoto) -> str:
        return self._url("photo-image", photo)

    def get_thumbnail_url(self, photo: AssessmentPhoto) -> str:
        return self._url("photo-thumbnail", photo)


class PhotoUploadSerializer(serializers.Serializer):
    view = serializers.ChoiceField(choices=PhotoView.choices)
    image = serializers.FileField(allow_empty_file=False, max_length=255, help_text="JPEG or PNG, at most 10 MB.")


class AssessmentSerializer(serializers.ModelSerializer):
    """One assessment, the same in create, detail, list and correction responses."""

    lesions = serializers.SerializerMethodField()
    keloid_area_cm2 = _keloid_area_field(read_only=True)
    types_present = serializers.ListField(child=serializers.CharField(), read_only=True)
    photos = PhotoSerializer(many=True, read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "patient",
            "assessed_on",
            "assessed_by",
            "fitzpatrick_type",
            "lesions",
            "keloid_area_cm2",
            "types_present",
            "qualitative_grade",
            "pih",
            "pie",
            "notes",
            "quantitative_score",
            "photos",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        inline_serializer("LesionCounts", fields={key: serializers.IntegerField() for key in LESION_KEYS})
    )
    def get_lesions(self, assessment: Assessment) -> dict[str, int]:
        return assessment.lesions


class PlanSessionSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    appointment = serializers.SerializerMethodField()

    class Meta:
        model = PlanSession
        fields = ["id", "number", "window_start", "window_end", "status", "appointment"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["pending", "booked", "completed", "cancelled", "overdue"]))
    def get_status(self, session: PlanSession) -> str:
        today = self.context.get("today") or clinic_today()
        return selectors.shown_status(session, today)

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="The session's active appointment."))
    def get_appointment(self, session: PlanSession) -> int | None:
        return selectors.session_appointment_id(session)


class PlanSerializer(serializers.ModelSerializer):
    treatment: serializers.SlugRelatedField[Treatment] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    sessions = PlanSessionSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentPlan
        fields = [
            "id",
            "status",
            "treatment",
            "patient",
            "assessment",
            "start_after",
            "sessions",
            "cancellation_reason",
            "created_at",
        ]
        read_only_fields = fields


class PlanInputSerializer(serializers.Serializer):
    patient = StrictPrimaryKeyRelatedField(queryset=Patient.objects.all())
    treatment = TreatmentSlugField()
    sessions = StrictIntegerField(min_value=1, max_value=100)
    assessment = StrictPrimaryKeyRelatedField(queryset=Assessment.objects.all(), required=False, allow_null=True)
    start_after = serializers.DateField(required=False, allow_null=True, help_text="Default: today (clinic-local).")


class PlanCancelSerializer(serializers.Serializer):
    reason = CleanCharField(allow_blank=True, default="", max_length=2000)


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    history_id = serializers.IntegerField()
    object = serializers.CharField(help_text="assessment, plan or plan_session")
    object_id = serializers.IntegerField()
    at = serializers.DateTimeField()
    by = serializers.IntegerField(allow_null=True, help_text="The user who made the change.")
    by_name = serializers.CharField(allow_blank=True)
    type = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    changes = HistoryChangeSerializer(many=True)


class ProgressAssessmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    assessed_on = serializers.DateField()
    quantitative_score = serializers.IntegerField()
    qualitative_grade = serializers.IntegerField()


class ProgressChangeSerializer(serializers.Serializer):
    from_assessment = serializers.IntegerField()
    to_assessment = serializers.IntegerField()
    quantitative_score = serializers.IntegerField(help_text="Latest minus first; negative is better.")
    quantitative_score_percent = serializers.FloatField(allow_null=True, help_text="Null when the first score is 0.")
    qualitative_grade = serializers.IntegerField(help_text="Latest minus first; negative is better.")


class ProgressPlanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    treatment = serializers.CharField()
    status = serializers.CharField()
    sessions_total = serializers.IntegerField()
    sessions_done = serializers.IntegerField()
    done = PlanSessionSerializer(many=True)
    due = PlanSessionSerializer(many=True, help_text="Pending, overdue and booked sessions, in order.")


class ProgressPhotosSerializer(serializers.Serializer):
    first = PhotoSerializer()
    latest = PhotoSerializer()


class ProgressSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    today = serializers.DateField(help_text="The clinic-local date session statuses were computed for.")
    assessments = ProgressAssessmentSerializer(many=True, help_text="Oldest first.")
    change = ProgressChangeSerializer(allow_null=True)
    plans = ProgressPlanSerializer(many=True)
    photos = serializers.DictField(child=ProgressPhotosSerializer(), help_text="By view: the first and latest photo.")


class DowntimeConflictSerializer(serializers.Serializer):
    """A date that matters to the patient which the visit's usual downtime overlaps (a flag, not a refusal)."""

    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    label = serializers.CharField()  # type: ignore[assignment]  # DRF moves declared fields off the class
    detail = serializers.CharField(help_text="The sentence to show, in the request's language.")
