"""Hooks that write the access log (``patients.services.access_record``) from the
doors that read clinical data: API views and admin pages. Page views call the
service themselves, next to what they render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS

from patients.models import AccessEvent
from patients.services import access_record, access_record_many


class AccessLoggedApi:
    """For DRF generic views over one kind of clinical record: a page of a list
    writes one row per patient on it, a detail read one row for its object, in
    one INSERT whatever the page's length. Writes (PATCH, POST) are not reads."""

    access_what: str = ""
    access_patient: Callable[[Any], int] = staticmethod(lambda obj: obj.patient_id)
    request: Any

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)  # type: ignore[misc]  # a mixin for GenericAPIView
        if page is not None and self.request.method in SAFE_METHODS:
            reads = [(self.access_patient(obj), self.access_what, None) for obj in page]
            access_record_many(self.request, reads, AccessEvent.Door.API)
        return page

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]  # a mixin for GenericAPIView
        if self.request.method in SAFE_METHODS:
            access_record(self.request, self.access_patient(obj), self.access_what, AccessEvent.Door.API, obj.pk)
        return obj


class AccessLoggedAdmin:
    """For ModelAdmins of clinical records: the change (view) page writes a row
    for its object, the list one row per patient on the page. ``access_patient_path``
    is the lookup from the model to the patient id (e.g. ``assessment__patient_id``)."""

    access_what: str = ""
    access_patient_path: str = "patient_id"
    access_list: bool = True  # False where the list shows nothing clinical
    access_object: bool = True  # False where the page's object is not the record read (the patient's page)
    model: type[Model]

    def _patient_ids(self, pks: list[Any]) -> dict[Any, int]:
        rows = self.model._default_manager.filter(pk__in=pks).values_list("pk", self.access_patient_path)
        return dict(rows)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]  # a mixin for ModelAdmin
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.access_list and changelist is not None and request.method in SAFE_METHODS:
            patient_ids = self._patient_ids([obj.pk for obj in changelist.result_list])
            reads = [(patient_id, self.access_what, None) for patient_id in sorted(set(patient_ids.values()))]
            access_record_many(request, reads, AccessEvent.Door.ADMIN)
        return response

    def _object_read(self, request: HttpRequest, object_id: str | None) -> None:
        if object_id is None or request.method not in SAFE_METHODS:
            return
        try:
            found = self._patient_ids([int(object_id)])
        except (TypeError, ValueError):
            return
        for pk, patient_id in found.items():
            access_record(
                request, patient_id, self.access_what, AccessEvent.Door.ADMIN, pk if self.access_object else None
            )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        if getattr(response, "status_code", 0) == 200:
            self._object_read(request, object_id)
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        response = super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]
        if getattr(response, "status_code", 0) == 200:
            self._object_read(request, object_id)
        return response

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        if getattr(response, "status_code", 0) == 200:
            self._object_read(request, object_id)
        return response
