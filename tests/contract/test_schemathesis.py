"""Schemathesis against the app's own OpenAPI schema (issue 15, point 7).

Every operation of ``/api/v1/schema/`` gets a few generated requests, valid and
invalid (positive and negative generation), as three callers: anonymous, a
patient with a token and a manager with a token. Every response must pass
every schemathesis check: no 5xx, a status the schema documents, a body
matching the documented schema and content type, invalid input refused,
missing authentication refused, and so on. Bounded: a fixed seed
(derandomized), ``CONTRACT_EXAMPLES`` examples per operation (default 3).

A failure names the role, the operation and a curl command to replay it;
``bin/contract-check`` runs this module and prints counts per role.

In-process against the WSGI app, inside each test's transaction: on-commit
callbacks never run, so nothing reaches Celery, and mail goes to
pytest-django's in-memory outbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from clinic.wsgi import application
from tests.api.conftest import client_for
from tests.factories import (
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "3"))


def _served_schema() -> dict[str, Any]:
    """What GET /api/v1/schema/ serves (the same generator), as JSON. Built at
    collection, without a request, so every operation is its own test item."""
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(JSONRenderer().render(document))


schema = schemathesis.openapi.from_dict(_served_schema(), config=SchemathesisConfig.discover())  # schemathesis.toml
schema.app = application  # requests go to the WSGI app in-process


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Django closes the database connection at the end of each WSGI request;
    its test client stops that, and so must a test calling the WSGI app itself,
    or the next query finds the test's connection closed (a 503 outage)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _clinic_and_headers(role: str) -> dict[str, str]:
    """A small clinic to find, and the caller's Authorization header."""
    treatment = TreatmentFactory()
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    if role == "anonymous":
        return {}
    user = patient.user if role == "patient" else UserFactory(role=role)
    return {"Authorization": client_for(user)._credentials["HTTP_AUTHORIZATION"]}


@pytest.fixture
def anonymous_headers(db: None) -> dict[str, str]:
    return _clinic_and_headers("anonymous")


@pytest.fixture
def patient_headers(db: None) -> dict[str, str]:
    return _clinic_and_headers("patient")


@pytest.fixture
def manager_headers(db: None) -> dict[str, str]:
    return _clinic_and_headers("manager")


BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_anonymous(case: Any, anonymous_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=anonymous_headers)


@schema.parametrize()
@BOUNDED
def test_patient(case: Any, patient_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=patient_headers)


@schema.parametrize()
@BOUNDED
def test_manager(case: Any, manager_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=manager_headers)
