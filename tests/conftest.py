from __future__ import annotations

import pytest

from tests.services import HAS_POSTGRES


@pytest.fixture
def on_postgres() -> bool:
    return HAS_POSTGRES


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # PBKDF2's deliberate slowness only slows the suite; tests of real sign-in
    # still go through Django's hashing and checking code.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Rate-limit counters live in the database (the "throttle" cache): every
    test that uses the database starts without any. One that does not has none."""
    from django.core.cache import caches

    uses_database = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not uses_database:
        return
    request.getfixturevalue("_django_db_helper")
    caches["throttle"].clear()
