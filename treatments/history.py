"""Change history of clinical records for staff, from django-simple-history rows.

Each entry says who changed what and when, as ``{"field", "old", "new"}``
pairs between consecutive versions of one object (all set fields for the
version that created it). Computed in Python from rows fetched in one query
per model, so a long history costs no extra queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model

_SKIP = {"id", "created_at", "updated_at"}
_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _tracked(model: type[Model]) -> list[tuple[str, str]]:
    """(name shown, attribute) of each tracked field of the original model."""
    fields = []
    for field in model._meta.concrete_fields:
        if field.name in _SKIP:
            continue
        fields.append((field.name, field.attname))
    return fields


def entries(rows: Iterable[Any], *, model: type[Model], kind: str, user_names: dict[int, str]) -> list[dict[str, Any]]:
    """History entries of one model's historical rows (any objects, any order)."""
    tracked = _tracked(model)
    previous: dict[int, Any] = {}
    result = []
    for row in sorted(rows, key=lambda r: (r.history_date, r.history_id)):
        before = previous.get(row.id)
        changes = []
        for name, attname in tracked:
            new = _plain(getattr(row, attname))
            old = _plain(getattr(before, attname)) if before is not None else None
            if before is None and new in (None, "", []):
                continue
            if before is None or old != new:
                changes.append({"field": name, "old": old, "new": new})
        previous[row.id] = row
        result.append(
            {
                "history_id": row.history_id,
                "object": kind,
                "object_id": row.id,
                "at": row.history_date,
                "by": row.history_user_id,
                "by_name": user_names.get(row.history_user_id, "") if row.history_user_id else "",
                "type": _TYPES.get(row.history_type, row.history_type),
                "changes": changes,
            }
        )
    return result


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    ids = {pk for pk in user_ids if pk}
    if not ids:
        return {}
    return {
        user.pk: (user.get_full_name() or user.get_username())
        for user in get_user_model().objects.filter(pk__in=ids).only("id", "first_name", "last_name", "username")
    }
