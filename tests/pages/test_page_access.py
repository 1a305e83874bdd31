"""Who reaches which page, for every page in the URL configuration.

The pages are discovered from the four page namespaces, so a page added later
is covered without anyone remembering to list it: every staff page refuses
anonymous visitors (sign-in redirect) and patients (403), and every page that
is not in ``PUBLIC`` sends anonymous visitors to sign in. Object ids in the
URLs point at nothing: the role check comes before the object is looked up, so
the answer cannot depend on the object either. Each area's own tests check
the allowed roles and the patient-versus-patient cases with real objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

STAFF_NAMESPACES = {"staff", "chart", "security", "consents", "webhooks", "packages", "money"}
PATIENT_NAMESPACES = {"site", "account"}
# Pages anyone may open without signing in.
PUBLIC = {
    "site:home",
    "site:treatments",
    "site:treatment",
    "site:book",
    "site:register",
    # A practitioner's photo: public content, like the treatment page it appears on.
    "site:practitioner_photo",
    "site:register_check",  # one registration field checked as it is left (POST only)
    "account:login",
    "account:logout",
    "account:password_reset",
    "account:password_reset_confirm",
    # The link in the email confirming a new address: the signed token is the proof.
    "account:email_change_confirm",
    # The link in a pre-care email: the signed token is the proof; a GET changes nothing.
    "site:pre_care",
    # The "I'm coming" link in a reminder email: the signed token is the proof; a GET changes nothing.
    "site:visit_confirm",
}
_ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")
_SAMPLE = {"int": "987654", "slug": "no-such-thing", "str": "nothing", "path": "nothing", None: "nothing"}


def _pages() -> Iterator[tuple[str, str]]:
    def walk(patterns: list, prefix: str, namespace: str | None) -> Iterator[tuple[str, str]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace in STAFF_NAMESPACES | PATIENT_NAMESPACES and entry.name:
                route = prefix + str(entry.pattern)
                yield f"{namespace}:{entry.name}", "/" + _ARGUMENT.sub(lambda m: _SAMPLE.get(m.group(1), "x"), route)

    return walk(get_resolver().url_patterns, "", None)


PAGES = sorted(set(_pages()))


def test_the_page_list_is_not_empty() -> None:
    names = {name for name, _ in PAGES}
    assert {"staff:schedule", "chart:patient", "site:book", "account:progress"} <= names


@pytest.mark.parametrize(("name", "url"), [p for p in PAGES if p[0].split(":")[0] in STAFF_NAMESPACES])
def test_no_staff_page_for_anonymous_visitors_or_patients(client, name: str, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302, f"{name}: anonymous got {response.status_code}"
    assert response.headers["Location"].startswith("/accounts/login/?next=")

    client.force_login(PatientFactory().user)
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 403, f"{name}: a patient got {response.status_code} on {method.__name__}"


@pytest.mark.parametrize(("name", "url"), [p for p in PAGES if p[0] not in PUBLIC])
def test_private_pages_ask_anonymous_visitors_to_sign_in(client, name: str, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302, f"{name}: anonymous got {response.status_code}"
    assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("name", "url"), PAGES)
def test_every_page_is_built(client, name: str, url: str) -> None:
    """No placeholder left: each page answers a signed-in user of some role with a real page
    (or a redirect, or a 404 for the made-up object id), never 501 or 500."""
    statuses = set()
    for user in (UserFactory(role="manager"), PatientFactory().user):
        client.force_login(user)
        statuses.add(client.get(url).status_code)
    assert statuses & {200, 302, 303, 404, 405}, f"{name}: {statuses}"
    assert not statuses & {500, 501}, f"{name}: {statuses}"
