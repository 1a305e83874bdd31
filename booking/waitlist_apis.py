"""The waitlist's API (booking/waitlist.py holds every rule; docs/architecture.md,
Waitlist: holds and offers).

Patients join, list, read and leave their own entries and accept or decline
their own offers; another patient's entry or offer is 404, as a missing one.
Staff (reception, practitioners, managers) do all of it for any patient, with
``patient`` in the body when joining, and offer a slot by hand. Staff may
accept an offer for the patient (who said yes on the phone or at the desk):
it is booked as staff book, so screening cautions are recorded, not refused,
exactly as ``POST /appointments/`` by staff.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import selectors, waitlist
from booking.filters import WaitlistFilter
from booking.models import WaitlistEntry, WaitlistOffer
from booking.serializers import (
    AppointmentSerializer,
    WaitlistEntrySerializer,
    WaitlistJoinSerializer,
    WaitlistOfferByHandSerializer,
    WaitlistOfferSerializer,
)
from clinic.api import ScopedThrottle
from clinic.errors import InvalidInput
from clinic.schema import errors
from patients.models import Patient
from patients.permissions import IsPatientOrStaff, IsStaff, is_staff, user_of


def visible_entries(request: Request) -> QuerySet[WaitlistEntry]:
    """Staff: every entry, in queue order; a patient: their own, newest first."""
    if is_staff(request):
        return waitlist.waitlist_entries()
    return waitlist.entries_for(Patient.objects.only("pk").get(user=user_of(request)))


def visible_offers(request: Request) -> QuerySet[WaitlistOffer]:
    if is_staff(request):
        return waitlist.offers_all()
    return waitlist.offers_for(Patient.objects.only("pk").get(user=user_of(request)))


def _entry_body(request: Request, entry: WaitlistEntry) -> dict[str, Any]:
    fresh = waitlist.waitlist_entries().get(pk=entry.pk)
    return dict(WaitlistEntrySerializer(fresh, context={"request": request}).data)


def _offer_body(offer: WaitlistOffer) -> dict[str, Any]:
    return dict(WaitlistOfferSerializer(waitlist.offers_all().get(pk=offer.pk)).data)


@extend_schema(responses={**errors(400, 401, 403)})
class WaitlistListApi(generics.ListCreateAPIView):
    permission_classes = [IsPatientOrStaff]
    serializer_class = WaitlistEntrySerializer
    filterset_class = WaitlistFilter
    throttle_scope = "booking"

    def get_throttles(self) -> list:
        return [ScopedThrottle()] if self.request.method == "POST" else []

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.objects.none()
        return visible_entries(self.request)

    @extend_schema(
        description="Patients: their own entries, newest first. Staff: every entry in queue order (first come, "
        "first served), filtered by `treatment` (slug), `patient` and `status`."
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=WaitlistJoinSerializer,
        responses={201: WaitlistEntrySerializer, **errors(400, 401, 403, 409, 429)},
        description="Joins the waitlist. When a suitable slot is free already it is offered at once: the entry "
        "comes back with its `offer`. 400 invalid: dates reversed, in the past, beyond the booking horizon "
        "(staff: the staff horizon) or spanning more than 62 days, an unknown part, a practitioner who does not "
        "offer the treatment, a treatment not bookable online (patients); a patient sending `patient`, staff "
        "leaving it out. 400 not_bookable: an erased patient. 409 already_waiting: the patient already waits "
        "for this treatment on overlapping dates, or has five entries waiting.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        staff = is_staff(request)
        if not staff and isinstance(request.data, dict) and "patient" in request.data:
            raise InvalidInput(fields={"patient": [_("Only staff may send this field.")]})
        data = WaitlistJoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if staff:
            patient = values.get("patient")
            if patient is None:
                raise InvalidInput(fields={"patient": [_("Say which patient this waitlist entry is for.")]})
        else:
            patient = user_of(request).patient  # fetched with the API token (patients/authentication.py)
        entry = waitlist.waitlist_join(
            patient=patient,
            treatment=values["treatment"],
            practitioner=values["practitioner"],
            earliest=values["earliest"],
            latest=values["latest"],
            parts=values["parts"],
            by=user_of(request),
            staff=staff,
        )
        return Response(_entry_body(request, entry), status=status.HTTP_201_CREATED)


class WaitlistDetailApi(generics.RetrieveDestroyAPIView):
    permission_classes = [IsPatientOrStaff]
    serializer_class = WaitlistEntrySerializer

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.objects.none()
        return visible_entries(self.request)

    @extend_schema(responses={200: WaitlistEntrySerializer, **errors(401, 403, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        responses={204: None, **errors(401, 403, 404, 409)},
        description="Leaves the waitlist: the entry's open offer is withdrawn and its slot passes to the next "
        "entry. Leaving again changes nothing (204). 409 invalid_state: the entry was booked or has ended.",
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        waitlist.waitlist_leave(entry=self.get_object(), by=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WaitlistOfferDetailApi(generics.RetrieveAPIView):
    permission_classes = [IsPatientOrStaff]
    serializer_class = WaitlistOfferSerializer

    def get_queryset(self) -> QuerySet[WaitlistOffer]:
        if getattr(self, "swagger_fake_view", False):
            return WaitlistOffer.objects.none()
        return visible_offers(self.request)

    @extend_schema(responses={200: WaitlistOfferSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class WaitlistOfferAcceptApi(APIView):
    permission_classes = [IsPatientOrStaff]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "booking"

    @extend_schema(
        request=None,
        responses={201: AppointmentSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
        description="Books the offered slot for the offer's patient, with every booking rule (screening, "
        "consent, plan sessions, the confirmation email): the appointment as `POST /appointments/` answers it. "
        "Staff may accept for the patient; a slot staff offered by hand, or accepted by staff, is booked under "
        "staff rules (no minimum notice; screening cautions recorded). 409 invalid_state: the offer has expired "
        "or was used; 422 contraindicated: screening (the offer stays open until it expires).",
    )
    def post(self, request: Request, pk: int) -> Response:
        offer = get_object_or_404(visible_offers(request), pk=pk)
        appointment = waitlist.offer_accept(offer=offer, by=user_of(request), staff=is_staff(request))
        fresh = selectors.appointments_for().get(pk=appointment.pk)
        return Response(AppointmentSerializer(fresh, context={"request": request}).data, status=status.HTTP_201_CREATED)


class WaitlistOfferDeclineApi(APIView):
    permission_classes = [IsPatientOrStaff]

    @extend_schema(
        request=None,
        responses={200: WaitlistOfferSerializer, **errors(401, 403, 404, 409)},
        description="Declines the offer: the slot passes to the next entry at once; the entry keeps waiting "
        "and is never offered that time again. Declining again changes nothing. 409 invalid_state: the offer "
        "has expired or was accepted.",
    )
    def post(self, request: Request, pk: int) -> Response:
        offer = get_object_or_404(visible_offers(request), pk=pk)
        waitlist.offer_decline(offer=offer, by=user_of(request))
        return Response(_offer_body(offer))


class WaitlistOfferByHandApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=WaitlistOfferByHandSerializer,
        responses={201: WaitlistOfferSerializer, **errors(400, 401, 403, 404, 409)},
        description="Staff offer a time to a waiting entry by hand (staff rules: no minimum notice, the staff "
        "horizon); it is held and the patient is emailed, as for an offer the waitlist makes. 400 not_bookable: "
        "the time cannot be booked; 409 slot_unavailable: it is taken or held; 409 invalid_state: the entry is "
        "not waiting or already has an open offer.",
    )
    def post(self, request: Request, pk: int) -> Response:
        entry = get_object_or_404(WaitlistEntry.objects.all(), pk=pk)
        data = WaitlistOfferByHandSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        offer = waitlist.waitlist_offer_by_hand(
            entry=entry, start=values["start"], practitioner=values.get("practitioner"), by=user_of(request)
        )
        return Response(_offer_body(offer), status=status.HTTP_201_CREATED)
