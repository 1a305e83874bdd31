"""Two web servers on one database keep one set of limits and one set of sessions.

Nothing a request depends on lives in one process: rate-limit counters and
sign-in lockouts are in the database cache and django-axes' tables, sessions
and API tokens in the database. So a client that spreads its requests over two
servers (two gunicorn masters on two ports, as two hosts behind a balancer would
be) meets the same limit as one that uses a single server, and a sign-in on one
server is a sign-in on the other.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def _signs_in_anywhere(user: Any) -> Any:
    """The tests' fast hasher is theirs alone: the servers verify with Django's default."""
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])
    return user


def _two_servers(serve: Any, **env: str) -> tuple[Any, Any]:
    settings = {"WEB_WORKERS": "1", "WEB_THREADS": "2", **env}
    return serve(**settings), serve(**settings)


def _token(server: Any, email: str, password: str) -> int:
    return server.request("POST", "/api/v1/auth/token/", body={"email": email, "password": password}).status


def test_a_rate_limit_counts_requests_to_every_server(serve: Any) -> None:
    """Four sign-in attempts an hour, spread over two servers, leave none for either."""
    first, second = _two_servers(serve, THROTTLE_TOKEN="4/hour")

    statuses = [_token(server, "nobody@example.com", "wrong") for server in (first, second, first, second)]
    assert statuses == [400, 400, 400, 400]

    for server in (first, second):
        answer = server.request("POST", "/api/v1/auth/token/", body={"email": "nobody@example.com", "password": "x"})
        assert answer.status == 429
        assert answer.json()["code"] == "throttled"
        assert int(answer.headers["Retry-After"]) > 0


def test_a_sign_in_lockout_on_one_server_holds_on_the_other(serve: Any) -> None:
    """Wrong passwords spread over both servers lock the account on both, even for the right one."""
    patient = PatientFactory()
    _signs_in_anywhere(patient.user)
    first, second = _two_servers(serve, AXES_FAILURE_LIMIT="3", THROTTLE_TOKEN="1000/hour")

    assert _token(first, patient.email, "wrong-1") == 400
    assert _token(second, patient.email, "wrong-2") == 400
    assert _token(first, patient.email, "wrong-3") == 429  # the third failure locks

    assert _token(second, patient.email, PASSWORD) == 429
    assert _token(first, patient.email, PASSWORD) == 429


def test_a_token_from_one_server_works_on_the_other_and_a_sign_out_ends_it_on_both(serve: Any) -> None:
    patient = PatientFactory()
    _signs_in_anywhere(patient.user)
    first, second = _two_servers(serve)

    answer = first.request("POST", "/api/v1/auth/token/", body={"email": patient.email, "password": PASSWORD})
    assert answer.status == 200
    auth = {"Authorization": f"Bearer {answer.json()['token']}"}

    me = second.get("/api/v1/me/", headers=auth)
    assert me.status == 200
    assert me.json()["full_name"] == patient.full_name

    assert second.request("POST", "/api/v1/auth/logout/", headers=auth).status == 204
    assert first.get("/api/v1/me/", headers=auth).status == 401


def test_a_staff_session_started_on_one_server_is_served_by_the_other(serve: Any) -> None:
    _signs_in_anywhere(UserFactory(username="desk@example.com", email="desk@example.com", role="receptionist"))
    first, second = _two_servers(serve, CLINIC_SECOND_FACTOR_ROLES="")
    # One browser: cookies are kept per host name, not per port, so both servers see them.
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    with browser.open(first.base + "/accounts/login/", timeout=10) as page:
        form = page.read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert csrf, "the sign-in form carries a CSRF token"
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf.group(1), "username": "desk@example.com", "password": PASSWORD}
    ).encode()
    signing_in = urllib.request.Request(
        first.base + "/accounts/login/", data=body, headers={"Referer": first.base + "/accounts/login/"}
    )
    with browser.open(signing_in, timeout=10) as landed:
        assert "/accounts/login/" not in landed.url

    with browser.open(second.base + "/staff/", timeout=10) as staff_page:
        assert staff_page.status == 200
        assert "/accounts/login/" not in staff_page.url

    # Without the session, the other server sends the visitor to sign in.
    stranger = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with stranger.open(second.base + "/staff/", timeout=10) as redirected:
        assert "/accounts/login/" in redirected.url
