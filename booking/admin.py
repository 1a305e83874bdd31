from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from booking.models import (
    Appointment,
    ClinicClosure,
    Device,
    Erasure,
    InjectableUse,
    Notification,
    NotificationDelivery,
    Practitioner,
    Room,
    SessionRecord,
    TimeOff,
    WaitlistEntry,
    WaitlistOffer,
    WorkingHours,
)
from booking.notifications import notification_retry
from booking.profiles import photo_url as practitioner_photo_url
from booking.profiles import portrait, practitioner_photo_remove, practitioner_photo_set
from booking.services import closure_affected_appointments
from clinic import formats
from patients.access import AccessLoggedAdmin
from patients.models import AccessEvent
from patients.permissions import user_of
from treatments.photos import PhotoRejected


class PractitionerFilter(admin.RelatedFieldListFilter):
    """Practitioners are named by their user: one query, not one per name."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin) -> Any:
        return [(str(p.pk), p.name) for p in Practitioner.objects.select_related("user")]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    fields = ("weekday", "start", "end", "break_start", "break_end")
    extra = 0
    ordering = ("weekday", "start")


class PractitionerForm(forms.ModelForm):
    """The photo is checked here (so a refusal shows on the form) and stored by
    booking.profiles, which checks it again: the admin is only one door."""

    new_photo = forms.FileField(
        required=False,
        label="Photo",
        help_text="JPEG or PNG, at most 5 MB. Cropped to a square around the face; metadata removed.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    remove_photo = forms.BooleanField(required=False, help_text="Show the initials instead of a photo.")

    class Meta:
        model = Practitioner
        fields = ("user", "title_en", "title_zh_hant", "bio_en", "bio_zh_hant", "active", "treatments")

    def clean_new_photo(self) -> Any:
        upload = self.cleaned_data.get("new_photo")
        if upload:
            try:
                portrait(upload, size=upload.size)
            except PhotoRejected as error:
                raise forms.ValidationError(str(error)) from None
            upload.seek(0)
        return upload


@admin.register(Practitioner)
class PractitionerAdmin(SimpleHistoryAdmin):
    form = PractitionerForm
    list_display = ("name", "title_en", "email", "has_photo", "active", "treatment_count")
    list_filter = ("active", "treatments")
    search_fields = ("user__first_name", "user__last_name", "user__email", "title_en", "title_zh_hant")
    list_select_related = ("user",)
    ordering = ("user__last_name", "user__first_name", "id")
    autocomplete_fields = ("user",)
    filter_horizontal = ("treatments",)
    fieldsets = (
        (None, {"fields": ("user", "title_en", "title_zh_hant", "active", "treatments")}),
        (
            "Shown to patients",
            {"fields": ("current_photo", "new_photo", "remove_photo", "bio_en", "bio_zh_hant")},
        ),
    )
    readonly_fields = ("current_photo",)
    inlines = (WorkingHoursInline,)

    def save_model(self, request: HttpRequest, obj: Practitioner, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("new_photo")
        if upload:
            practitioner_photo_set(practitioner=obj, upload=upload, size=upload.size)
        elif form.cleaned_data.get("remove_photo"):
            practitioner_photo_remove(practitioner=obj)

    @admin.display(description="photo")
    def current_photo(self, obj: Practitioner) -> str:
        if not obj.pk or not obj.photo:
            return "None: the site shows the initials."
        return format_html('<img src="{}" alt="" width="120" height="120">', practitioner_photo_url(obj))

    @admin.display(description="photo", boolean=True)
    def has_photo(self, obj: Practitioner) -> bool:
        return bool(obj.photo)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Practitioner]:
        return super().get_queryset(request).annotate(treatment_count=Count("treatments"))

    @admin.display(description="name", ordering="user__last_name")
    def name(self, obj: Practitioner) -> str:
        return obj.name

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Practitioner) -> str:
        return obj.user.email

    @admin.display(description="treatments", ordering="treatment_count")
    def treatment_count(self, obj: Practitioner) -> int:
        return obj.treatment_count  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "weekday", "start", "end", "break_start", "break_end")
    list_filter = ("weekday", ("practitioner", PractitionerFilter))
    list_select_related = ("practitioner__user",)
    ordering = ("practitioner__user__last_name", "practitioner_id", "weekday", "start")
    search_fields = ("practitioner__user__first_name", "practitioner__user__last_name")
    autocomplete_fields = ("practitioner",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_zh_hant", "kind", "active")
    list_filter = ("active", "kind")
    search_fields = ("name_en", "name_zh_hant")
    list_select_related = ("kind",)
    ordering = ("kind__slug", "name_en")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_zh_hant", "kind", "active")
    list_filter = ("active", "kind")
    search_fields = ("name_en", "name_zh_hant")
    list_select_related = ("kind",)
    ordering = ("kind__slug", "name_en")


def _warn_affected(request: HttpRequest, appointments: QuerySet[Appointment]) -> None:
    count = appointments.count()
    if count:
        messages.warning(
            request,
            f"{count} confirmed or checked-in appointment(s) fall in this period. "
            "They are unchanged: move or cancel them.",
        )


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "start", "end", "reason", "created_by")
    list_filter = (("practitioner", PractitionerFilter),)
    search_fields = ("reason", "practitioner__user__first_name", "practitioner__user__last_name")
    list_select_related = ("practitioner__user", "created_by")
    date_hierarchy = "start"
    ordering = ("-start",)
    autocomplete_fields = ("practitioner",)
    readonly_fields = ("created_by",)

    def save_model(self, request: HttpRequest, obj: TimeOff, form: Any, change: bool) -> None:
        # booking.services.time_off_add is durable and so cannot run inside the
        # admin's transaction; the write is the same single insert.
        if not change:
            obj.created_by = user_of(request)
        super().save_model(request, obj, form, change)
        _warn_affected(
            request, closure_affected_appointments(start=obj.start, end=obj.end, practitioner=obj.practitioner)
        )


@admin.register(ClinicClosure)
class ClinicClosureAdmin(admin.ModelAdmin):
    list_display = ("start", "end", "kind", "reason", "created_by")
    list_filter = ("kind",)
    search_fields = ("reason",)
    list_select_related = ("created_by",)
    date_hierarchy = "start"
    ordering = ("-start",)
    readonly_fields = ("created_by",)

    def save_model(self, request: HttpRequest, obj: ClinicClosure, form: Any, change: bool) -> None:
        # As for time off: closure_add is durable; the write is one insert.
        if not change:
            obj.created_by = user_of(request)
        super().save_model(request, obj, form, change)
        _warn_affected(request, closure_affected_appointments(start=obj.start, end=obj.end))


class NotificationDeliveryInline(admin.TabularInline):
    """Each channel tried and what its provider said: the fallback trail."""

    model = NotificationDelivery
    fields = ("created_at", "channel", "status", "provider_id", "permanent", "error_code", "error", "fell_back_to")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The notification log: what each patient was sent, skipped (and why) or
    failed to receive. Rows are written and sent by booking.notifications
    only; staff can read them and send failed ones again."""

    list_display = (
        "due_at",
        "kind",
        "channel",
        "status",
        "patient",
        "appointment_id",
        "attempts",
        "sent_at",
        "skip_reason",
        "last_error",
    )
    list_filter = ("status", "kind", "channel", "skip_reason")
    search_fields = ("patient__full_name", "patient__email", "patient__phone", "=appointment__id")
    list_select_related = ("patient",)
    date_hierarchy = "due_at"
    ordering = ("-due_at", "-id")
    actions = ("send_again",)
    fields = (
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
        "claimed_at",
        "sent_at",
        "retried_at",
        "skip_reason",
        "last_error",
        "message_id",
        "created_at",
    )
    readonly_fields = fields
    inlines = (NotificationDeliveryInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Links from an appointment or a patient to their log.
        return lookup in {
            "patient__id__exact",
            "appointment__id__exact",
            "plan_session__id__exact",
        } or super().lookup_allowed(lookup, value, request)

    @admin.action(description="Send the selected failed notifications again", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        retried = sum(notification_retry(notification=n) for n in queryset.filter(status=Notification.Status.FAILED))
        messages.info(request, f"{retried} notification(s) will be sent with the next sweep.")


@admin.register(Appointment)
class AppointmentAdmin(SimpleHistoryAdmin):
    """Appointments to find, read and annotate. Booking, rescheduling and
    status changes go through booking.services (availability, screening with
    recorded overrides, locks, notifications), which the admin cannot call
    inside its own transaction: so no adding or deleting here, and only the
    notes are editable."""

    list_display = ("start", "patient", "treatment", "practitioner", "room", "status", "source")
    list_filter = ("status", ("practitioner", PractitionerFilter), "treatment", "source")
    search_fields = ("patient__full_name", "patient__email", "patient__phone")
    list_select_related = ("patient", "treatment", "practitioner__user", "room__kind", "device__kind")
    date_hierarchy = "start"
    ordering = ("-start", "-id")
    raw_id_fields = ("patient",)
    fieldsets = (
        (None, {"fields": ("patient", "treatment", "plan_session", "practitioner", "room", "device")}),
        ("Time", {"fields": ("start", "end", "blocked_until")}),
        ("Status", {"fields": ("status", "source", "checked_in_at", "completed_at", "sequence")}),
        ("Screening", {"fields": ("cautions", "override_reason", "overridden_by")}),
        ("Cancellation", {"fields": ("cancelled_at", "cancelled_by", "cancelled_by_user", "cancellation_reason")}),
        (None, {"fields": ("notes", "booked_by", "uid", "created_at", "updated_at")}),
        ("Notifications", {"fields": ("notification_log",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Appointment | None = None) -> Any:
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"] if name != "notes"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="notification log")
    def notification_log(self, obj: Appointment) -> str:
        rows = obj.notifications.order_by("due_at", "id")
        items = format_html_join(
            "",
            "<li>{} — {} ({}){}</li>",
            (
                (
                    row.get_kind_display(),
                    row.get_status_display(),
                    formats.datetime_text(row.sent_at or row.due_at),
                    f": {row.get_skip_reason_display() or row.last_error}" if row.skip_reason or row.last_error else "",
                )
                for row in rows
            ),
        )
        link = reverse("admin:booking_notification_changelist") + f"?appointment__id__exact={obj.pk}"
        return format_html('<ul style="margin: 0">{}</ul><a href="{}">Open the log</a>', items, link)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        if "notes" in form.changed_data:
            obj.save(update_fields=["notes", "updated_at"])


class InjectableUseInline(admin.TabularInline):
    """The products a session injected (product, lot, expiry, amount): shown, never changed here."""

    model = InjectableUse
    fields = ("product", "lot", "expiry", "amount", "unit")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin:
    """Rows only the services write (session records, erasures, the waitlist):
    the admin lists and shows them, never adds, changes or deletes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SessionRecord)
class SessionRecordAdmin(ReadOnlyAdmin, AccessLoggedAdmin, SimpleHistoryAdmin):
    """What was done at each session, with its history. Written by the
    ``complete`` transition (booking.services.appointment_complete), never
    here, and never deleted: the admin only shows it."""

    access_what = AccessEvent.What.SESSION_RECORD
    access_patient_path = "appointment__patient_id"
    inlines = [InjectableUseInline]
    list_display = ("recorded_at", "patient", "treatment", "category", "pain_score", "recorded_by")
    list_filter = ("category",)
    search_fields = ("appointment__patient__full_name", "appointment__patient__email", "appointment__patient__phone")
    list_select_related = ("appointment__patient", "appointment__treatment", "recorded_by")
    date_hierarchy = "recorded_at"
    ordering = ("-recorded_at", "-id")

    @admin.display(description="patient", ordering="appointment__patient__full_name")
    def patient(self, obj: SessionRecord) -> str:
        return str(obj.appointment.patient)

    @admin.display(description="treatment", ordering="appointment__treatment__slug")
    def treatment(self, obj: SessionRecord) -> str:
        return obj.appointment.treatment.slug


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Erasures on request and the log of their steps (booking.erasure). Made
    by the chart's Erase page or the API, never here, and never changed."""

    list_display = ("patient", "requested_at", "requested_by_name", "purge_due", "purged_at")
    list_select_related = ("patient",)
    date_hierarchy = "requested_at"
    ordering = ("-requested_at", "-id")
    readonly_fields = (
        "patient",
        "requested_by",
        "requested_by_name",
        "requested_at",
        "last_visit",
        "purge_due",
        "purged_at",
        "steps",
    )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The waitlist in queue order (first come, first served)."""

    list_display = ("created_at", "patient", "treatment", "practitioner", "earliest", "latest", "parts", "status")
    list_filter = ("status", "treatment", ("practitioner", PractitionerFilter))
    search_fields = ("patient__full_name", "patient__email", "patient__phone")
    list_select_related = ("patient", "treatment", "practitioner__user")
    date_hierarchy = "created_at"
    ordering = ("created_at", "id")
    fields = (
        "patient",
        "treatment",
        "practitioner",
        "earliest",
        "latest",
        "parts",
        "status",
        "created_at",
        "created_by",
        "closed_at",
        "appointment",
    )
    readonly_fields = fields


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Every slot offered from the waitlist and what became of it."""

    list_display = ("created_at", "patient", "treatment", "start", "practitioner", "status", "expires_at")
    list_filter = ("status", "entry__treatment", ("practitioner", PractitionerFilter))
    search_fields = ("entry__patient__full_name", "entry__patient__email", "entry__patient__phone")
    list_select_related = ("entry__patient", "entry__treatment", "practitioner__user")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "entry",
        "practitioner",
        "start",
        "end",
        "status",
        "expires_at",
        "hold",
        "created_at",
        "offered_by",
        "decided_at",
        "appointment",
    )
    readonly_fields = fields

    @admin.display(description="patient", ordering="entry__patient__full_name")
    def patient(self, obj: WaitlistOffer) -> str:
        return str(obj.entry.patient)

    @admin.display(description="treatment", ordering="entry__treatment__slug")
    def treatment(self, obj: WaitlistOffer) -> str:
        return obj.entry.treatment.slug


from booking import package_admin  # noqa: E402, F401 - registers the package admin
