"""Accounts, the signed-in patient's profile and declarations, and staff's patients."""

from __future__ import annotations

from typing import Any

from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import authenticate, logout, update_session_auth_hash
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import generics, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from clinic.api import ScopedThrottle
from clinic.errors import InvalidInput, NotFound
from clinic.schema import errors
from patients import channels as patient_channels
from patients import second_factor, services
from patients.models import AccessEvent, HealthDeclaration, ImportantDate, Patient, SignedInDevice
from patients.permissions import IsManager, IsPatient, IsStaff, StaffReadFrontDeskWrite, user_of
from patients.selectors import access_events_for_patient, devices_for, important_dates_for, patients_matching
from patients.serializers import (
    AccessEventSerializer,
    ChannelsSerializer,
    ChannelsUpdateSerializer,
    DeviceSerializer,
    EmailChangeConfirmSerializer,
    HealthDeclarationSerializer,
    ImportantDateSerializer,
    OwnAccessEventSerializer,
    OwnProfileSerializer,
    OwnProfileUpdatedSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    StaffPatientSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


def _new_token(request: Request, user: Any) -> str:
    """A token for this device, recorded (with its user agent) among the user's signed-in devices."""
    return services.token_issue(user=user, user_agent=request.META.get("HTTP_USER_AGENT", ""))


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedThrottle]
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: RegisteredSerializer, **errors(400, 429)})
    def post(self, request: Request) -> Response:
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_register(**data.validated_data)
        token = _new_token(request, patient.user)
        return Response({"patient": OwnProfileSerializer(patient).data, "token": token}, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **errors(400, 429)},
        description=(
            "Signs in with email and password and returns a new API token. Roles that must use a second factor "
            "(CLINIC_SECOND_FACTOR_ROLES; by default practitioner and manager) also send `otp`: the current "
            "6-digit code from their authenticator app or an unused recovery code. A missing or wrong `otp`, "
            "or an account that has not set up its second factor on the staff pages yet, is 400 `invalid` with "
            "`fields.otp`; repeated wrong codes are 429 `throttled` until the wait has passed."
        ),
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        try:
            user = authenticate(request._request, username=email, password=data.validated_data["password"])
        except AxesBackendPermissionDenied:
            raise Throttled(detail=_("Too many failed sign-ins. Try again in a few minutes.")) from None
        if user is None or not user.is_active:
            raise InvalidInput(
                _("The email or password is not right."), fields={"password": [_("Wrong email or password.")]}
            )
        if second_factor.second_factor_required(user):
            try:
                second_factor.second_factor_verify(user=user, token=data.validated_data.get("otp", ""))
            except second_factor.SecondFactorThrottled as error:
                raise Throttled(wait=error.wait, detail=str(error.detail)) from None
        return Response({"token": _new_token(request, user)})


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, **errors(401)})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            request.auth.delete()  # this device only; other devices stay signed in
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedThrottle]
    throttle_scope = "password_reset"

    @extend_schema(request=PasswordResetSerializer, responses={202: None, **errors(400, 429)})
    def post(self, request: Request) -> Response:
        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={200: TokenSerializer, **errors(400, 429)},
        description=(
            "Sets the password from a reset link and signs in: the answer carries the one new token; every older "
            "token and browser session of the login is revoked. A link proves the email, not the phone: roles "
            "that must use a second factor (CLINIC_SECOND_FACTOR_ROLES) also send `otp`, or get 400 `invalid` "
            "with `fields.otp` and the password stays as it was."
        ),
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        otp = fields.pop("otp", "")
        try:
            second_factor.password_reset_second_factor(uid=fields["uid"], token=fields["token"], otp=otp)
        except second_factor.SecondFactorThrottled as error:
            raise Throttled(wait=error.wait, detail=str(error.detail)) from None
        user = services.password_reset_confirm(**fields)  # signs out every other device
        return Response({"token": _new_token(request, user)})


# --- signed-in devices and the password of the caller (any role) ---


def _session_key(request: Request) -> str | None:
    """The browser session the request came with, if it was signed in by it (not by a token)."""
    if isinstance(request.auth, AuthToken):
        return None
    return request.session.session_key


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token"  # guessing the current password with a stolen token is limited like sign-in

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenSerializer, **errors(400, 401, 429)},
        description="Changes the caller's password and revokes every token and every other browser session "
        "of the login, the token used for this request included: the answer carries the new token for "
        "this device. A wrong current password is 400 invalid naming current_password; a weak new one "
        "is 400 invalid naming new_password.",
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_of(request)
        keep = _session_key(request)
        services.password_change(user=user, **data.validated_data, keep_session_key=keep)
        if keep:
            update_session_auth_hash(request._request, user)  # this browser stays signed in
        return Response({"token": _new_token(request, user)})


class LogoutAllApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, **errors(401)},
        description="Signs the caller out everywhere: every token (this one included) and every browser session.",
    )
    def post(self, request: Request) -> Response:
        services.sign_out_everywhere(user=user_of(request))
        if not isinstance(request.auth, AuthToken):
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    responses={**errors(400, 401, 404)},
    description="Where the caller is signed in (API tokens and browser sessions), most recently used first. "
    "last_used_at is kept to the minute.",
)
class MyDevicesApi(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = DeviceSerializer

    def get_queryset(self) -> QuerySet[SignedInDevice]:
        if getattr(self, "swagger_fake_view", False):
            return SignedInDevice.objects.none()
        return devices_for(user=user_of(self.request))


class MyDeviceApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, **errors(401, 404)},
        description="Signs the caller out on one of their devices (revokes its token or ends its session). "
        "Another user's device, or one already signed out, is 404.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        if not devices_for(user=user_of(request)).filter(pk=pk).exists():
            raise NotFound(_("This device is not signed in to your account."))
        current_session = _session_key(request)
        services.device_revoke(user=user_of(request), device_id=pk)
        if current_session and not Session.objects.filter(session_key=current_session).exists():
            logout(request._request)  # it was this browser
        return Response(status=status.HTTP_204_NO_CONTENT)


def own_patient(request: Request) -> Patient:
    """The signed-in patient's record: already fetched with an API token
    (patients/authentication.py), one query for a session."""
    return user_of(request).patient


class MeApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(responses={200: OwnProfileSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(OwnProfileSerializer(own_patient(request)).data)

    @extend_schema(
        request=OwnProfileSerializer,
        responses={200: OwnProfileUpdatedSerializer, **errors(400, 401, 403)},
        description="Other fields change at once. A new `email` does not: a confirmation link goes to the new "
        "address (and a notice to the current one), and the email changes when the link is followed "
        "(`POST /api/v1/me/email/confirm/`). The answer is the same whether or not another account uses the "
        "address; `detail` says a link was sent.",
    )
    def patch(self, request: Request) -> Response:
        patient = own_patient(request)
        data = OwnProfileSerializer(patient, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient, sent = services.own_profile_update(patient=patient, changed_by=user_of(request), **data.validated_data)
        detail = (
            _("Saved. We sent a confirmation link to the new email address: your email changes when you open it.")
            if sent
            else _("Your details are saved.")
        )
        return Response({**OwnProfileSerializer(patient).data, "detail": detail})


class EmailChangeConfirmApi(APIView):
    """The link's token is the proof of the new address: no sign-in needed."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        request=EmailChangeConfirmSerializer,
        responses={200: OwnProfileSerializer, **errors(400, 429)},
        description="Changes the email to the address the link was sent to. An expired, used or forged link, and "
        "an address that another account took meanwhile, are one neutral 400 invalid.",
    )
    def post(self, request: Request) -> Response:
        data = EmailChangeConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.email_change_confirm(token=data.validated_data["token"])
        return Response(OwnProfileSerializer(patient).data)


class DeclarationListMixin:
    serializer_class: type[BaseSerializer[Any]] | None = HealthDeclarationSerializer

    def patient(self) -> Patient:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[HealthDeclaration]:
        if getattr(self, "swagger_fake_view", False):
            return HealthDeclaration.objects.none()
        return HealthDeclaration.objects.filter(patient=self.patient()).order_by("-submitted_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = HealthDeclarationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        staff_entry = user_of(request) if getattr(self, "entered_by_staff", False) else None
        declaration = services.declaration_submit(patient=patient, entered_by=staff_entry, **data.validated_data)
        return Response(HealthDeclarationSerializer(declaration).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={**errors(400, 401, 403)})
class MyDeclarationsApi(DeclarationListMixin, generics.ListCreateAPIView):
    permission_classes = [IsPatient]

    def patient(self) -> Patient:
        return own_patient(self.request)


@extend_schema(responses={**errors(400, 401, 403, 404)})
class PatientDeclarationsApi(DeclarationListMixin, generics.ListCreateAPIView):
    permission_classes = [IsStaff]
    entered_by_staff = True

    def patient(self) -> Patient:
        return get_object_or_404(Patient, pk=self.kwargs["pk"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        services.access_record(request, self.patient(), AccessEvent.What.DECLARATIONS, AccessEvent.Door.API)
        return response


ACCESS_LOG_PAGE = (
    "Newest first, paginated (`?page=`, `?page_size=` up to 200). Each row is one read of the patient's "
    "clinical data by a staff member (chart, declarations, assessments, each photo, plans, session records, "
    "progress, history, a copy of the record) through the staff pages, the API or the administration site. "
    "A patient's reads of their own record are not logged. Rows are never changed or deleted."
)


@extend_schema(
    responses={200: AccessEventSerializer(many=True), **errors(400, 401, 403, 404)},
    description="Who read this patient's clinical data (managers only). " + ACCESS_LOG_PAGE,
)
class PatientAccessLogApi(generics.ListAPIView):
    permission_classes = [IsManager]
    serializer_class = AccessEventSerializer

    def get_queryset(self) -> QuerySet[AccessEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AccessEvent.objects.none()
        patient = get_object_or_404(Patient, pk=self.kwargs["pk"])
        return access_events_for_patient(patient)


@extend_schema(
    responses={200: OwnAccessEventSerializer(many=True), **errors(400, 401, 403, 404)},
    description="Who at the clinic opened the signed-in patient's record: the role, what and when. "
    + ACCESS_LOG_PAGE
    + " `actor_name` is the practitioner's name when a practitioner read it (the clinicians who treat the "
    "patient, named on the public practitioner list) and null for receptionists and managers, whose names "
    "the clinic's privacy officer gives on request.",
)
class MyAccessLogApi(generics.ListAPIView):
    permission_classes = [IsPatient]
    serializer_class = OwnAccessEventSerializer

    def get_queryset(self) -> QuerySet[AccessEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AccessEvent.objects.none()
        return access_events_for_patient(own_patient(self.request))


@extend_schema(
    parameters=[OpenApiParameter("q", str, description="Part of a name, email or phone number.")],
    responses={**errors(400, 401, 403)},
)
class PatientListApi(generics.ListCreateAPIView):
    permission_classes = [IsStaff]
    serializer_class = StaffPatientSerializer

    def get_queryset(self) -> QuerySet[Patient]:
        return patients_matching(self.request.query_params.get("q") or "")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = StaffPatientSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_create(created_by=user_of(request), **data.validated_data)
        return Response(StaffPatientSerializer(patient).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={**errors(400, 401, 403, 404)})
class PatientDetailApi(generics.RetrieveUpdateAPIView):
    permission_classes = [IsStaff]
    serializer_class = StaffPatientSerializer
    queryset = Patient.objects.all()
    http_method_names = ["get", "patch", "head", "options"]

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.get_object()
        data = StaffPatientSerializer(patient, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = services.patient_update(patient=patient, changed_by=user_of(request), **data.validated_data)
        return Response(StaffPatientSerializer(patient).data)


# --- dates that matter ---------------------------------------------------------------------

DATES_LIST = (
    "Soonest first. A booking whose treatment's usual downtime overlaps one of them is flagged "
    "(`downtime` on appointments and screening), never refused."
)


@extend_schema(
    responses={**errors(400, 401, 403)}, description="The signed-in patient's dates that matter. " + DATES_LIST
)
class MyImportantDatesApi(generics.ListCreateAPIView):
    permission_classes = [IsPatient]
    serializer_class = ImportantDateSerializer

    def get_queryset(self) -> QuerySet[ImportantDate]:
        if getattr(self, "swagger_fake_view", False):
            return ImportantDate.objects.none()
        return important_dates_for(patient_id=own_patient(self.request).pk)

    @extend_schema(
        request=ImportantDateSerializer,
        responses={201: ImportantDateSerializer, **errors(400, 401, 403)},
        description="Notes a date (or, with `ends_on`, a span of days) that matters. 400 invalid when it is in "
        "the past, more than two years ahead, ends before it starts, or the patient already has 20.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ImportantDateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        noted = services.important_date_add(
            patient=own_patient(request),
            starts_on=values["starts_on"],
            ends_on=values.get("ends_on"),
            label=values["label"],
        )
        return Response(ImportantDateSerializer(noted).data, status=status.HTTP_201_CREATED)


class MyImportantDateApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=None,
        responses={204: None, **errors(401, 403, 404)},
        description="Removes one of the signed-in patient's dates that matter. Another patient's is 404.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.important_date_remove(patient=own_patient(request), date_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    responses={200: ImportantDateSerializer(many=True), **errors(400, 401, 403, 404)},
    description="A patient's dates that matter, for staff to read (patients change their own). " + DATES_LIST,
)
class PatientImportantDatesApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = ImportantDateSerializer

    def get_queryset(self) -> QuerySet[ImportantDate]:
        if getattr(self, "swagger_fake_view", False):
            return ImportantDate.objects.none()
        patient = get_object_or_404(Patient, pk=self.kwargs["pk"])
        return important_dates_for(patient_id=patient.pk)


# --- how we contact the patient (patients/channels.py) -------------------------------------

CHANNELS_RULES = (
    "Each topic's channels in order: the first is tried first, the next when one fails for good (an invalid "
    "number, not on WhatsApp...). A topic never chosen is email only. 400 invalid (with `fields` per topic, "
    "e.g. `topics.reminders`) for an unknown topic or channel, a channel named twice, a channel the clinic does "
    "not offer (not in `available`), SMS or WhatsApp without a mobile number or email without an address, and an "
    "empty list for `confirmations`, `waitlist_offers` or `care`. `reminders` and `plan_nudges` may be empty "
    "(off); `reminders_opt_out` on the profile is true exactly when both are."
)


def _channels_answer(patient: Patient) -> Response:
    fresh = Patient.objects.prefetch_related("channel_choices").get(pk=patient.pk)
    return Response({"available": patient_channels.available(), "topics": patient_channels.orders(fresh)})


def _channels_update(request: Request, patient: Patient) -> Response:
    data = ChannelsUpdateSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        patient_channels.channels_set(patient=patient, topics=data.validated_data["topics"])
    except InvalidInput as error:
        # The service names topics; in this body they sit under "topics".
        error.fields = {f"topics.{name}": messages for name, messages in (error.fields or {}).items()}
        raise
    return _channels_answer(patient)


class MyChannelsApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: ChannelsSerializer, **errors(401, 403)},
        description="How the signed-in patient wants to be contacted, per topic. " + CHANNELS_RULES,
    )
    def get(self, request: Request) -> Response:
        return _channels_answer(own_patient(request))

    @extend_schema(
        request=ChannelsUpdateSerializer,
        responses={200: ChannelsSerializer, **errors(400, 401, 403)},
        description="Changes the topics named; the others stay. " + CHANNELS_RULES,
    )
    def put(self, request: Request) -> Response:
        return _channels_update(request, own_patient(request))


class PatientChannelsApi(APIView):
    permission_classes = [StaffReadFrontDeskWrite]

    @extend_schema(
        responses={200: ChannelsSerializer, **errors(401, 403, 404)},
        description="How a patient wants to be contacted, per topic (all staff). " + CHANNELS_RULES,
    )
    def get(self, request: Request, pk: int) -> Response:
        return _channels_answer(get_object_or_404(Patient, pk=pk))

    @extend_schema(
        request=ChannelsUpdateSerializer,
        responses={200: ChannelsSerializer, **errors(400, 401, 403, 404, 409)},
        description="Receptionists and managers set a patient's channels (taken by phone, at the desk). "
        "409 for an erased patient. " + CHANNELS_RULES,
    )
    def put(self, request: Request, pk: int) -> Response:
        return _channels_update(request, get_object_or_404(Patient, pk=pk))
