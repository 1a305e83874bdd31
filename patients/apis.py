"""Accounts, the signed-in patient's profile and declarations, and staff's patients."""

from __future__ import annotations

from typing import Any

from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import authenticate, logout
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
from clinic.errors import InvalidInput
from clinic.schema import errors
from patients import services
from patients.models import HealthDeclaration, Patient
from patients.permissions import IsPatient, IsStaff, user_of
from patients.selectors import patients_matching
from patients.serializers import (
    EmailChangeConfirmSerializer,
    HealthDeclarationSerializer,
    OwnProfileSerializer,
    OwnProfileUpdatedSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    StaffPatientSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


def _new_token(request: Request, user: Any) -> str:
    _instance, token = AuthToken.objects.create(user)
    return token


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

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer, **errors(400, 429)})
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

    @extend_schema(request=PasswordResetConfirmSerializer, responses={200: TokenSerializer, **errors(400, 429)})
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.password_reset_confirm(**data.validated_data)
        return Response({"token": _new_token(request, user)})


def own_patient(request: Request) -> Patient:
    return Patient.objects.get(user=user_of(request))


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
