"""OpenAPI pieces shared by every endpoint: the one error envelope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers

from clinic.openapi import DESCRIPTIONS


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code, e.g. invalid, slot_unavailable.")
    detail = serializers.CharField(help_text="A message for people, in the request's language.")
    fields = serializers.DictField(  # type: ignore[assignment]  # DRF moves declared fields off the class; Serializer.fields stays
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name → messages, for 400 invalid.",
    )

    class Meta:
        ref_name = "Error"


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="A contraindication code, health_declaration_required, or too_close (a gap rule between "
        "different treatments)."
    )
    detail = serializers.CharField(help_text="Why, in words for the patient.")
    severity = serializers.ChoiceField(choices=["block", "caution"])
    appointment = serializers.IntegerField(
        required=False, help_text="too_close only: the patient's other appointment that is too close."
    )

    class Meta:
        ref_name = "ScreeningReason"


class ContraindicatedSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["contraindicated", "too_close"])
    detail = serializers.CharField()
    reasons = ReasonSerializer(many=True)

    class Meta:
        ref_name = "ContraindicatedError"


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(
            ContraindicatedSerializer if status == 422 else ErrorSerializer, description=DESCRIPTIONS[status]
        )
        for status in statuses
    }


if TYPE_CHECKING:
    from rest_framework.response import Response
    from rest_framework.views import APIView

    _APIViewBase = APIView
else:
    _APIViewBase = object


class _JsonErrorsMixin(_APIViewBase):
    """drf-spectacular's views negotiate YAML or HTML; their errors still use
    the API's JSON envelope (clinic/errors.py), whatever raised them."""

    def handle_exception(self, exc: Exception) -> Response:
        from rest_framework.renderers import JSONRenderer

        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response


class SchemaView(_JsonErrorsMixin, SpectacularAPIView):
    pass


class DocsView(_JsonErrorsMixin, SpectacularSwaggerSplitView):
    pass
