"""Practitioners, availability and appointments (docs/architecture.md, The HTTP API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import availability, deposits, precare, recall, selectors, services, spacing
from booking.calendar import appointment_calendar
from booking.filters import AppointmentFilter, NotificationFilter
from booking.models import Appointment, Notification, Practitioner, PreCareAcknowledgement, SessionRecord
from booking.money_serializers import CancelledAppointmentSerializer
from booking.serializers import (
    AppointmentSerializer,
    AvailabilityQuerySerializer,
    BookSerializer,
    CancelSerializer,
    CompletedAppointmentSerializer,
    CompleteSerializer,
    LotUseSerializer,
    NotificationSerializer,
    PractitionerSerializer,
    PreCareSerializer,
    RescheduleSerializer,
    SessionRecordSerializer,
)
from clinic.api import ScopedThrottle
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import InvalidInput
from clinic.schema import ReasonSerializer, errors
from patients.access import AccessLoggedApi
from patients.models import AccessEvent, Patient
from patients.permissions import IsClinician, IsManager, IsPatient, IsPatientOrStaff, IsStaff, is_staff, user_of
from patients.roles import MANAGER, role_of
from patients.services import access_record_many
from treatments import apis as clinical_apis
from treatments import services as clinical
from treatments.models import PlanSession, Treatment, TreatmentPlan
from treatments.serializers import PlanSerializer


class PractitionerListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = PractitionerSerializer

    def get_queryset(self) -> QuerySet[Practitioner]:
        return (
            Practitioner.objects.filter(active=True)
            .select_related("user")
            .prefetch_related(Prefetch("treatments", queryset=Treatment.objects.only("id", "slug", "active")))
            .order_by("user__last_name", "user__first_name", "id")
        )


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="start + the treatment's duration; buffers not included")
    practitioner = serializers.IntegerField()


class AvailabilityApi(APIView):
    """Free start times. Staff see what staff may book (no minimum notice,
    the staff horizon); everyone else sees what a patient may book."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("treatment", str, required=True, description="Treatment slug."),
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First clinic-local date."),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last date, at most 62 days on."),
            OpenApiParameter("practitioner", int),
            OpenApiParameter(
                "plan_session",
                int,
                description="Only dates inside this plan session's window (staff: any date once it has ended); "
                "no slots while its turn has not come or it is already booked (unless rescheduling its "
                "appointment with exclude_appointment). Yours, or any for staff.",
            ),
            OpenApiParameter("exclude_appointment", int, description="Your own appointment, when rescheduling it."),
        ],
        responses={
            200: inline_serializer(
                "Availability",
                fields={
                    "treatment": serializers.CharField(),
                    "timezone": serializers.CharField(),
                    "slots": SlotSerializer(many=True),
                },
            ),
            **errors(400),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        staff = is_staff(request)
        exclude = data.get("exclude_appointment")
        if exclude is not None and not _may_see_appointment(request, exclude, staff=staff):
            raise InvalidInput(fields={"exclude_appointment": [_("Unknown appointment.")]})
        practitioner = data.get("practitioner")
        offered, window = True, None
        if data.get("plan_session") is not None:
            offered, window = _plan_session_offer(
                request, data["plan_session"], treatment=data["treatment"], staff=staff, exclude=exclude
            )
        found, duration = (
            availability.find_slot_starts(
                treatment=data["treatment"],
                first_date=data["from"],
                last_date=data["to"],
                practitioner_id=practitioner.pk if practitioner else None,
                staff=staff,
                window=window,
                exclude_appointment_id=exclude,
            )
            if offered
            else availability.SlotStarts([], 0)
        )
        return HttpResponse(
            _availability_json(data["treatment"].slug, found, duration), content_type="application/json"
        )


def _availability_json(treatment: str, found: list[tuple[int, int]], duration: int) -> bytes:
    """The availability answer as the JSON text DRF's renderer writes for
    ``{"treatment", "timezone", "slots": [{"start", "end", "practitioner"}, ...]}``
    (compact, keys in that order, times in the clinic's zone with their offset),
    the slots written directly: a month of ten practitioners is thousands of
    slots, and converting, formatting and encoding each one's times cost several
    times what finding them does. Slots share starts (one per practitioner free
    then), so each distinct start's text is made once."""
    zone = clinic_zone()
    heads: dict[int, str] = {}
    parts: list[str] = []
    for stamp, practitioner in found:
        head = heads.get(stamp)
        if head is None:
            start = datetime.fromtimestamp(stamp, zone).isoformat()
            end = datetime.fromtimestamp(stamp + duration, zone).isoformat()
            head = heads[stamp] = f'{{"start":"{start}","end":"{end}","practitioner":'
        parts.append(f"{head}{practitioner}}}")
    envelope = JSONRenderer().render({"treatment": treatment, "timezone": settings.CLINIC_TIME_ZONE})
    return b'%s,"slots":[%s]}' % (envelope[:-1], ",".join(parts).encode())


def _plan_session_offer(
    request: Request, session_id: int, *, treatment: Treatment, staff: bool, exclude: int | None
) -> tuple[bool, tuple[date, date] | None]:
    """Whether a plan session can be booked now, and on which dates. Another
    patient's session is as unknown as a missing one (400 invalid)."""
    session = PlanSession.objects.select_related("plan__patient").filter(pk=session_id).first()
    visible = session is not None and (
        staff or (request.user.is_authenticated and session.plan.patient.user_id == request.user.pk)
    )
    if session is None or not visible:
        raise InvalidInput(fields={"plan_session": [_("Unknown plan session.")]})
    if session.plan.treatment_id != treatment.pk:
        raise InvalidInput(fields={"plan_session": [_("This plan session is for another treatment.")]})
    rescheduling = (
        exclude is not None
        and Appointment.objects.filter(
            pk=exclude, plan_session_id=session.pk, status__in=Appointment.ACTIVE_STATUSES
        ).exists()
    )
    today = clinic_today()
    return clinical.plan_session_offer(session=session, staff=staff, today=today, rescheduling=rescheduling)


def _may_see_appointment(request: Request, appointment_id: int, *, staff: bool) -> bool:
    appointments = Appointment.objects.filter(pk=appointment_id)
    if not staff:
        if not request.user.is_authenticated:
            return False
        appointments = appointments.filter(patient__user=request.user)
    return appointments.exists()


def visible_appointments(request: Request) -> QuerySet[Appointment]:
    """Staff see all; a patient sees only their own (others' are 404)."""
    appointments = selectors.appointments_for().prefetch_related(selectors.IMPORTANT_DATES, "deposit_checkouts")
    if not is_staff(request):
        appointments = appointments.filter(patient__user=user_of(request))
    return appointments


@extend_schema(responses={**errors(400, 401, 403)})
class AppointmentListApi(generics.ListCreateAPIView):
    permission_classes = [IsPatientOrStaff]
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    throttle_scope = "booking"

    def get_throttles(self) -> list:
        return [ScopedThrottle()] if self.request.method == "POST" else []

    def get_queryset(self) -> QuerySet[Appointment]:
        if getattr(self, "swagger_fake_view", False):
            return Appointment.objects.none()
        return visible_appointments(self.request)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="Starting on or after this clinic-local date."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=BookSerializer, responses={201: AppointmentSerializer, **errors(400, 401, 403, 409, 422, 429, 503)}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        staff = is_staff(request)
        if not staff and isinstance(request.data, dict):
            forbidden = [name for name in ("patient", "override_reason") if name in request.data]
            if forbidden:
                raise InvalidInput(fields={name: [_("Only staff may send this field.")] for name in forbidden})
        data = BookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if staff:
            patient = values.get("patient")
            if patient is None:
                raise InvalidInput(fields={"patient": [_("Say which patient this booking is for.")]})
        else:
            patient = user_of(request).patient  # fetched with the API token (patients/authentication.py)
        if staff:
            appointment = services.appointment_book(
                patient=patient,
                treatment=values["treatment"],
                start=values["start"],
                practitioner=values["practitioner"],
                booked_by=user_of(request),
                staff=staff,
                notes=values["notes"],
                override_reason=values.get("override_reason", ""),
                plan_session_id=values["plan_session"],
                separate_visit=values["separate_visit"],
            )
        else:  # a deposit, if the treatment asks one and a provider is set up (503 if it fails)
            appointment, _checkout = deposits.appointment_book_online(
                patient=patient,
                treatment=values["treatment"],
                start=values["start"],
                practitioner=values["practitioner"],
                booked_by=user_of(request),
                notes=values["notes"],
                plan_session_id=values["plan_session"],
                separate_visit=values["separate_visit"],
            )
        return Response(
            AppointmentSerializer(appointment, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


@extend_schema(responses={200: AppointmentSerializer, **errors(401, 403, 404)})
class AppointmentDetailApi(generics.RetrieveAPIView):
    permission_classes = [IsPatientOrStaff]
    serializer_class = AppointmentSerializer

    def get_queryset(self) -> QuerySet[Appointment]:
        if getattr(self, "swagger_fake_view", False):
            return Appointment.objects.none()
        return visible_appointments(self.request)


class _TransitionApi(APIView):
    """POST /appointments/{id}/<verb>/ → 200 with the appointment."""

    permission_classes = [IsPatientOrStaff]

    def appointment(self, request: Request, pk: int) -> Appointment:
        return get_object_or_404(visible_appointments(request), pk=pk)

    def respond(self, request: Request, appointment: Appointment) -> Response:
        fresh = selectors.appointments_for().get(pk=appointment.pk)
        return Response(AppointmentSerializer(fresh, context={"request": request}).data)


class RescheduleApi(_TransitionApi):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "booking"

    @extend_schema(
        request=RescheduleSerializer, responses={200: AppointmentSerializer, **errors(400, 401, 403, 404, 409, 422)}
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        staff = is_staff(request)
        if not staff and isinstance(request.data, dict) and "override_reason" in request.data:
            raise InvalidInput(fields={"override_reason": [_("Only staff may send this field.")]})
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        appointment = services.appointment_reschedule(
            appointment=appointment,
            start=values["start"],
            practitioner=values.get("practitioner", services.KEEP),
            by=user_of(request),
            staff=staff,
            override_reason=values.get("override_reason", ""),
        )
        return self.respond(request, appointment)


class CancelApi(_TransitionApi):
    @extend_schema(
        request=CancelSerializer, responses={200: CancelledAppointmentSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        staff = is_staff(request)
        if not staff and isinstance(request.data, dict) and "for_patient" in request.data:
            raise InvalidInput(fields={"for_patient": [_("Only staff may send this field.")]})
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = services.appointment_cancel(
            appointment=appointment,
            by=user_of(request),
            staff=staff,
            reason=data.validated_data["reason"],
            for_patient=data.validated_data["for_patient"],
        )
        fresh = selectors.appointments_for().get(pk=appointment.pk)
        return Response(CancelledAppointmentSerializer(fresh, context={"request": request}).data)


class CheckInApi(_TransitionApi):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={200: AppointmentSerializer, **errors(401, 403, 404, 409)})
    def post(self, request: Request, pk: int) -> Response:
        appointment = services.appointment_check_in(appointment=self.appointment(request, pk), by=user_of(request))
        return self.respond(request, appointment)


class NoShowApi(_TransitionApi):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={200: AppointmentSerializer, **errors(401, 403, 404, 409)})
    def post(self, request: Request, pk: int) -> Response:
        appointment = services.appointment_no_show(appointment=self.appointment(request, pk), by=user_of(request))
        return self.respond(request, appointment)


class CompleteApi(_TransitionApi):
    """checked_in → completed, writing the session record (practitioners and managers).

    Every consent form the treatment needs must be signed (409 invalid_state
    naming them); a manager may complete anyway with ``consent_override_reason``,
    which another role may not send (403, before the appointment is looked up)."""

    permission_classes = [IsClinician]

    @extend_schema(
        request=CompleteSerializer,
        responses={200: CompletedAppointmentSerializer, **errors(400, 401, 403, 404, 409)},
        description="checked_in → completed, writing the session record. The patient must have signed the "
        "current version of every consent form the treatment needs (GET .../consent/); otherwise 409 "
        "`invalid_state` naming the forms. A manager may complete anyway with `consent_override_reason` "
        "(kept on the session record with `consent_override_by`); another role sending it gets 403. "
        "`consent_version` is no longer accepted (400): the record's `consent_signatures` and "
        "`consent_version` are filled from the signatures that counted.",
    )
    def post(self, request: Request, pk: int) -> Response:
        if (
            isinstance(request.data, dict)
            and request.data.get("consent_override_reason")
            and role_of(request.user) != MANAGER
        ):
            raise PermissionDenied(_("Only a manager may complete a session without the patient's consent."))
        appointment = self.appointment(request, pk)
        data = CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appointment, _record = services.appointment_complete(
            appointment=appointment, by=user_of(request), record=dict(data.validated_data)
        )
        fresh = selectors.appointments_for().select_related("session_record").get(pk=appointment.pk)
        return Response(CompletedAppointmentSerializer(fresh, context={"request": request}).data)


class CalendarApi(_TransitionApi):
    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> HttpResponse:
        appointment = get_object_or_404(visible_appointments(request), pk=pk)
        response = HttpResponse(appointment_calendar(appointment), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="appointment-{appointment.pk}.ics"'
        response["Cache-Control"] = "private, no-store"
        return response


def _pre_care_body(appointment: Appointment, items: list[precare.PreCareItem]) -> dict[str, Any]:
    return PreCareSerializer(
        {
            "appointment": appointment.pk,
            "all_confirmed": bool(items) and all(item.confirmed for item in items),
            "instructions": items,
        }
    ).data


class PreCareApi(_TransitionApi):
    """The pre-care a visit needs (docs/domain.md, Pre-care), each with when its
    email went and when the patient confirmed it. Patients: their own visits;
    staff: any (read-only)."""

    @extend_schema(responses={200: PreCareSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        items = precare.status(appointment) if appointment.status in precare.OPEN_STATUSES else []
        return Response(_pre_care_body(appointment, items))


class PreCareAcknowledgeApi(_TransitionApi):
    """The patient confirms every pre-care instruction of their visit (repeating
    it changes nothing). 409 ``invalid_state`` once the visit is over or cancelled.
    Staff cannot confirm for a patient (403): reception asks at check-in."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses={200: PreCareSerializer, **errors(401, 403, 404, 409)})
    def post(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        items = precare.pre_care_acknowledge(
            appointment=appointment, via=PreCareAcknowledgement.Via.API, by=user_of(request), now=timezone.now()
        )
        return Response(_pre_care_body(appointment, items))


@extend_schema(responses={200: NotificationSerializer(many=True), **errors(400, 401, 403)})
class NotificationListApi(generics.ListAPIView):
    """The notification log, newest first: what each patient was sent, what
    was skipped and why, what failed. Staff only; filter by ``patient``,
    ``appointment``, ``plan_session``, ``status`` and ``kind`` (the last two
    repeatable)."""

    permission_classes = [IsStaff]
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return selectors.notification_log()


def _session_records() -> QuerySet[SessionRecord]:
    return (
        SessionRecord.objects.select_related("appointment__treatment")
        .prefetch_related("consent_signatures", "injectables")
        .order_by("-recorded_at", "-id")
    )


@extend_schema(
    parameters=[
        OpenApiParameter("patient", int, description="Only this patient's."),
        OpenApiParameter("appointment", int, description="Only this appointment's."),
    ],
    responses={200: SessionRecordSerializer(many=True), **errors(400, 401, 403)},
)
class SessionRecordListApi(AccessLoggedApi, generics.ListAPIView):
    """What was done at each completed appointment, newest first (practitioners
    and managers). Written by ``complete``; never deleted."""

    access_what = AccessEvent.What.SESSION_RECORD
    access_patient = staticmethod(lambda record: record.appointment.patient_id)

    permission_classes = [IsClinician]
    serializer_class = SessionRecordSerializer

    def get_queryset(self) -> QuerySet[SessionRecord]:
        if getattr(self, "swagger_fake_view", False):
            return SessionRecord.objects.none()
        records = _session_records()
        for name, lookup in (("patient", "appointment__patient_id"), ("appointment", "appointment_id")):
            raw = self.request.query_params.get(name)
            if raw in (None, ""):
                continue
            if not raw.isdigit() or len(raw) > 18:
                raise InvalidInput(fields={name: [_("Give an id.")]})
            records = records.filter(**{lookup: int(raw)})
        return records


@extend_schema(responses={200: SessionRecordSerializer, **errors(401, 403, 404)})
class SessionRecordDetailApi(AccessLoggedApi, generics.RetrieveAPIView):
    access_what = AccessEvent.What.SESSION_RECORD
    access_patient = staticmethod(lambda record: record.appointment.patient_id)
    permission_classes = [IsClinician]
    serializer_class = SessionRecordSerializer

    def get_queryset(self) -> QuerySet[SessionRecord]:
        if getattr(self, "swagger_fake_view", False):
            return SessionRecord.objects.none()
        return _session_records()


# --- who received a lot ------------------------------------------------------------------------


@extend_schema(
    parameters=[
        OpenApiParameter(
            "lot",
            str,
            required=True,
            description="The lot number; case, spaces, dashes and full-width characters are folded "
            '("ab 123" finds "AB-123").',
        ),
        OpenApiParameter(
            "format",
            str,
            enum=["json", "csv"],
            description="`csv` answers every use at once as text/csv (so does `Accept: text/csv`).",
        ),
    ],
    responses={
        (200, "application/json"): LotUseSerializer(many=True),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every use, one row each."),
        **errors(400, 401, 403),
    },
)
class LotSearchApi(generics.ListAPIView):
    """Which patients received a lot, newest visit first, with their contact
    details: for a product recall (managers only). Every patient listed is
    written to the access log as a read of their session records."""

    permission_classes = [IsManager]
    serializer_class = LotUseSerializer
    filter_backends: list = []

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The CSV is an HttpResponse of its own; errors are JSON whatever was asked.
        return super().perform_content_negotiation(request, force=True)

    def _wants_csv(self, request: Request) -> bool:
        if request.query_params.get("format") == "csv":
            return True
        accept = request.headers.get("Accept", "")
        return "text/csv" in accept and "application/json" not in accept

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]  # the CSV
        asked = request.query_params.get("format")
        if asked not in (None, "json", "csv"):
            raise InvalidInput(fields={"format": [_("Give json or csv.")]})
        key, rows = recall.search(request.query_params.get("lot"), language=get_language())
        if self._wants_csv(request):
            access_record_many(request, recall.access_reads(rows), AccessEvent.Door.API)
            response = HttpResponse(recall.lot_csv(rows), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{recall.csv_filename(key)}"'
            response["Cache-Control"] = "private, no-store"
            return response
        page = self.paginate_queryset(rows)
        shown = page if page is not None else rows
        access_record_many(request, recall.access_reads(shown), AccessEvent.Door.API)
        data = self.get_serializer(shown, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


# --- the gap rules where booking is only being considered ---------------------------


class SpacingFindingSerializer(ReasonSerializer):
    appointment = serializers.IntegerField(help_text="The patient's other appointment that is too close.")
    session = serializers.IntegerField(required=False, help_text="Plans only: the session whose window it touches.")

    class Meta:
        ref_name = "SpacingFinding"


class ScreeningApi(clinical_apis.ScreeningApi):
    """Screening's answer with the gap rules (booking.spacing) when ``start``
    is given: what booking would decide, so a client can warn first."""

    @extend_schema(
        request=clinical_apis.ScreeningRequestSerializer,
        responses={
            200: clinical_apis.SCREENING_RESULT,
            **errors(400, 401, 403),
        },
        description="Screening for the treatment on the date of `start` (today without it). With `start`, the "
        "gap rules between different treatments too: reasons with code `too_close` name the patient's other "
        "appointment (`appointment`), and a block makes the outcome `blocked`, as booking would refuse it "
        "(422 too_close).",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def decide(self, *, patient: Patient, treatment: Treatment, start: Any) -> dict[str, Any]:
        answer = super().decide(patient=patient, treatment=treatment, start=start)
        if start is None:
            return answer
        findings = spacing.spacing_findings(patient_id=patient.pk, treatment=treatment, start=start)
        severities = {answer["outcome"], *("blocked" if f["severity"] == "block" else "caution" for f in findings)}
        outcome = next(o for o in ("blocked", "caution", "clear") if o in severities)
        reasons = [*answer["reasons"], *findings]
        reasons.sort(key=lambda r: r["severity"] != "block")
        return {**answer, "outcome": outcome, "reasons": reasons}


class PlanProposalSerializer(PlanSerializer):
    spacing = SpacingFindingSerializer(
        many=True,
        read_only=True,
        help_text="Only in the answer to creating a plan: sessions whose window a gap rule makes partly too "
        "close to one of the patient's booked visits. A warning, never a refusal: windows are proposals.",
    )

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "spacing"]
        ref_name = "PlanProposal"


class PlanListApi(clinical_apis.PlanListApi):
    """Plans, their creation answering with the spacing warnings too."""

    @extend_schema(
        request=clinical_apis.PlanInputSerializer,
        responses={201: PlanProposalSerializer, **errors(400, 401, 403)},
        description=clinical_apis.PLAN_RULES,
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)

    def created(self, request: Request, plan: TreatmentPlan) -> dict[str, Any]:
        body = super().created(request, plan)
        body["spacing"] = spacing.plan_findings(plan)
        return body
