from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from clinic.api import BoundedListField, CleanCharField, StrictModelSerializer
from patients import channels
from patients.devices import device_label, is_current_device
from patients.models import (
    DECLARATION_YES_NO,
    AccessEvent,
    Allergy,
    ChannelChoice,
    HealthDeclaration,
    ImportantDate,
    Language,
    Patient,
    SignedInDevice,
)
from patients.validators import normalize_phone


class PhoneField(CleanCharField):
    """Any common way of writing a phone number in; E.164 out."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return normalize_phone(value)
        except Exception as error:  # django ValidationError
            raise serializers.ValidationError(getattr(error, "messages", [str(error)])) from None


class PatientSerializer(StrictModelSerializer):
    """One patient, the same in create, detail and list responses."""

    full_name = CleanCharField(max_length=200)
    phone = PhoneField(max_length=40)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(
        help_text="Not in the future, nor more than 120 years ago (checked by the service)."
    )
    preferred_language = serializers.ChoiceField(choices=Language.choices, default=Language.ENGLISH)

    class Meta:
        model = Patient
        fields = [
            "id",
            "email",
            "full_name",
            "date_of_birth",
            "phone",
            "preferred_language",
            "fitzpatrick_type",
            "reminders_opt_out",
        ]
        read_only_fields = ["id"]


class OwnProfileSerializer(PatientSerializer):
    class Meta(PatientSerializer.Meta):
        read_only_fields = ["id", "fitzpatrick_type"]


class OwnProfileUpdatedSerializer(OwnProfileSerializer):
    detail = serializers.CharField(
        read_only=True, help_text="What happened, e.g. that a confirmation link went to a new email address."
    )

    class Meta(OwnProfileSerializer.Meta):
        fields = [*OwnProfileSerializer.Meta.fields, "detail"]


class EmailChangeConfirmSerializer(serializers.Serializer):
    token = CleanCharField(max_length=500)


class StaffPatientSerializer(PatientSerializer):
    has_login = serializers.SerializerMethodField()

    erased_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Set when a manager erased the patient's details on request."
    )

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "has_login", "erased_at"]

    def get_has_login(self, patient: Patient) -> bool:
        return patient.user_id is not None


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = CleanCharField(max_length=128, trim_whitespace=False)
    full_name = CleanCharField(max_length=200)
    date_of_birth = serializers.DateField(
        help_text="Not in the future, nor more than 120 years ago (checked by the service)."
    )
    phone = PhoneField(max_length=40)
    preferred_language = serializers.ChoiceField(choices=Language.choices)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = CleanCharField(max_length=128, trim_whitespace=False)
    otp = CleanCharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text=(
            "Required for the roles in CLINIC_SECOND_FACTOR_ROLES (by default practitioners and managers): "
            "the current 6-digit code from the authenticator app, or one of the recovery codes (each works once). "
            "The second factor is set up on the staff pages (/staff/) first."
        ),
    )


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = CleanCharField(max_length=64)
    token = CleanCharField(max_length=128)
    password = CleanCharField(max_length=128, trim_whitespace=False)
    otp = CleanCharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="As for the token: required for the roles in CLINIC_SECOND_FACTOR_ROLES.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class RegisteredSerializer(serializers.Serializer):
    patient = PatientSerializer()
    token = serializers.CharField()


class HealthDeclarationSerializer(StrictModelSerializer):
    allergies = BoundedListField(
        child=serializers.ChoiceField(choices=Allergy.choices), required=False, default=list, max_length=10
    )
    allergies_other = CleanCharField(required=False, allow_blank=True, default="", max_length=2000)
    entered_by_staff = serializers.SerializerMethodField()

    class Meta:
        model = HealthDeclaration
        fields = [
            "id",
            "patient",
            "submitted_at",
            "entered_by_staff",
            "pregnant_or_breastfeeding",
            "isotretinoin_last_dose",
            "keloid_tendency",
            "cold_sore_history",
            "active_cold_sore",
            "anticoagulants",
            "photosensitising_medication",
            "active_skin_infection",
            "recent_sun_exposure",
            "autoimmune_condition",
            "neuromuscular_disorder",
            "active_acne",
            "topical_retinoid_last_use",
            "implanted_electronic_device",
            "allergies",
            "allergies_other",
        ]
        read_only_fields = ["id", "patient", "submitted_at", "entered_by_staff"]
        extra_kwargs = {
            name: {"required": True}
            for name in (*DECLARATION_YES_NO, "isotretinoin_last_dose", "topical_retinoid_last_use")
        }

    def get_entered_by_staff(self, declaration: HealthDeclaration) -> bool:
        return declaration.entered_by_id is not None


class AccessEventSerializer(serializers.ModelSerializer):
    """One read of a patient's clinical data, as managers see it."""

    at = serializers.DateTimeField(read_only=True)
    actor = serializers.IntegerField(
        source="actor_id", allow_null=True, read_only=True, help_text="Null once the account is removed."
    )
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    what = serializers.ChoiceField(choices=AccessEvent.What.choices, read_only=True)
    door = serializers.ChoiceField(choices=AccessEvent.Door.choices, read_only=True)

    class Meta:
        model = AccessEvent
        fields = [
            "id",
            "at",
            "actor",
            "actor_role",
            "actor_name",
            "patient",
            "what",
            "object_id",
            "door",
            "client_address",
        ]
        read_only_fields = fields


def patient_visible_actor_name(event: AccessEvent) -> str | None:
    """The name a patient sees for whoever read their record: a practitioner's
    name (the clinicians who treat them, named on the public practitioner list),
    never a receptionist's or manager's, and never a sign-in email. The role and
    the time are always shown; the clinic's privacy officer can name anyone else."""
    from patients.roles import PRACTITIONER

    if event.actor_role == PRACTITIONER and event.actor_name and "@" not in event.actor_name:
        return event.actor_name
    return None


class OwnAccessEventSerializer(serializers.Serializer):
    """One read of the signed-in patient's record by the clinic's staff."""

    at = serializers.DateTimeField(read_only=True)
    actor_role = serializers.ChoiceField(
        choices=["receptionist", "practitioner", "manager", "staff"],
        read_only=True,
        help_text="The reader's role (staff: an administration account without a clinic role).",
    )
    actor_name = serializers.SerializerMethodField(
        help_text="The practitioner's name; null for other roles (see the endpoint's description)."
    )
    what = serializers.ChoiceField(choices=AccessEvent.What.choices, read_only=True)
    door = serializers.ChoiceField(choices=AccessEvent.Door.choices, read_only=True)

    def get_actor_name(self, event: AccessEvent) -> str | None:
        return patient_visible_actor_name(event)


class PasswordChangeSerializer(serializers.Serializer):
    current_password = CleanCharField(max_length=128, trim_whitespace=False)
    new_password = CleanCharField(
        max_length=128, trim_whitespace=False, help_text="Checked against the password rules (400 invalid if weak)."
    )


class DeviceSerializer(serializers.ModelSerializer):
    """A device where the caller is signed in: an API token or a browser session."""

    label = serializers.SerializerMethodField(  # type: ignore[assignment]  # DRF moves declared fields off the class
        help_text='Named from its user agent, e.g. "Safari on iPhone"; may be "".'
    )
    current = serializers.SerializerMethodField(help_text="True for the device making this request.")

    class Meta:
        model = SignedInDevice
        fields = ["id", "kind", "label", "created_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_label(self, device: SignedInDevice) -> str:
        return device_label(device.user_agent)

    def get_current(self, device: SignedInDevice) -> bool:
        return is_current_device(device, self.context["request"])


class ImportantDateSerializer(serializers.ModelSerializer):
    """A date that matters to the patient; a booking whose usual downtime overlaps it is flagged."""

    label = CleanCharField(  # type: ignore[assignment]  # DRF moves declared fields off the class
        max_length=80, help_text='What it is, e.g. "Wedding" (at most 80 characters).'
    )
    ends_on = serializers.DateField(
        required=False, help_text="The last day of a span (a trip); left out, the same as `starts_on`."
    )

    class Meta:
        model = ImportantDate
        fields = ["id", "starts_on", "ends_on", "label", "created_at"]
        read_only_fields = ["id", "created_at"]


# --- how we contact the patient (patients/channels.py) --------------------------------------

CHANNEL_TOPIC_HELP = {
    "confirmations": "Bookings, moves, cancellations, a missed visit and the link to change a visit. Never empty.",
    "reminders": "Appointment reminders. Empty: no reminders.",
    "plan_nudges": "A treatment plan's next session is due, and its last call. Empty: none.",
    "waitlist_offers": "A time held from the waitlist. Never empty.",
    "care": "Pre-care and aftercare. Never empty.",
}


# The same choices (values and labels) as a notification's channel: one enum in the schema (MessageChannelEnum).
CHANNEL_CHOICES = [(channel, ChannelChoice.Channel(channel).label) for channel in channels.CHANNELS]


def _channel_list(topic: str, *, required: bool) -> BoundedListField:
    return BoundedListField(
        child=serializers.ChoiceField(choices=CHANNEL_CHOICES),
        max_length=len(channels.CHANNELS),
        allow_empty=True,
        required=required,
        help_text=CHANNEL_TOPIC_HELP[topic] + " First choice first; the next is used when one fails for good.",
    )


class ChannelTopicsSerializer(serializers.Serializer):
    """Each topic's channels in order. In a request, the topics named change
    and the others stay; a name that is not a topic is refused."""

    confirmations = _channel_list("confirmations", required=False)
    reminders = _channel_list("reminders", required=False)
    plan_nudges = _channel_list("plan_nudges", required=False)
    waitlist_offers = _channel_list("waitlist_offers", required=False)
    care = _channel_list("care", required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and any(key not in channels.TOPICS for key in data):
            raise serializers.ValidationError([_("Topics are: %(topics)s.") % {"topics": ", ".join(channels.TOPICS)}])
        return super().to_internal_value(data)


class ChannelsSerializer(serializers.Serializer):
    available = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANNEL_CHOICES),
        help_text="The channels the clinic sends on: email always, SMS and WhatsApp when configured.",
    )
    topics = ChannelTopicsSerializer(help_text="Every topic's channels, first choice first. [] means off.")

    class Meta:
        ref_name = "Channels"


class ChannelsUpdateSerializer(serializers.Serializer):
    topics = ChannelTopicsSerializer(help_text="The topics to change; those left out stay as they are.")

    class Meta:
        ref_name = "ChannelsUpdate"
