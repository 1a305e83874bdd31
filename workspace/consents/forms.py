"""The forms of the consent-form pages: they check shapes; treatments/consents.py decides."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.pages import BoundedMultipleChoiceField
from treatments.models import Category, ConsentVersion, Treatment

SECTION_LABELS = {
    "summary": _("About this treatment"),
    "risks": _("Risks and side effects"),
    "alternatives": _("Alternatives"),
    "aftercare": _("Aftercare"),
    "photos": _("Photographs"),
}
SECTION_HELP = {
    "summary": _("What the treatment is and what it does, in plain words."),
    "risks": _("Common and rare risks and side effects, and what to do if they happen."),
    "alternatives": _("Other treatments, and doing nothing."),
    "aftercare": _("What the patient does after the visit."),
    "photos": _("How the clinic uses photos: clinical use always; teaching and marketing only if the patient agrees."),
}
LANGUAGE_LABELS = {"en": _("English"), "zh_hant": _("Traditional Chinese")}


class TreatmentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Treatment) -> str:
        return obj.localized("name")

    def clean(self, value: Any) -> Any:
        # Bounded before the ids are looked up, like every list the workspace takes.
        if value and len(value) > self.queryset.count():  # type: ignore[union-attr]
            raise forms.ValidationError(_("Choose at most %(limit)d.") % {"limit": self.queryset.count()})  # type: ignore[union-attr]
        return super().clean(value)


class ConsentFormSettings(forms.Form):
    """A form's titles and what it covers; the address name (slug) only when new."""

    slug = forms.SlugField(
        label=_("Name in addresses"),
        max_length=80,
        help_text=_("Lower-case words joined by hyphens, e.g. laser-resurfacing. It cannot change later."),
    )
    title_en = forms.CharField(label=_("Title in English"), max_length=200)
    title_zh_hant = forms.CharField(label=_("Title in Traditional Chinese"), max_length=200)
    categories = BoundedMultipleChoiceField(
        label=_("Treatment categories it covers"),
        choices=Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every treatment of these categories needs this form."),
    )
    treatments = TreatmentChoiceField(
        label=_("Other treatments it covers"),
        queryset=Treatment.objects.order_by("display_order", "slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    active = forms.BooleanField(
        label=_("In use: the treatments it covers need it"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, new: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not new:
            del self.fields["slug"]

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"])
        if slug == "new":  # the address of the page that creates forms
            raise forms.ValidationError(_("Choose another name."))
        return slug


class DraftForm(forms.Form):
    """A draft's ten texts: each section in English and in Chinese."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = {
            name: getattr(ConsentVersion._meta.get_field(f"{name}_en"), "max_length", None)
            for name in ConsentVersion.SECTIONS
        }
        for name in ConsentVersion.SECTIONS:
            for language, label in LANGUAGE_LABELS.items():
                lang = "zh-hant" if language == "zh_hant" else "en"
                self.fields[f"{name}_{language}"] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=limits[name],
                    strip=False,
                    widget=forms.Textarea(attrs={"rows": 8, "lang": lang}),
                )

    def sections(self) -> list[dict[str, Any]]:
        """The fields side by side, one row per section, for the template."""
        return [
            {
                "name": name,
                "label": SECTION_LABELS[name],
                "help": SECTION_HELP[name],
                "fields": [self[f"{name}_{language}"] for language in LANGUAGE_LABELS],
            }
            for name in ConsentVersion.SECTIONS
        ]


class PublishForm(forms.Form):
    """The explicit choice made when publishing a new version."""

    KEEP, AGAIN = "keep", "again"
    signatures = forms.ChoiceField(
        label=_("Signatures of earlier versions"),
        choices=[
            (KEEP, _("Earlier signatures stay valid (wording fix)")),
            (AGAIN, _("Patients must sign again")),
        ],
        widget=forms.RadioSelect,
    )

    def keeps(self) -> bool:
        return bool(self.cleaned_data["signatures"] == self.KEEP)
