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
def _fresh_rate_limits() -> None:
    from django.core.cache import caches

    caches["throttle"].clear()
