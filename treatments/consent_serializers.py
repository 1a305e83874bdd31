"""How consent forms and signatures read in the API and in the patient's copy
of their data (booking/consent_apis.py, booking/export.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api import BoundedListField, CleanCharField, StrictPrimaryKeyRelatedField
from treatments.consents import LANGUAGES, NAME_MAX, REASON_MAX, SIGNATURE_MAX_BYTES
from treatments.models import ConsentSignature, ConsentVersion, PhotoUse

# A drawing over SIGNATURE_MAX_BYTES is refused by the service with its own
# message (400); this bound only stops text far beyond any drawing early.
SVG_FIELD_MAX = 4 * SIGNATURE_MAX_BYTES


class ConsentFormRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField(help_text="In the language of the text.")

    class Meta:
        ref_name = "ConsentFormRef"


class ConsentSignatureSerializer(serializers.ModelSerializer):
    """One signature, the same in create, list and withdrawal responses."""

    form = serializers.SerializerMethodField()
    version = serializers.IntegerField(source="version_id", read_only=True, help_text="The version's id.")
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    photo_use = serializers.ListField(
        child=serializers.ChoiceField(choices=PhotoUse.choices),
        read_only=True,
        help_text="Always includes clinical; teaching and marketing when chosen.",
    )
    drawn = serializers.SerializerMethodField(help_text="True when a drawing was signed; false when typed only.")
    valid = serializers.SerializerMethodField(help_text="False once withdrawn.")

    class Meta:
        model = ConsentSignature
        fields = [
            "id",
            "patient",
            "form",
            "version",
            "version_number",
            "language",
            "text",
            "text_sha256",
            "full_name",
            "drawn",
            "photo_use",
            "channel",
            "signed_at",
            "witnessed_by",
            "valid",
            "withdrawn_at",
            "withdrawal_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(ConsentFormRefSerializer)
    def get_form(self, signature: ConsentSignature) -> dict[str, str]:
        form = signature.version.form
        return {"slug": form.slug, "title": form.localized("title", signature.language)}

    def get_drawn(self, signature: ConsentSignature) -> bool:
        return bool(signature.signature_svg)

    def get_valid(self, signature: ConsentSignature) -> bool:
        return signature.withdrawn_at is None


class ConsentSignInputSerializer(serializers.Serializer):
    version = StrictPrimaryKeyRelatedField(
        queryset=ConsentVersion.objects.select_related("form"),
        help_text="The id of the form's current version, as given by GET .../consent/.",
    )
    full_name = CleanCharField(allow_blank=True, max_length=NAME_MAX * 2, help_text="Typed full name (required).")
    signature_svg = CleanCharField(
        allow_blank=True,
        default="",
        max_length=SVG_FIELD_MAX,
        trim_whitespace=False,
        help_text='The drawn signature: <svg viewBox="0 0 W H"> holding only <path d="M x y L x y ..."/> '
        f"strokes (at most {SIGNATURE_MAX_BYTES // 1024} kB, 400 strokes). Empty or omitted when typed instead.",
    )
    photo_use = BoundedListField(
        child=serializers.ChoiceField(choices=PhotoUse.choices),
        max_length=3,
        default=list,
        help_text="Photo uses allowed beyond clinical use: teaching, marketing (clinical is always included).",
    )
    language = serializers.ChoiceField(
        choices=[(code, code) for code in LANGUAGES],
        required=False,
        help_text="The language of the text shown. Default: Accept-Language when sent, else the patient's "
        "preferred language.",
    )


class ConsentWithdrawInputSerializer(serializers.Serializer):
    reason = CleanCharField(allow_blank=True, default="", max_length=REASON_MAX)


def signature_export(signature: ConsentSignature) -> dict[str, Any]:
    """A signature in the patient's copy of their data (data.json)."""
    form = signature.version.form
    return {
        "id": signature.pk,
        "form": form.slug,
        "form_title": form.localized("title", signature.language),
        "version": signature.version.number,
        "language": signature.language,
        "text": signature.text,
        "text_sha256": signature.text_sha256,
        "full_name": signature.full_name,
        "signature_svg": signature.signature_svg,
        "photo_use": signature.photo_use,
        "channel": signature.channel,
        "signed_at": signature.signed_at,
        "withdrawn": signature.withdrawn_at is not None,
        "withdrawn_at": signature.withdrawn_at,
        "withdrawal_reason": signature.withdrawal_reason,
    }


__all__ = [
    "ConsentFormRefSerializer",
    "ConsentSignInputSerializer",
    "ConsentSignatureSerializer",
    "ConsentWithdrawInputSerializer",
    "signature_export",
]
