from __future__ import annotations

import pytest

from tests.services import HAS_POSTGRES


@pytest.fixture(scope="session", autouse=True)
def delete_output_dir() -> None:
    """Replaces pytest-playwright's fixture of this name, which empties
    test-results/ at each session's first test: under xdist every worker would,
    deleting the others' screenshots. tests/services.py empties it once, first."""


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


@pytest.fixture(autouse=True)
def _staff_second_factor_passed(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Every staff sign-in in a test counts as having passed the second factor.

    Practitioners and managers must pass it before any /staff/ or /admin/ page
    (workspace/security). Tests that sign staff in (``client.force_login``,
    ``client.login``, the sign-in page in a browser) are about something else, so
    on every sign-in of such a user this gives them a confirmed TOTP device and
    marks the session verified by it, as the real code page would. Tests of the
    second factor itself opt out with ``@pytest.mark.second_factor_enforced``.
    API tests with tokens or ``force_authenticate`` need nothing.
    """
    if request.node.get_closest_marker("second_factor_enforced"):
        yield
        return
    from django.contrib.auth.signals import user_logged_in

    def mark_verified(sender, request, user, **kwargs):  # type: ignore[no-untyped-def]
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from patients.second_factor import second_factor_required

        required = second_factor_required(user)
        user.__dict__.pop("_clinic_role", None)  # the test may change the role later
        session = getattr(request, "session", None)
        if not required or session is None:
            return
        device, _created = TOTPDevice.objects.get_or_create(user=user, name="test suite", defaults={"confirmed": True})
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id

    user_logged_in.connect(mark_verified, dispatch_uid="tests.staff_second_factor_passed")
    try:
        yield
    finally:
        user_logged_in.disconnect(dispatch_uid="tests.staff_second_factor_passed")
