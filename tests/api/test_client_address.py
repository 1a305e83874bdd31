"""The client's address (clinic/client.py) and the limits counted by it.

``X-Forwarded-For`` is believed only from the proxies named in
``CLINIC_TRUSTED_PROXIES``: a client that sends the header itself cannot step
around a rate limit or a sign-in lockout, while behind the clinic's own proxy
every client is still counted on its own. The counters live in the database,
so a second process (here: a second thread with its own connection) sees them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import CacheHandler
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from clinic.api import ScopedThrottle
from clinic.client import client_address, count_use, parse_trusted_proxies, within
from patients.models import Patient
from tests.factories import PatientFactory

PASSPHRASE = "a-long-and-unusual-passphrase"


def _request(remote: str = "203.0.113.9", forwarded: str | None = None) -> Any:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def _registration(number: int) -> dict[str, str]:
    return {
        "email": f"new{number}@example.com",
        "password": PASSPHRASE,
        "full_name": "New Patient",
        "date_of_birth": "1990-01-01",
        "phone": "+852 9123 4567",
        "preferred_language": "en",
    }


# --- the rule -------------------------------------------------------------------------------


def test_without_trusted_proxies_the_header_is_ignored(settings: Any) -> None:
    settings.CLINIC_TRUSTED_PROXIES = 0
    assert client_address(_request("203.0.113.9", "5.6.7.8")) == "203.0.113.9"
    assert client_address(_request("203.0.113.9")) == "203.0.113.9"


def test_one_trusted_hop_believes_only_what_that_proxy_appended(settings: Any) -> None:
    settings.CLINIC_TRUSTED_PROXIES = 1
    # nginx (10.0.0.2) appended the address it saw; "5.6.7.8" was typed by the client.
    assert client_address(_request("10.0.0.2", "5.6.7.8, 198.51.100.7")) == "198.51.100.7"
    assert client_address(_request("10.0.0.2", "198.51.100.7")) == "198.51.100.7"
    assert client_address(_request("10.0.0.2")) == "10.0.0.2"  # no header: the proxy is all we know


def test_trusted_networks_walk_back_past_the_clinics_proxies_only(settings: Any) -> None:
    settings.CLINIC_TRUSTED_PROXIES = parse_trusted_proxies("10.0.0.0/8, 2001:db8::/32")
    assert client_address(_request("10.0.0.2", "5.6.7.8, 198.51.100.7, 10.1.1.1")) == "198.51.100.7"
    assert client_address(_request("2001:db8::5", "2001:db8::9, 198.51.100.7")) == "198.51.100.7"
    # A request straight from outside the proxies: its own header is not believed.
    assert client_address(_request("203.0.113.9", "10.0.0.5")) == "203.0.113.9"
    # Garbage from the client stops the walk at the proxy that passed it on.
    assert client_address(_request("10.0.0.2", "not-an-address")) == "10.0.0.2"


def test_the_setting_takes_a_count_or_cidrs_and_refuses_anything_else() -> None:
    assert parse_trusted_proxies("") == 0
    assert parse_trusted_proxies("2") == 2
    assert [str(n) for n in parse_trusted_proxies("10.0.0.0/8,192.0.2.1")] == ["10.0.0.0/8", "192.0.2.1/32"]  # type: ignore[union-attr]
    with pytest.raises(ImproperlyConfigured, match="CLINIC_TRUSTED_PROXIES"):
        parse_trusted_proxies("nginx")


# --- the API ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forged_header_does_not_get_past_the_registration_limit(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "register", "2/hour")
    client = APIClient()
    for number in range(2):
        assert client.post("/api/v1/auth/register/", _registration(number), format="json").status_code == 201
    for number, forged in enumerate(["5.6.7.8", "5.6.7.9, 1.2.3.4"], start=2):
        refused = client.post(
            "/api/v1/auth/register/", _registration(number), format="json", HTTP_X_FORWARDED_FOR=forged
        )
        assert refused.status_code == 429
        assert refused.json()["code"] == "throttled"
    assert Patient.objects.count() == 2


@pytest.mark.django_db
def test_a_forged_header_does_not_get_past_the_password_reset_limit(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "2/hour")
    client = APIClient()
    for _ in range(2):
        assert client.post("/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json").status_code == 202
    refused = client.post(
        "/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json", HTTP_X_FORWARDED_FOR="5.6.7.8"
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_limit(monkeypatch: Any, settings: Any) -> None:
    settings.CLINIC_TRUSTED_PROXIES = 1
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "2/hour")
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")

    def reset(client_ip: str) -> int:
        return proxy.post(
            "/api/v1/auth/password-reset/",
            {"email": "a@example.com"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_ip}",  # the first one typed by the client
        ).status_code

    assert [reset("198.51.100.7") for _ in range(3)] == [202, 202, 429]
    assert reset("198.51.100.8") == 202  # another client behind the same proxy


@pytest.mark.django_db
def test_a_forged_header_does_not_lift_a_sign_in_lockout(settings: Any) -> None:
    patient = PatientFactory()
    client = APIClient()
    for number in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/",
            {"email": patient.email, "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"5.6.7.{number}",
        )
    locked = client.post(
        "/api/v1/auth/token/",
        {"email": patient.email, "password": "correct-horse-battery"},
        format="json",
        HTTP_X_FORWARDED_FOR="5.6.7.200",
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"


# --- the pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forged_header_does_not_get_past_the_sign_up_page_limit(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "register", "2/hour")
    values = {"full_name": "Lee", "phone": "91234567", "date_of_birth": "1990-01-01", "password": PASSPHRASE}
    for number in range(2):
        assert Client().post("/accounts/register/", {**values, "email": f"p{number}@example.com"}).status_code == 302
    refused = Client().post(
        "/accounts/register/", {**values, "email": "p3@example.com"}, HTTP_X_FORWARDED_FOR="5.6.7.8"
    )
    assert refused.status_code == 200 and "Too many sign-ups from here" in refused.text
    assert not Patient.objects.filter(email="p3@example.com").exists()


@pytest.mark.django_db
def test_a_forged_header_does_not_get_past_the_reset_page_limit(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "2/hour")
    for number in range(2):
        assert Client().post("/accounts/password-reset/", {"email": f"s{number}@example.com"}).status_code == 302
    refused = Client().post("/accounts/password-reset/", {"email": "s9@example.com"}, HTTP_X_FORWARDED_FOR="5.6.7.8")
    assert refused.status_code == 429
    assert "Too many requests" in refused.text


@pytest.mark.django_db
def test_the_reset_page_counts_clients_behind_a_trusted_proxy_apart(monkeypatch: Any, settings: Any) -> None:
    settings.CLINIC_TRUSTED_PROXIES = parse_trusted_proxies("10.0.0.0/8")
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "1/hour")
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    first = proxy.post("/accounts/password-reset/", {"email": "a@example.com"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    again = proxy.post("/accounts/password-reset/", {"email": "a@example.com"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    other = proxy.post("/accounts/password-reset/", {"email": "a@example.com"}, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert (first.status_code, again.status_code, other.status_code) == (302, 429, 302)


# --- one store for every process --------------------------------------------------------------


def _in_another_process(work: Any) -> Any:
    """Runs ``work(cache)`` in a thread with its own database connection and its
    own cache objects, as another web worker (or the same one after a restart) would."""
    found: list[Any] = []

    def run() -> None:
        from django.db import connection

        try:
            found.append(work(CacheHandler()["throttle"]))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return found[0]


@pytest.mark.django_db(transaction=True)
def test_a_counter_set_by_one_process_is_seen_by_another() -> None:
    assert within("test-shared", 2, 3600)
    assert within("test-shared", 2, 3600)
    assert _in_another_process(lambda cache: within("test-shared", 2, 3600)) is False
    assert within("test-shared", 2, 3600) is False
    assert _in_another_process(lambda cache: count_use("test-shared", 3600)[0]) == 5


@pytest.mark.django_db(transaction=True)
def test_an_api_limit_reached_in_one_process_holds_in_another(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "1/hour")
    client = APIClient()
    assert client.post("/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json").status_code == 202

    def allowed(cache: Any) -> bool:
        throttle = ScopedThrottle()
        throttle.cache = cache
        view = type("View", (), {"throttle_scope": "password_reset"})()
        request = _request("127.0.0.1")
        request.user = AnonymousUser()
        return throttle.allow_request(request, view)  # type: ignore[arg-type]

    assert _in_another_process(allowed) is False


@pytest.mark.django_db(transaction=True)
def test_a_burst_from_many_processes_at_once_passes_the_limit_by_none() -> None:
    """Twenty clients count at the same instant, each on its own connection (as
    twenty web processes would): exactly the limit's worth get through."""
    from django.db import connection

    start = threading.Barrier(20)
    allowed: list[bool] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            start.wait()
            result = within("burst", 5, 3600)
            with lock:
                allowed.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == [False] * 15 + [True] * 5


@pytest.mark.django_db
def test_a_window_ends_its_period_after_the_first_use_and_the_next_starts_afresh() -> None:
    first = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    with time_machine.travel(first, tick=False):
        assert count_use("window", 600) == (1, first + timedelta(seconds=600))
    with time_machine.travel(first + timedelta(seconds=599), tick=False):
        assert count_use("window", 600) == (2, first + timedelta(seconds=600))
    with time_machine.travel(first + timedelta(seconds=600), tick=False):
        assert count_use("window", 600) == (1, first + timedelta(seconds=1200))


@pytest.mark.django_db
def test_a_refused_request_is_told_when_its_window_ends(monkeypatch: Any) -> None:
    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "password_reset", "1/hour")
    client = APIClient()
    first = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    with time_machine.travel(first, tick=False):
        assert client.post("/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json").status_code == 202
    with time_machine.travel(first + timedelta(minutes=45), tick=False):
        refused = client.post("/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json")
        assert refused.status_code == 429
        assert refused["Retry-After"] == str(15 * 60)
        assert refused.json()["code"] == "throttled"
    with time_machine.travel(first + timedelta(hours=1), tick=False):
        assert client.post("/api/v1/auth/password-reset/", {"email": "a@example.com"}, format="json").status_code == 202
