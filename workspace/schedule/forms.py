"""Forms of the staff workspace. They parse and check the shape of input only;
the booking rules live in booking.services and answer with clinic.errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, ClinicClosure, Practitioner
from booking.waitlist import PART_CHOICES
from clinic.clock import clinic_zone
from clinic.pages import BoundedMultipleChoiceField, BoundedTypedMultipleChoiceField
from patients.models import Language
from patients.validators import normalize_phone


class AccessibleForm(forms.Form):
    """Ties each field's errors to it (aria-invalid, aria-describedby) so screen
    readers read the message with the field."""

    def full_clean(self) -> None:
        super().full_clean()
        for name, errors in self.errors.items():
            if name in self.fields and errors:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                field_id = self[name].auto_id
                help_id = f"{field_id}_helptext " if self.fields[name].help_text else ""
                attrs["aria-describedby"] = f"{help_id}{field_id}-error"


def clinic_datetime(value: datetime) -> datetime:
    """A wall-clock time typed by staff is the clinic's, whatever zone the request runs in."""
    if timezone.is_naive(value):
        return timezone.make_aware(value, clinic_zone())
    return value


class LocalDateTimeField(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        return clinic_datetime(result) if result is not None else None


class StartField(forms.CharField):
    """An ISO 8601 start with its offset, as the time buttons send it."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        if len(text) > 40:
            raise ValidationError(_("Choose one of the times shown."), code="invalid")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(_("Choose one of the times shown."), code="invalid") from None
        if timezone.is_naive(moment):
            raise ValidationError(_("Choose one of the times shown."), code="invalid")
        return moment


class PatientCreateForm(AccessibleForm):
    prefix = "new"
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    phone = forms.CharField(
        label=_("Mobile phone"), max_length=40, help_text=_("Hong Kong numbers need no code, e.g. 9123 4567.")
    )
    # Its limits are patients.validators.validate_birth_date, applied by patient_create.
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    email = forms.EmailField(
        label=_("Email (optional)"),
        required=False,
        max_length=254,
        help_text=_("Confirmations and reminders go here. The patient can later set a password with it."),
    )
    preferred_language = forms.ChoiceField(label=_("Language for emails"), choices=Language.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].widget.attrs["autocomplete"] = "off"
        self.fields["phone"].widget.input_type = "tel"

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise ValidationError(_("Enter the patient's name."))
        return name

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data["phone"])


class BookForm(AccessibleForm):
    patient = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    treatment = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    practitioner = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    start = StartField(error_messages={"required": _("Choose a time.")})
    plan_session = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    walk_in = forms.BooleanField(required=False)
    notes = forms.CharField(label=_("Note for the team (optional)"), max_length=2000, required=False)
    override_reason = forms.CharField(label=_("Why go ahead despite the screening"), max_length=2000, required=False)
    # Checked: a visit of its own, not the patient's next course session (booking.services decides the tie).
    separate_visit = forms.BooleanField(required=False)


class WaitlistDeskForm(AccessibleForm):
    """The staff booking page's "no time suits": the patient and treatment come
    from the page, the practitioner (or anyone) is one of those qualified for
    it. booking.waitlist.waitlist_join decides the rest (dates, horizon,
    overlap). The patient side has its own form in portal: the floors stay apart."""

    prefix = "waitlist"
    practitioner = forms.TypedChoiceField(
        label=_("Practitioner they wait for"), coerce=int, required=False, empty_value=None
    )
    earliest = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    latest = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    parts = BoundedMultipleChoiceField(
        label=_("Parts of the day that suit the patient"),
        choices=PART_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked if any time of day suits."),
    )

    def __init__(self, *args: Any, practitioners: list[Practitioner], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["practitioner"]
        field.choices = [("", _("Anyone qualified")), *[(str(p.pk), p.name) for p in practitioners]]  # type: ignore[attr-defined]


class CancelForm(AccessibleForm):
    # Optional, as through the API: booking.services.appointment_cancel decides what a cancellation needs.
    reason = forms.CharField(
        label=_("Reason for cancelling (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the appointment. The patient is emailed that it is cancelled."),
    )
    for_patient = forms.BooleanField(
        label=_("The patient asked to cancel"),
        required=False,
        help_text=_("Inside the notice, a deposit may then be kept as a late-cancellation fee."),
    )


class RescheduleForm(AccessibleForm):
    start = StartField(error_messages={"required": _("Choose a new time.")})
    # Told to the patient in the email about the move ("Reason: ..."), in words staff choose.
    reason = forms.CharField(label=_("Reason for the patient (optional)"), max_length=200, required=False)


class ClosureForm(AccessibleForm):
    prefix = "closure"
    kind = forms.ChoiceField(label=_("Kind"), choices=ClinicClosure.Kind.choices, initial=ClinicClosure.Kind.WEATHER)
    start = LocalDateTimeField(label=_("Closed from"))
    end = LocalDateTimeField(label=_("Closed until"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("e.g. Typhoon signal No. 8"),
        error_messages={"required": _("Give a reason.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data


class TimeOffForm(AccessibleForm):
    prefix = "off"
    practitioner = forms.ModelChoiceField(
        label=_("Practitioner"), queryset=Practitioner.objects.none(), empty_label=_("Choose…")
    )
    start = LocalDateTimeField(label=_("Off from"))
    end = LocalDateTimeField(label=_("Off until"))
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["practitioner"]
        field.queryset = Practitioner.objects.filter(active=True).select_related("user")  # type: ignore[attr-defined]  # a ModelChoiceField
        field.label_from_instance = lambda practitioner: practitioner.name  # type: ignore[attr-defined]  # a ModelChoiceField

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data


class BulkForm(AccessibleForm):
    ACTIONS = (("move", _("Move each to its next free time")), ("cancel", _("Cancel with a reason")))
    action = forms.ChoiceField(choices=ACTIONS)
    appointments = BoundedTypedMultipleChoiceField(
        coerce=int, choices=(), error_messages={"required": _("Choose at least one appointment.")}
    )
    reason = forms.CharField(label=_("Reason given to the patients"), max_length=2000, required=False)

    def __init__(self, *args: Any, appointments: list[Appointment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointments"].choices = [(a.pk, str(a.pk)) for a in appointments]  # type: ignore[attr-defined]  # a TypedMultipleChoiceField

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "cancel" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give a reason for cancelling."))
        return data
