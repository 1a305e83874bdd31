from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from clinic.pages import BoundedMultipleChoiceField
from patients.access import AccessLoggedAdmin
from patients.models import AccessEvent
from treatments.models import (
    Assessment,
    AssessmentPhoto,
    Category,
    ConsentForm,
    ConsentSignature,
    ConsentVersion,
    ContraindicationRule,
    DeviceKind,
    GapRule,
    PlanSession,
    PreCareInstruction,
    RoomKind,
    ScarType,
    Treatment,
    TreatmentPlan,
)


@admin.register(RoomKind)
class RoomKindAdmin(admin.ModelAdmin):
    list_display = ("slug", "name_en", "name_zh_hant")
    search_fields = ("slug", "name_en", "name_zh_hant")
    ordering = ("slug",)
    prepopulated_fields = {"slug": ("name_en",)}


@admin.register(DeviceKind)
class DeviceKindAdmin(admin.ModelAdmin):
    list_display = ("slug", "name_en", "name_zh_hant")
    search_fields = ("slug", "name_en", "name_zh_hant")
    ordering = ("slug",)
    prepopulated_fields = {"slug": ("name_en",)}


class TreatmentForm(forms.ModelForm):
    suits = BoundedMultipleChoiceField(
        choices=ScarType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Scar types and marks this treatment suits.",
    )

    class Meta:
        model = Treatment
        fields = ("suits",)  # the admin adds the rest from its fieldsets

    def clean_suits(self) -> list[str]:
        chosen = set(self.cleaned_data["suits"])
        return [code for code in ScarType.values if code in chosen]


class ContraindicationRuleInline(admin.TabularInline):
    model = ContraindicationRule
    fields = ("code", "severity", "verified", "note")
    extra = 0
    ordering = ("severity", "code")


@admin.register(Treatment)
class TreatmentAdmin(SimpleHistoryAdmin):
    """The catalogue. Clinicians review unverified values here: filter by
    "verified", check durations, intervals and rules, then tick it."""

    form = TreatmentForm
    list_display = (
        "name_en",
        "slug",
        "category",
        "duration_minutes",
        "buffer_minutes",
        "price",
        "room_kind",
        "device_kind",
        "verified",
        "active",
        "display_order",
        "featured",
        "featured_order",
    )
    list_display_links = ("name_en", "slug")
    # The home page's featured treatments and their order are chosen from the list itself.
    list_editable = ("display_order", "featured", "featured_order")
    list_filter = ("featured", "active", "verified", "category", "room_kind", "device_kind")
    search_fields = ("slug", "name_en", "name_zh_hant")
    list_select_related = ("room_kind", "device_kind")
    ordering = ("display_order", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    inlines = (ContraindicationRuleInline,)
    fieldsets = (
        (None, {"fields": ("slug", "category", "name_en", "name_zh_hant", "active", "display_order")}),
        (
            "Home page",
            {
                "fields": (("featured", "featured_order"),),
                "description": "Featured treatments are shown on the home page, lowest order first.",
            },
        ),
        ("What it suits", {"fields": ("suits",)}),
        (
            "Course and booking",
            {
                "fields": (
                    ("sessions_min", "sessions_max"),
                    ("interval_days_min", "interval_days_max"),
                    ("duration_minutes", "buffer_minutes"),
                    "price",
                    ("room_kind", "device_kind"),
                    "verified",
                )
            },
        ),
        (
            "Deposit and cancellation",
            {
                "fields": (
                    ("deposit_amount", "deposit_percent"),
                    ("late_cancel_keeps_deposit", "no_show_keeps_deposit"),
                ),
                "description": "A deposit (an amount or a percent of the price, not both) is asked when a patient "
                "books online and a payment provider is set up (PAYMENTS_URL); otherwise it is taken at the desk. "
                "Cancelling before the notice refunds it; a late cancellation or a no-show keeps it as a fee "
                "where ticked.",
            },
        ),
        (
            "Downtime",
            {
                "fields": (
                    ("downtime_days_min", "downtime_days_max"),
                    ("downtime_note_en", "downtime_note_zh_hant"),
                    "downtime_verified",
                ),
                "description": "Usual days of visible redness, swelling or bruising after one session. "
                "Bookings whose downtime overlaps a patient's dates that matter are flagged.",
            },
        ),
        (
            "Patient information",
            {
                "fields": (
                    "description_en",
                    "description_zh_hant",
                    "pre_care_en",
                    "pre_care_zh_hant",
                    "aftercare_en",
                    "aftercare_zh_hant",
                )
            },
        ),
    )


@admin.register(ContraindicationRule)
class ContraindicationRuleAdmin(SimpleHistoryAdmin):
    """All rules across the catalogue, for review ("verified: no") and history."""

    list_display = ("treatment", "code", "severity", "verified", "note")
    list_filter = ("verified", "severity", "code", "treatment")
    search_fields = ("treatment__slug", "treatment__name_en", "code", "note")
    list_select_related = ("treatment",)
    ordering = ("treatment__display_order", "treatment__slug", "severity", "code")
    autocomplete_fields = ("treatment",)

    def get_readonly_fields(self, request: Any, obj: ContraindicationRule | None = None) -> Any:
        # Moving a rule to another treatment is a different rule.
        return ("treatment",) if obj is not None else ()


@admin.register(GapRule)
class GapRuleAdmin(SimpleHistoryAdmin):
    """Spacing between different treatments (treatments.gaps): each rule one
    sentence; "not within 2 weeks before or after" is two rules, one each way."""

    list_display = ["sentence", "severity", "active", "verified"]
    list_filter = ["severity", "active", "verified", "later_category", "earlier_category"]
    list_select_related = ["earlier_treatment", "later_treatment"]
    autocomplete_fields = ["earlier_treatment", "later_treatment"]
    fieldsets = [
        ("Earlier treatment (a category or one treatment)", {"fields": ["earlier_category", "earlier_treatment"]}),
        ("Later treatment (a category or one treatment)", {"fields": ["later_category", "later_treatment"]}),
        (None, {"fields": ["min_days", "severity", "note_en", "note_zh_hant", "active", "verified"]}),
    ]

    @admin.display(description="Rule")
    def sentence(self, rule: GapRule) -> str:
        return rule.sentence()


@admin.register(PreCareInstruction)
class PreCareInstructionAdmin(SimpleHistoryAdmin):
    """The pre-care emails' instructions (booking.notifications sends them
    ``days_before`` the visit; docs/domain.md, Pre-care). Managers edit them;
    an instruction no longer used is made inactive rather than deleted, since
    patients' confirmations point at it."""

    list_display = ("title_en", "days_before", "condition", "order", "active")
    list_filter = ("active", "days_before", "condition", "treatments")
    search_fields = ("code", "title_en", "title_zh_hant", "text_en")
    filter_horizontal = ("treatments",)
    ordering = ("-days_before", "order", "code")
    fields = (
        "code",
        "treatments",
        "days_before",
        "condition",
        "order",
        "active",
        "title_en",
        "title_zh_hant",
        "text_en",
        "text_zh_hant",
    )

    def get_history_queryset(self, request: Any, history_manager: Any, pk_name: str, object_id: Any) -> Any:
        # simple_history's own calls select_related() with no names for a model
        # without foreign keys, which Django 6 deprecates (an error under -W error).
        return history_manager.filter(**{pk_name: object_id}).select_related("history_user")


# --- clinical records: read-only here ---------------------------------------------------------
#
# Assessments and plans are written through treatments.services (the API), which
# compute the score and the windows; the admin shows them and their history and
# never adds, edits or deletes them (clinical records are never deleted).


class ReadOnlyClinicalAdmin(SimpleHistoryAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AssessmentPhotoInline(admin.TabularInline):
    model = AssessmentPhoto
    fields = ("view", "taken_at", "preview", "content_type", "width", "height", "uploaded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("taken_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="photo")
    def preview(self, obj: AssessmentPhoto) -> str:
        # Served by the authorised API endpoint (session login), never a media URL.
        return format_html(
            '<a href="{}"><img src="{}" alt="" style="max-height:120px"></a>',
            reverse("photo-image", kwargs={"pk": obj.pk}),
            reverse("photo-thumbnail", kwargs={"pk": obj.pk}),
        )


@admin.register(Assessment)
class AssessmentAdmin(AccessLoggedAdmin, ReadOnlyClinicalAdmin):
    access_what = AccessEvent.What.ASSESSMENT
    list_display = ("id", "patient", "assessed_on", "quantitative_score", "qualitative_grade", "assessed_by")
    list_filter = ("qualitative_grade", "assessed_on")
    search_fields = ("patient__full_name", "patient__email", "patient__phone")
    list_select_related = ("patient", "assessed_by")
    date_hierarchy = "assessed_on"
    ordering = ("-assessed_on", "-id")
    inlines = (AssessmentPhotoInline,)


class PlanSessionInline(admin.TabularInline):
    model = PlanSession
    fields = ("number", "status", "window_start", "window_end", "booked_on", "completed_on")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("number",)
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TreatmentPlan)
class TreatmentPlanAdmin(AccessLoggedAdmin, ReadOnlyClinicalAdmin):
    access_what = AccessEvent.What.PLAN
    list_display = ("id", "patient", "treatment", "status", "start_after", "created_at")
    list_filter = ("status", "treatment")
    search_fields = ("patient__full_name", "patient__email", "patient__phone", "treatment__slug")
    list_select_related = ("patient", "treatment")
    ordering = ("-created_at", "-id")
    inlines = (PlanSessionInline,)


@admin.register(PlanSession)
class PlanSessionAdmin(AccessLoggedAdmin, ReadOnlyClinicalAdmin):
    """Mainly for each session's history (windows moving as the course goes)."""

    access_what = AccessEvent.What.PLAN
    access_patient_path = "plan__patient_id"

    list_display = ("plan", "number", "status", "window_start", "window_end", "booked_on", "completed_on")
    list_filter = ("status",)
    search_fields = ("plan__patient__full_name", "plan__treatment__slug")
    list_select_related = ("plan__patient", "plan__treatment")
    ordering = ("plan", "number")


# --- consent forms ------------------------------------------------------------------------------
#
# Managers write and publish forms in the workspace (workspace/consents), through
# treatments.consents. The admin shows them with their history; it edits a form's
# settings and a draft's texts, never a published version (the database refuses it
# too), and publishes nothing: publishing is a durable service with a choice to make,
# which cannot run inside the admin's transaction.


class ConsentFormAdminForm(forms.ModelForm):
    categories = BoundedMultipleChoiceField(
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Every treatment of these categories needs this form.",
    )

    class Meta:
        model = ConsentForm
        fields = ("categories",)  # the admin adds the rest from its fields

    def clean_categories(self) -> list[str]:
        chosen = set(self.cleaned_data["categories"])
        return [code for code in Category.values if code in chosen]


class ConsentVersionInline(admin.TabularInline):
    model = ConsentVersion
    fields = ("number", "published_at", "published_by", "keeps_earlier_signatures", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-number",)
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsentForm)
class ConsentFormAdmin(admin.ModelAdmin):
    # Not SimpleHistoryAdmin: its history page fails on a model with m2m history
    # (it calls select_related() without fields, deprecated in Django 6.1). The
    # form's history rows are still written; Django's own history page lists the
    # admin's changes.
    form = ConsentFormAdminForm
    list_display = ("slug", "title_en", "title_zh_hant", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("slug", "title_en", "title_zh_hant")
    ordering = ("slug",)
    fields = ("slug", "title_en", "title_zh_hant", "categories", "treatments", "active")
    autocomplete_fields = ("treatments",)
    inlines = (ConsentVersionInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: ConsentForm | None = None) -> Any:
        return ("slug",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its versions and signatures are kept


@admin.register(ConsentVersion)
class ConsentVersionAdmin(SimpleHistoryAdmin):
    """A draft's texts can be edited here; a published version only read.
    New versions and publishing: the workspace's consent-form pages."""

    list_display = ("form", "number", "published_at", "keeps_earlier_signatures", "signature_count")
    list_filter = ("form", "keeps_earlier_signatures")
    search_fields = ("form__slug", "form__title_en")
    list_select_related = ("form",)
    ordering = ("form__slug", "-number")
    readonly_fields = ("form", "number", "created_at", "created_by", "published_at", "published_by")

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).annotate(signature_total=Count("signatures"))

    @admin.display(description="signatures", ordering="signature_total")
    def signature_count(self, obj: Any) -> int:
        return int(getattr(obj, "signature_total", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConsentVersion | None = None) -> bool:
        if obj is not None and obj.published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsentSignature)
class ConsentSignatureAdmin(AccessLoggedAdmin, ReadOnlyClinicalAdmin):
    """Signatures are made by the patient or at the desk (treatments.consents.consent_sign)
    and only ever withdrawn, never changed or deleted: the admin shows them."""

    access_what = AccessEvent.What.CONSENT
    list_display = ("id", "patient", "version", "language", "channel", "signed_at", "withdrawn_at")
    list_filter = ("channel", "language", "version__form")
    search_fields = ("patient__full_name", "patient__email", "patient__phone", "full_name", "text_sha256")
    list_select_related = ("patient", "version__form")
    date_hierarchy = "signed_at"
    ordering = ("-signed_at", "-id")
    fields = (
        "patient",
        "version",
        "language",
        "full_name",
        "pdf",
        "photo_teaching",
        "photo_marketing",
        "channel",
        "signed_at",
        "client_address",
        "signed_by",
        "witnessed_by",
        "withdrawn_at",
        "withdrawn_by",
        "withdrawal_reason",
        "text_sha256",
        "text",
    )
    readonly_fields = fields

    @admin.display(description="PDF")
    def pdf(self, obj: ConsentSignature) -> str:
        # Served by the authorised API endpoint (session login), which logs the read.
        return format_html('<a href="{}">consent-{}.pdf</a>', reverse("consent-pdf", kwargs={"pk": obj.pk}), obj.pk)
