"""Reads about patients: finding them (one rule for the API, the chart's patient
list and staff booking) and whether their health declaration is still current
(one rule for screening, the booking pages and the chart)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken

from clinic.clock import clinic_date
from patients.models import AccessEvent, HealthDeclaration, ImportantDate, Patient, SignedInDevice


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


# --- health declarations ---------------------------------------------------------------------


def declaration_newest(patient: Patient | int) -> HealthDeclaration | None:
    """The declaration screening reads: the newest by ``submitted_at``, then id."""
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return HealthDeclaration.objects.filter(patient_id=patient_id).order_by("-submitted_at", "-id").first()


def declaration_submitted_on(declaration: HealthDeclaration) -> date:
    """The clinic-local date a declaration was submitted on."""
    return clinic_date(declaration.submitted_at)


def declaration_is_current(
    declaration: HealthDeclaration | None, *, on: date, max_age: timedelta | None = None
) -> bool:
    """Whether a declaration's answers still count on the clinic-local date ``on``:
    submitted (clinic-local date) at most ``max_age`` days before it (default
    CLINIC_DECLARATION_MAX_AGE). No declaration is never current. Pure: the
    screening engine (treatments.screening.evaluate) calls it without the database."""
    if declaration is None:
        return False
    limit = settings.CLINIC_DECLARATION_MAX_AGE if max_age is None else max_age
    return timedelta(days=(on - declaration_submitted_on(declaration)).days) <= limit


# --- the access log ----------------------------------------------------------------------------


def access_events_for_patient(patient: Patient | int) -> QuerySet[AccessEvent]:
    """Who read a patient's clinical data, newest first (one query per page)."""
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return AccessEvent.objects.filter(patient_id=patient_id).order_by("-at", "-id")


def access_events_by_actor(actor_id: int) -> QuerySet[AccessEvent]:
    """What one staff member read, newest first. No join to the patient: a row
    outlives a purged patient record, and must still be listed."""
    return AccessEvent.objects.filter(actor_id=actor_id).order_by("-at", "-id")


def patient_names(patient_ids: Iterable[int]) -> dict[int, str]:
    """Names of the patients still on file, by id (one query)."""
    return dict(Patient.objects.filter(pk__in=set(patient_ids)).values_list("pk", "full_name"))


def access_actors() -> QuerySet[User]:
    """Staff accounts that appear in the access log, for the managers' picker."""
    return User.objects.filter(pk__in=AccessEvent.objects.values("actor_id")).order_by(
        "first_name", "last_name", "username"
    )


def devices_for(*, user: Any, now: datetime | None = None) -> QuerySet[SignedInDevice]:
    """The devices where ``user`` is signed in now: unexpired API tokens and
    unexpired browser sessions, most recently used first. Rows left behind by
    a session that ended on its own (it expired, or Django replaced its key)
    are not shown."""
    now = now or timezone.now()
    live_session = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=now)
    return (
        SignedInDevice.objects.filter(user=user)
        .filter(
            Q(kind=SignedInDevice.Kind.TOKEN, token__expiry__isnull=True)
            | Q(kind=SignedInDevice.Kind.TOKEN, token__expiry__gt=now)
            | Q(Exists(live_session), kind=SignedInDevice.Kind.SESSION)
        )
        .order_by("-last_used_at", "-id")
    )


def important_dates_for(*, patient_id: int, since: date | None = None) -> QuerySet[ImportantDate]:
    """The patient's dates that matter, soonest first; ``since`` keeps those not over by then."""
    queryset = ImportantDate.objects.filter(patient_id=patient_id)
    if since is not None:
        queryset = queryset.filter(ends_on__gte=since)
    return queryset.order_by("starts_on", "ends_on", "id")


# --- the token a request carries ----------------------------------------------------------


def tokens_with_key(token_key: str) -> list[tuple[AuthToken, int | None]]:
    """The API tokens whose key (the token's first characters) is ``token_key``,
    each with its user, its device row, the user's patient record (or None) and
    the user's staff rank (``roles.staff_rank_sql``), in one statement.

    Every token request of the API asks this (patients/authentication.py), so
    the SQL is composed once per process from the models' own tables and
    columns, and the rows become model instances with ``Model.from_db``, as the
    ORM would make them (the database's converters applied): the ORM's
    select_related query cost about 1.2 ms more per request in Python to build
    and read than the statement itself."""
    sql, params, layout, alias = _token_lookup()
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, token_key])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        instances: list[Any] = []
        at = 0
        for model, names, converters, pk in layout:
            values = list(row[at : at + len(names)])
            at += len(names)
            if values[pk] is None:  # a LEFT JOIN's missing row
                instances.append(None)
                continue
            for index, (column, chain) in enumerate(converters):
                for convert in chain:
                    values[index] = convert(values[index], column, connection)
            instances.append(model.from_db(alias, names, values))
        token, user, device, patient = instances
        token.user = user
        AuthToken.device.related.set_cached_value(token, device)
        if device is not None:
            SignedInDevice.token.field.set_cached_value(device, token)
        User.patient.related.set_cached_value(user, patient)
        if patient is not None:
            Patient.user.field.set_cached_value(patient, user)
        found.append((token, row[at]))
    return found


@lru_cache(maxsize=1)
def _token_lookup() -> tuple[str, tuple[Any, ...], list[tuple[type[Model], list[str], list[Any], int]], str]:
    from patients.roles import staff_rank_sql

    alias = router.db_for_read(AuthToken)
    connection = connections[alias]

    def quote(name: str | None) -> str:
        return connection.ops.quote_name(str(name))

    parts: list[tuple[type[Model], str]] = [(AuthToken, "t"), (User, "u"), (SignedInDevice, "d"), (Patient, "p")]
    layout = []
    columns: list[str] = []
    for model, table in parts:
        # In the model's order: from_db reads a full row by position.
        fields = list(model._meta.concrete_fields)
        converters = []
        for field in fields:
            column = field.get_col(table)
            chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            converters.append((column, chain))
        layout.append((model, [field.attname for field in fields], converters, fields.index(model._meta.pk)))
        columns.extend(f"{table}.{quote(field.column)}" for field in fields)
    token_user = AuthToken._meta.get_field("user")
    device_token = SignedInDevice._meta.get_field("token")
    patient_user = Patient._meta.get_field("user")
    rank, params = staff_rank_sql(f"t.{quote(token_user.column)}")
    sql = (
        f"SELECT {', '.join(columns)}, ({rank}) "  # noqa: S608 - the models' names; the key is a parameter
        f"FROM {quote(AuthToken._meta.db_table)} t "
        f"INNER JOIN {quote(User._meta.db_table)} u ON u.{quote(User._meta.pk.column)} = t.{quote(token_user.column)} "
        f"LEFT OUTER JOIN {quote(SignedInDevice._meta.db_table)} d "
        f"ON d.{quote(device_token.column)} = t.{quote(device_token.target_field.column)} "
        f"LEFT OUTER JOIN {quote(Patient._meta.db_table)} p "
        f"ON p.{quote(patient_user.column)} = u.{quote(User._meta.pk.column)} "
        f"WHERE t.{quote(AuthToken._meta.get_field('token_key').column)} = %s"
    )
    return sql, params, layout, alias
