from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clinic.api import BoundedListField, CleanCharField, StrictModelSerializer
from patients.models import DECLARATION_YES_NO, Allergy, HealthDeclaration, Language, Patient
from patients.validators import normalize_phone


class PhoneField(CleanCharField):
    """Any common way of writing a phone number in; E.164 out."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return normalize_phone(value)
        except Exception as error:  # django ValidationError
            raise serializers.ValidationError(getattr(error, "messages", [str(error)])) from None


class PatientSerializer(StrictModelSerializer):
    """One patient, the same in create, detail and list responses."""

    full_name = CleanCharField(max_length=200)
    phone = PhoneField(max_length=40)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(
        help_text="Not in the future, nor more than 120 years ago (checked by the service)."
    )
    preferred_language = serializers.ChoiceField(choices=Language.choices, default=Language.ENGLISH)

    class Meta:
        model = Patient
        fields = [
            "id",
            "email",
            "full_name",
            "date_of_birth",
            "phone",
            "preferred_language",
            "fitzpatrick_type",
            "reminders_opt_out",
        ]
        read_only_fields = ["id"]


class OwnProfileSerializer(PatientSerializer):
    class Meta(PatientSerializer.Meta):
        read_only_fields = ["id", "fitzpatrick_type"]


class OwnProfileUpdatedSerializer(OwnProfileSerializer):
    detail = serializers.CharField(
        read_only=True, help_text="What happened, e.g. that a confirmation link went to a new email address."
    )

    class Meta(OwnProfileSerializer.Meta):
        fields = [*OwnProfileSerializer.Meta.fields, "detail"]


class EmailChangeConfirmSerializer(serializers.Serializer):
    token = CleanCharField(max_length=500)


class StaffPatientSerializer(PatientSerializer):
    has_login = serializers.SerializerMethodField()

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "has_login"]

    def get_has_login(self, patient: Patient) -> bool:
        return patient.user_id is not None


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = CleanCharField(max_length=128, trim_whitespace=False)
    full_name = CleanCharField(max_length=200)
    date_of_birth = serializers.DateField(
        help_text="Not in the future, nor more than 120 years ago (checked by the service)."
    )
    phone = PhoneField(max_length=40)
    preferred_language = serializers.ChoiceField(choices=Language.choices)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = CleanCharField(max_length=128, trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = CleanCharField(max_length=64)
    token = CleanCharField(max_length=128)
    password = CleanCharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class RegisteredSerializer(serializers.Serializer):
    patient = PatientSerializer()
    token = serializers.CharField()


class HealthDeclarationSerializer(StrictModelSerializer):
    allergies = BoundedListField(
        child=serializers.ChoiceField(choices=Allergy.choices), required=False, default=list, max_length=10
    )
    allergies_other = CleanCharField(required=False, allow_blank=True, default="", max_length=2000)
    entered_by_staff = serializers.SerializerMethodField()

    class Meta:
        model = HealthDeclaration
        fields = [
            "id",
            "patient",
            "submitted_at",
            "entered_by_staff",
            "pregnant_or_breastfeeding",
            "isotretinoin_last_dose",
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
            "topical_retinoid_last_use",
            "implanted_electronic_device",
            "allergies",
            "allergies_other",
        ]
        read_only_fields = ["id", "patient", "submitted_at", "entered_by_staff"]
        extra_kwargs = {
            name: {"required": True}
            for name in (*DECLARATION_YES_NO, "isotretinoin_last_dose", "topical_retinoid_last_use")
        }

    def get_entered_by_staff(self, declaration: HealthDeclaration) -> bool:
        return declaration.entered_by_id is not None
