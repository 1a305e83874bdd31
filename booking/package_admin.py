"""Course packages in the admin (imported by booking/admin.py): managers edit
the catalogue here as on the Manage page; sold packages are only shown, since
a sale, a redemption and a refund each move money (booking.packages)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from booking import packages
from booking.models import Package, PackageOffer
from clinic.errors import InvalidInput


@admin.register(PackageOffer)
class PackageOfferAdmin(admin.ModelAdmin):
    list_display = ("name_en", "treatment", "sessions", "price", "valid_days", "sold_online", "active")
    list_filter = ("active", "sold_online", "treatment")
    search_fields = ("name_en", "name_zh_hant", "treatment__slug")
    list_select_related = ("treatment",)
    fields = ("treatment", "name_en", "name_zh_hant", "sessions", "price", "valid_days", "sold_online", "active")
    actions = ("retire",)

    def save_model(self, request: HttpRequest, obj: PackageOffer, form: Any, change: bool) -> None:
        try:
            packages.offer_save(offer=obj, by=request.user)  # type: ignore[arg-type]
        except InvalidInput as error:  # the form has validated the same model: only a race gets here
            messages.error(request, str(error))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sold packages point at it: retire instead

    @admin.action(description="Take the selected offers off sale")
    def retire(self, request: HttpRequest, queryset: QuerySet[PackageOffer]) -> None:
        for offer in queryset:
            packages.offer_retire(offer=offer, by=request.user)  # type: ignore[arg-type]
        messages.success(request, f"{queryset.count()} offer(s) taken off sale.")


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    """Packages sold: shown, never edited here (sell, redeem and refund through the services)."""

    list_display = ("created_at", "patient", "name_en", "sessions_used", "sessions_total", "price", "status")
    list_filter = ("status", "treatment")
    search_fields = ("patient__full_name", "patient__email", "patient__phone", "name_en")
    list_select_related = ("patient", "treatment")
    date_hierarchy = "created_at"
    fields = (
        "patient",
        "treatment",
        "offer",
        "plan",
        "name_en",
        "name_zh_hant",
        "sessions_total",
        "sessions_used",
        "price",
        "status",
        "expires_on",
        "sold_by",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
