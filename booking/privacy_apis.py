"""The patient's own copy of their data and erasure on request (booking/export.py,
booking/erasure.py): the API doors. The pages are portal/account/privacy.py and
workspace/chart/privacy.py; all of them call the same builder and services."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import erasure
from booking.export import export_response
from booking.models import Erasure
from clinic.errors import NotFound
from clinic.schema import errors
from patients.models import AccessEvent, Patient
from patients.permissions import IsManager, IsPatient, user_of
from patients.services import access_record

EXPORT_DESCRIPTION = (
    "A zip, streamed as it is built: `data.json` (profile, health_declarations, appointments, assessments with "
    "their correction `history`, plans with sessions, session_records, consent_signatures, notifications sent, "
    "waitlist (entries, each with its open offer), access_log) and "
    "`photos/`, the original images, named `photos/assessment-<id>/photo-<id>-<view>.<ext>`; each photo in "
    "data.json names its file in `file`. No Content-Length."
)
ZIP_RESPONSE = OpenApiResponse(OpenApiTypes.BINARY, description="The export, application/zip.")


class _ZipDownload(APIView):
    """A client may send ``Accept: application/zip``: no renderer offers it,
    so negotiation falls back to JSON (used only for error bodies) instead of
    answering 406; the zip itself is a StreamingHttpResponse, never rendered."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class MyExportApi(_ZipDownload):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={(200, "application/zip"): ZIP_RESPONSE, **errors(401, 403)},
        description="The signed-in patient's own copy of their data. " + EXPORT_DESCRIPTION,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return export_response(Patient.objects.get(user=user_of(request)))


class PatientExportApi(_ZipDownload):
    """Managers only: practitioners read records one by one (each read logged);
    a whole record with every photo at once is the clinic's answer to a data
    access request, which the manager handles. Receptionists see no clinical data."""

    permission_classes = [IsManager]

    @extend_schema(
        responses={(200, "application/zip"): ZIP_RESPONSE, **errors(401, 403, 404)},
        description="A patient's data, produced by a manager (for a request by post or in person). "
        + EXPORT_DESCRIPTION,
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        patient = get_object_or_404(Patient, pk=pk)
        access_record(request, patient, AccessEvent.What.EXPORT, AccessEvent.Door.API)
        return export_response(patient)


class ErasureSerializer(serializers.ModelSerializer):
    steps = serializers.ListField(
        child=serializers.DictField(), read_only=True, help_text="{step, at, ...counts}, in the order they happened."
    )

    class Meta:
        model = Erasure
        fields = [
            "id",
            "patient",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "last_visit",
            "purge_due",
            "purged_at",
            "steps",
        ]
        read_only_fields = fields


class PatientEraseApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        request=None,
        responses={201: ErasureSerializer, **errors(401, 403, 404, 409)},
        description="Erases the patient on request: name, email, phone and login go at once (history included), "
        "future appointments and active plans are cancelled without mail, pending messages skipped. Clinical "
        "records are kept until `purge_due` (CLINIC_RECORD_RETENTION after the last visit), then purged. "
        "409 invalid_state if already erased or the login is a staff account.",
    )
    def post(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        record = erasure.patient_erase(patient=patient, by=user_of(request))
        return Response(ErasureSerializer(record).data, status=201)


class PatientErasureApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        responses={200: ErasureSerializer, **errors(401, 403, 404)},
        description="The erasure record and its log of steps; 404 if the patient was not erased.",
    )
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        record = Erasure.objects.filter(patient=patient).first()
        if record is None:
            raise NotFound()
        return Response(ErasureSerializer(record).data)
