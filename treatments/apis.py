"""The public catalogue, screening before booking, and clinical records (assessments, photos, plans, progress)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api import AwareDateTimeField, StrictPrimaryKeyRelatedField
from clinic.clock import clinic_today
from clinic.errors import InvalidInput, TooLarge
from clinic.schema import ErrorSerializer, ReasonSerializer, errors
from patients import roles
from patients.access import AccessLoggedApi
from patients.models import AccessEvent, Patient
from patients.permissions import HasRole, IsClinician, IsPatient, IsPatientOrStaff, is_staff, user_of
from patients.services import access_record
from treatments import history, selectors, services
from treatments.consent_pdf import consent_pdf_response
from treatments.models import Assessment, AssessmentPhoto, ConsentSignature, PlanSession, Treatment, TreatmentPlan
from treatments.photos import MAX_BYTES, photo_response
from treatments.screening import screen
from treatments.serializers import (
    AssessmentCorrectionSerializer,
    AssessmentInputSerializer,
    AssessmentSerializer,
    DowntimeConflictSerializer,
    HistoryEntrySerializer,
    PhotoSerializer,
    PhotoUploadSerializer,
    PlanCancelSerializer,
    PlanInputSerializer,
    PlanSerializer,
    PlanSessionSerializer,
    ProgressSerializer,
    TreatmentSerializer,
    TreatmentSlugField,
)

# Room for the multipart boundaries and the other fields around a 10 MB file.
MULTIPART_OVERHEAD = 64 * 1024


class TreatmentListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = TreatmentSerializer

    def get_queryset(self) -> QuerySet[Treatment]:
        return Treatment.objects.filter(active=True).order_by("display_order", "slug")


@extend_schema(responses={200: TreatmentSerializer, **errors(404)})
class TreatmentDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = TreatmentSerializer
    lookup_field = "slug"
    queryset = Treatment.objects.filter(active=True)


class ScreeningRequestSerializer(serializers.Serializer):
    treatment = TreatmentSlugField()
    start = AwareDateTimeField(required=False)
    patient = StrictPrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False)


# The screening answer, shared with booking.apis.ScreeningApi (the routed one, which adds the gap rules).
SCREENING_RESULT = inline_serializer(
    "ScreeningResult",
    fields={
        "outcome": serializers.ChoiceField(choices=["clear", "caution", "blocked"]),
        "reasons": ReasonSerializer(many=True),
        "downtime": DowntimeConflictSerializer(
            many=True,
            required=False,
            help_text="Only when `start` is given: the patient's dates that matter which the "
            "treatment's usual downtime after a visit on that day would overlap. A flag, never a refusal.",
        ),
    },
)


class ScreeningApi(APIView):
    permission_classes = [IsPatientOrStaff]

    @extend_schema(
        request=ScreeningRequestSerializer,
        responses={
            200: SCREENING_RESULT,
            **errors(400, 401, 403),
        },
    )
    def post(self, request: Request) -> Response:
        staff = is_staff(request)
        if not staff and isinstance(request.data, dict) and "patient" in request.data:
            # Refused before it is looked up, so the answer says nothing of other patients.
            raise InvalidInput(fields={"patient": [_("Patients screen only themselves.")]})
        data = ScreeningRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if staff:
            patient = data.validated_data.get("patient")
            if patient is None:
                raise InvalidInput(fields={"patient": [_("Staff must say which patient.")]})
            # The findings come from the patient's health declaration.
            access_record(request, patient, AccessEvent.What.DECLARATIONS, AccessEvent.Door.API)
        else:
            patient = Patient.objects.get(user=user_of(request))
        start = data.validated_data.get("start")
        return Response(self.decide(patient=patient, treatment=data.validated_data["treatment"], start=start))

    def decide(self, *, patient: Patient, treatment: Treatment, start: datetime | None) -> dict[str, Any]:
        """Screening's answer; booking.apis.ScreeningApi (the routed one) adds the gap rules."""
        on = clinic_today(start)
        result = screen(patient=patient, treatment=treatment, on=on)
        body: dict[str, Any] = {"outcome": result.outcome, "reasons": result.reasons()}
        if start is not None:
            conflicts = selectors.downtime_conflicts(patient_id=patient.pk, treatment=treatment, day=on)
            body["downtime"] = DowntimeConflictSerializer(conflicts, many=True).data
        return body


# --- clinical records (assessments, treatment plans, progress; docs/domain.md) --------------
#
# Role table: practitioners and managers read and write; a patient reads their
# own assessments, photos, plans and progress (another patient's are 404);
# receptionists get 403. Nothing here deletes.


class ClinicianOrOwnReader(HasRole):
    """Reads: the patient (own objects, narrowed by the queryset) and clinicians.
    Writes: clinicians only. A method the view does not handle passes, so it
    is answered 405 (as for every other route), not 403."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        allowed: tuple[str, ...] = (roles.PATIENT, roles.PRACTITIONER, roles.MANAGER)
        method = (request.method or "").lower()
        handled = method in view.http_method_names and hasattr(view, method)
        if request.method not in SAFE_METHODS and handled:
            allowed = (roles.PRACTITIONER, roles.MANAGER)
        return roles.role_of(request.user) in allowed


def _is_clinician(request: Request) -> bool:
    return roles.role_of(request.user) in (roles.PRACTITIONER, roles.MANAGER)


def _own_patient_filter(request: Request, queryset: QuerySet, path: str = "patient") -> QuerySet:
    """A patient sees only their own rows; clinicians every row."""
    if _is_clinician(request):
        return queryset
    return queryset.filter(**{f"{path}__user": request.user})


def _context(request: Request) -> dict[str, Any]:
    return {"request": request, "today": clinic_today()}


_PATIENT_PARAMETER = OpenApiParameter(
    "patient", int, description="Only this patient's (staff; a patient sees their own)."
)


def _patient_query(request: Request) -> int | None:
    raw = request.query_params.get("patient")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(fields={"patient": [_("Give a patient id.")]})
    return int(raw)


@extend_schema(parameters=[_PATIENT_PARAMETER], responses={**errors(400, 401, 403)})
class AssessmentListApi(AccessLoggedApi, generics.ListCreateAPIView):
    access_what = AccessEvent.What.ASSESSMENT
    permission_classes = [ClinicianOrOwnReader]
    serializer_class = AssessmentSerializer

    def get_queryset(self) -> QuerySet[Assessment]:
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        queryset = _own_patient_filter(self.request, selectors.assessments_for())
        patient_id = _patient_query(self.request)
        return queryset.filter(patient_id=patient_id) if patient_id is not None else queryset

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self.request)

    @extend_schema(request=AssessmentInputSerializer, responses={201: AssessmentSerializer, **errors(400, 401, 403)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AssessmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        assessment = services.assessment_record(by=user_of(request), **values)
        fresh = selectors.assessments_for().get(pk=assessment.pk)
        return Response(AssessmentSerializer(fresh, context=_context(request)).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: AssessmentSerializer, **errors(400, 401, 403, 404)})
class AssessmentDetailApi(AccessLoggedApi, generics.RetrieveAPIView):
    access_what = AccessEvent.What.ASSESSMENT
    permission_classes = [ClinicianOrOwnReader]
    serializer_class = AssessmentSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Assessment]:
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        return _own_patient_filter(self.request, selectors.assessments_for())

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self.request)

    @extend_schema(
        request=AssessmentCorrectionSerializer,
        responses={
            200: AssessmentSerializer,
            **errors(400, 401, 403, 404),
            409: OpenApiResponse(
                ErrorSerializer,
                description="edit_conflict: the assessment was saved by someone else after the `version` sent; "
                "read it again and repeat the correction (or omit `version` to overwrite).",
            ),
        },
        description="A correction: the fields sent replace the stored ones (``lesions`` only the counts it "
        "names); the score is recomputed and the previous version stays in the history with the `reason` "
        "(required: a missing or blank reason is 400 invalid on `reason`). With `version` (the `updated_at` "
        "read), a correction made on an outdated copy is 409 edit_conflict.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        assessment = self.get_object()
        if isinstance(request.data, dict) and "patient" in request.data:
            raise InvalidInput(fields={"patient": [_("An assessment cannot move to another patient.")]})
        data = AssessmentCorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason, version = values.pop("reason"), values.pop("version", None)
        services.assessment_correct(
            assessment=assessment, by=user_of(request), reason=reason, expected_version=version, **values
        )
        fresh = selectors.assessments_for().get(pk=assessment.pk)
        return Response(AssessmentSerializer(fresh, context=_context(request)).data)


class _HistoryApi(APIView):
    permission_classes = [IsClinician]
    pagination_class = None


@extend_schema(responses={200: HistoryEntrySerializer(many=True), **errors(401, 403, 404)})
class AssessmentHistoryApi(_HistoryApi):
    """Every version of an assessment: who changed which field, when."""

    def get(self, request: Request, pk: int) -> Response:
        assessment = get_object_or_404(Assessment, pk=pk)
        access_record(request, assessment.patient_id, AccessEvent.What.HISTORY, AccessEvent.Door.API, assessment.pk)
        rows = list(assessment.history.all())
        names = history.user_names(row.history_user_id for row in rows)
        return Response(history.entries(rows, model=Assessment, kind="assessment", user_names=names))


@extend_schema(responses={200: HistoryEntrySerializer(many=True), **errors(401, 403, 404)})
class PlanHistoryApi(_HistoryApi):
    """Every version of a plan and of its sessions, oldest first."""

    def get(self, request: Request, pk: int) -> Response:
        plan = get_object_or_404(TreatmentPlan, pk=pk)
        access_record(request, plan.patient_id, AccessEvent.What.HISTORY, AccessEvent.Door.API, plan.pk)
        plan_rows = list(plan.history.all())
        session_rows = list(PlanSession.history.filter(plan_id=plan.pk))
        names = history.user_names(row.history_user_id for row in [*plan_rows, *session_rows])
        found = [
            *history.entries(plan_rows, model=TreatmentPlan, kind="plan", user_names=names),
            *history.entries(session_rows, model=PlanSession, kind="plan_session", user_names=names),
        ]
        found.sort(key=lambda entry: (entry["at"], entry["history_id"]))
        return Response(found)


class PhotoUploadApi(APIView):
    permission_classes = [IsClinician]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={201: PhotoSerializer, **errors(400, 401, 403, 404, 413, 415)},
        description="JPEG or PNG, at most 10 MB, checked by content. EXIF (location included) is removed and a "
        "thumbnail made; the files are served only by the authorised image endpoints.",
    )
    def post(self, request: Request, pk: int) -> Response:
        assessment = get_object_or_404(Assessment, pk=pk)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BYTES + MULTIPART_OVERHEAD:
            # Refused before the body is read at all.
            raise TooLarge(_("The picture is larger than 10 MB."))
        data = PhotoUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["image"]
        photo = services.photo_add(
            assessment=assessment,
            view=data.validated_data["view"],
            upload=upload,
            size=upload.size,
            by=user_of(request),
        )
        return Response(PhotoSerializer(photo, context=_context(request)).data, status=status.HTTP_201_CREATED)


class _PhotoFileApi(APIView):
    """The photo's bytes, for its own patient and for clinicians only."""

    permission_classes = [ClinicianOrOwnReader]
    field = "image"

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Browsers ask for image/*; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            **errors(401, 403, 404),
        }
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        photo = get_object_or_404(
            _own_patient_filter(request, AssessmentPhoto.objects.select_related("assessment"), "assessment__patient"),
            pk=pk,
        )
        access_record(request, photo.assessment.patient_id, AccessEvent.What.PHOTO, AccessEvent.Door.API, photo.pk)
        return photo_response(photo, self.field)


class PhotoImageApi(_PhotoFileApi):
    field = "image"


class PhotoThumbnailApi(_PhotoFileApi):
    field = "thumbnail"


PLAN_RULES = (
    "Windows are clinic-local dates, both ends inclusive, with the treatment's interval [min, max] days. "
    "Session 1: [start_after, start_after + (max − min)]; session k > 1: [anchor + min, anchor + max], "
    "anchored on session k−1's completed date, else its booked date, else its window_start; recomputed "
    "whenever a session is booked, moved, cancelled, missed or completed. A session is `overdue` when its "
    "window has ended with nothing booked (computed at read time). Booking (POST /appointments/ with "
    "plan_session): session k only once k−1 is booked or completed, and only inside its window, else 400 "
    "not_bookable; staff follow the same rules except that a session whose window has ended may be booked "
    "or moved to any date. A session with an appointment already, completed, or of a cancelled plan: 409 "
    "invalid_state. A treatment without intervals cannot be planned (400); `sessions` must lie within the "
    "treatment's sessions_min..sessions_max (open-ended: up to 50)."
)


@extend_schema(parameters=[_PATIENT_PARAMETER], responses={**errors(400, 401, 403)})
class PlanListApi(AccessLoggedApi, generics.ListCreateAPIView):
    access_what = AccessEvent.What.PLAN
    permission_classes = [ClinicianOrOwnReader]
    serializer_class = PlanSerializer

    def get_queryset(self) -> QuerySet[TreatmentPlan]:
        if getattr(self, "swagger_fake_view", False):
            return TreatmentPlan.objects.none()
        queryset = _own_patient_filter(self.request, selectors.plans_for())
        patient_id = _patient_query(self.request)
        return queryset.filter(patient_id=patient_id) if patient_id is not None else queryset

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self.request)

    @extend_schema(
        request=PlanInputSerializer,
        responses={201: PlanSerializer, **errors(400, 401, 403)},
        description=PLAN_RULES,
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PlanInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        plan = services.plan_create(
            patient=values["patient"],
            treatment=values["treatment"],
            sessions=values["sessions"],
            assessment=values.get("assessment"),
            start_after=values.get("start_after"),
            by=user_of(request),
        )
        fresh = selectors.plans_for().get(pk=plan.pk)
        return Response(self.created(request, fresh), status=status.HTTP_201_CREATED)

    def created(self, request: Request, plan: TreatmentPlan) -> dict[str, Any]:
        """The new plan's body; booking.apis.PlanListApi (the routed one) adds the spacing warnings."""
        return dict(PlanSerializer(plan, context=_context(request)).data)


@extend_schema(responses={200: PlanSerializer, **errors(401, 403, 404)})
class PlanDetailApi(AccessLoggedApi, generics.RetrieveAPIView):
    access_what = AccessEvent.What.PLAN
    permission_classes = [ClinicianOrOwnReader]
    serializer_class = PlanSerializer

    def get_queryset(self) -> QuerySet[TreatmentPlan]:
        if getattr(self, "swagger_fake_view", False):
            return TreatmentPlan.objects.none()
        return _own_patient_filter(self.request, selectors.plans_for())

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self.request)


class PlanCancelApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(
        request=PlanCancelSerializer,
        responses={200: PlanSerializer, **errors(400, 401, 403, 404, 409)},
        description="active → cancelled; sessions not completed become cancelled, completed ones stay. 409 "
        "invalid_state if the plan is not active, or while a session is booked (an appointment confirmed or "
        "checked in): cancel or complete that appointment first.",
    )
    def post(self, request: Request, pk: int) -> Response:
        plan = get_object_or_404(TreatmentPlan, pk=pk)
        data = PlanCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.plan_cancel(plan=plan, by=user_of(request), reason=data.validated_data["reason"])
        fresh = selectors.plans_for().get(pk=plan.pk)
        return Response(PlanSerializer(fresh, context=_context(request)).data)


def _progress(request: Request, patient: Patient) -> Response:
    today = clinic_today()
    found = selectors.progress(patient_id=patient.pk, today=today)
    context = {"request": request, "today": today}
    body = {
        "patient": patient.pk,
        "today": today,
        "assessments": [
            {
                "id": a.pk,
                "assessed_on": a.assessed_on,
                "quantitative_score": a.quantitative_score,
                "qualitative_grade": a.qualitative_grade,
            }
            for a in found["assessments"]
        ],
        "change": found["change"],
        "plans": [
            {
                "id": row["plan"].pk,
                "treatment": row["plan"].treatment.slug,
                "status": row["plan"].status,
                "sessions_total": row["total"],
                "sessions_done": len(row["done"]),
                "done": PlanSessionSerializer(row["done"], many=True, context=context).data,
                "due": PlanSessionSerializer(row["due"], many=True, context=context).data,
            }
            for row in found["plans"]
        ],
        "photos": {
            view: {
                "first": PhotoSerializer(pair["first"], context=context).data,
                "latest": PhotoSerializer(pair["latest"], context=context).data,
            }
            for view, pair in found["photos"].items()
        },
    }
    return Response(body)  # ProgressSerializer documents this shape


class MyProgressApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(responses={200: ProgressSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return _progress(request, Patient.objects.get(user=user_of(request)))


class PatientProgressApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(responses={200: ProgressSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        access_record(request, patient, AccessEvent.What.PROGRESS, AccessEvent.Door.API)
        return _progress(request, patient)


# --- the signed consent ---------------------------------------------------------------------


class ConsentPdfApi(APIView):
    """A signed consent as a PDF: for its own patient and for clinicians, like the
    other clinical records; another patient's is 404. Drawn on demand from the
    stored signature (treatments/consent_pdf.py)."""

    permission_classes = [ClinicianOrOwnReader]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Clients ask for application/pdf; errors still render as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="consent_pdf",
        summary="The signed consent as a PDF",
        description=(
            "The exact text signed (in the language it was signed in), the photo choices, the typed name, "
            "the drawing, when and where it was signed, the witness at the desk, the SHA-256 of the text and, "
            "once withdrawn, a WITHDRAWN banner. A download: `Content-Disposition: attachment`."
        ),
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **errors(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        signature = get_object_or_404(
            _own_patient_filter(
                request, ConsentSignature.objects.select_related("version__form", "witnessed_by", "patient")
            ),
            pk=pk,
        )
        response = consent_pdf_response(signature)
        access_record(request, signature.patient_id, AccessEvent.What.CONSENT, AccessEvent.Door.API, signature.pk)
        return response
