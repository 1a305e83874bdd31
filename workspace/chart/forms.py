"""Forms of the patient chart: plain Django forms that parse and check what a
person typed, then hand clean values to the services (which own the rules).

Errors the services raise (``clinic.errors.InvalidInput.fields``) are put back
on the matching field with ``apply_errors`` so they show in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic import formats
from clinic.pages import BoundedMultipleChoiceField
from patients.models import DECLARATION_YES_NO, Allergy, FitzpatrickType, HealthDeclaration, Language, Patient
from patients.validators import normalize_phone
from treatments.injectables import LOT_MAX, MAX_ROWS, PRODUCT_MAX, needs_injectables, unit_for
from treatments.models import (
    KELOID_AREA_MAX,
    LESION_COUNT_MAX,
    LESION_KEYS,
    Assessment,
    MarkSeverity,
    PhotoView,
    QualitativeGrade,
    ScarType,
    Treatment,
)
from treatments.parameters import AREAS, PARAMETERS, TEXT_MAX, Day, Number, Text
from treatments.services import REASON_MAX

# --- shared helpers ------------------------------------------------------------------------


def apply_errors(form: forms.BaseForm, fields: dict[str, list[Any]] | None, detail: Any = None) -> None:
    """Puts a service's field errors on the form's fields (unknown ones on the form)."""
    placed = False
    for name, messages in (fields or {}).items():
        target = name if name in form.fields else None
        if target is None and name.startswith("parameters.") and name.split(".", 1)[1] in form.fields:
            target = name.split(".", 1)[1]
        for message in messages:
            form.add_error(target, str(message))
            placed = True
    if not placed and detail:
        form.add_error(None, str(detail))


def day_input() -> forms.DateInput:
    """A date picker: its value is always ISO (YYYY-MM-DD), as ``type="date"`` requires,
    never the language's own date format (which the browser would show as empty)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PhoneInput(forms.CharField):
    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if not text:
            return text
        return normalize_phone(text)


# --- patients ------------------------------------------------------------------------------


class PatientForm(forms.ModelForm):
    """Details and contact: creating a patient without a login, or editing one."""

    phone = PhoneInput(
        label=_("Phone"),
        max_length=40,
        help_text=_("A Hong Kong number or one with its country code, e.g. +852 9123 4567."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        label=_("Email"), required=False, max_length=254, help_text=_("Optional. Confirmations and reminders go here.")
    )
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=day_input())
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=Language.choices)
    reminders_opt_out = forms.BooleanField(label=_("No reminder emails"), required=False)

    class Meta:
        model = Patient
        fields = ["full_name", "date_of_birth", "phone", "email", "preferred_language", "reminders_opt_out"]

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name or "\x00" in name:
            raise forms.ValidationError(_("Enter the patient's name."))
        return name

    def _post_clean(self) -> None:
        # The services validate and save; do not run the model's full_clean here.
        pass


class PatientSearchForm(forms.Form):
    q = forms.CharField(label=_("Search patients"), required=False, max_length=100)

    def query(self) -> str:
        if not self.is_valid():
            return ""
        return self.cleaned_data["q"].replace("\x00", "").strip()


# --- health declarations -------------------------------------------------------------------

DECLARATION_QUESTIONS = DECLARATION_YES_NO
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class DeclarationForm(forms.Form):
    """A health declaration typed in from the paper form: every question needs
    an explicit answer (an unanswered question is not a "no")."""

    isotretinoin_last_dose = forms.DateField(
        label=_("Last dose of oral isotretinoin"),
        required=False,
        help_text=_("Leave empty if never taken."),
        widget=day_input(),
    )
    topical_retinoid_last_use = forms.DateField(
        label=_("Last use of a retinoid cream"),
        required=False,
        help_text=_("Leave empty if never used."),
        widget=day_input(),
    )
    allergies = BoundedMultipleChoiceField(
        label=_("Allergies"), choices=Allergy.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    allergies_other = forms.CharField(
        label=_("Other allergies"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = {}
        for name in DECLARATION_QUESTIONS:
            label = HealthDeclaration._meta.get_field(name).verbose_name  # type: ignore[union-attr]  # a question is a model field
            questions[name] = forms.ChoiceField(
                label=str(label)[:1].upper() + str(label)[1:], choices=YES_NO, widget=forms.RadioSelect
            )
        self.fields = {**questions, **self.fields}
        for name in DECLARATION_QUESTIONS:
            self.fields[name].error_messages["required"] = _("Answer yes or no.")

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {name: data[name] == "yes" for name in DECLARATION_QUESTIONS}
        values["isotretinoin_last_dose"] = data.get("isotretinoin_last_dose")
        values["topical_retinoid_last_use"] = data.get("topical_retinoid_last_use")
        values["allergies"] = sorted(set(data.get("allergies") or []))
        values["allergies_other"] = (data.get("allergies_other") or "").replace("\x00", "").strip()
        return values


# --- assessments ---------------------------------------------------------------------------

# The Goodman & Baron sub-types as a clinician reads them, grouped by grade
# (weights as in treatments.scoring.WEIGHTS, which the page reads for the points).
LESION_LABELS: dict[str, Any] = {
    "macular": _("Macular: flat, red or brown"),
    "mild_atrophic": _("Mildly atrophic, dish-like"),
    "moderate_atrophic": _("Moderately atrophic, several small"),
    "punched_out_shallow": _("Punched-out, shallow base, under 5 mm"),
    "broad_shallow": _("Shallow but broad atrophic areas"),
    "punched_out_deep_normal_base": _("Punched-out, deep, normal base, under 5 mm"),
    "punched_out_deep_abnormal_base": _("Punched-out, deep, abnormal base, under 5 mm"),
    "linear_troughed": _("Linear or troughed dermal scarring"),
    "broad_deep": _("Deep, broad atrophic areas"),
    "hyperplastic_papular": _("Hyperplastic papular"),
}
LESION_GROUPS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_("Grade 1 and 2: macular and mild"), ("macular", "mild_atrophic")),
    (_("Grade 3: moderate"), ("moderate_atrophic", "punched_out_shallow", "broad_shallow")),
    (
        _("Grade 4: severe"),
        ("punched_out_deep_normal_base", "punched_out_deep_abnormal_base", "linear_troughed", "broad_deep"),
    ),
    (_("Hyperplastic"), ("hyperplastic_papular",)),
)
SCORE_FIELDS: tuple[str, ...] = (*LESION_KEYS, "keloid_area_cm2", "qualitative_grade")


class CountInput(forms.IntegerField):
    default_error_messages = {
        "invalid": _("Give a whole number of lesions."),
        "min_value": _("A count cannot be negative."),
        "max_value": _("At most %(limit_value)s lesions."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            min_value=0,
            max_value=LESION_COUNT_MAX,
            required=False,
            widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 1, "class": "count"}),
            **kwargs,
        )

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and len(value) > 30:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AreaInput(forms.DecimalField):
    default_error_messages = {
        "invalid": _("Give an area in cm², e.g. 2.5."),
        "min_value": _("An area cannot be negative."),
        "max_value": _("At most %(limit_value)s cm²."),
        "max_decimal_places": _("At most 2 decimal places."),
        "max_digits": _("The area is too large."),
        "max_whole_digits": _("The area is too large."),
    }

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # as django-stubs' own DecimalField
        if isinstance(value, str) and len(value) > 30:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        result = super().to_python(value)
        if result is not None and not result.is_finite():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return result


class ScoreForm(forms.Form):
    """The inputs of the live score: the ten counts, the keloid area and the grade."""

    keloid_area_cm2 = AreaInput(
        label=_("Keloidal or hypertrophic area (cm²)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal(KELOID_AREA_MAX),
        decimal_places=2,
        max_digits=6,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    qualitative_grade = forms.TypedChoiceField(
        label=_("Qualitative grade"),
        choices=[("", "—"), *QualitativeGrade.choices],
        coerce=int,
        error_messages={"required": _("Choose the qualitative grade."), "invalid_choice": _("Choose a grade.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        counts = {key: CountInput(label=LESION_LABELS[key]) for key in LESION_KEYS}
        self.fields = {**counts, **self.fields}

    def lesions(self) -> dict[str, int]:
        return {key: self.cleaned_data.get(key) or 0 for key in LESION_KEYS}

    def keloid_area(self) -> Decimal:
        return self.cleaned_data.get("keloid_area_cm2") or Decimal("0")


class AssessmentForm(ScoreForm):
    assessed_on = forms.DateField(label=_("Assessed on"), widget=day_input(), help_text=_("Today unless from paper."))
    fitzpatrick_type = forms.TypedChoiceField(
        label=_("Fitzpatrick skin type"),
        choices=[("", "—"), *FitzpatrickType.choices],
        coerce=int,
        error_messages={"required": _("Choose the skin type.")},
    )
    types_present = BoundedMultipleChoiceField(
        label=_("Scar types seen"), choices=ScarType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    pih = forms.ChoiceField(label=_("Post-inflammatory hyperpigmentation"), choices=MarkSeverity.choices)
    pie = forms.ChoiceField(label=_("Post-inflammatory erythema"), choices=MarkSeverity.choices)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        self.patient = patient
        super().__init__(*args, **kwargs)
        for view in PhotoView:
            self.fields[f"photo_{view.value}"] = forms.FileField(
                label=view.label,
                required=False,
                widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
                error_messages={"invalid": _("Upload a JPEG or PNG picture."), "empty": _("The file is empty.")},
            )

    def clean_notes(self) -> str:
        return self.cleaned_data["notes"].replace("\x00", "").strip()

    def photo_fields(self) -> list[forms.BoundField]:
        return [self[f"photo_{view.value}"] for view in PhotoView]

    def photos(self) -> list[tuple[str, Any]]:
        return [
            (view.value, self.cleaned_data[f"photo_{view.value}"])
            for view in PhotoView
            if self.cleaned_data.get(f"photo_{view.value}")
        ]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "assessed_on": data["assessed_on"],
            "fitzpatrick_type": data["fitzpatrick_type"],
            "qualitative_grade": data["qualitative_grade"],
            "pih": data["pih"],
            "pie": data["pie"],
            "lesions": self.lesions(),
            "keloid_area_cm2": self.keloid_area(),
            "types_present": data.get("types_present") or [],
            "notes": data.get("notes", ""),
        }


class AssessmentCorrectForm(AssessmentForm):
    """A correction of a saved assessment: the same fields prefilled with its
    values, a reason for the history when a value changes, and photos to add."""

    reason = forms.CharField(
        label=_("Reason for the correction"),
        required=False,  # needed for a change, which services.assessment_correct checks; not for photos only
        help_text=_("Kept in the change history. Needed when you change a value; not for only adding photos."),
        widget=forms.TextInput(attrs={"maxlength": REASON_MAX}),
    )

    def __init__(self, *args: Any, assessment: Assessment, **kwargs: Any) -> None:
        self.assessment = assessment
        if not args or args[0] is None:
            kwargs.setdefault("initial", self.initial_from(assessment))
        super().__init__(*args, patient=assessment.patient, **kwargs)

    @staticmethod
    def initial_from(assessment: Assessment) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "assessed_on": assessment.assessed_on,
            "fitzpatrick_type": assessment.fitzpatrick_type,
            "qualitative_grade": assessment.qualitative_grade,
            "pih": assessment.pih,
            "pie": assessment.pie,
            "types_present": list(assessment.types_present or []),
            "notes": assessment.notes,
            "keloid_area_cm2": assessment.keloid_area_cm2 or "",
        }
        for key, count in assessment.lesions.items():
            initial[key] = count or ""
        return initial

    def clean_reason(self) -> str:
        return " ".join(self.cleaned_data["reason"].replace("\x00", "").split())

    def changes(self) -> dict[str, Any]:
        """What differs from the saved assessment, as ``assessment_correct`` takes it."""
        values = self.values()
        saved = self.assessment
        found: dict[str, Any] = {}
        lesions = {key: count for key, count in values.pop("lesions").items() if saved.lesions.get(key) != count}
        if lesions:
            found["lesions"] = lesions
        for name, value in values.items():
            current = getattr(saved, name)
            if name == "types_present":
                if sorted(value) != sorted(current or []):
                    found[name] = value
            elif name == "keloid_area_cm2":
                if Decimal(value) != Decimal(current or 0):
                    found[name] = value
            elif value != current:
                found[name] = value
        return found


# --- plans ---------------------------------------------------------------------------------


class PlanForm(forms.Form):
    """What a plan is made of. The lists offer only what makes sense (treatments
    with an interval, this patient's assessments), but any active treatment and
    any assessment parse: whether it can be planned is ``services.plan_create``'s
    decision, so the page refuses with the API's words."""

    treatment = forms.ModelChoiceField(
        label=_("Treatment"),
        queryset=Treatment.objects.none(),
        empty_label="—",
        error_messages={"required": _("Choose a treatment."), "invalid_choice": _("Choose a treatment.")},
    )
    sessions = forms.IntegerField(
        label=_("Number of sessions"),
        min_value=1,
        max_value=100,  # a shape bound, as the API's; the treatment's range is the service's
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"invalid": _("Give a whole number of sessions.")},
    )
    start_after = forms.DateField(
        label=_("First session from"),
        required=False,
        widget=day_input(),
        help_text=_("Empty for today."),
    )
    assessment = forms.ModelChoiceField(
        label=_("Based on assessment"), queryset=Assessment.objects.none(), required=False, empty_label="—"
    )

    def __init__(self, *args: Any, patient: Patient, assessments: list[Assessment] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        treatment = cast("forms.ModelChoiceField[Treatment]", self.fields["treatment"])
        assessment = cast("forms.ModelChoiceField[Assessment]", self.fields["assessment"])
        treatment.queryset = Treatment.objects.filter(active=True)
        assessment.queryset = Assessment.objects.all()
        plannable = Treatment.objects.filter(
            active=True, interval_days_min__isnull=False, interval_days_max__isnull=False
        ).order_by("display_order", "slug")
        treatment.widget.choices = [("", "—"), *((t.pk, t.localized("name")) for t in plannable)]
        own = Assessment.objects.filter(patient=patient).order_by("-assessed_on", "-id")
        assessment.widget.choices = [
            ("", "—"),
            *(
                (
                    a.pk,
                    _("%(date)s · score %(score)s")
                    % {"date": formats.date_text(a.assessed_on), "score": a.quantitative_score},
                )
                for a in own
            ),
        ]


class PlanCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- session records -----------------------------------------------------------------------

PARAMETER_LABELS: dict[str, Any] = {
    "device": _("Device"),
    "wavelength_nm": _("Wavelength (nm)"),
    "mode": _("Mode"),
    "fluence_j_cm2": _("Fluence (J/cm²)"),
    "energy_mj": _("Energy (mJ)"),
    "spot_size_mm": _("Spot size (mm)"),
    "pulse_duration": _("Pulse duration, with its unit"),
    "density_percent": _("Density (%)"),
    "passes": _("Passes"),
    "tip": _("Tip"),
    "energy_mj_per_pin": _("Energy per pin (mJ)"),
    "needle_depth_mm": _("Needle depth (mm)"),
    "endpoint": _("Clinical endpoint"),
    "agent": _("Agent"),
    "concentration_percent": _("Concentration (%)"),
    "coats": _("Coats"),
    "contact_time_min": _("Contact time (minutes)"),
    "applicator": _("Applicator"),
    "scars_treated": _("Scars treated"),
    "product": _("Product"),
    "lot": _("Lot number"),
    "volume_ml": _("Volume (ml)"),
    "sites": _("Injection sites"),
    "depth": _("Depth"),
    "needle_or_cannula": _("Needle or cannula"),
    "drug": _("Drug"),
    "concentration_mg_ml": _("Concentration (mg/ml)"),
    "total_dose_mg": _("Total dose (mg)"),
    "dilution": _("Dilution"),
    "units": _("Units"),
    "units_per_site": _("Units per site"),
    "instrument": _("Instrument"),
    "technique": _("Technique"),
    "punch_size_mm": _("Punch size (mm)"),
    "closure": _("Closure"),
    "suture_removal_date": _("Suture removal date"),
    "serums": _("Serums"),
}
CHOICE_LABELS: dict[str, Any] = {"needle": _("Needle"), "cannula": _("Cannula")}
AREA_LABELS: dict[str, Any] = {
    "forehead": _("Forehead"),
    "left_cheek": _("Left cheek"),
    "right_cheek": _("Right cheek"),
    "temples": _("Temples"),
    "nose": _("Nose"),
    "perioral": _("Around the mouth"),
    "chin": _("Chin"),
    "jawline": _("Jawline"),
    "neck": _("Neck"),
    "chest": _("Chest"),
    "back": _("Back"),
}
PAIN_CHOICES = [("", "—"), *((str(n), str(n)) for n in range(11))]


def _fmt(value: float) -> str:
    return f"{value:g}"


class NumberParameter(forms.Field):
    """A parameter number as typed; the range is the one treatments.parameters checks."""

    def __init__(self, spec: Number, **kwargs: Any) -> None:
        self.spec = spec
        attrs = {"inputmode": "numeric" if spec.integer else "decimal", "step": "1" if spec.integer else "any"}
        attrs.update(min=_fmt(spec.low), max=_fmt(spec.high))
        super().__init__(required=False, widget=forms.NumberInput(attrs=attrs), **kwargs)
        self.help_text = _("From %(low)s to %(high)s.") % {"low": _fmt(spec.low), "high": _fmt(spec.high)}

    def to_python(self, value: Any) -> int | float | None:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            number = Decimal(text[:40])
        except InvalidOperation:
            raise forms.ValidationError(_("Give a number, e.g. 2.5.")) from None
        if not number.is_finite():
            raise forms.ValidationError(_("Give a number, e.g. 2.5."))
        if self.spec.integer:
            if number != number.to_integral_value():
                raise forms.ValidationError(_("Give a whole number."))
            result: int | float = int(number)
        else:
            result = float(number)
            if not math.isfinite(result):
                raise forms.ValidationError(_("Give a number, e.g. 2.5."))
        if not self.spec.low <= result <= self.spec.high:
            raise forms.ValidationError(
                _("Give a number from %(low)s to %(high)s.")
                % {"low": _fmt(self.spec.low), "high": _fmt(self.spec.high)}
            )
        return result


class SessionRecordForm(forms.Form):
    """The common fields of a session record, then the treatment category's parameters (docs/domain.md)."""

    areas = BoundedMultipleChoiceField(
        label=_("Areas treated"),
        choices=[(code, AREA_LABELS[code]) for code in AREAS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    anaesthesia = forms.CharField(label=_("Anaesthesia"), required=False, max_length=200)
    pain_score = forms.TypedChoiceField(
        label=_("Pain (0 to 10)"), choices=PAIN_CHOICES, coerce=int, empty_value=None, required=False
    )
    immediate_reaction = forms.CharField(
        label=_("Immediate reaction"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    adverse_events = forms.CharField(
        label=_("Adverse events"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(label=_("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    COMMON = ("areas", "anaesthesia", "pain_score", "immediate_reaction", "adverse_events", "notes")
    INJECTABLE_ROWS = 2  # shown at first; "Add a product" shows one more, without scripts

    def __init__(
        self,
        *args: Any,
        category: str,
        may_override_consent: bool = False,
        injectable_rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.category = category
        if may_override_consent:  # managers, when consent is missing (booking.services.appointment_complete)
            self.fields["consent_override_reason"] = forms.CharField(
                label=_("Reason for completing without the patient's consent"),
                help_text=_("Kept on the session record with your name."),
                required=False,
                max_length=500,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.parameter_names: list[str] = []
        self.product_rows: list[InjectableRow] = []
        self._rows_sent: list[int] = []
        if needs_injectables(category):
            self._add_injectable_rows(injectable_rows)
        for key, spec in PARAMETERS.get(category, {}).items():
            label = PARAMETER_LABELS.get(key, key)
            field: forms.Field
            if isinstance(spec, Number):
                field = NumberParameter(spec, label=label)
            elif isinstance(spec, Day):
                field = forms.DateField(label=label, required=False, widget=day_input())
            elif isinstance(spec, Text) and spec.choices:
                field = forms.ChoiceField(
                    label=label,
                    required=False,
                    choices=[("", "—"), *((c, CHOICE_LABELS.get(c, c)) for c in spec.choices)],
                )
            else:
                field = forms.CharField(label=label, required=False, max_length=TEXT_MAX)
            self.fields[key] = field
            self.parameter_names.append(key)

    def _add_injectable_rows(self, wanted: int | None) -> None:
        if wanted is None:
            wanted = self.INJECTABLE_ROWS
            if self.is_bound:
                wanted = _row_count(self.data.get("injectable_rows"), self.INJECTABLE_ROWS)
        count = max(1, min(wanted, MAX_ROWS))
        self.fields["injectable_rows"] = forms.CharField(widget=forms.HiddenInput, required=False, max_length=3)
        self.initial["injectable_rows"] = count
        unit = unit_for(self.category)
        unit_label = {"ml": _("ml"), "units": _("units"), "mg": _("mg")}[unit]
        for index in range(count):
            names = {part: f"injectable_{index}_{part}" for part in ("product", "lot", "expiry", "amount")}
            self.fields[names["product"]] = forms.CharField(label=_("Product"), required=False, max_length=PRODUCT_MAX)
            self.fields[names["lot"]] = forms.CharField(
                label=_("Lot number"), required=False, max_length=LOT_MAX, widget=forms.TextInput(
                    attrs={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"}
                )
            )  # fmt: skip
            self.fields[names["expiry"]] = forms.DateField(label=_("Expiry date"), required=False, widget=day_input())
            self.fields[names["amount"]] = forms.DecimalField(
                label=_("Amount (%(unit)s)") % {"unit": unit_label},
                required=False,
                max_digits=7,
                decimal_places=2,
                min_value=Decimal("0.01"),
                widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "min": "0"}),
            )
            self.product_rows.append(InjectableRow(index=index, names=names))

    def injectable_fields(self) -> list[list[forms.BoundField]]:
        return [[self[name] for name in row.names.values()] for row in self.product_rows]

    def common_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.COMMON]

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.parameter_names]

    def record(self) -> dict[str, Any]:
        """What ``appointment_complete`` takes as ``record``."""
        data = self.cleaned_data

        def text(name: str) -> str:
            return (data.get(name) or "").replace("\x00", "").strip()

        parameters: dict[str, Any] = {}
        for key in self.parameter_names:
            value = data.get(key)
            if value in (None, ""):
                continue
            parameters[key] = value.isoformat() if isinstance(value, date) else value
        injectables: list[dict[str, Any]] = []
        self._rows_sent = []
        for row in self.product_rows:
            values = {part: data.get(name) for part, name in row.names.items()}
            if all(value in (None, "") for value in values.values()):
                continue  # a row left empty
            self._rows_sent.append(row.index)
            injectables.append(
                {
                    "product": (values["product"] or "").strip(),
                    "lot": (values["lot"] or "").strip(),
                    "expiry": values["expiry"].isoformat() if values["expiry"] else None,
                    "amount": values["amount"],
                }
            )
        return {
            "injectables": injectables,
            "areas": list(data.get("areas") or []),
            "anaesthesia": text("anaesthesia"),
            "pain_score": data.get("pain_score"),
            "immediate_reaction": text("immediate_reaction"),
            "adverse_events": text("adverse_events"),
            "notes": text("notes"),
            "parameters": parameters,
            "consent_override_reason": text("consent_override_reason"),
        }

    def service_errors(self, fields: dict[str, list[Any]] | None) -> dict[str, list[Any]]:
        """The service's field names as this form's: ``injectables.<n>.lot`` is
        the lot of the n-th row sent, whichever row of the form it was typed in."""
        renamed: dict[str, list[Any]] = {}
        for name, messages in (fields or {}).items():
            parts = name.split(".")
            target = name
            if parts[0] == "injectables" and len(parts) >= 2 and parts[1].isdigit():
                sent = int(parts[1])
                if sent < len(self._rows_sent):
                    index = self._rows_sent[sent]
                    part = (
                        parts[2] if len(parts) > 2 and parts[2] in ("product", "lot", "expiry", "amount") else "product"
                    )
                    target = f"injectable_{index}_{part}"
            elif name == "injectables" and self.product_rows:
                target = self.product_rows[0].names["product"]
            renamed.setdefault(target, []).extend(messages)
        return renamed

    @classmethod
    def initial_from(cls, record: Any) -> dict[str, Any]:
        """Initial values copied from an earlier session record. Of the products
        injected only the names: a lot and its expiry are read off the box in hand."""
        initial: dict[str, Any] = {
            "areas": list(record.areas or []),
            "anaesthesia": record.anaesthesia,
        }
        for key, value in (record.parameters or {}).items():
            initial[key] = int(value) if isinstance(value, float) and value.is_integer() else value
        for index, use in enumerate(record.injectables.all()[:MAX_ROWS]):
            initial[f"injectable_{index}_product"] = use.product
        return initial


def _row_count(raw: Any, default: int) -> int:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 2 else default


@dataclass(frozen=True)
class InjectableRow:
    index: int
    names: dict[str, str]


__all__ = [
    "AssessmentCorrectForm",
    "AssessmentForm",
    "DeclarationForm",
    "PatientForm",
    "PatientSearchForm",
    "PlanCancelForm",
    "PlanForm",
    "ScoreForm",
    "SessionRecordForm",
    "apply_errors",
]
