"""The doors to course packages (booking/packages.py holds every rule).

- ``GET /api/v1/package-offers/[?treatment=<slug>]``: the catalogue, public.
- ``GET /api/v1/me/packages/``: the signed-in patient's own packages.
- ``GET|POST /api/v1/patients/{id}/packages/``: staff read a patient's packages
  and sell one at the desk (every staff role: the desk, the practitioner in the room).
- ``POST /api/v1/packages/{id}/refund/``: managers refund the unused sessions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import packages
from booking.models import LedgerEntry, Package, PackageOffer
from clinic.api import CleanCharField, StrictPrimaryKeyRelatedField
from clinic.errors import InvalidInput
from clinic.schema import errors
from patients.models import Patient
from patients.permissions import IsManager, IsPatient, IsStaff, user_of
from treatments.models import Treatment, TreatmentPlan

DESK_METHODS = [(method.value, method.label) for method in LedgerEntry.DESK_METHODS]


class PackageOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    treatment = serializers.CharField(source="treatment.slug", read_only=True, help_text="The treatment's slug.")
    name = serializers.SerializerMethodField()
    sessions = serializers.IntegerField(read_only=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    saving = serializers.SerializerMethodField(
        help_text="What the package saves against paying each session at the treatment's price, or null."
    )
    valid_days = serializers.IntegerField(read_only=True, allow_null=True)
    sold_online = serializers.BooleanField(read_only=True)

    def get_name(self, offer: PackageOffer) -> str:
        return packages.package_name(offer)

    def get_saving(self, offer: PackageOffer) -> str | None:
        value = packages.saving(offer)
        return str(value) if value is not None else None


class PackageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    treatment = serializers.CharField(source="treatment.slug", read_only=True, help_text="The treatment's slug.")
    offer = serializers.IntegerField(source="offer_id", read_only=True, allow_null=True)
    plan = serializers.IntegerField(source="plan_id", read_only=True, allow_null=True)
    name = serializers.SerializerMethodField()
    sessions_total = serializers.IntegerField(read_only=True)
    sessions_used = serializers.IntegerField(read_only=True)
    sessions_left = serializers.IntegerField(read_only=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    status = serializers.ChoiceField(choices=Package.Status.choices, read_only=True)
    expires_on = serializers.DateField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_name(self, package: Package) -> str:
        return packages.package_name(package)


class PackageSellSerializer(serializers.Serializer):
    offer = StrictPrimaryKeyRelatedField(queryset=PackageOffer.objects.select_related("treatment"))
    method = serializers.ChoiceField(choices=DESK_METHODS)
    plan = StrictPrimaryKeyRelatedField(queryset=TreatmentPlan.objects.all(), required=False, allow_null=True)
    idempotency_key = CleanCharField(max_length=packages.KEY_MAX, help_text="Any unique text; a retry sends it again.")


class PackageRefundSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=DESK_METHODS,
        required=False,
        help_text="How the money is returned at the desk; ignored for a package bought online (refunded there).",
    )
    idempotency_key = CleanCharField(max_length=packages.KEY_MAX)


class PackageRefundResultSerializer(serializers.Serializer):
    package = PackageSerializer()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    online = serializers.BooleanField(help_text="Refunded through the online provider (recorded when it accepts).")


def _strict(data: Any, allowed: set[str]) -> None:
    if not isinstance(data, dict):
        raise InvalidInput(_("Send a JSON object."))
    unknown = sorted(set(data) - allowed)
    if unknown:
        message = _("Unknown field.")
        raise InvalidInput(_("Unknown fields."), fields={name: [message] for name in unknown})


@extend_schema(
    parameters=[OpenApiParameter("treatment", str, description="Only this treatment's offers (slug).")],
    responses={200: PackageOfferSerializer(many=True), **errors(400)},
    description="Course packages on sale (public): sessions, price, and the saving against single sessions.",
)
class PackageOfferListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = PackageOfferSerializer

    def get_queryset(self) -> QuerySet[PackageOffer]:
        slug = self.request.query_params.get("treatment")
        if slug is None:
            return packages.offers_on_sale()
        treatment = Treatment.objects.filter(slug=slug, active=True).first()
        if treatment is None:
            raise InvalidInput(_("Unknown treatment."), fields={"treatment": [_("Unknown treatment.")]})
        return packages.offers_on_sale(treatment=treatment)


@extend_schema(
    responses={200: PackageSerializer(many=True), **errors(401, 403)},
    description="The signed-in patient's course packages, newest first.",
)
class MyPackagesApi(generics.ListAPIView):
    permission_classes = [IsPatient]
    serializer_class = PackageSerializer

    def get_queryset(self) -> QuerySet[Package]:
        if getattr(self, "swagger_fake_view", False):
            return Package.objects.none()
        return packages.packages_for(patient_id=Patient.objects.only("pk").get(user=user_of(self.request)).pk)


class PatientPackagesApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = PackageSerializer

    def get_queryset(self) -> QuerySet[Package]:
        if getattr(self, "swagger_fake_view", False):
            return Package.objects.none()
        patient = get_object_or_404(Patient, pk=self.kwargs["pk"])
        return packages.packages_for(patient_id=patient.pk)

    @extend_schema(
        responses={200: PackageSerializer(many=True), **errors(401, 403, 404)},
        description="A patient's course packages, newest first (staff).",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=PackageSellSerializer,
        responses={201: PackageSerializer, 200: PackageSerializer, **errors(400, 401, 403, 404)},
        description="Sells a package at the desk: the package and its payment, in one step. Tied to `plan` "
        "(the patient's, of the offer's treatment) or else to the patient's active plan of the treatment. "
        "The same `idempotency_key` again answers 200 with the same package and records nothing more.",
    )
    def post(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        _strict(request.data, {"offer", "method", "plan", "idempotency_key"})
        data = PackageSellSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        before = Package.objects.filter(patient=patient).count()
        package = packages.package_sell(
            patient=patient,
            offer=values["offer"],
            plan=values.get("plan"),
            method=values["method"],
            by=user_of(request),
            key=values["idempotency_key"],
        )
        created = Package.objects.filter(patient=patient).count() > before
        fresh = packages.packages_for(patient_id=patient.pk).get(pk=package.pk)
        return Response(
            PackageSerializer(fresh).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class PackageRefundApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        request=PackageRefundSerializer,
        responses={200: PackageRefundResultSerializer, **errors(400, 401, 403, 404, 409)},
        description="Refunds a package's unused sessions by the clinic's rule (CLINIC_PACKAGE_REFUND: pro rata or "
        "none) and marks it refunded: through the online provider for a package bought online, at the desk by "
        "`method` otherwise. 409 invalid_state when already refunded, fully used, or the rule is none. Managers.",
    )
    def post(self, request: Request, pk: int) -> Response:
        package = get_object_or_404(Package, pk=pk)
        _strict(request.data, {"method", "idempotency_key"})
        data = PackageRefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        done = packages.package_refund_unused(
            package=package, by=user_of(request), method=values.get("method", ""), key=values["idempotency_key"]
        )
        fresh = packages.packages_for(patient_id=package.patient_id).get(pk=package.pk)
        return Response({"package": PackageSerializer(fresh).data, "amount": str(done.amount), "online": done.online})
