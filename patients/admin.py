from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.pages import BoundedMultipleChoiceField
from patients.access import AccessLoggedAdmin
from patients.models import DECLARATION_YES_NO, AccessEvent, Allergy, HealthDeclaration, Patient
from patients.permissions import user_of
from patients.services import patient_update
from patients.validators import validate_birth_date

# The yes/no answers, in questionnaire order; a declaration's flags list these.
ANSWER_FIELDS = DECLARATION_YES_NO


def declaration_flags(declaration: HealthDeclaration) -> str:
    """The answers that are not "no", in words, for lists and inlines."""
    fields = {field.name: field for field in HealthDeclaration._meta.fields}
    flags = [str(fields[name].verbose_name) for name in ANSWER_FIELDS if getattr(declaration, name)]
    if declaration.isotretinoin_last_dose:
        flags.append(f"isotretinoin {declaration.isotretinoin_last_dose:%Y-%m-%d}")
    if declaration.topical_retinoid_last_use:
        flags.append(f"retinoid cream {declaration.topical_retinoid_last_use:%Y-%m-%d}")
    labels = dict(Allergy.choices)
    flags.extend(f"allergy: {labels.get(code, code)}" for code in declaration.allergies or ())
    if declaration.allergies_other:
        flags.append("other allergies (see declaration)")
    return "; ".join(flags) or "none"


class HealthDeclarationInline(admin.TabularInline):
    """The patient's declarations, newest first, read-only: a change is a new
    declaration, added from the declaration admin."""

    model = HealthDeclaration
    fields = ("submitted_at", "entered_by", "flags")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-submitted_at", "-id")

    @admin.display(description="answers other than no")
    def flags(self, obj: HealthDeclaration) -> str:
        return declaration_flags(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[HealthDeclaration]:
        return super().get_queryset(request).select_related("entered_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ("email", "user")  # the admin adds the rest from its fieldsets

    def clean_date_of_birth(self) -> date:
        # The one rule of patients.validators (which patient_update applies too),
        # here so that the admin shows it on the field instead of failing on save.
        born: date = self.cleaned_data["date_of_birth"]
        if born != self.instance.date_of_birth:
            validate_birth_date(born)
        return born

    def clean(self) -> dict[str, Any]:
        # Repeats patients.services' rule for a message on the field: one email,
        # one person, whether it belongs to a patient or to a login.
        data = super().clean() or {}
        email = (data.get("email") or "").strip().lower()
        data["email"] = email
        if email:
            patients = Patient.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
            users = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
            if data.get("user"):
                users = users.exclude(pk=data["user"].pk)
            if patients.exists() or users.exists():
                self.add_error("email", "Another patient or account already uses this email.")
        return data


@admin.register(Patient)
class PatientAdmin(AccessLoggedAdmin, SimpleHistoryAdmin):
    # The change page shows the health declarations inline; the list shows none.
    access_what = AccessEvent.What.DECLARATIONS
    access_patient_path = "pk"
    access_list = False
    access_object = False
    form = PatientForm
    list_display = (
        "full_name",
        "phone",
        "email",
        "preferred_language",
        "fitzpatrick_type",
        "has_login",
        "erased_at",
        "created_at",
    )
    list_filter = ("preferred_language", "fitzpatrick_type", "reminders_opt_out")
    search_fields = ("full_name", "email", "phone", "user__username")
    list_select_related = ("user",)
    ordering = ("full_name", "id")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("full_name", "date_of_birth", "phone", "email", "preferred_language")}),
        ("Clinical", {"fields": ("fitzpatrick_type",)}),
        ("Account and reminders", {"fields": ("user", "reminders_opt_out", "created_at", "updated_at")}),
    )
    inlines = (HealthDeclarationInline,)

    @admin.display(boolean=True, description="login", ordering="user")
    def has_login(self, obj: Patient) -> bool:
        return obj.user_id is not None

    def has_change_permission(self, request: HttpRequest, obj: Patient | None = None) -> bool:
        # An erased patient's details stay erased (booking/erasure.py).
        return (obj is None or obj.erased_at is None) and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
        elif form.changed_data:
            # The service keeps the patient's login (username = email) in step.
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            patient_update(patient=obj, changed_by=user_of(request), **changes)


class HealthDeclarationForm(forms.ModelForm):
    allergies = BoundedMultipleChoiceField(choices=Allergy.choices, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = HealthDeclaration
        fields = (
            "patient",
            *ANSWER_FIELDS,
            "isotretinoin_last_dose",
            "topical_retinoid_last_use",
            "allergies",
            "allergies_other",
        )


@admin.register(HealthDeclaration)
class HealthDeclarationAdmin(AccessLoggedAdmin, SimpleHistoryAdmin):
    """Staff enter paper declarations here. Declarations are never edited or
    deleted (screening reads the newest): the change page only shows one."""

    access_what = AccessEvent.What.DECLARATIONS

    form = HealthDeclarationForm
    list_display = ("__str__", "patient", "submitted_at", "entered_by", "flags")
    list_select_related = ("patient", "entered_by")
    list_filter = ("pregnant_or_breastfeeding", "cold_sore_history", "keloid_tendency", "anticoagulants")
    search_fields = ("patient__full_name", "patient__email", "patient__phone")
    date_hierarchy = "submitted_at"
    ordering = ("-submitted_at", "-id")
    autocomplete_fields = ("patient",)

    @admin.display(description="answers other than no")
    def flags(self, obj: HealthDeclaration) -> str:
        return declaration_flags(obj)

    def get_fields(self, request: HttpRequest, obj: HealthDeclaration | None = None) -> Any:
        fields = list(HealthDeclarationForm.Meta.fields)
        return fields if obj is None else ["submitted_at", "entered_by", *fields]

    def get_readonly_fields(self, request: HttpRequest, obj: HealthDeclaration | None = None) -> Any:
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: HealthDeclaration, form: Any, change: bool) -> None:
        if not change:
            obj.entered_by = user_of(request)
        super().save_model(request, obj, form, change)


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """The access log, for managers: read-only here as everywhere (the model and,
    on PostgreSQL, a trigger refuse changes and deletions)."""

    list_display = ("at", "actor_name", "actor_role", "patient_id", "what", "object_id", "door", "client_address")
    list_filter = ("what", "door", "actor_role")
    search_fields = ("actor_name",)
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    readonly_fields = list_display
    fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
