"""Forms of the patient pages. They parse and check input; the services decide."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from booking.waitlist import PART_CHOICES
from clinic.api import ScopedThrottle
from clinic.errors import ApplicationError, InvalidInput
from clinic.pages import BoundedMultipleChoiceField
from patients.models import Allergy, HealthDeclaration, Language
from patients.services import registration_password_problems
from patients.validators import normalize_phone

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def registration_allowed(request: HttpRequest) -> bool:
    """The API's "register" rate limit (per client address), so the pages are
    no easier a way to create accounts in bulk or probe which emails exist."""
    return ScopedThrottle().allow_request(request, SimpleNamespace(throttle_scope="register"))


def apply_error(form: forms.Form, error: ApplicationError) -> None:
    """A service's field errors under the form's fields; the rest as a form error."""
    placed = False
    for name, messages in (error.fields or {}).items():
        for message in messages:
            if name in form.fields:
                form.add_error(name, str(message))
                placed = True
    # The overall message often says what to do next ("use Forgot password"): keep it unless it is generic.
    if not placed or str(error.detail) != str(type(error).default_detail):
        form.add_error(None, str(error.detail))


class Form(forms.Form):
    """No colon after labels: they are questions and plain words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RegisterForm(Form):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=200,
        help_text=_("As on your ID card, so we can find your records."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        help_text=_("We send your confirmations and reminders here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=40,
        help_text=_("A Hong Kong number like 9123 4567, or with your country code."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter the date as year-month-day, e.g. 1995-05-17.")},
    )
    password = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        max_length=128,
        help_text=_("At least 10 characters. Not a common word or only numbers."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_full_name(self) -> str:
        return " ".join(self.cleaned_data["full_name"].split())

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError as error:
            raise ValidationError(error.messages) from None

    def clean(self) -> dict[str, Any]:
        # The service's password rules, here too, so a weak password is reported with
        # every other mistake at once rather than after they are all fixed.
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            problems = registration_password_problems(
                password=password,
                email=cleaned.get("email") or str(self.data.get("email", "")),
                full_name=cleaned.get("full_name") or str(self.data.get("full_name", "")),
            )
            for problem in problems:
                self.add_error("password", problem)
        return cleaned

    def field_errors(self, name: str) -> list[str]:
        """The errors of one field as typed so far (the page checks a field as it is left)."""
        if name not in self.fields or not str(self.data.get(name, "")).strip():
            return []
        self.is_valid()
        return [str(message) for message in self.errors.get(name, [])]

    def refuse_too_many(self) -> None:
        self.add_error(None, _("Too many sign-ups from here. Please try again in an hour, or call the clinic."))

    def values(self) -> dict[str, Any]:
        language = Language.TRADITIONAL_CHINESE if (get_language() or "").startswith("zh") else Language.ENGLISH
        return {**self.cleaned_data, "preferred_language": language}


# The questionnaire: every question in plain words with a short explanation;
# each yes/no must be answered (no default), so a skipped question is never a "no".
QUESTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        "pregnant_or_breastfeeding",
        _("Are you pregnant, trying to become pregnant, or breastfeeding?"),
        "",
    ),
    (
        "active_skin_infection",
        _("Do you have a skin infection on your face or where you want treatment?"),
        _("For example impetigo, a fungal rash or an infected spot."),
    ),
    (
        "active_cold_sore",
        _("Do you have a cold sore right now?"),
        _("Small painful blisters on or around the lips."),
    ),
    (
        "cold_sore_history",
        _("Have you ever had cold sores?"),
        "",
    ),
    (
        "active_acne",
        _("Do you have red, swollen or painful spots (active acne) now?"),
        "",
    ),
    (
        "keloid_tendency",
        _("Have you ever had a scar that became thick and raised, or a keloid?"),
        "",
    ),
    (
        "anticoagulants",
        _("Do you take blood thinners (such as aspirin or warfarin), or do you bleed or bruise easily?"),
        _("Please keep taking your medicines as prescribed; we only need to know."),
    ),
    (
        "photosensitising_medication",
        _("Do you take a medicine, or have a condition, that makes your skin sensitive to sunlight?"),
        _("For example some antibiotics (doxycycline), St John's wort, or lupus."),
    ),
    (
        "recent_sun_exposure",
        _("Have you had a suntan or sunburn in the last 2 months?"),
        "",
    ),
    (
        "autoimmune_condition",
        _("Do you have an autoimmune disease or a weakened immune system?"),
        _("For example lupus, or taking medicines that lower immunity."),
    ),
    (
        "neuromuscular_disorder",
        _("Do you have a disease of the nerves and muscles?"),
        _("For example myasthenia gravis or motor neurone disease (ALS)."),
    ),
    (
        "implanted_electronic_device",
        _("Do you have a pacemaker or another electronic device in your body?"),
        "",
    ),
)

DATED_QUESTIONS: tuple[tuple[str, str, Any, Any, Any], ...] = (
    (
        "isotretinoin",
        "isotretinoin_last_dose",
        _("Have you taken isotretinoin tablets for acne in the last 12 months?"),
        _("Sold as Roaccutane, Oratane or Acnotin, among others."),
        _("Date of your last tablet"),
    ),
    (
        "retinoid",
        "topical_retinoid_last_use",
        _("Have you used a retinoid cream or serum in the last 2 weeks?"),
        _("For example tretinoin, adapalene (Differin) or retinol."),
        _("Date you last used it"),
    ),
)

ALLERGY_CHOICES = [
    (Allergy.HYALURONIC_ACID.value, _("Hyaluronic acid (used in fillers)")),
    (Allergy.LIDOCAINE.value, _("Lidocaine or other numbing medicines")),
    (Allergy.BOTULINUM_TOXIN.value, _("Botulinum toxin (such as Botox)")),
    (Allergy.SALICYLATE.value, _("Salicylates (such as aspirin or salicylic acid)")),
]

_CHOICE_ERRORS = {"required": _("Please answer yes or no.")}


def _yes_no(label: Any, help_text: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, help_text=help_text, choices=YES_NO, widget=forms.RadioSelect, error_messages=_CHOICE_ERRORS
    )


class QuestionnaireForm(Form):
    allergies = BoundedMultipleChoiceField(
        label=_("Are you allergic to any of these?"),
        help_text=_("Tick all that apply, or none."),
        choices=ALLERGY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    allergies_other = forms.CharField(
        label=_("Any other allergies or medicines we should know about?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allergies, other = self.fields.pop("allergies"), self.fields.pop("allergies_other")
        for name, label, help_text in QUESTIONS:
            self.fields[name] = _yes_no(label, help_text)
        for key, _field, label, help_text, date_label in DATED_QUESTIONS:
            self.fields[key] = _yes_no(label, help_text)
            self.fields[f"{key}_date"] = forms.DateField(
                label=date_label,
                required=False,
                help_text=_("An approximate date is fine."),
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                error_messages={"invalid": _("Enter the date as year-month-day, e.g. 2026-01-31.")},
            )
        self.fields["allergies"] = allergies
        self.fields["allergies_other"] = other

    def clean(self) -> dict[str, Any]:
        # Shape only: a "yes" needs its date. Which dates are plausible is
        # patients.validators.validate_declared_date, applied by declaration_submit.
        data = super().clean() or {}
        for key, _field, _label, _help, _date_label in DATED_QUESTIONS:
            if data.get(key) == "yes" and data.get(f"{key}_date") is None and f"{key}_date" not in self.errors:
                self.add_error(f"{key}_date", _("Give the date, even roughly."))
        return data

    def apply_service_error(self, error: InvalidInput) -> None:
        """The service's refusal on the date field it is about (its fields are the declaration's)."""
        names = {field: f"{key}_date" for key, field, *_rest in DATED_QUESTIONS}
        apply_error(
            self, InvalidInput(error.detail, fields={names.get(k, k): v for k, v in (error.fields or {}).items()})
        )

    def answers(self) -> dict[str, Any]:
        """The declaration's fields, as ``declaration_submit`` takes them."""
        data = self.cleaned_data
        answers: dict[str, Any] = {name: data[name] == "yes" for name, _label, _help in QUESTIONS}
        for key, field, _label, _help, _date_label in DATED_QUESTIONS:
            answers[field] = data.get(f"{key}_date") if data.get(key) == "yes" else None
        answers["allergies"] = sorted(set(data.get("allergies") or []))
        answers["allergies_other"] = data.get("allergies_other", "").strip()
        return answers

    def groups(self) -> list[dict[str, Any]]:
        """The questions in order, each dated question with its date field."""
        rows: list[dict[str, Any]] = [{"field": self[name]} for name, _label, _help in QUESTIONS]
        for key, *_rest in DATED_QUESTIONS:
            rows.append({"field": self[key], "date": self[f"{key}_date"]})
        return rows


def initial_answers(declaration: HealthDeclaration) -> dict[str, Any]:
    """A declaration's answers as the form's initial values, to check and update them."""
    initial: dict[str, Any] = {name: "yes" if getattr(declaration, name) else "no" for name, _label, _help in QUESTIONS}
    for key, field, *_rest in DATED_QUESTIONS:
        value = getattr(declaration, field)
        initial[key] = "yes" if value else "no"
        initial[f"{key}_date"] = value
    initial["allergies"] = declaration.allergies
    initial["allergies_other"] = declaration.allergies_other
    return initial


class CancelForm(Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WaitlistJoinForm(Form):
    """The booking flow's "none of these times suit me": dates and parts of
    the day. The treatment and practitioner come from the flow's choices; the
    service (booking.waitlist.waitlist_join) decides what may be asked for."""

    earliest = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    latest = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    parts = BoundedMultipleChoiceField(
        label=_("Parts of the day that suit you"),
        choices=PART_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked if any time of day suits you."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "waitlist")
        super().__init__(*args, **kwargs)
