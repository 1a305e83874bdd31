"""Forms of the account pages: the profile, password change, reset request and new password.

They check the input's shape and say what is wrong in the patient's words; the
rules (a plausible date of birth, a free email) are patients.services', whose
errors the views put back on the fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from patients.models import Language
from patients.validators import normalize_phone


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=200,
        help_text=_("As on your ID card, so that we can find your records."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=40,
        help_text=_("For example +852 9123 4567. We call it only about your appointments."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={"invalid": _("Enter the date as day, month and year.")},
    )
    preferred_language = forms.ChoiceField(
        label=_("Language"),
        help_text=_("For this website and the messages we send you."),
        choices=Language.choices,
        widget=forms.RadioSelect,
    )

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise ValidationError(_("Enter your full name."))
        return name

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError:
            raise ValidationError(_("Enter a mobile number we can call, for example +852 9123 4567.")) from None

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as patients.services.patient_update takes it."""
        data = self.cleaned_data
        return {
            "full_name": data["full_name"],
            "phone": data["phone"],
            "date_of_birth": data["date_of_birth"],
            "preferred_language": data["preferred_language"],
        }


class ClinicPasswordChangeForm(PasswordChangeForm):
    """Django's form (it keeps the checks of AUTH_PASSWORD_VALIDATORS) with plainer labels."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("Current password")
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password1"].help_text = _("At least 10 characters. Not only numbers, not a common password.")
        self.fields["new_password2"].label = _("New password again")
        self.fields["new_password2"].help_text = ""


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": _("Enter your email."), "invalid": _("Enter an email like name@example.com.")},
    )


class NewPasswordForm(forms.Form):
    """The new password, twice; the strength rules are checked by the service.
    Takes the link's ``user`` as Django's SetPasswordForm does (the reset view passes it)."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=128,
        help_text=_("At least 10 characters. Not only numbers, not a common password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: Any = None, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("The two passwords are not the same."))
        return data


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("New email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": _("Enter your email."), "invalid": _("Enter an email like name@example.com.")},
    )


class ImportantDateForm(forms.Form):
    """A date that matters (shape only: patients.services.important_date_add decides)."""

    label = forms.CharField(
        label=_("What is it?"),
        max_length=80,
        help_text=_("For example “Wedding” or “Beach holiday”."),
    )
    starts_on = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={"invalid": _("Enter the date as day, month and year.")},
    )
    ends_on = forms.DateField(
        label=_("Last day (optional)"),
        required=False,
        help_text=_("For a trip or an event over several days."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={"invalid": _("Enter the date as day, month and year.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "date")
        super().__init__(*args, **kwargs)
