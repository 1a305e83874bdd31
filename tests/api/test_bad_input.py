"""Bad input on every write endpoint: a 400 (or 404, 415) in the envelope, and nothing written.

Each endpoint has a valid body (``test_each_valid_body_succeeds`` proves it
succeeds), and each case changes one thing in it, so the refusal is about that
one thing. Every case asserts the status, the ``code``, the field named in
``fields`` where there is one, and that no row changed: the counts of
appointments, patients, users, declarations and tokens, patient A's record and
login, and A's appointment.

The garbage sweep at the end posts odd values in every field, one field at a
time and all at once, and odd whole bodies, to every write endpoint: nothing
may answer 500 (docs/architecture.md, Errors: no client input of any shape may
produce a 500).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken
from rest_framework.test import APIClient

from booking import services, webhooks
from booking.models import (
    Appointment,
    CalendarFeed,
    LedgerEntry,
    Package,
    PackageOffer,
    Practitioner,
    WaitlistEntry,
    WaitlistOffer,
    WebhookSubscription,
)
from patients.models import ChannelChoice, HealthDeclaration, ImportantDate, Patient
from tests.api.clinical import DECLARATION
from tests.api.conftest import client_for, next_weekday_at
from tests.factories import (
    PractitionerFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

HUGE = "x" * 100_000
PUBLIC_HOOK = "https://93.184.215.14/hooks"  # a public address: no name to look up
STRONG_PASSWORD = "a-Strong-passphrase-42"
PATIENT_PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory


# --- the world every case starts from ---------------------------------------------------


@dataclass
class Ctx:
    treatment: Treatment
    inactive: Treatment
    practitioner: Practitioner
    unqualified: Practitioner
    patient_a: Patient
    patient_b: Patient
    appointment: Appointment  # A's, booked by A, days away (A may still move or cancel it)
    day: date  # the appointment's date, a weekday
    reset_user: User
    clients: dict[str, APIClient]
    entry: WaitlistEntry  # B's, waiting for the appointment's day (staff may offer it a time by hand)
    webhook: WebhookSubscription  # the clinic's subscription (managers only)

    def at(self, hour: int, minute: int = 0, second: int = 0, *, day: date | None = None) -> datetime:
        return timezone.make_aware(datetime.combine(day or self.day, time(hour, minute, second)))


@pytest.fixture
def ctx(peel: Treatment, practitioner: Practitioner, patient_a: Patient, patient_b: Patient) -> Ctx:
    start = next_weekday_at(10, days_ahead=5)
    appointment = services.appointment_book(
        patient=patient_a, treatment=peel, start=start, practitioner=None, booked_by=patient_a.user, staff=False
    )
    staff = UserFactory(role="receptionist")
    manager = UserFactory(role="manager")
    return Ctx(
        treatment=peel,
        inactive=TreatmentFactory(slug="retired-laser", active=False),
        practitioner=practitioner,
        unqualified=PractitionerFactory(treatments=[TreatmentFactory(slug="other-peel")]),
        patient_a=patient_a,
        patient_b=patient_b,
        appointment=appointment,
        day=timezone.localdate(start),
        reset_user=UserFactory(),
        clients={
            "anonymous": APIClient(),
            "patient": client_for(patient_a.user),
            "staff": client_for(staff),
            "manager": client_for(manager),
        },
        entry=WaitlistEntry.objects.create(
            patient=patient_b, treatment=peel, earliest=timezone.localdate(start), latest=timezone.localdate(start)
        ),
        webhook=webhooks.subscription_create(url=PUBLIC_HOOK, events=["appointment.created"], by=manager),
    )


# --- the write endpoints and their valid bodies -----------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # "{patient}" / "{appointment}" are patient A's and A's appointment
    actor: str  # anonymous, patient (A), staff (a receptionist), manager
    valid: Callable[[Ctx], dict[str, Any]]
    success: int
    optional: tuple[str, ...] = ()  # fields the valid body leaves out


def _package_offer(c: Ctx) -> PackageOffer:
    return PackageOffer.objects.get_or_create(
        treatment=c.treatment, name_en="Peel x 3", defaults={"name_zh_hant": "果酸 3次", "sessions": 3, "price": 2400}
    )[0]


ENDPOINTS: dict[str, Endpoint] = {
    "register": Endpoint(
        "post",
        "/api/v1/auth/register/",
        "anonymous",
        lambda c: {
            "email": "new.patient@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "New Patient",
            "date_of_birth": "1990-01-01",
            "phone": "+852 9123 4567",
            "preferred_language": "en",
        },
        201,
    ),
    "token": Endpoint(
        "post",
        "/api/v1/auth/token/",
        "anonymous",
        lambda c: {"email": c.patient_a.email, "password": PATIENT_PASSWORD},
        200,
    ),
    "password-reset": Endpoint(
        "post", "/api/v1/auth/password-reset/", "anonymous", lambda c: {"email": c.patient_a.email}, 202
    ),
    "password-reset-confirm": Endpoint(
        "post",
        "/api/v1/auth/password-reset/confirm/",
        "anonymous",
        lambda c: {
            "uid": urlsafe_base64_encode(force_bytes(c.reset_user.pk)),
            "token": default_token_generator.make_token(c.reset_user),
            "password": STRONG_PASSWORD,
        },
        200,
    ),
    "me": Endpoint(
        "patch",
        "/api/v1/me/",
        "patient",
        lambda c: {"full_name": "Alice C"},
        200,
        optional=("email", "date_of_birth", "phone", "preferred_language", "reminders_opt_out", "fitzpatrick_type"),
    ),
    "me-channels": Endpoint(
        "put", "/api/v1/me/channels/", "patient", lambda c: {"topics": {"reminders": ["email"], "care": ["email"]}}, 200
    ),
    "patient-channels": Endpoint(
        "put",
        "/api/v1/patients/{patient}/channels/",
        "staff",
        lambda c: {"topics": {"reminders": [], "confirmations": ["email"]}},
        200,
    ),
    "me-declarations": Endpoint(
        "post",
        "/api/v1/me/health-declarations/",
        "patient",
        lambda c: dict(DECLARATION),
        201,
        optional=("allergies", "allergies_other"),
    ),
    "me-dates": Endpoint(
        "post",
        "/api/v1/me/dates/",
        "patient",
        lambda c: {"starts_on": _in_days(30), "label": "Wedding"},
        201,
        optional=("ends_on",),
    ),
    "patients": Endpoint(
        "post",
        "/api/v1/patients/",
        "staff",
        lambda c: {"full_name": "Walk In", "date_of_birth": "1990-01-01", "phone": "+852 9123 4568"},
        201,
        optional=("email", "preferred_language", "fitzpatrick_type", "reminders_opt_out"),
    ),
    "patient-detail": Endpoint(
        "patch",
        "/api/v1/patients/{patient}/",
        "staff",
        lambda c: {"full_name": "Alice C"},
        200,
        optional=("email", "date_of_birth", "phone", "preferred_language", "fitzpatrick_type", "reminders_opt_out"),
    ),
    "patient-declarations": Endpoint(
        "post",
        "/api/v1/patients/{patient}/health-declarations/",
        "staff",
        lambda c: dict(DECLARATION),
        201,
        optional=("allergies", "allergies_other"),
    ),
    "screening": Endpoint(
        "post",
        "/api/v1/screening/",
        "patient",
        lambda c: {"treatment": c.treatment.slug, "start": c.at(11).isoformat()},
        200,
    ),
    "screening-staff": Endpoint(
        "post",
        "/api/v1/screening/",
        "staff",
        lambda c: {"treatment": c.treatment.slug, "patient": c.patient_a.pk},
        200,
        optional=("start",),
    ),
    "appointments": Endpoint(
        "post",
        "/api/v1/appointments/",
        "patient",
        lambda c: {"treatment": c.treatment.slug, "start": c.at(11).isoformat()},
        201,
        optional=("practitioner", "plan_session", "notes"),
    ),
    "appointments-staff": Endpoint(
        "post",
        "/api/v1/appointments/",
        "staff",
        lambda c: {"treatment": c.treatment.slug, "start": c.at(14).isoformat(), "patient": c.patient_b.pk},
        201,
        optional=("practitioner", "plan_session", "notes", "override_reason"),
    ),
    "reschedule": Endpoint(
        "post",
        "/api/v1/appointments/{appointment}/reschedule/",
        "patient",
        lambda c: {"start": c.at(15).isoformat()},
        200,
        optional=("practitioner",),
    ),
    "cancel": Endpoint(
        "post",
        "/api/v1/appointments/{appointment}/cancel/",
        "patient",
        lambda c: {"reason": "Travelling"},
        200,
    ),
    "deposit": Endpoint(
        "post",
        "/api/v1/appointments/{appointment}/deposit/",
        "staff",
        lambda c: {"method": "cash", "amount": "100.00", "idempotency_key": "desk-form-1"},
        200,
        optional=("amount",),
    ),
    "waitlist": Endpoint(
        "post",
        "/api/v1/waitlist/",
        "patient",
        lambda c: {"treatment": c.treatment.slug, "earliest": c.day.isoformat(), "latest": c.day.isoformat()},
        201,
        optional=("practitioner", "parts"),
    ),
    "waitlist-staff": Endpoint(
        "post",
        "/api/v1/waitlist/",
        "staff",
        lambda c: {
            "treatment": c.treatment.slug,
            "earliest": c.day.isoformat(),
            "latest": c.day.isoformat(),
            "patient": c.patient_a.pk,
        },
        201,
        optional=("practitioner", "parts"),
    ),
    "waitlist-offer-by-hand": Endpoint(
        "post",
        "/api/v1/waitlist/{entry}/offer/",
        "staff",
        lambda c: {"start": c.at(16).isoformat()},
        201,
        optional=("practitioner",),
    ),
    "package-sell": Endpoint(
        "post",
        "/api/v1/patients/{patient}/packages/",
        "staff",
        lambda c: {"offer": _package_offer(c).pk, "method": "cash", "idempotency_key": "desk-sale-1"},
        201,
        optional=("plan",),
    ),
    "webhooks": Endpoint(
        "post",
        "/api/v1/webhooks/",
        "manager",
        lambda c: {"url": PUBLIC_HOOK, "events": ["appointment.created", "patient.created"]},
        201,
        optional=("clinical", "active", "description"),
    ),
    "webhook-detail": Endpoint(
        "patch",
        "/api/v1/webhooks/{webhook}/",
        "manager",
        lambda c: {"description": "Our CRM"},
        200,
        optional=("url", "events", "clinical", "active"),
    ),
    # The desk records money on a patient's ledger (booking/ledger_apis.py).
    "patient-ledger": Endpoint(
        "post",
        "/api/v1/patients/{patient}/ledger/",
        "staff",
        lambda c: {"kind": "payment", "amount": "100.00", "method": "cash", "idempotency_key": "desk-1"},
        201,
        optional=("reverses", "note"),
    ),
    # Makes or resets the patient's calendar feed (an empty body is as good: the language is optional).
    "me-calendar-feed": Endpoint("post", "/api/v1/me/calendar-feed/", "patient", lambda c: {"language": "en"}, 201),
}


def path_of(endpoint: Endpoint, c: Ctx, path: str | None = None) -> str:
    return (path or endpoint.path).format(
        patient=c.patient_a.pk, appointment=c.appointment.pk, entry=c.entry.pk, webhook=c.webhook.pk
    )


def snapshot(c: Ctx) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "appointments": Appointment.objects.count(),
        "patients": Patient.objects.count(),
        "users": User.objects.count(),
        "declarations": HealthDeclaration.objects.count(),
        "important dates": ImportantDate.objects.count(),
        "channel choices": list(ChannelChoice.objects.order_by("pk").values_list("patient_id", "topic", "channel")),
        "tokens": AuthToken.objects.count(),
        "patient a": Patient.objects.filter(pk=c.patient_a.pk)
        .values(
            "full_name",
            "email",
            "phone",
            "date_of_birth",
            "preferred_language",
            "fitzpatrick_type",
            "reminders_opt_out",
            "user_id",
        )
        .get(),
        "passwords": dict(
            User.objects.filter(pk__in=[c.patient_a.user_id, c.reset_user.pk]).values_list("pk", "password")
        ),
        "waitlist": list(WaitlistEntry.objects.order_by("pk").values_list("pk", "status", "earliest", "latest")),
        "offers": WaitlistOffer.objects.count(),
        "packages": list(Package.objects.order_by("pk").values_list("pk", "status")),
        "webhooks": list(
            WebhookSubscription.objects.order_by("pk").values_list(
                "pk", "url", "events", "clinical", "active", "description", "secret"
            )
        ),
        "calendar feeds": list(CalendarFeed.objects.order_by("pk").values_list("pk", "token", "revoked_at")),
        "ledger": list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount", "reversed_amount")),
        "appointment": Appointment.objects.filter(pk=c.appointment.pk)
        .values("status", "start", "practitioner_id", "room_id", "sequence", "cancellation_reason", "notes")
        .get(),
    }


def send(
    client: APIClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | str | None = None,
    content_type: str = "application/json",
) -> Any:
    if raw is not None:
        return client.generic(method.upper(), path, raw, content_type=content_type)
    return client.generic(method.upper(), path, json.dumps(body), content_type=content_type)


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.content[:500]!r}"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert set(body) <= {"code", "detail", "fields"}, body
    if field is not None:
        names = list(body.get("fields", {}))
        assert any(name == field or name.startswith(f"{field}.") for name in names), (field, body)
    return body


# --- the cases --------------------------------------------------------------------------

Change = dict[str, Any] | Callable[[Ctx], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    change: Change  # merged into the valid body; a value that is a callable is called with the ctx
    status: int = 400
    code: str = "invalid"
    field: str | None = None
    remove: tuple[str, ...] = ()
    path: str | None = None


def bad(endpoint: str, name: str, change: Change, field: str | None = None, **kwargs: Any) -> Any:
    """An invalid value: 400 invalid naming ``field`` (by default the one changed)."""
    if field is None and isinstance(change, dict) and len(change) == 1:
        field = next(iter(change))
    case = Case(endpoint, name, change, field=field, **kwargs)
    return pytest.param(case, id=f"{endpoint}-{name}")


def not_bookable(endpoint: str, name: str, change: Change) -> Any:
    return pytest.param(Case(endpoint, name, change, code="not_bookable"), id=f"{endpoint}-{name}")


def not_found(endpoint: str, name: str, path: str) -> Any:
    return pytest.param(Case(endpoint, name, {}, status=404, code="not_found", path=path), id=f"{endpoint}-{name}")


def start(make: Callable[[Ctx], datetime | str]) -> Callable[[Ctx], dict[str, Any]]:
    def change(c: Ctx) -> dict[str, Any]:
        value = make(c)
        return {"start": value if isinstance(value, str) else value.isoformat()}

    return change


def _in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


def _yesterday_at_ten(c: Ctx) -> datetime:
    return c.at(10, day=timezone.localdate() - timedelta(days=1))


def _inside_notice(c: Ctx) -> datetime:
    """On the grid, one hour or so from now: inside the 2-hour minimum notice."""
    soon = timezone.localtime() + timedelta(hours=1)
    return soon.replace(minute=soon.minute // 15 * 15, second=0, microsecond=0)


def _days_ahead(days: int) -> Callable[[Ctx], datetime]:
    return lambda c: next_weekday_at(10, days_ahead=days)


def _next_sunday(c: Ctx) -> datetime:
    day = timezone.localdate() + timedelta(days=3)
    while day.weekday() != 6:
        day += timedelta(days=1)
    return c.at(10, day=day)


def _other_offset(c: Ctx) -> str:
    """11:00 in the clinic's zone, written with a -05:00 offset: valid and bookable."""
    return c.at(11).astimezone(timezone.get_fixed_timezone(-300)).isoformat()


BIG_ID = 10**20  # fits no database integer
UNKNOWN_ID = 999_999_999

TEXT_CASES = [  # (name, value) for a text field
    ("list", ["x"]),
    ("object", {"x": 1}),
    ("huge", HUGE),
    ("nul", "Al\x00ice"),
]

CASES = [
    # the desk's ledger
    bad("patient-ledger", "amount-number", {"amount": 100}),
    bad("patient-ledger", "amount-exponent", {"amount": "1e3"}),
    bad("patient-ledger", "amount-arabic-digits", {"amount": "١٢٣"}),
    bad("patient-ledger", "amount-fraction-of-a-cent", {"amount": "1.005"}),
    bad("patient-ledger", "amount-zero", {"amount": "0.00"}),
    bad("patient-ledger", "kind-fee", {"kind": "fee"}),
    bad("patient-ledger", "method-online", {"method": "online"}),
    bad("patient-ledger", "refund-without-payment", {"kind": "refund"}, field="reverses"),
    bad("patient-ledger", "refund-unknown-payment", {"kind": "refund", "reverses": UNKNOWN_ID}, field="reverses"),
    bad("patient-ledger", "reverses-fraction", {"kind": "refund", "reverses": 1.5}, field="reverses"),
    bad("patient-ledger", "key-empty", {"idempotency_key": ""}),
    bad("patient-ledger", "key-huge", {"idempotency_key": "k" * 101}),
    not_found("patient-ledger", "unknown-patient", f"/api/v1/patients/{UNKNOWN_ID}/ledger/"),
    # register
    bad("register", "date-object", {"date_of_birth": {"year": 1990}}),
    bad("register", "date-impossible", {"date_of_birth": "1990-02-30"}),
    bad("register", "date-future", {"date_of_birth": _tomorrow()}),
    bad("register", "date-as-datetime", {"date_of_birth": "1990-01-01T00:00:00+08:00"}),
    *(bad("register", f"full-name-{n}", {"full_name": v}) for n, v in TEXT_CASES),
    bad("register", "email-list", {"email": ["new.patient@example.com"]}),
    bad("register", "email-huge", {"email": HUGE + "@example.com"}),
    bad("register", "email-nul", {"email": "new\x00@example.com"}),
    bad("register", "email-taken", lambda c: {"email": c.patient_a.email.upper()}, field="email"),
    bad("register", "password-huge", {"password": HUGE}),
    bad("register", "password-nul", {"password": "a-Strong-\x00passphrase"}),
    bad("register", "password-weak", {"password": "password"}),
    bad("register", "language-number", {"preferred_language": 1}),
    bad("register", "language-unknown", {"preferred_language": "fr"}),
    bad("register", "phone-not-a-phone", {"phone": "call me maybe"}),
    bad("register", "phone-missing", {}, field="phone", remove=("phone",)),
    # token
    bad("token", "email-list", {"email": ["x@example.com"]}),
    bad("token", "email-huge", {"email": HUGE}),
    bad("token", "password-object", {"password": {}}),
    bad("token", "password-huge", {"password": HUGE}),
    bad("token", "password-nul", {"password": "correct\x00horse"}),
    bad("token", "password-wrong", {"password": "not-the-password"}),
    bad("token", "email-unknown", {"email": "nobody@example.com"}, field="password"),
    # password reset
    bad("password-reset", "email-object", {"email": {}}),
    bad("password-reset", "email-number", {"email": 42}),
    bad("password-reset", "email-huge", {"email": HUGE}),
    bad("password-reset", "email-nul", {"email": "a\x00@example.com"}),
    bad("password-reset-confirm", "uid-list", {"uid": ["MQ"]}),
    bad("password-reset-confirm", "uid-nul", {"uid": "M\x00Q"}),
    bad("password-reset-confirm", "uid-garbage", {"uid": "!!not-base64!!"}, field="token"),
    bad("password-reset-confirm", "uid-huge-number", {"uid": urlsafe_base64_encode(b"9" * 40)}, field="token"),
    bad("password-reset-confirm", "token-huge", {"token": HUGE}),
    bad("password-reset-confirm", "token-wrong", {"token": "abc-0123456789abcdef"}, field="token"),
    bad("password-reset-confirm", "password-nul", {"password": "a-Strong-\x00passphrase"}),
    bad("password-reset-confirm", "password-weak", {"password": "12345678"}),
    # the signed-in patient's profile
    *(bad("me", f"full-name-{n}", {"full_name": v}) for n, v in TEXT_CASES),
    bad("me", "bool-string", {"reminders_opt_out": "maybe"}),
    bad("me", "bool-number", {"reminders_opt_out": 2}),
    bad("me", "date-object", {"date_of_birth": {}}),
    bad("me", "date-future", {"date_of_birth": _tomorrow()}),
    bad("me", "language-unknown", {"preferred_language": "fr"}),
    bad("me", "email-blank-with-login", {"email": ""}),
    bad("me", "email-invalid", {"email": "not-an-email"}),
    # how the patient is contacted (the same rules for the staff door)
    *(
        bad(endpoint, name, {"topics": topics}, field="topics")
        for endpoint in ("me-channels", "patient-channels")
        for name, topics in (
            ("topics-list", ["email"]),
            ("topics-string", "email"),
            ("topics-null", None),
            ("topic-unknown", {"birthdays": ["email"]}),
            ("topic-huge", {HUGE: ["email"]}),
            ("channels-string", {"reminders": "email"}),
            ("channel-unknown", {"reminders": ["pigeon"]}),
            ("channel-number", {"reminders": [1]}),
            ("channel-null", {"reminders": [None]}),
            ("channel-twice", {"reminders": ["email", "email"]}),
            ("channels-too-many", {"reminders": ["email", "sms", "whatsapp", "email"]}),
            ("channel-not-offered", {"reminders": ["whatsapp"]}),
            ("transactional-empty", {"confirmations": []}),
            ("care-empty", {"care": []}),
            ("waitlist-empty", {"waitlist_offers": []}),
        )
    ),
    bad("me-channels", "topics-missing", {}, field="topics", remove=("topics",)),
    not_found("patient-channels", "unknown-id", f"/api/v1/patients/{UNKNOWN_ID}/channels/"),
    not_found("patient-channels", "huge-id", f"/api/v1/patients/{BIG_ID}/channels/"),
    # Another patient's email is not refused here: a patient's new email waits for a
    # confirmation link, and the answer never says whether an address is in use
    # (tests/api/test_email_change.py).
    bad("me", "phone-huge", {"phone": "1" * 100_000}),
    bad("me", "phone-list", {"phone": ["+85291234567"]}),
    # the signed-in patient's declarations
    bad("me-declarations", "bool-string", {"pregnant_or_breastfeeding": "maybe"}),
    bad("me-declarations", "bool-number", {"keloid_tendency": 2}),
    bad("me-declarations", "bool-null", {"active_acne": None}),
    bad("me-declarations", "bool-missing", {}, field="active_acne", remove=("active_acne",)),
    bad("me-dates", "date-object", {"starts_on": {}}),
    bad("me-dates", "date-number", {"starts_on": 20261212}),
    bad("me-dates", "date-impossible", {"starts_on": "2026-02-30"}),
    bad("me-dates", "date-past", {"starts_on": _in_days(-1)}),
    bad("me-dates", "date-too-far", {"starts_on": _in_days(800)}),
    bad("me-dates", "ends-before-start", {"ends_on": _in_days(29)}),
    bad("me-dates", "date-missing", {}, field="starts_on", remove=("starts_on",)),
    bad("me-dates", "label-missing", {}, field="label", remove=("label",)),
    bad("me-dates", "label-blank", {"label": "   "}),
    bad("me-dates", "label-too-long", {"label": "x" * 81}),
    *(bad("me-dates", f"label-{n}", {"label": v}) for n, v in TEXT_CASES),
    bad("me-declarations", "date-object", {"isotretinoin_last_dose": {}}),
    bad("me-declarations", "date-future", {"isotretinoin_last_dose": _tomorrow()}),
    bad("me-declarations", "date-impossible", {"topical_retinoid_last_use": "2026-13-01"}),
    bad("me-declarations", "allergies-string", {"allergies": "lidocaine"}),
    bad("me-declarations", "allergies-unknown", {"allergies": ["peanut"]}),
    bad("me-declarations", "allergies-huge", {"allergies": ["lidocaine"] * 10_000}),
    *(bad("me-declarations", f"allergies-other-{n}", {"allergies_other": v}) for n, v in TEXT_CASES),
    # staff: patients
    *(bad("patients", f"full-name-{n}", {"full_name": v}) for n, v in TEXT_CASES),
    bad("patients", "date-object", {"date_of_birth": {}}),
    bad("patients", "phone-invalid", {"phone": "abc"}),
    bad("patients", "email-invalid", {"email": "x"}),
    bad("patients", "email-taken", lambda c: {"email": c.patient_a.email}, field="email"),
    bad("patients", "language-number", {"preferred_language": 3}),
    bad("patients", "bool-string", {"reminders_opt_out": "maybe"}),
    bad("patients", "fitzpatrick-out-of-range", {"fitzpatrick_type": 9}),
    bad("patients", "fitzpatrick-string", {"fitzpatrick_type": "three"}),
    bad("patient-detail", "full-name-nul", {"full_name": "Al\x00ice"}),
    bad("patient-detail", "full-name-huge", {"full_name": HUGE}),
    bad("patient-detail", "phone-list", {"phone": ["+85291234567"]}),
    bad("patient-detail", "date-future", {"date_of_birth": _tomorrow()}),
    bad("patient-detail", "fitzpatrick-zero", {"fitzpatrick_type": 0}),
    bad("patient-detail", "email-of-another-patient", lambda c: {"email": c.patient_b.email}, field="email"),
    bad("patient-detail", "email-blank-with-login", {"email": ""}),
    not_found("patient-detail", "unknown-id", f"/api/v1/patients/{UNKNOWN_ID}/"),
    not_found("patient-detail", "huge-id", f"/api/v1/patients/{BIG_ID}/"),
    bad("patient-declarations", "bool-string", {"keloid_tendency": "perhaps"}),
    bad("patient-declarations", "date-object", {"isotretinoin_last_dose": {}}),
    bad("patient-declarations", "allergies-other-nul", {"allergies_other": "latex\x00"}),
    bad("patient-declarations", "allergies-other-huge", {"allergies_other": HUGE}),
    not_found("patient-declarations", "unknown-id", f"/api/v1/patients/{UNKNOWN_ID}/health-declarations/"),
    not_found("patient-declarations", "huge-id", f"/api/v1/patients/{BIG_ID}/health-declarations/"),
    # screening
    bad("screening", "treatment-number", {"treatment": 42}),
    bad("screening", "treatment-list", {"treatment": ["peel-superficial"]}),
    bad("screening", "treatment-unknown", {"treatment": "no-such-treatment"}),
    bad("screening", "treatment-inactive", lambda c: {"treatment": c.inactive.slug}, field="treatment"),
    bad("screening", "start-naive", lambda c: {"start": c.at(11).replace(tzinfo=None).isoformat()}, field="start"),
    bad("screening", "start-object", {"start": {}}),
    bad("screening", "start-huge", {"start": HUGE}),
    bad("screening", "start-nul", lambda c: {"start": c.at(11).isoformat() + "\x00"}, field="start"),
    bad("screening", "patient-sends-patient", lambda c: {"patient": c.patient_a.pk}, field="patient"),
    bad("screening-staff", "patient-unknown", {"patient": UNKNOWN_ID}),
    bad("screening-staff", "patient-huge", {"patient": BIG_ID}),
    bad("screening-staff", "patient-string", {"patient": "abc"}),
    bad("screening-staff", "patient-missing", {}, field="patient", remove=("patient",)),
    # booking, as a patient
    bad("appointments", "start-naive", lambda c: {"start": c.at(11).replace(tzinfo=None).isoformat()}, field="start"),
    bad("appointments", "start-date-only", lambda c: {"start": c.day.isoformat()}, field="start"),
    bad("appointments", "start-object", {"start": {"hour": 10}}),
    bad("appointments", "start-list", {"start": []}),
    bad("appointments", "start-number", {"start": 1_767_225_600}),
    bad("appointments", "start-huge", {"start": HUGE}),
    bad("appointments", "start-nul", lambda c: {"start": c.at(11).isoformat() + "\x00"}, field="start"),
    bad("appointments", "start-impossible", {"start": "2026-02-30T10:00:00+08:00"}),
    bad("appointments", "start-year-9999", {"start": "9999-12-31T23:45:00+08:00"}),
    bad("appointments", "start-year-1", {"start": "0001-01-01T00:00:00+14:00"}),
    bad("appointments", "start-missing", {}, field="start", remove=("start",)),
    bad("appointments", "treatment-number", {"treatment": 42}),
    bad("appointments", "treatment-list", {"treatment": ["peel-superficial"]}),
    bad("appointments", "treatment-unknown", {"treatment": "no-such-treatment"}),
    bad("appointments", "treatment-inactive", lambda c: {"treatment": c.inactive.slug}, field="treatment"),
    bad("appointments", "treatment-huge", {"treatment": HUGE}),
    bad("appointments", "treatment-nul", {"treatment": "peel-superficial\x00"}),
    bad("appointments", "practitioner-unknown", {"practitioner": UNKNOWN_ID}),
    bad("appointments", "practitioner-huge", {"practitioner": BIG_ID}),
    bad("appointments", "practitioner-string", {"practitioner": "abc"}),
    bad("appointments", "practitioner-bool", {"practitioner": True}),
    bad("appointments", "practitioner-object", {"practitioner": {"id": 1}}),
    bad("appointments", "plan-session-unknown", {"plan_session": UNKNOWN_ID}),
    bad("appointments", "plan-session-string", {"plan_session": "first"}),
    *(bad("appointments", f"notes-{n}", {"notes": v}) for n, v in TEXT_CASES),
    bad("appointments", "patient-sends-patient", lambda c: {"patient": c.patient_a.pk}, field="patient"),
    bad("appointments", "patient-sends-override", {"override_reason": "I know best"}),
    bad("appointments", "patient-sends-empty-override", {"override_reason": ""}),
    not_bookable("appointments", "misaligned", start(lambda c: c.at(10, 7))),
    not_bookable("appointments", "seconds-off-grid", start(lambda c: c.at(11, 0, 30))),
    not_bookable("appointments", "past", start(_yesterday_at_ten)),
    not_bookable("appointments", "inside-notice", start(_inside_notice)),
    not_bookable("appointments", "beyond-horizon", start(_days_ahead(100))),
    not_bookable("appointments", "closed-sunday", start(_next_sunday)),
    not_bookable("appointments", "outside-hours", start(lambda c: c.at(3))),
    not_bookable("appointments", "lunch-break", start(lambda c: c.at(13))),
    not_bookable(
        "appointments",
        "unqualified-practitioner",
        lambda c: {"practitioner": c.unqualified.pk},
    ),
    # booking, as staff
    bad("appointments-staff", "patient-missing", {}, field="patient", remove=("patient",)),
    bad("appointments-staff", "patient-unknown", {"patient": UNKNOWN_ID}),
    bad("appointments-staff", "patient-huge", {"patient": BIG_ID}),
    bad("appointments-staff", "patient-string", {"patient": "abc"}),
    bad("appointments-staff", "patient-list", {"patient": [1]}),
    bad(
        "appointments-staff",
        "start-naive",
        lambda c: {"start": c.at(14).replace(tzinfo=None).isoformat()},
        field="start",
    ),
    bad("appointments-staff", "override-huge", {"override_reason": HUGE}),
    bad("appointments-staff", "override-nul", {"override_reason": "ok\x00"}),
    bad("appointments-staff", "override-list", {"override_reason": ["ok"]}),
    not_bookable("appointments-staff", "misaligned", start(lambda c: c.at(14, 7))),
    not_bookable("appointments-staff", "past", start(_yesterday_at_ten)),
    not_bookable("appointments-staff", "beyond-staff-horizon", start(_days_ahead(420))),
    not_bookable("appointments-staff", "closed-sunday", start(_next_sunday)),
    # reschedule
    bad("reschedule", "start-naive", lambda c: {"start": c.at(15).replace(tzinfo=None).isoformat()}, field="start"),
    bad("reschedule", "start-object", {"start": {}}),
    bad("reschedule", "start-huge", {"start": HUGE}),
    bad("reschedule", "start-nul", lambda c: {"start": c.at(15).isoformat() + "\x00"}, field="start"),
    bad("reschedule", "start-year-9999", {"start": "9999-12-31T23:45:00+08:00"}),
    bad("reschedule", "start-missing", {}, field="start", remove=("start",)),
    bad("reschedule", "practitioner-unknown", {"practitioner": UNKNOWN_ID}),
    bad("reschedule", "practitioner-string", {"practitioner": "abc"}),
    bad("reschedule", "practitioner-huge", {"practitioner": BIG_ID}),
    not_bookable("reschedule", "misaligned", start(lambda c: c.at(15, 7))),
    not_bookable("reschedule", "past", start(_yesterday_at_ten)),
    not_bookable("reschedule", "beyond-horizon", start(_days_ahead(100))),
    not_bookable("reschedule", "outside-hours", start(lambda c: c.at(22))),
    not_found("reschedule", "unknown-id", f"/api/v1/appointments/{UNKNOWN_ID}/reschedule/"),
    not_found("reschedule", "huge-id", f"/api/v1/appointments/{BIG_ID}/reschedule/"),
    # cancel
    *(bad("cancel", f"reason-{n}", {"reason": v}) for n, v in TEXT_CASES),
    bad("cancel", "reason-number", {"reason": {"code": 1}}),
    bad("deposit", "method-unknown", {"method": "bitcoin"}),
    bad("deposit", "method-online", {"method": "online"}),
    bad("deposit", "method-missing", {}, field="method", remove=("method",)),
    bad("deposit", "amount-negative", {"amount": "-5.00"}),
    bad("deposit", "amount-zero", {"amount": "0"}),
    bad("deposit", "amount-fraction-of-a-cent", {"amount": "1.005"}),
    bad("deposit", "amount-text", {"amount": "lots"}),
    bad("deposit", "key-missing", {}, field="idempotency_key", remove=("idempotency_key",)),
    bad("deposit", "key-too-long", {"idempotency_key": "k" * 101}),
    not_found("cancel", "unknown-id", f"/api/v1/appointments/{UNKNOWN_ID}/cancel/"),
    not_found("cancel", "huge-id", f"/api/v1/appointments/{BIG_ID}/cancel/"),
    # the waitlist: joining
    bad("waitlist", "treatment-unknown", {"treatment": "no-such-treatment"}),
    bad("waitlist", "treatment-number", {"treatment": 1}),
    bad("waitlist", "treatment-inactive", lambda c: {"treatment": c.inactive.slug}, field="treatment"),
    bad("waitlist", "practitioner-unknown", {"practitioner": UNKNOWN_ID}),
    bad("waitlist", "practitioner-float", {"practitioner": 1.5}),
    bad("waitlist", "practitioner-huge", {"practitioner": BIG_ID}),
    bad("waitlist", "practitioner-unqualified", lambda c: {"practitioner": c.unqualified.pk}, field="practitioner"),
    bad("waitlist", "earliest-past", {"earliest": "2000-01-01"}),
    bad("waitlist", "earliest-datetime", lambda c: {"earliest": c.at(10).isoformat()}, field="earliest"),
    bad("waitlist", "earliest-missing", {}, field="earliest", remove=("earliest",)),
    bad("waitlist", "latest-before-earliest", lambda c: {"latest": str(c.day - timedelta(days=1))}, field="latest"),
    bad("waitlist", "latest-beyond-horizon", lambda c: {"latest": str(c.day + timedelta(days=100))}, field="latest"),
    bad("waitlist", "latest-year-9999", {"latest": "9999-12-31"}),
    bad("waitlist", "parts-unknown", {"parts": ["night"]}),
    bad("waitlist", "parts-too-many", {"parts": ["morning"] * 4}),
    bad("waitlist", "parts-text", {"parts": "morning"}),
    bad("waitlist", "patient-from-a-patient", lambda c: {"patient": c.patient_b.pk}, field="patient"),
    bad("waitlist-staff", "patient-missing", {}, field="patient", remove=("patient",)),
    bad("waitlist-staff", "patient-unknown", {"patient": UNKNOWN_ID}),
    bad("waitlist-staff", "patient-string", {"patient": "1"}),
    # the waitlist: a time offered by hand
    bad("waitlist-offer-by-hand", "start-naive", lambda c: {"start": c.at(16).isoformat()[:19]}, field="start"),
    bad("waitlist-offer-by-hand", "start-missing", {}, field="start", remove=("start",)),
    bad("waitlist-offer-by-hand", "start-huge", {"start": HUGE}),
    bad("waitlist-offer-by-hand", "practitioner-unknown", {"practitioner": UNKNOWN_ID}),
    not_bookable("waitlist-offer-by-hand", "outside-hours", start(lambda c: c.at(22))),
    not_bookable("waitlist-offer-by-hand", "misaligned", start(lambda c: c.at(16, 7))),
    not_found("waitlist-offer-by-hand", "unknown-id", f"/api/v1/waitlist/{UNKNOWN_ID}/offer/"),
    not_found("waitlist-offer-by-hand", "huge-id", f"/api/v1/waitlist/{BIG_ID}/offer/"),
    # course packages sold at the desk (booking/packages.py)
    bad("package-sell", "offer-unknown", {"offer": UNKNOWN_ID}),
    bad("package-sell", "offer-text", {"offer": "1"}),
    bad("package-sell", "offer-missing", {}, field="offer", remove=("offer",)),
    bad("package-sell", "method-online", {"method": "online"}),
    bad("package-sell", "method-missing", {}, field="method", remove=("method",)),
    bad("package-sell", "key-missing", {}, field="idempotency_key", remove=("idempotency_key",)),
    bad("package-sell", "key-long", {"idempotency_key": "k" * 65}),
    bad("package-sell", "plan-unknown", {"plan": UNKNOWN_ID}),
    bad("package-sell", "unknown-field", {"price": "1.00"}),
    not_found("package-sell", "unknown-patient", f"/api/v1/patients/{UNKNOWN_ID}/packages/"),
    # outgoing webhooks: where they may go, and what they are about
    *(bad("webhooks", f"url-{n}", {"url": v}) for n, v in TEXT_CASES),
    bad("webhooks", "url-missing", {}, field="url", remove=("url",)),
    bad("webhooks", "url-not-a-url", {"url": "hooks at our office"}),
    bad("webhooks", "url-plain-http", {"url": "http://93.184.215.14/hooks"}),
    bad("webhooks", "url-ftp", {"url": "ftp://93.184.215.14/hooks"}),
    bad("webhooks", "url-credentials", {"url": "https://admin:secret@93.184.215.14/hooks"}),
    bad("webhooks", "url-loopback", {"url": "https://127.0.0.1/hooks"}),
    bad("webhooks", "url-private", {"url": "https://192.168.1.20/hooks"}),
    bad("webhooks", "url-metadata", {"url": "https://169.254.169.254/latest/meta-data/"}),
    bad("webhooks", "url-ipv6-loopback", {"url": "https://[::1]/hooks"}),
    bad("webhooks", "url-unknown-host", {"url": "https://no-such-host.invalid/hooks"}),
    bad("webhooks", "url-bad-port", {"url": "https://93.184.215.14:99999/hooks"}),
    bad("webhooks", "events-missing", {}, field="events", remove=("events",)),
    bad("webhooks", "events-empty", {"events": []}),
    bad("webhooks", "events-text", {"events": "appointment.created"}),
    bad("webhooks", "events-unknown", {"events": ["appointment.deleted"]}),
    bad("webhooks", "events-ping", {"events": ["ping"]}),
    bad("webhooks", "events-numbers", {"events": [1, 2]}),
    bad("webhooks", "events-too-many", {"events": ["appointment.created"] * 10}),
    bad("webhooks", "clinical-text", {"clinical": "yes"}),
    bad("webhooks", "clinical-number", {"clinical": 1}),
    bad("webhooks", "active-null", {"active": None}),
    *(bad("webhooks", f"description-{n}", {"description": v}) for n, v in TEXT_CASES),
    bad("webhooks", "description-too-long", {"description": "x" * 201}),
    bad("webhook-detail", "url-loopback", {"url": "https://127.0.0.1/hooks"}),
    bad("webhook-detail", "url-nul", {"url": "https://93.184.215.14/\x00"}),
    bad("webhook-detail", "events-empty", {"events": []}),
    bad("webhook-detail", "events-unknown", {"events": ["plan.deleted"]}),
    bad("webhook-detail", "active-text", {"active": "no"}),
    bad("webhook-detail", "description-huge", {"description": HUGE}),
    not_found("webhook-detail", "unknown-id", f"/api/v1/webhooks/{UNKNOWN_ID}/"),
    not_found("webhook-detail", "huge-id", f"/api/v1/webhooks/{BIG_ID}/"),
    # me-calendar-feed
    bad("me-calendar-feed", "language-unknown", {"language": "fr"}),
    bad("me-calendar-feed", "language-number", {"language": 1}),
    bad("me-calendar-feed", "language-list", {"language": ["en"]}),
    bad("me-calendar-feed", "language-huge", {"language": HUGE}),
    bad("me-calendar-feed", "language-null", {"language": None}),
]


def build_body(endpoint: Endpoint, c: Ctx, change: Change = (), remove: tuple[str, ...] = ()) -> dict[str, Any]:
    body = endpoint.valid(c)
    changes = change(c) if callable(change) else dict(change)
    body.update({key: value(c) if callable(value) else value for key, value in changes.items()})
    for name in remove:
        body.pop(name)
    return body


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_each_valid_body_succeeds(ctx: Ctx, name: str) -> None:
    """The cases below change one thing in these bodies, so a refusal is about that thing."""
    endpoint = ENDPOINTS[name]
    response = send(ctx.clients[endpoint.actor], endpoint.method, path_of(endpoint, ctx), build_body(endpoint, ctx))
    assert response.status_code == endpoint.success, response.content[:500]


def test_a_start_with_another_offset_is_read_as_that_instant(ctx: Ctx) -> None:
    """Requests may use any offset (Conventions); the refusals below are not about offsets."""
    response = ctx.clients["patient"].post(
        "/api/v1/appointments/", {"treatment": ctx.treatment.slug, "start": _other_offset(ctx)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Appointment.objects.get(pk=response.json()["id"]).start == ctx.at(11)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_and_nothing_is_written(ctx: Ctx, case: Case) -> None:
    endpoint = ENDPOINTS[case.endpoint]
    body = build_body(endpoint, ctx, case.change, case.remove)
    before = snapshot(ctx)
    response = send(ctx.clients[endpoint.actor], endpoint.method, path_of(endpoint, ctx, case.path), body)
    assert_error(response, case.status, case.code, case.field)
    assert snapshot(ctx) == before


BODIES = {
    "invalid-json": "{bad json",
    "truncated-json": '{"treatment": "peel',
    "trailing-garbage": '{"a": 1} x',
    "list": "[]",
    "list-of-objects": '[{"treatment": "peel-superficial"}]',
    "string": '"hello"',
    "number": "42",
    "true": "true",
    "null": "null",
    "nan": '{"start": NaN}',
    "invalid-utf8": b"\xff\xfe{}",
    "deeply-nested": "[" * 100_000 + "]" * 100_000,
    "huge-number": "1" * 10_000,
}


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_bodies_that_are_not_a_json_object_are_400_invalid(ctx: Ctx, name: str, body: str) -> None:
    endpoint = ENDPOINTS[name]
    before = snapshot(ctx)
    response = send(ctx.clients[endpoint.actor], endpoint.method, path_of(endpoint, ctx), raw=BODIES[body])
    assert_error(response, 400, "invalid")
    assert snapshot(ctx) == before


CONTENT_TYPES = {
    "text": "text/plain",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=BoUnDaRy",
    "xml": "application/xml",
}


@pytest.mark.parametrize("content_type", list(CONTENT_TYPES))
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_a_body_that_is_not_json_is_415(ctx: Ctx, name: str, content_type: str) -> None:
    endpoint = ENDPOINTS[name]
    body = build_body(endpoint, ctx)
    raw = "&".join(f"{key}={value}" for key, value in body.items()) if content_type == "form" else json.dumps(body)
    before = snapshot(ctx)
    response = send(
        ctx.clients[endpoint.actor],
        endpoint.method,
        path_of(endpoint, ctx),
        raw=raw,
        content_type=CONTENT_TYPES[content_type],
    )
    assert_error(response, 415, "unsupported_media_type")
    assert snapshot(ctx) == before


# --- availability: the one read with input worth refusing --------------------------------


def availability_url(c: Ctx, **params: Any) -> str:
    query = {"treatment": c.treatment.slug, "from": c.day.isoformat(), "to": c.day.isoformat(), **params}
    return "/api/v1/availability/?" + "&".join(f"{k}={v}" for k, v in query.items() if v is not None)


AVAILABILITY_CASES: list[Any] = [
    pytest.param(lambda c: {"to": (c.day + timedelta(days=62)).isoformat()}, "to", id="more-than-62-days"),
    pytest.param(lambda c: {"to": (c.day + timedelta(days=10_000)).isoformat()}, "to", id="huge-range"),
    pytest.param(lambda c: {"to": (c.day - timedelta(days=1)).isoformat()}, "to", id="to-before-from"),
    pytest.param(lambda c: {"from": None}, "from", id="from-missing"),
    pytest.param(lambda c: {"to": None}, "to", id="to-missing"),
    pytest.param(lambda c: {"from": "2026-13-45"}, "from", id="from-impossible"),
    pytest.param(lambda c: {"from": "tomorrow"}, "from", id="from-word"),
    pytest.param(lambda c: {"to": f"{c.day}T10:00:00"}, "to", id="to-with-time"),
    pytest.param(lambda c: {"treatment": None}, "treatment", id="treatment-missing"),
    pytest.param(lambda c: {"treatment": "no-such-treatment"}, "treatment", id="treatment-unknown"),
    pytest.param(lambda c: {"treatment": "42"}, "treatment", id="treatment-number"),
    pytest.param(lambda c: {"treatment": "peel%00"}, "treatment", id="treatment-nul"),
    pytest.param(lambda c: {"treatment": "x" * 10_000}, "treatment", id="treatment-huge"),
    pytest.param(lambda c: {"practitioner": "abc"}, "practitioner", id="practitioner-string"),
    pytest.param(lambda c: {"practitioner": UNKNOWN_ID}, "practitioner", id="practitioner-unknown"),
    pytest.param(lambda c: {"practitioner": BIG_ID}, "practitioner", id="practitioner-huge"),
    pytest.param(lambda c: {"plan_session": UNKNOWN_ID}, "plan_session", id="plan-session-unknown"),
    pytest.param(lambda c: {"plan_session": "abc"}, "plan_session", id="plan-session-string"),
    pytest.param(lambda c: {"exclude_appointment": UNKNOWN_ID}, "exclude_appointment", id="exclude-unknown"),
    pytest.param(lambda c: {"exclude_appointment": BIG_ID}, "exclude_appointment", id="exclude-huge"),
    pytest.param(lambda c: {"exclude_appointment": "abc"}, "exclude_appointment", id="exclude-string"),
]


@pytest.mark.parametrize(("params", "field"), AVAILABILITY_CASES)
def test_bad_availability_queries_are_400_invalid(ctx: Ctx, params: Callable[[Ctx], dict], field: str) -> None:
    response = ctx.clients["anonymous"].get(availability_url(ctx, **params(ctx)))
    assert_error(response, 400, "invalid", field)


def test_availability_accepts_exactly_62_days(ctx: Ctx) -> None:
    response = ctx.clients["anonymous"].get(availability_url(ctx, to=(ctx.day + timedelta(days=61)).isoformat()))
    assert response.status_code == 200, response.content[:300]


def test_a_patient_cannot_exclude_another_patients_appointment(ctx: Ctx) -> None:
    """Unknown to them, so the same 400 as an id that does not exist."""
    client = client_for(ctx.patient_b.user)
    response = client.get(availability_url(ctx, exclude_appointment=ctx.appointment.pk))
    assert_error(response, 400, "invalid", "exclude_appointment")


@pytest.mark.parametrize(
    ("first", "last"),
    [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"), ("1969-12-31", "1970-01-01")],
)
def test_availability_at_the_ends_of_the_calendar_is_empty_not_an_error(ctx: Ctx, first: str, last: str) -> None:
    response = ctx.clients["staff"].get(availability_url(ctx, **{"from": first, "to": last}))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["slots"] == []


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31",
        "to=9999-12-31",
        "from=0001-01-01",
        "to=0001-01-01",
        "status=bogus",
        "patient=abc",
        f"patient={BIG_ID}",
        "practitioner=-1",
        "page=0",
        "page=abc",
        f"page={BIG_ID}",
        "page_size=-1",
        "page_size=100000",
        "from=2026-02-30",
        "q=%00",
    ],
)
def test_odd_list_filters_never_give_a_500(ctx: Ctx, query: str) -> None:
    for path in ("/api/v1/appointments/", "/api/v1/patients/"):
        response = ctx.clients["staff"].get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.content[:300])
        if response.status_code >= 400:
            assert {"code", "detail"} <= set(response.json())


# --- the garbage sweep --------------------------------------------------------------------

GARBAGE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**63,
    10**40,
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202e\u0000\uffff",
    HUGE,
    [],
    {},
    [None],
    {"": None},
    [[[[{}]]]],
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T10:00:00+08:00",
    "0001-01-01",
    "9999-12-31",
    "2026-02-29T10:00:00+08:00",
    "1e309",
    "١٢٣",
    "𝟙𝟚𝟛",
    "peel-superficial\n",
]

ODD_BODIES: list[Any] = [
    {},
    {"": ""},
    {"\x00": "\x00"},
    {"x" * 10_000: 1},
    dict.fromkeys(range(1_000), 1),
]


def _fields(endpoint: Endpoint, c: Ctx) -> list[str]:
    return [*endpoint.valid(c), *endpoint.optional]


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_garbage_never_gives_a_500(ctx: Ctx, name: str, settings: Any) -> None:
    """Each odd value in each field alone (the rest valid), in all fields at
    once, and odd whole bodies. Throttles and sign-in lockouts are reset
    between requests so that every payload reaches the code behind them."""
    settings.AXES_ENABLED = False
    endpoint = ENDPOINTS[name]
    client = ctx.clients[endpoint.actor]
    client.raise_request_exception = False  # a 500 is collected below, not raised at the first one
    path = path_of(endpoint, ctx)
    payloads: list[Any] = []
    for value in GARBAGE:
        payloads.extend({**endpoint.valid(ctx), field: value} for field in _fields(endpoint, ctx))
        payloads.append(dict.fromkeys(_fields(endpoint, ctx), value))
        payloads.append(value)
    payloads.extend(ODD_BODIES)
    failures = []
    for payload in payloads:
        cache.clear()
        response = send(client, endpoint.method, path, payload)
        if response.status_code >= 500:
            failures.append((payload, response.status_code))
        elif response.status_code >= 400:
            body = response.json()
            if not ({"code", "detail"} <= set(body) <= {"code", "detail", "fields", "reasons"}):
                failures.append((payload, body))
    assert not failures, [(repr(p)[:200], r) for p, r in failures[:20]]
