"""Staff roles as groups with permissions, kept in step with this file.

A user's role is the strongest group they belong to; a user with a patient
record and no staff group is a patient. Managers grant roles in the admin.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, cast

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db import connection
from django.db.models import Exists, IntegerField, OuterRef
from django.db.models.expressions import RawSQL

PATIENT = "patient"
RECEPTIONIST = "receptionist"
PRACTITIONER = "practitioner"
MANAGER = "manager"
STAFF_ROLES = (RECEPTIONIST, PRACTITIONER, MANAGER)
_STRENGTH = {MANAGER: 3, PRACTITIONER: 2, RECEPTIONIST: 1}


def _crud(app: str, model: str, verbs: str = "view add change") -> list[str]:
    return [f"{app}.{verb}_{model}" for verb in verbs.split()]


_FRONT_DESK = [
    *_crud("patients", "patient"),
    *_crud("patients", "healthdeclaration", "view add"),
    *_crud("booking", "appointment"),
    *_crud("booking", "timeoff", "view add change"),
    *_crud("booking", "clinicclosure", "view add change"),
    # The notification log; "change" is the admin's "send again" for failed ones.
    *_crud("booking", "notification", "view change"),
    "booking.view_practitioner",
    "booking.view_room",
    "booking.view_device",
    "booking.view_workinghours",
    "treatments.view_treatment",
    "treatments.view_contraindicationrule",
]

_CLINICAL: list[str] = [
    # Assessments, photos and plans are written through the API; the admin shows them read-only.
    *_crud("treatments", "assessment"),
    *_crud("treatments", "assessmentphoto", "view add"),
    *_crud("treatments", "treatmentplan"),
    *_crud("treatments", "plansession"),
    *_crud("booking", "sessionrecord"),
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    RECEPTIONIST: _FRONT_DESK,
    PRACTITIONER: [*_FRONT_DESK, *_CLINICAL],
    MANAGER: ["*patients", "*treatments", "*booking", *_crud("auth", "user"), "auth.view_group"],
}


def _resolve(entries: list[str]) -> list[Permission]:
    whole_apps = [entry[1:] for entry in entries if entry.startswith("*")]
    pairs = [entry.split(".", 1) for entry in entries if not entry.startswith("*")]
    found = list(Permission.objects.filter(content_type__app_label__in=whole_apps))
    by_key = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.filter(content_type__app_label__in={a for a, _ in pairs}).select_related(
            "content_type"
        )
    }
    found.extend(by_key[(app, codename)] for app, codename in pairs if (app, codename) in by_key)
    return found


def sync_roles() -> None:
    """Creates the role groups and sets exactly the permissions listed above."""
    for name, entries in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_resolve(entries))


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.apps import apps

    # post_migrate is sent once per app with models, each time after that app's
    # permissions are created; the last such app's turn is when every permission exists.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is with_models[-1]:
        sync_roles()


def staff_rank_sql(user_column: str) -> tuple[str, tuple[Any, ...]]:
    """SQL for the strongest staff group of the user whose id is in
    ``user_column`` (the outer query's quoted column, e.g.
    ``"auth_user"."id"``) as its strength in ``_STRENGTH``, or NULL, and its
    parameters: what any query about the user can carry, so that knowing the
    role costs no query of its own. Composed once from the models' tables."""
    sql, params = _rank_sql()
    return sql % {"user": user_column}, params


def staff_rank(user_column: str) -> RawSQL:
    """``staff_rank_sql`` as an expression for ``annotate``."""
    # Names from the models and the caller's column, never input; the values are parameters.
    return RawSQL(*staff_rank_sql(user_column), output_field=IntegerField())  # noqa: S611


@lru_cache(maxsize=1)
def _rank_sql() -> tuple[str, tuple[Any, ...]]:
    quote = connection.ops.quote_name
    membership, group = User.groups.through._meta.db_table, Group._meta.db_table
    cases = " ".join(f"WHEN g.{quote('name')} = %%s THEN %%s" for _ in _STRENGTH)
    sql = (
        f"SELECT MAX(CASE {cases} END) FROM {quote(membership)} m "  # noqa: S608 - names, not input
        f"INNER JOIN {quote(group)} g ON g.{quote('id')} = m.{quote('group_id')} "
        f"WHERE m.{quote('user_id')} = %(user)s"
    )
    return sql, tuple(value for name, strength in _STRENGTH.items() for value in (name, strength))


def role_from(*, rank: int | None, is_patient: bool, is_superuser: bool) -> str | None:
    """The role that a staff rank (``staff_rank``) and a patient record make."""
    if is_superuser:
        return MANAGER
    by_rank = {strength: name for name, strength in _STRENGTH.items()}
    return by_rank[rank] if rank else (PATIENT if is_patient else None)


def remember_role(user: User, role: str | None) -> None:
    """Caches ``role`` on this user object for the request (what ``role_of`` reads)."""
    user._clinic_role = role  # type: ignore[attr-defined]  # cached on the user object for this request


def role_of(user: User | AnonymousUser | None) -> str | None:
    """``manager``, ``practitioner``, ``receptionist``, ``patient`` or None.

    Cached on the user object, so one request asks the database once (an API
    token's request not at all: the token's own query carries it)."""
    if user is None or not user.is_authenticated:
        return None
    cached = cast("str | Literal[False] | None", getattr(user, "_clinic_role", False))
    if cached is not False:
        return cached
    if user.is_superuser:
        role: str | None = MANAGER
    else:
        from patients.models import Patient

        quote = connection.ops.quote_name
        # One query: the strongest staff group, and whether the user has a patient record.
        rank, is_patient = (
            User.objects.filter(pk=user.pk)
            .annotate(
                rank=staff_rank(f"{quote(User._meta.db_table)}.{quote('id')}"),
                is_patient=Exists(Patient.objects.filter(user=OuterRef("pk"))),
            )
            .values_list("rank", "is_patient")
            .get()
        )
        role = role_from(rank=rank, is_patient=is_patient, is_superuser=False)
    remember_role(user, role)
    return role


def is_staff_role(role: str | None) -> bool:
    return role in STAFF_ROLES
