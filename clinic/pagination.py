from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from clinic.errors import InvalidInput, NotFound


class Pagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` up to 200.

    ``page`` and ``page_size`` are whole numbers in range or the request is
    400 ``invalid`` (DRF would answer ``page=0`` with 404 and quietly read
    ``page_size=null`` or 1000 as something else), as the schema says; a page
    past the last is 404 ``not_found``, documented for every list."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def _number(self, request: Request, name: str, maximum: int | None) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or int(raw) < 1:
            raise InvalidInput(fields={name: [str(_("A whole number from 1 is required."))]})
        if maximum is not None and int(raw) > maximum:
            raise InvalidInput(fields={name: [_("At most %(maximum)d.") % {"maximum": maximum}]})
        return int(raw)

    def get_page_size(self, request: Request) -> int:
        return self._number(request, self.page_size_query_param, self.max_page_size) or self.page_size

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        page_number = self._number(request, self.page_query_param, None) or 1
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        try:
            self.page = paginator.page(page_number)
        except InvalidPage:
            # A whole number past the last page: the page does not exist (404),
            # although the request is well formed.
            raise NotFound(_("There is no such page.")) from None
        return list(self.page)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        page, size = super().get_schema_operation_parameters(view)
        page["schema"] = {"type": "integer", "minimum": 1}
        page["description"] = "A page number, from 1 (else 400 invalid); a page past the last is 404 not_found."
        size["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return [page, size]
