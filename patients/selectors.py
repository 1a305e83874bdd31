"""Finding patients: one rule for the API, the chart's patient list and staff booking."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from patients.models import Patient


def patients_matching(query: str) -> QuerySet[Patient]:
    """Patients whose name or email contains ``query``, or whose phone contains its
    digits when it has three or more; everyone for an empty query. Ordered by name."""
    query = " ".join(query.replace("\x00", "").split())[:100]
    patients = Patient.objects.order_by("full_name", "id")
    if not query:
        return patients
    condition = Q(full_name__icontains=query) | Q(email__icontains=query)
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        condition |= Q(phone__contains=digits)
    return patients.filter(condition)
