"""The load test's users: patients browsing and booking through the API, staff on their pages.

Run by bench/load.py, which seeds the database and writes the fixture this
file reads (LOAD_FIXTURE: the bookable treatments, the patients' and staff's
sign-ins, the patient ids whose charts staff open). LOAD_HOSTS, when set, is a
comma-separated list of base URLs: the users are dealt round-robin between
them, as a load balancer would deal new visitors between two web servers.

The measured window starts when every user has signed in: a sign-in checks a
password hash (deliberately slow, about a second of CPU here), and thirty of
them at once would otherwise be most of what a short run measures. Their
figures are written to LOAD_SIGNIN_FILE when the window opens (bench/load.py
prints them apart), Locust's statistics are reset, and the run stops
LOAD_SECONDS later. LOAD_USERS is the number of users Locust starts (-u).

Requests are named by route, not by id, so Locust's table has one row per kind.
A booking answered 409 (another user took the slot between seeing it and
booking it) is what a busy clinic does, not an error: it is counted under
"api: book (taken)" as a success.

Importing locust patches the standard library with gevent: only Locust itself
may import this file, never pytest or the project's packages.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, task
from locust.env import Environment

# Empty when run as a script (`make bench` runs every bench/*.py): see the end of the file.
FIXTURE: dict[str, Any] = (
    json.loads(Path(os.environ["LOAD_FIXTURE"]).read_text()) if "LOAD_FIXTURE" in os.environ else {}
)
HOSTS = [host for host in os.environ.get("LOAD_HOSTS", "").split(",") if host]
_dealt = itertools.count()
_patients = itertools.count()
_staff = itertools.count()
USERS = int(os.environ.get("LOAD_USERS", "0"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
SIGNIN_FILE = os.environ.get("LOAD_SIGNIN_FILE", "")
WAIT = [float(part) for part in os.environ.get("LOAD_WAIT", "0.5,2").split(",")]
_signed_in = 0
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def clinic_today() -> Any:
    """Today in Hong Kong, the clinic's zone (CLINIC_TIME_ZONE's default)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Hong_Kong")).date()


def open_window(environment: Environment) -> None:
    """Everyone has signed in: keep the sign-ins' figures, reset the statistics, stop SECONDS later."""
    runner = environment.runner
    assert runner is not None
    signins = [
        {
            "name": entry.name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.5),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
        }
        for entry in runner.stats.entries.values()
        if entry.name.startswith(("api: sign in", "page: sign"))
    ]
    if SIGNIN_FILE:
        Path(SIGNIN_FILE).write_text(json.dumps(signins))
    runner.stats.reset_all()
    gevent.spawn_later(SECONDS, runner.quit)


class ClinicUser(HttpUser):
    abstract = True

    def __init__(self, environment: Environment) -> None:
        if HOSTS:
            self.host = HOSTS[next(_dealt) % len(HOSTS)]
        super().__init__(environment)

    def on_start(self) -> None:
        global _signed_in
        try:
            self.sign_in()
        finally:
            _signed_in += 1
            if _signed_in == USERS:
                open_window(self.environment)

    def sign_in(self) -> None:
        raise NotImplementedError


class Patient(ClinicUser):
    """A patient on the clinic's app: signs in once, then looks for a time, books, checks, sometimes cancels."""

    weight = 9
    wait_time = between(*WAIT)

    def sign_in(self) -> None:
        self.slots: list[dict[str, Any]] = []
        self.treatment = random.choice(FIXTURE["treatments"])
        self.booked: list[int] = []
        account = FIXTURE["patients"][next(_patients) % len(FIXTURE["patients"])]
        with self.client.post(
            "/api/v1/auth/token/",
            json={"email": account["email"], "password": account["password"]},
            name="api: sign in (token)",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"sign-in answered {response.status_code}")
                self.stop()
                return
            self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def browse(self, days: int, name: str) -> None:
        # From two days ahead: clear of the minimum notice, and cancellable (24 h notice).
        first = clinic_today() + timedelta(days=random.randint(2, 80 - days))
        last = first + timedelta(days=days - 1)
        with self.client.get(
            f"/api/v1/availability/?treatment={self.treatment}&from={first}&to={last}", name=name, catch_response=True
        ) as response:
            if response.status_code == 200:
                self.slots = response.json()["slots"]

    @task(6)
    def availability_week(self) -> None:
        self.browse(7, "api: availability (week)")

    @task(2)
    def availability_month(self) -> None:
        self.browse(28, "api: availability (month)")

    @task(2)
    def booking_page(self) -> None:
        self.client.get(f"/book/?treatment={self.treatment}&practitioner=any", name="page: book (calendar)")

    @task(3)
    def book(self) -> None:
        if len(self.booked) >= 3:  # a patient holds a few visits, not hundreds: free one first
            self.cancel()
            return
        if not self.slots:
            self.availability_week()
            return
        slot = self.slots.pop(random.randrange(len(self.slots)))
        body = {"treatment": self.treatment, "start": slot["start"], "practitioner": slot["practitioner"]}
        with self.client.post("/api/v1/appointments/", json=body, name="api: book", catch_response=True) as response:
            if response.status_code == 201:
                self.booked.append(response.json()["id"])
            elif response.status_code == 409:
                response.request_meta["name"] = "api: book (taken)"
                response.success()

    @task(2)
    def me(self) -> None:
        self.client.get("/api/v1/me/", name="api: me")

    @task(2)
    def my_appointments(self) -> None:
        self.client.get("/api/v1/appointments/", name="api: my appointments")

    @task(1)
    def cancel(self) -> None:
        if self.booked:
            appointment = self.booked.pop(random.randrange(len(self.booked)))
            self.client.post(
                f"/api/v1/appointments/{appointment}/cancel/",
                json={"reason": "Load test"},
                name="api: cancel",
            )


class Staff(ClinicUser):
    """A receptionist or practitioner at the desk: signs in on the login page, then the schedule and charts."""

    weight = 1
    # LOAD_STAFF of the users are staff (Locust's fixed_count), so even a tiny run signs one in; else by weight.
    fixed_count = int(os.environ.get("LOAD_STAFF", "0"))
    wait_time = between(2 * WAIT[0], 2 * WAIT[1])  # staff read a page for longer

    def sign_in(self) -> None:
        account = FIXTURE["staff"][next(_staff) % len(FIXTURE["staff"])]
        form = self.client.get("/accounts/login/", name="page: sign-in form")
        token = CSRF.search(form.text)
        with self.client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": account["email"],
                "password": account["password"],
            },
            name="page: sign in",
            catch_response=True,
        ) as response:
            if not response.url.endswith("/staff/"):
                response.failure(f"sign-in ended on {response.url} ({response.status_code})")
                self.stop()

    def page(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.ok and "/accounts/login/" in response.url:  # a lost session lands on the sign-in page
                response.failure("redirected to the sign-in page")

    @task(4)
    def day(self) -> None:
        date = clinic_today() + timedelta(days=random.randint(0, 6))
        self.page(f"/staff/?date={date}", "staff: schedule (day)")

    @task(1)
    def week(self) -> None:
        self.page(f"/staff/?date={clinic_today()}&view=week", "staff: schedule (week)")

    @task(3)
    def chart(self) -> None:
        self.page(f"/staff/patients/{random.choice(FIXTURE['charts'])}/", "staff: patient chart")


if __name__ == "__main__":
    print("bench/locustfile.py holds the load test's users; bench/load.py seeds a database and runs it.")
