"""Chooses the database and broker for a test run, before Django loads.

Loaded with ``-p tests.services`` (pyproject.toml), so ``pytest`` alone behaves
like ``make test``: ``DATABASE_URL`` / ``REDIS_URL`` when set, else PostgreSQL
and Redis on localhost when they answer, else SQLite, with the tests that need
the servers skipped with a visible reason. ``CLINIC_REQUIRE_SERVICES=1`` (CI)
turns those skips into failures.

Under pytest-xdist (``bin/run-tests`` runs ``-n``) each worker is its own
process with its own test database (pytest-django suffixes the name with the
worker id), its own Redis database (the base one plus the worker's number, so
one worker's Celery workers never take another's tasks, and ``flushdb`` only
clears its own) and its own media folder.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from urllib.parse import urlsplit, urlunsplit

import pytest

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/clinic"
# Its own database numbers, so a `make run` worker on db 0 never takes test
# tasks: xdist's workers use 12, 13, 14 and 15 (see _redis_for_worker).
LOCAL_REDIS = "redis://127.0.0.1:6379/12"
REDIS_DATABASES = 16  # redis-server's default `databases`
# "gw0", "gw1", ... in an xdist worker; None in a serial run and in xdist's controller.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
WORKER_INDEX = int(WORKER.removeprefix("gw")) if WORKER else 0


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _redis_for_worker(url: str, index: int) -> str:
    """The base Redis URL's database number plus the worker's index."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + index
    if database >= REDIS_DATABASES:
        raise RuntimeError(
            f"xdist worker {index} would use Redis database {database} (REDIS_URL {url} plus its number), "
            f"past the server's {REDIS_DATABASES}: point REDIS_URL at a lower database or run fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def _postgres_usable() -> bool:
    if not _answers("127.0.0.1", 5432):
        return False
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2):
            return True
    except Exception:
        return False


os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("CLINIC_BASE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The test client speaks plain HTTP; these are checked by check --deploy tests.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
# DEBUG is off in the tests, where settings refuse to start without EMAIL_URL;
# pytest-django collects the mail in memory anyway.
os.environ.setdefault("EMAIL_URL", "locmem://")
# Uploaded photos go to a throw-away folder, never the real var/media.
# xdist's workers inherit the controller's environment (this module ran there
# first): each takes a folder of its own inside the controller's.
if "CLINIC_MEDIA_ROOT" not in os.environ:
    os.environ["CLINIC_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="clinic-test-media-")
    atexit.register(shutil.rmtree, os.environ["CLINIC_MEDIA_ROOT"], ignore_errors=True)
if WORKER:
    os.environ["CLINIC_MEDIA_ROOT"] = os.path.join(os.environ["CLINIC_MEDIA_ROOT"], WORKER)
    os.makedirs(os.environ["CLINIC_MEDIA_ROOT"], exist_ok=True)
if "DATABASE_URL" not in os.environ and _postgres_usable():
    os.environ["DATABASE_URL"] = LOCAL_POSTGRES
if "REDIS_URL" not in os.environ and _answers("127.0.0.1", 6379):
    os.environ["REDIS_URL"] = LOCAL_REDIS
REDIS_ERROR = ""
if WORKER and os.environ.get("REDIS_URL", "").startswith(("redis://", "rediss://")):
    try:
        os.environ["REDIS_URL"] = _redis_for_worker(os.environ["REDIS_URL"], WORKER_INDEX)
    except RuntimeError as error:
        REDIS_ERROR = str(error)

HAS_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
HAS_REDIS = os.environ.get("REDIS_URL", "").startswith(("redis://", "rediss://"))
REQUIRE_SERVICES = os.environ.get("CLINIC_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
CHROMIUM = "/usr/bin/chromium"
HAS_CHROMIUM = os.access(CHROMIUM, os.X_OK)


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = "PostgreSQL" if HAS_POSTGRES else "SQLite"
    broker = "Redis" if HAS_REDIS else "none (filesystem transport)"
    lines = [f"clinic services: database {database}, broker {broker}, required: {REQUIRE_SERVICES}"]
    workers = getattr(config.option, "numprocesses", None)
    if workers:
        lines.append(f"clinic services: {workers} xdist workers, each with its own test database and Redis database")
    return lines


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES and not (HAS_POSTGRES and HAS_REDIS):
        raise pytest.UsageError(
            "CLINIC_REQUIRE_SERVICES is set but "
            + " and ".join(n for n, ok in (("PostgreSQL", HAS_POSTGRES), ("Redis", HAS_REDIS)) if not ok)
            + " did not answer: start them or set DATABASE_URL / REDIS_URL."
        )
    if REDIS_ERROR:
        raise pytest.UsageError(REDIS_ERROR)
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller did the rest before starting it
    # pytest-playwright empties its output folder at each session's first test,
    # which under xdist means every worker, deleting what the others have saved
    # already; tests/conftest.py turns that off and it is done once, here.
    shutil.rmtree(config.getoption("--output", "test-results"), ignore_errors=True)
    # The pages' translations are compiled from locale/**/django.po (no system gettext needed).
    from clinic.i18n import compile_catalogues

    compile_catalogues()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {"postgres": ("DATABASE_URL", not HAS_POSTGRES), "redis": ("REDIS_URL", not HAS_REDIS)}
    for item in items:
        if not HAS_CHROMIUM and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=f"needs {CHROMIUM}: apt-get install chromium fonts-noto-cjk"))
        for marker, (variable, absent) in missing.items():
            if absent and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"needs {marker}: set {variable} or start it on localhost"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    # In CI a service test that skips (for any reason) hides a gap: fail it.
    if (
        REQUIRE_SERVICES
        and report.skipped
        and any(item.get_closest_marker(m) for m in ("postgres", "redis", "browser"))
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: a PostgreSQL/Redis/browser test was skipped while CLINIC_REQUIRE_SERVICES is set"
        )
    return report
