"""Consent through the API: what a visit needs signed and signing it, the
patient's own signatures, withdrawing one (treatments.consents holds the rules;
booking.services.appointment_consent_sign ties a signature to a visit)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import services
from booking.apis import visible_appointments
from booking.models import Appointment
from clinic.client import client_address
from clinic.errors import InvalidInput
from clinic.schema import errors
from patients import roles
from patients.models import AccessEvent, Patient
from patients.permissions import HasRole, IsPatient, IsPatientOrStaff, is_staff, user_of
from patients.services import access_record
from treatments import consents
from treatments.consent_serializers import (
    ConsentFormRefSerializer,
    ConsentSignatureSerializer,
    ConsentSignInputSerializer,
    ConsentWithdrawInputSerializer,
)
from treatments.models import ConsentSignature, PhotoUse, is_chinese


class IsPatientOrManager(HasRole):
    """A patient (their own signatures; another's are 404) or a manager (any)."""

    roles = (roles.PATIENT, roles.MANAGER)


def consent_language(request: Request, patient: Patient, chosen: str | None = None) -> str:
    """The language of the consent text: the one asked for (``language``), else
    the request's Accept-Language when one is sent, else the patient's
    preferred language. ``en`` or ``zh-hant``."""
    if chosen in consents.LANGUAGES:
        return str(chosen)
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return "zh-hant" if is_chinese(get_language()) else "en"
    return "zh-hant" if is_chinese(patient.preferred_language) else "en"


def _signatures() -> QuerySet[ConsentSignature]:
    return ConsentSignature.objects.select_related("version__form").order_by("-signed_at", "-id")


# --- the schema ----------------------------------------------------------------------------

_VERSION = inline_serializer(
    "ConsentVersionToSign",
    fields={
        "id": serializers.IntegerField(help_text="Send this as `version` to sign."),
        "number": serializers.IntegerField(),
        "text": serializers.CharField(help_text="The exact text to show; what is stored and hashed when signed."),
        "text_sha256": serializers.CharField(help_text="SHA-256 (hex) of `text` in UTF-8."),
        "keeps_earlier_signatures": serializers.BooleanField(),
    },
)
_SIGNED = inline_serializer(
    "ConsentNeedSignature",
    fields={
        "id": serializers.IntegerField(),
        "signed_at": serializers.DateTimeField(),
        "full_name": serializers.CharField(),
        "photo_use": serializers.ListField(child=serializers.ChoiceField(choices=PhotoUse.choices)),
        "channel": serializers.ChoiceField(choices=ConsentSignature.Channel.choices),
    },
    allow_null=True,
)
CONSENT_NEEDS = inline_serializer(
    "AppointmentConsent",
    fields={
        "appointment": serializers.IntegerField(),
        "language": serializers.ChoiceField(choices=[(c, c) for c in consents.LANGUAGES]),
        "complete": serializers.BooleanField(help_text="True when every form needed has a signature that counts."),
        "forms": inline_serializer(
            "ConsentNeed",
            fields={
                "form": ConsentFormRefSerializer(),
                "version": _VERSION,
                "signed": serializers.BooleanField(),
                "signature": _SIGNED,
            },
            many=True,
        ),
    },
)
LANGUAGE_PARAMETER = OpenApiParameter(
    "language",
    str,
    enum=list(consents.LANGUAGES),
    description="The language of the text. Default: Accept-Language when sent, else the patient's preferred language.",
)


class AppointmentConsentApi(APIView):
    """GET: the consent forms this visit's treatment needs, each with its
    current version's text in the caller's language and whether the patient's
    signature counts. POST: sign one. Patients: their own visits (another's
    is 404); staff: any, and their POST is a signature at the desk that they
    witness."""

    permission_classes = [IsPatientOrStaff]

    def appointment(self, request: Request, pk: int) -> Appointment:
        appointments = visible_appointments(request).select_related("patient", "treatment")
        return get_object_or_404(appointments, pk=pk)

    @extend_schema(
        parameters=[LANGUAGE_PARAMETER],
        responses={200: CONSENT_NEEDS, **errors(400, 401, 403, 404)},
        description="What must be signed before this visit can be completed, and whether it is. `text` is "
        "exactly what signing stores (and `text_sha256` its hash), so a client shows and hashes the same text. "
        "A treatment that needs no consent gives an empty `forms` and `complete: true`. Staff reads are "
        "written to the patient's access log.",
    )
    def get(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        chosen = request.query_params.get("language")
        if chosen is not None and chosen not in consents.LANGUAGES:
            raise InvalidInput(fields={"language": [_("Choose English or Traditional Chinese.")]})
        language = consent_language(request, appointment.patient, chosen)
        needs = consents.needs_for(patient=appointment.patient, treatment=appointment.treatment)
        access_record(request, appointment.patient_id, AccessEvent.What.CONSENT, AccessEvent.Door.API, appointment.pk)
        forms = []
        for need in needs:
            text = consents.consent_text(need.version, language)
            signature = need.signature
            forms.append(
                {
                    "form": {"slug": need.form.slug, "title": need.form.localized("title", language)},
                    "version": {
                        "id": need.version.pk,
                        "number": need.version.number,
                        "text": text,
                        "text_sha256": consents.text_sha256(text),
                        "keeps_earlier_signatures": need.version.keeps_earlier_signatures,
                    },
                    "signed": signature is not None,
                    "signature": None
                    if signature is None
                    else {
                        "id": signature.pk,
                        "signed_at": serializers.DateTimeField().to_representation(signature.signed_at),
                        "full_name": signature.full_name,
                        "photo_use": signature.photo_use,
                        "channel": signature.channel,
                    },
                }
            )
        return Response(
            {
                "appointment": appointment.pk,
                "language": language,
                "complete": all(need.signed for need in needs),
                "forms": forms,
            }
        )

    @extend_schema(
        request=ConsentSignInputSerializer,
        responses={201: ConsentSignatureSerializer, **errors(400, 401, 403, 404, 409)},
        description="Signs the current version of a form this visit's treatment needs. A patient signs online "
        "(the client address is kept); staff calling it record a signature at the front desk, witnessed by "
        "them. 400 `invalid`: an outdated or draft version (`fields.version`), a form this treatment does not "
        "need, an empty name, a drawing that is not strokes only or is too large, an unknown photo use. "
        "409 `invalid_state`: the visit is cancelled, missed or completed. Nothing is stored on any error.",
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        data = ConsentSignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        staff = is_staff(request)
        signature = services.appointment_consent_sign(
            appointment=appointment,
            version=values["version"],
            full_name=values["full_name"],
            signature_svg=values["signature_svg"],
            photo_use=values["photo_use"],
            language=consent_language(request, appointment.patient, values.get("language")),
            by=user_of(request),
            staff=staff,
            client_address=client_address(request) or None,
        )
        fresh = _signatures().get(pk=signature.pk)
        return Response(ConsentSignatureSerializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema(
    responses={200: ConsentSignatureSerializer(many=True), **errors(400, 401, 403)},
    description="The signed-in patient's consent signatures, newest first, withdrawn ones included "
    "(`valid: false`). Paginated (`?page=`, `?page_size=` up to 200).",
)
class MyConsentsApi(generics.ListAPIView):
    permission_classes = [IsPatient]
    serializer_class = ConsentSignatureSerializer

    def get_queryset(self) -> QuerySet[ConsentSignature]:
        if getattr(self, "swagger_fake_view", False):
            return ConsentSignature.objects.none()
        return _signatures().filter(patient__user=user_of(self.request))


class ConsentWithdrawApi(APIView):
    """A patient withdraws their own consent (another's is 404); a manager
    records a withdrawal for any patient (e.g. told by phone or letter)."""

    permission_classes = [IsPatientOrManager]

    @extend_schema(
        request=ConsentWithdrawInputSerializer,
        responses={200: ConsentSignatureSerializer, **errors(400, 401, 403, 404, 409)},
        description="Withdraws a signature: it no longer counts for completing a session nor for photo use. "
        "It is kept, with who withdrew it, when and why. 409 `invalid_state` when withdrawn already.",
    )
    def post(self, request: Request, pk: int) -> Response:
        signatures = _signatures()
        if not is_staff(request):
            signatures = signatures.filter(patient__user=user_of(request))
        signature = get_object_or_404(signatures, pk=pk)
        data = ConsentWithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consents.consent_withdraw(signature=signature, by=user_of(request), reason=data.validated_data["reason"])
        return Response(ConsentSignatureSerializer(_signatures().get(pk=signature.pk)).data)


__all__ = ["AppointmentConsentApi", "ConsentWithdrawApi", "MyConsentsApi", "consent_language"]
