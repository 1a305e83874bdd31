from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking.models import (
    Appointment,
    DepositCheckout,
    InjectableUse,
    Notification,
    Practitioner,
    SessionRecord,
    WaitlistEntry,
    WaitlistOffer,
)
from booking.selectors import appointment_downtime
from clinic.api import (
    AwareDateTimeField,
    BoundedDictField,
    BoundedListField,
    CleanCharField,
    FieldsBuiltOnce,
    StrictBooleanField,
    StrictIntegerField,
    StrictPrimaryKeyRelatedField,
)
from clinic.schema import ReasonSerializer
from patients.models import Patient
from treatments.injectables import FIELDS as INJECTABLE_FIELDS
from treatments.injectables import LOT_MAX, MAX_ROWS, PRODUCT_MAX
from treatments.models import Treatment
from treatments.parameters import validate_areas
from treatments.serializers import DowntimeConflictSerializer, TreatmentSlugField


class PractitionerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    title = serializers.SerializerMethodField()
    treatments = serializers.SerializerMethodField()

    class Meta:
        model = Practitioner
        fields = ["id", "name", "title", "treatments"]

    def get_title(self, practitioner: Practitioner) -> str:
        return practitioner.localized("title")

    def get_treatments(self, practitioner: Practitioner) -> list[str]:
        return sorted(t.slug for t in practitioner.treatments.all() if t.active)


class DepositSerializer(serializers.Serializer):
    """The deposit an online booking waits for (booking.deposits): pay at
    ``checkout_url`` before ``expires_at``, or the slot is released."""

    amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    status = serializers.ChoiceField(choices=DepositCheckout.Status.choices)
    checkout_url = serializers.URLField(allow_null=True, help_text="Where to pay, while the hold lasts.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Until when the slot is held.")


class AppointmentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """One appointment, the same in create, detail, list and every transition."""

    treatment: serializers.SlugRelatedField[Treatment] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    plan_session = serializers.SerializerMethodField()
    cautions = ReasonSerializer(many=True)
    calendar_url = serializers.SerializerMethodField()
    downtime = serializers.SerializerMethodField(
        help_text="The patient's dates that matter which this visit's usual downtime overlaps (none once "
        "cancelled or missed). A flag, never a refusal."
    )
    deposit = serializers.SerializerMethodField(
        help_text="The online deposit this visit asks or asked for; null when none. A visit with status "
        "deposit_due is confirmed only once it is paid."
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "status",
            "treatment",
            "practitioner",
            "room",
            "device",
            "start",
            "end",
            "patient",
            "plan_session",
            "cautions",
            "calendar_url",
            "notes",
            "source",
            "cancellation_reason",
            "downtime",
            "patient_confirmed_at",
            "patient_confirmed_via",
            "deposit",
        ]
        read_only_fields = fields

    @extend_schema_field(DepositSerializer(allow_null=True))
    def get_deposit(self, appointment: Appointment) -> Any:
        from booking.deposits import deposit_view

        view = deposit_view(appointment)
        return DepositSerializer(view).data if view is not None else None

    @extend_schema_field(DowntimeConflictSerializer(many=True))
    def get_downtime(self, appointment: Appointment) -> Any:
        return DowntimeConflictSerializer(appointment_downtime(appointment), many=True).data

    def get_plan_session(self, appointment: Appointment) -> int | None:
        return getattr(appointment, "plan_session_id", None)

    def get_calendar_url(self, appointment: Appointment) -> str:
        path = reverse("appointment-calendar", kwargs={"pk": appointment.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class BookSerializer(serializers.Serializer):
    treatment = TreatmentSlugField()
    start = AwareDateTimeField()
    practitioner = StrictPrimaryKeyRelatedField(
        queryset=Practitioner.objects.filter(active=True), allow_null=True, default=None
    )
    plan_session = StrictIntegerField(
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**62,
        help_text="A session of the patient's plan for this treatment: booked only inside its window, and only "
        "once the previous session is booked or completed (staff: any date once its window has ended). "
        "Omitted or null: the patient's next open session of an active plan of this treatment, if there is one "
        "whose turn has come, with the same checks (unless separate_visit).",
    )
    separate_visit = StrictBooleanField(
        default=False,
        help_text="True: a visit of its own, not tied to the patient's plan of this treatment even if a session "
        "of it is open. Cannot be combined with plan_session.",
    )
    notes = CleanCharField(allow_blank=True, default="", max_length=2000)
    patient = StrictPrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False)
    override_reason = CleanCharField(allow_blank=True, required=False, max_length=2000)


class RescheduleSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    practitioner = StrictPrimaryKeyRelatedField(
        queryset=Practitioner.objects.filter(active=True), allow_null=True, required=False
    )
    override_reason = CleanCharField(
        allow_blank=True,
        required=False,
        max_length=2000,
        help_text="Staff only: why the new date may go past a gap rule's block (422 too_close otherwise).",
    )


class CancelSerializer(serializers.Serializer):
    reason = CleanCharField(allow_blank=True, default="", max_length=2000)
    for_patient = StrictBooleanField(
        default=False,
        help_text="Staff only: the patient asked (by phone, at the desk), so the deposit rules treat it as "
        "the patient's cancellation (a late one may keep the deposit as a fee).",
    )


class AvailabilityQuerySerializer(serializers.Serializer):
    treatment = TreatmentSlugField()
    # "from" is a Python keyword: the field is renamed in to_internal_value.
    to = serializers.DateField()
    practitioner = StrictPrimaryKeyRelatedField(
        queryset=Practitioner.objects.filter(active=True), required=False, allow_null=True
    )
    plan_session = StrictIntegerField(required=False, min_value=1, max_value=2**62)
    exclude_appointment = StrictIntegerField(required=False, min_value=1, max_value=2**62)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs["from"], attrs["to"]
        if last < first:
            raise serializers.ValidationError({"to": ["'to' must not be before 'from'."]})
        if (last - first).days + 1 > 62:
            raise serializers.ValidationError({"to": ["Ask for at most 62 days at a time."]})
        return attrs


class NotificationSerializer(serializers.ModelSerializer):
    """One row of the notification log. ``last_error`` never holds patient data."""

    # "" (not skipped) is a value too: the schema's enum must include it.
    skip_reason = serializers.ChoiceField(choices=Notification.SkipReason.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "channel",
            "status",
            "patient",
            "appointment",
            "plan_session",
            "sequence",
            "offset_minutes",
            "window_start",
            "due_at",
            "next_attempt_at",
            "attempts",
            "sent_at",
            "skip_reason",
            "last_error",
            "message_id",
            "created_at",
        ]
        read_only_fields = fields


# --- completing an appointment: the session record ------------------------------------------


class InjectableInputSerializer(serializers.Serializer):
    """One product injected: required for filler, toxin and steroid sessions.
    The service refuses a lot that expired before the visit's day."""

    product = CleanCharField(max_length=PRODUCT_MAX, help_text="The product's name, e.g. Restylane Volyme.")
    lot = CleanCharField(max_length=LOT_MAX, help_text="The lot (batch) number as printed.")
    expiry = serializers.DateField(help_text="The lot's expiry date (YYYY-MM-DD); before the visit's day is 400.")
    amount = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        allow_null=True,
        help_text="How much was injected, in ``unit``.",
    )
    unit = serializers.ChoiceField(
        choices=InjectableUse.Unit.choices,
        required=False,
        help_text="The category's unit (ml of filler, units of toxin, mg of steroid); another is 400.",
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(key)[:40] for key in data if key not in INJECTABLE_FIELDS)
            if unknown:
                message = _("Unknown field. Known: %(known)s.") % {"known": ", ".join(INJECTABLE_FIELDS)}
                raise serializers.ValidationError({key: [message] for key in unknown[:5]})
        return super().to_internal_value(data)


class InjectableSerializer(serializers.ModelSerializer):
    class Meta:
        model = InjectableUse
        fields = ["product", "lot", "expiry", "amount", "unit"]
        read_only_fields = fields


class CompleteSerializer(serializers.Serializer):
    """The ``complete`` body. ``parameters`` are checked against the
    treatment's category by the service (treatments.parameters: the keys and
    units of docs/domain.md, Session records)."""

    areas = BoundedListField(
        child=CleanCharField(max_length=40), required=False, max_length=20, help_text="Area codes (docs/domain.md)."
    )
    anaesthesia = CleanCharField(allow_blank=True, required=False, max_length=200)
    pain_score = StrictIntegerField(min_value=0, max_value=10, required=False, allow_null=True)
    immediate_reaction = CleanCharField(allow_blank=True, required=False, max_length=2000)
    adverse_events = CleanCharField(allow_blank=True, required=False, max_length=2000)
    notes = CleanCharField(allow_blank=True, required=False, max_length=5000)
    parameters = BoundedDictField(
        max_keys=30,
        required=False,
        help_text="Per the treatment's category; keys carry their unit, e.g. fluence_j_cm2.",
    )
    consent_override_reason = CleanCharField(
        allow_blank=True,
        required=False,
        max_length=500,
        help_text="Managers only (another role sending it is 403): completes the session although the patient "
        "has not signed every consent form the treatment needs; kept on the session record with who overrode. "
        "Without it, missing consent is 409 invalid_state naming the forms.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict) and "consent_version" in self.initial_data:
            raise serializers.ValidationError(
                {"consent_version": [_("Filled from the patient's consent signatures; do not send it.")]}
            )
        return attrs

    injectables = BoundedListField(
        child=InjectableInputSerializer(),
        max_length=MAX_ROWS,
        required=False,
        help_text="The products injected (filler, toxin and steroid sessions need at least one; others none).",
    )

    def validate_areas(self, value: list[str]) -> list[str]:
        areas, errors = validate_areas(value)
        if errors:
            raise serializers.ValidationError(errors)
        return areas


class SessionRecordSerializer(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="appointment.patient_id", read_only=True)
    treatment: serializers.SlugRelatedField[Treatment]
    treatment = serializers.SlugRelatedField(source="appointment.treatment", slug_field="slug", read_only=True)
    parameters = serializers.DictField(read_only=True)
    areas = serializers.ListField(child=serializers.CharField(), read_only=True)
    consent_signature = serializers.SerializerMethodField(
        help_text="The first consent signature that counted when the session was completed, or null."
    )
    consent_signatures = serializers.SerializerMethodField(
        help_text="Every consent signature that counted (ids), one per form the treatment needed."
    )
    consent_version = serializers.CharField(
        read_only=True, help_text="Filled from the signatures, e.g. 'laser-resurfacing v2'."
    )
    injectables = InjectableSerializer(many=True, read_only=True)

    class Meta:
        model = SessionRecord
        fields = [
            "id",
            "appointment",
            "patient",
            "treatment",
            "category",
            "areas",
            "anaesthesia",
            "pain_score",
            "immediate_reaction",
            "adverse_events",
            "consent_version",
            "consent_signature",
            "consent_signatures",
            "consent_override_reason",
            "consent_override_by",
            "notes",
            "parameters",
            "injectables",
            "health_declaration",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields

    def get_consent_signatures(self, record: SessionRecord) -> list[int]:
        return sorted(signature.pk for signature in record.consent_signatures.all())

    def get_consent_signature(self, record: SessionRecord) -> int | None:
        ids = self.get_consent_signatures(record)
        return ids[0] if ids else None


class CompletedAppointmentSerializer(AppointmentSerializer):
    """The appointment, plus the session record ``complete`` wrote."""

    session_record = serializers.IntegerField(source="session_record.pk", read_only=True)

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "session_record"]
        read_only_fields = fields


class PreCareItemSerializer(serializers.Serializer):
    """One pre-care instruction of a visit (booking.precare.PreCareItem), in the
    caller's language (Accept-Language)."""

    id = serializers.IntegerField(source="instruction.pk")
    code = serializers.CharField(source="instruction.code")
    title = serializers.CharField(source="instruction.localized_title")
    text = serializers.CharField(source="instruction.localized_text")
    days_before = serializers.IntegerField(source="instruction.days_before")
    send_on = serializers.DateField(help_text="The clinic-local day its email is (or was) due.")
    sent_at = serializers.DateTimeField(allow_null=True, help_text="When its email went for this visit; null if not.")
    acknowledged_at = serializers.DateTimeField(
        allow_null=True, help_text="When the patient confirmed it; null if not."
    )


class PreCareSerializer(serializers.Serializer):
    appointment = serializers.IntegerField()
    all_confirmed = serializers.BooleanField(help_text="True when there is pre-care and every item is confirmed.")
    instructions = PreCareItemSerializer(many=True)


# --- the lot recall search ---------------------------------------------------------------------


class LotPatientSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="patient_id")
    name = serializers.CharField(source="patient_name")
    phone = serializers.CharField()
    email = serializers.CharField()


class LotPractitionerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class LotUseSerializer(serializers.Serializer):
    """One use of the searched lot (booking.recall.LotRow)."""

    id = serializers.IntegerField(source="use.pk", read_only=True)
    session_record = serializers.IntegerField(source="use.session_record_id", read_only=True)
    appointment = serializers.IntegerField(source="use.session_record.appointment_id", read_only=True)
    date = serializers.DateField(source="day", read_only=True, help_text="The visit's clinic-local date.")
    patient = LotPatientSerializer(source="*", read_only=True)
    treatment = serializers.CharField(source="treatment_slug", read_only=True)
    product = serializers.CharField(source="use.product", read_only=True)
    lot = serializers.CharField(source="use.lot", read_only=True, help_text="As recorded.")
    expiry = serializers.DateField(source="use.expiry", read_only=True, allow_null=True)
    amount = serializers.DecimalField(
        source="use.amount", max_digits=7, decimal_places=2, read_only=True, allow_null=True
    )
    unit = serializers.CharField(source="use.unit", read_only=True)
    practitioner = serializers.SerializerMethodField()

    @extend_schema_field(LotPractitionerSerializer)
    def get_practitioner(self, row: Any) -> dict[str, Any]:
        practitioner = row.use.session_record.appointment.practitioner
        return {"id": practitioner.pk, "name": row.practitioner}


# --- the waitlist (booking/waitlist.py) --------------------------------------------------------


class WaitlistEntryOfferSerializer(serializers.Serializer):
    """The entry's open offer, in brief (the full offer: GET /waitlist/offers/{id}/)."""

    id = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    practitioner = serializers.IntegerField(source="practitioner_id")
    expires_at = serializers.DateTimeField(help_text="Accept before this instant; after it the slot passes on.")
    status = serializers.ChoiceField(choices=WaitlistOffer.Status.choices)


class WaitlistEntrySerializer(serializers.ModelSerializer):
    """One waitlist entry. ``offer`` is its open offer (at most one), or null."""

    treatment: serializers.SlugRelatedField[Treatment] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    parts = serializers.ListField(
        child=serializers.ChoiceField(choices=WaitlistEntry.Part.choices),
        read_only=True,
        help_text="Parts of the day by the clinic-local start; empty: any time.",
    )
    offer = serializers.SerializerMethodField()

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "treatment",
            "practitioner",
            "earliest",
            "latest",
            "parts",
            "status",
            "created_at",
            "patient",
            "offer",
        ]
        read_only_fields = fields

    @extend_schema_field(WaitlistEntryOfferSerializer(allow_null=True))
    def get_offer(self, entry: WaitlistEntry) -> dict[str, Any] | None:
        # Loaded by the waitlist's selectors (``open_offers``); read here only
        # when a caller built the entry another way.
        offers = getattr(entry, "open_offers", None)
        if offers is None:
            offers = list(entry.offers.filter(status=WaitlistOffer.Status.OPEN))
        return dict(WaitlistEntryOfferSerializer(offers[0]).data) if offers else None


class WaitlistJoinSerializer(serializers.Serializer):
    # Any treatment by slug: the service refuses one patients cannot book online
    # (staff may put a patient on the waitlist for it).
    treatment = TreatmentSlugField(queryset=Treatment.objects.all())
    practitioner = StrictPrimaryKeyRelatedField(
        queryset=Practitioner.objects.filter(active=True),
        allow_null=True,
        default=None,
        help_text="Only this practitioner; omitted or null: anyone qualified.",
    )
    earliest = serializers.DateField(help_text="First clinic-local date, today or later.")
    latest = serializers.DateField(
        help_text="Last clinic-local date, within the booking horizon (staff: the staff horizon), "
        "at most 62 days after earliest."
    )
    parts = BoundedListField(
        child=serializers.ChoiceField(choices=WaitlistEntry.Part.choices),
        max_length=3,
        default=list,
        help_text="morning (before 12:00), afternoon (12:00-17:00), evening (from 17:00); empty: any time.",
    )
    patient = StrictPrimaryKeyRelatedField(
        queryset=Patient.objects.all(), required=False, help_text="Staff only, and required for staff."
    )


class WaitlistOfferSerializer(serializers.ModelSerializer):
    treatment: serializers.SlugRelatedField[Treatment] = serializers.SlugRelatedField(
        source="entry.treatment", slug_field="slug", read_only=True
    )

    class Meta:
        model = WaitlistOffer
        fields = ["id", "entry", "treatment", "start", "end", "practitioner", "expires_at", "status", "appointment"]
        read_only_fields = fields


class WaitlistOfferByHandSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    practitioner = StrictPrimaryKeyRelatedField(
        queryset=Practitioner.objects.filter(active=True),
        allow_null=True,
        required=False,
        help_text="Omitted or null: the entry's practitioner, else anyone qualified who is free.",
    )
