"""Every page, as each kind of user sees it, at a phone's and two desks' widths.

The list of pages is checked against the URL configuration: every named route
of the patient site and the staff workspace is either visited here or excluded
below with its reason, so a new page cannot be forgotten.

The demo clinic (``seed_demo`` with its history, seeded once per test) gives
each page something real to show: Emily Cheung's assessments, photos and plan,
today's appointments. Each role and language has one browser context that signs
in once; for each page and width (390, 1280 and 1920 px) the page answers 200,
the document is no wider than the window (and still fits at 360 px), the
browser reports no content-security-policy violation, failed request or
console error, axe-core finds no WCAG 2.2 A/AA violation, and a full-page
screenshot is saved as test-results/pages/<role>/<language>/<page>-<width>.png.
The Traditional Chinese pass also checks that no English is left on the pages
patients see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import expect

from booking import attendance, feeds, precare
from booking.models import Appointment, ClinicClosure, WaitlistEntry, WaitlistOffer
from patients.models import Patient
from tests.browser.axe import WCAG_AA
from tests.browser.conftest import OUTPUT
from tests.factories import AppointmentFactory
from tests.pages.helpers import english_words
from treatments import consents
from treatments.consents import consent_sign, consent_version_draft
from treatments.models import ConsentForm, ConsentSignature, Treatment, TreatmentPlan

DEMO_PASSWORD = "clinic-demo"
WIDTHS = (390, 1280, 1920)
NARROWEST = 360  # ux.md: nothing breaks at 360 px; checked by resizing the 390 px page
HEIGHT = {390: 844, 1280: 800, 1920: 1080}
# The URL namespaces of the pages people see: the patient site and the staff workspace.
PAGE_NAMESPACES = ("site", "account", "staff", "chart", "security", "consents", "webhooks", "money", "reports")

ANONYMOUS, PATIENT, RECEPTION, DOCTOR, MANAGER = "anonymous", "patient", "reception", "doctor", "manager"
SIGN_IN = {
    PATIENT: "patient@example.com",
    RECEPTION: "reception@example.com",
    DOCTOR: "doctor@example.com",
    MANAGER: "manager@example.com",
}


@dataclass(frozen=True)
class Page:
    route: str  # the URL's "namespace:name"
    path: str  # filled in from the demo's ids (see ``demo``)
    roles: tuple[str, ...]
    label: str = ""  # the screenshot's name when one route is shown in several states

    @property
    def name(self) -> str:
        return self.label or self.route.replace(":", "-")


STAFF = (RECEPTION, DOCTOR, MANAGER)
PAGES = [
    # The public site, before signing in.
    Page("site:home", "/", (ANONYMOUS, PATIENT)),
    Page("site:treatments", "/treatments/", (ANONYMOUS, PATIENT)),
    Page("site:treatment", "/treatments/pico-laser/", (ANONYMOUS, PATIENT)),
    Page("site:register", "/accounts/register/", (ANONYMOUS,)),
    Page("account:login", "/accounts/login/", (ANONYMOUS,)),
    Page("account:password_reset", "/accounts/password-reset/", (ANONYMOUS,)),
    Page("account:password_reset_confirm", "/account/reset/{reset_uid}/{reset_token}/", (ANONYMOUS,)),
    Page("account:email_change_confirm", "/me/email/confirm/{email_token}/", (ANONYMOUS,)),
    Page("site:pre_care", "/pre-care/{pre_care_token}/", (ANONYMOUS, PATIENT)),
    Page("site:visit_confirm", "/visits/confirm/{visit_token}/", (ANONYMOUS, PATIENT)),
    # The patient's own pages.
    Page("site:book", "/book/?treatment=pico-laser&practitioner=any", (PATIENT,)),
    Page("site:appointments", "/appointments/", (PATIENT,)),
    Page("site:appointment", "/appointments/{appointment}/", (PATIENT,)),
    Page("site:reschedule", "/appointments/{upcoming}/reschedule/", (PATIENT,)),
    Page("site:appointment_consent", "/appointments/{consent_visit}/consent/", (PATIENT,)),
    Page("site:questionnaire", "/me/health/", (PATIENT,)),
    Page("site:consents", "/me/consents/", (PATIENT,)),
    Page("site:waitlist", "/me/waitlist/", (PATIENT,)),
    Page("site:waitlist_offer", "/waitlist/offers/{offer}/", (PATIENT,)),
    Page(
        "site:book", "/book/?treatment=pico-laser&practitioner=any&waitlist=1", (PATIENT,), label="site-book-waitlist"
    ),
    Page("account:profile", "/me/", (PATIENT,)),
    Page("account:password_change", "/me/password/", (PATIENT,)),
    Page("account:email_change", "/me/email/", (PATIENT,)),
    Page("account:devices", "/me/devices/", (PATIENT,)),
    Page("account:access_log", "/me/access-log/", (PATIENT,)),
    Page("account:export", "/me/export/", (PATIENT,)),
    Page("account:progress", "/progress/", (PATIENT,)),
    Page("account:plan", "/plans/{plan}/", (PATIENT,)),
    Page("account:calendar_feed", "/me/calendar/", (PATIENT,)),
    Page("account:payments", "/me/payments/", (PATIENT,)),
    # The workspace: every staff role sees the schedule and the chart.
    Page("staff:schedule", "/staff/", STAFF),
    Page("staff:schedule", "/staff/?date={today_date}&view=week", (RECEPTION,), label="staff-schedule-week"),
    Page("staff:schedule", "/staff/?by=room", (RECEPTION,), label="staff-schedule-rooms"),
    Page("staff:appointment", "/staff/appointments/{today}/", (RECEPTION, DOCTOR)),
    Page("staff:appointment_reschedule", "/staff/appointments/{today}/reschedule/", (RECEPTION,)),
    Page("staff:appointment_consent", "/staff/appointments/{consent_visit}/consent/", (RECEPTION,)),
    Page("staff:book", "/staff/book/", (RECEPTION,)),
    Page("staff:closures", "/staff/closures/", (RECEPTION,)),
    Page("staff:closure", "/staff/closures/clinic/{closure}/", (RECEPTION,)),
    Page("staff:due", "/staff/due/", (RECEPTION,)),
    Page("staff:waitlist", "/staff/waitlist/", (RECEPTION, DOCTOR)),
    Page("staff:waitlist_offer", "/staff/waitlist/{waiting}/offer/", (RECEPTION,)),
    Page("staff:no_shows", "/staff/no-shows/", (RECEPTION,)),
    Page("staff:failed_notifications", "/staff/notifications/failed/", (RECEPTION,)),
    Page("chart:patients", "/staff/patients/", (RECEPTION,)),
    Page("chart:patient_new", "/staff/patients/new/", (RECEPTION,)),
    Page("chart:patient", "/staff/patients/{emily}/", STAFF),
    Page("chart:appointments", "/staff/patients/{emily}/appointments/", (RECEPTION,)),
    Page("chart:history", "/staff/patients/{emily}/history/", (RECEPTION, DOCTOR)),
    Page("money:chart", "/staff/patients/{emily}/money/", (RECEPTION, DOCTOR)),
    Page("chart:patient_edit", "/staff/patients/{emily}/edit/", (RECEPTION,)),
    Page("chart:patient_channels", "/staff/patients/{emily}/contact/", (RECEPTION,)),
    Page("chart:declaration_new", "/staff/patients/{emily}/declarations/new/", (RECEPTION,)),
    Page("security:settings", "/staff/second-factor/settings/", (RECEPTION, DOCTOR)),
    # A practitioner's calendar feed (on, in the demo), and a receptionist told there is no schedule of theirs.
    Page("staff:calendar_feed", "/staff/calendar-feed/", (RECEPTION, DOCTOR)),
    # Clinicians' pages.
    Page("chart:assessments", "/staff/patients/{emily}/assessments/", (DOCTOR,)),
    Page("chart:photos", "/staff/patients/{emily}/photos/", (DOCTOR,)),
    Page("chart:plans", "/staff/patients/{emily}/plans/", (DOCTOR,)),
    Page("chart:records", "/staff/patients/{emily}/records/", (DOCTOR,)),
    Page("chart:assessment_new", "/staff/patients/{emily}/assessments/new/", (DOCTOR,)),
    Page("chart:assessment_correct", "/staff/patients/{emily}/assessments/{assessment}/correct/", (DOCTOR,)),
    Page("chart:plan_new", "/staff/patients/{emily}/plans/new/", (DOCTOR,)),
    Page("chart:session_record", "/staff/appointments/{today}/record/", (DOCTOR,)),
    Page(
        "chart:session_record",
        "/staff/appointments/{filler_now}/record/",
        (DOCTOR,),
        label="chart-session_record-filler-form",
    ),
    Page(
        "chart:session_record",
        "/staff/appointments/{filler_done}/record/",
        (DOCTOR,),
        label="chart-session_record-filler",
    ),
    # The manager's.
    Page("chart:access_log", "/staff/access-log/", (MANAGER,)),
    Page("chart:access_log", "/staff/access-log/?actor={manager}", (MANAGER,), label="chart-access_log-actor"),
    Page("chart:access_log_patient", "/staff/patients/{emily}/access-log/", (MANAGER,)),
    Page("chart:erase", "/staff/patients/{emily}/erase/", (MANAGER,)),
    Page("chart:lots", "/staff/lots/", (MANAGER,)),
    Page("chart:lots", "/staff/lots/?lot=ha24+0917", (MANAGER,), label="chart-lots-found"),
    Page("staff:calendar_feeds", "/staff/calendar-feeds/", (MANAGER,)),
    Page("consents:list", "/staff/consents/", (MANAGER,)),
    Page("consents:new", "/staff/consents/new/", (MANAGER,)),
    Page("consents:form", "/staff/consents/{consent_form}/", (MANAGER,)),
    Page("consents:draft", "/staff/consents/{consent_form}/draft/", (MANAGER,)),
    Page("consents:version", "/staff/consents/{consent_form}/versions/1/", (MANAGER,)),
    Page("money:takings", "/staff/money/takings/", (MANAGER,)),
    Page("reports:outcomes", "/staff/reports/outcomes/", (DOCTOR, MANAGER)),
    Page("reports:operations", "/staff/reports/operations/", (MANAGER,)),
    Page("webhooks:list", "/staff/webhooks/", (MANAGER,)),
    Page("webhooks:new", "/staff/webhooks/new/", (MANAGER,)),
    Page("webhooks:subscription", "/staff/webhooks/{webhook}/", (MANAGER,)),
    Page("webhooks:deliveries", "/staff/webhooks/{webhook}/deliveries/", (MANAGER,)),
]

# Named routes of those namespaces that are not pages to look at, and why.
EXCLUDED = {
    "site:practitioner_photo": "a picture, not a page: every-page sees it load on the treatment page",
    "site:register_check": "POST only: one registration field checked as it is left (test_page_shell.py)",
    "staff:appointment_move": "POST only: a drag-and-drop or Move dialog move (test_schedule_layout.py)",
    "site:appointment_ics": "a calendar file, not a page (tests/pages check its content)",
    "site:cancel": "POST only: the cancel button on the appointment page",
    "site:waitlist_leave": "POST only: the Leave the waitlist button on /me/waitlist/",
    "site:pre_care_confirm": "POST only: the pre-care button on the appointment page",
    "site:deposit_pay": "POST only: the Pay the deposit button (tests/billing/test_deposits.py)",
    "site:deposit_release": "POST only: the Give this time back button (tests/billing/test_deposits.py)",
    "site:deposit_done": "needs PAYMENTS_URL and a visit awaiting its deposit, which the walk's clinic has not "
    "(tests/billing/test_deposits.py renders it in both languages)",
    "site:deposit_cancelled": "needs PAYMENTS_URL and a visit awaiting its deposit (tests/billing/test_deposits.py)",
    "site:package_buy": "needs PAYMENTS_URL: without a provider packages are sold at the desk "
    "(tests/billing/test_package_online.py)",
    "site:package_done": "needs a package checkout at the provider (tests/billing/test_package_online.py)",
    "account:logout": "POST only: the header's sign-out button",
    "account:export_download": "a zip download, not a page (tests/privacy)",
    "account:receipt": "a PDF download, not a page (tests/pages/test_money_pages.py)",
    "money:receipt": "a PDF download, not a page (tests/pages/test_money_pages.py)",
    "money:takings_csv": "a CSV download, not a page (tests/pages/test_money_pages.py)",
    "reports:csv": "a CSV download, not a page (tests/reports/test_pages.py)",
    "account:device_sign_out": "POST only: a button on the devices page",
    "account:devices_sign_out_others": "POST only: a button on the devices page",
    "account:photo": "an image file shown inside the progress page",
    "staff:appointment_check_in": "POST only: a button on the appointment and the schedule",
    "staff:appointment_no_show": "POST only: a button on the appointment and the schedule",
    "staff:appointment_cancel": "POST only: a form on the appointment page",
    "staff:patient_search": "an htmx fragment inside the booking page",
    "staff:patient_new": "POST only: the new-patient form inside the booking page",
    "staff:notification_send_again": "POST only: a button on the failed-emails list",
    "chart:export": "a zip download, not a page (tests/privacy)",
    "chart:photo": "an image file shown inside the chart",
    "chart:assessment_score": "POST only: the htmx score inside the assessment form",
    "chart:plan_cancel": "POST only: a button on the chart",
    "chart:deposit_record": "POST only: the desk deposit form in the appointment's money box",
    "chart:fee_waive": "POST only: the Waive fee form in the appointment's money box (chart/_waive_fee.html)",
    "chart:desk_refund": "POST only: the Refund due at the desk form in the appointment's money box",
    "chart:consent_withdraw": "POST only: a manager's form in the chart's appointments section",
    "account:consent_withdraw": "POST only: a button on the patient's profile",
    "account:channels": "POST only: the form in the profile's How we contact you",
    "account:important_date_add": "POST only: the form in the profile's Dates that matter",
    "account:important_date_remove": "POST only: a button in the profile's Dates that matter",
    "security:reset": "POST only: a manager's button",
    "site:consent_pdf": "a PDF download, not a page (tests/pages/test_consent_downloads.py)",
    "chart:consent_pdf": "a PDF download, not a page (tests/pages/test_consent_downloads.py)",
    "consents:draft_new": "POST only: the Write a new version button on a form's page",
    "webhooks:rotate": "POST only: the Rotate the secret button on a subscription's page",
    "webhooks:ping": "POST only: the Send a test event button on a subscription's page",
    "webhooks:delete": "POST only: the Delete button on a subscription's page",
    "webhooks:send_again": "POST only: the Send again button in a delivery log",
    # Shown only to staff whose second factor is not yet passed, which every
    # other test here has (tests/conftest.py); tests/browser/test_second_factor.py
    # walks through them.
    "security:verify": "only before the second factor is passed: test_second_factor.py",
    "security:enrol": "only before the second factor is set up: test_second_factor.py",
    "security:recovery_codes": "only right after setting up the second factor: test_second_factor.py",
}


# Problems tolerated for a while, each as (pattern the problem line matches, roles
# it shows for, why and who fixes it), so every other page stays checked. None today.
KNOWN_PROBLEMS: list[tuple[str, tuple[str, ...], str]] = []


def _named_routes(patterns: list[URLPattern | URLResolver], namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, inner)
        elif pattern.name and namespace in PAGE_NAMESPACES:
            yield f"{namespace}:{pattern.name}"


def test_every_named_page_route_is_visited_or_excluded_with_a_reason() -> None:
    routes = set(_named_routes(get_resolver().url_patterns))
    assert routes, "no page routes found: has a namespace been renamed?"
    visited = {page.route for page in PAGES}
    forgotten = routes - visited - set(EXCLUDED)
    assert not forgotten, f"pages neither in PAGES nor in EXCLUDED (with a reason): {sorted(forgotten)}"
    stale = (visited | set(EXCLUDED)) - routes
    assert not stale, f"listed but no longer in the URL configuration: {sorted(stale)}"
    assert not visited & set(EXCLUDED), "a route is both visited and excluded"
    for role in (ANONYMOUS, PATIENT, *STAFF):  # one screenshot must not overwrite another
        names = [item.name for item in PAGES if role in item.roles]
        assert len(names) == len(set(names)), f"{role}: two pages would share a screenshot name: {names}"


@pytest.fixture
def demo(settings: Any) -> dict[str, Any]:
    # SMS and WhatsApp offered, as under make run: the contact choices show every channel.
    settings.CLINIC_CHANNELS = {
        channel: {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}} for channel in ("sms", "whatsapp")
    }
    settings.DEBUG = True  # seed_demo refuses otherwise; the live server's own settings are unaffected
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False
    emily = Patient.objects.get(user__username="patient@example.com")
    latest = Appointment.objects.filter(patient=emily).order_by("-start").first()  # in the past
    today = Appointment.objects.filter(start__date__gte=timezone.localdate()).order_by("start").first()
    assert today is not None, "the demo has no appointment from today on"
    # The demo leaves Emily nothing ahead to move: give her a visit with the
    # treatment, practitioner and room of another, weeks after the demo's bookings.
    ahead = timezone.localtime(today.start).replace(hour=10, minute=0) + timedelta(weeks=9)
    ahead += timedelta(days=(7 - ahead.weekday()) % 7)  # a Monday
    upcoming = AppointmentFactory(
        patient=emily, treatment=today.treatment, practitioner=today.practitioner, room=today.room, start=ahead
    )
    # And a laser visit after it, whose pre-care (seeded from domain.md) the email's page shows.
    laser = Treatment.objects.get(slug="pico-laser")
    pre_care = AppointmentFactory(
        patient=emily, treatment=laser, practitioner=today.practitioner, room=today.room,
        start=ahead + timedelta(days=7),
    )  # fmt: skip
    # A filler session done (the demo's injectables), and one at the chair, for the product rows.
    filler_done = Appointment.objects.filter(treatment__slug="ha-filler", status=Appointment.Status.COMPLETED).first()
    assert filler_done is not None, "the demo has no filler session"
    filler_now = AppointmentFactory(
        patient=emily,
        treatment=filler_done.treatment,
        practitioner=filler_done.practitioner,
        room=filler_done.room,
        start=ahead + timedelta(days=8, hours=4),
        status=Appointment.Status.CHECKED_IN,
    )
    # Emily's signature of a consent form (her list of consent forms), then a draft of
    # the form's version 2 (the authoring pages).
    from django.contrib.auth.models import User

    consent_form = (
        ConsentForm.objects.filter(active=True, versions__published_at__isnull=False).order_by("slug").first()
    )
    assert consent_form is not None, "the demo seeds published consent forms"
    if not ConsentSignature.objects.filter(patient=emily, version__form=consent_form).exists():
        consent_sign(
            patient=emily,
            version=consent_form.versions.get(number=1),
            full_name=emily.full_name,
            photo_use=["clinical", "teaching"],
            language="en",
            channel="online",
            by=emily.user,
        )
    consent_version_draft(form=consent_form, by=User.objects.get(username=SIGN_IN[MANAGER]))
    # A visit that needs consent (a peel, a laser...), the day after: the signing pages show its forms.
    needing = next(t for t in Treatment.objects.filter(active=True).order_by("pk") if consents.forms_for(t))
    consent_visit = AppointmentFactory(
        patient=emily,
        treatment=needing,
        practitioner=today.practitioner,
        room=today.room,
        start=ahead + timedelta(days=1),
    )
    webhook = _webhook_with_a_log(User.objects.get(username=SIGN_IN[MANAGER]))
    # Calendar feeds on for the doctor and for Emily: their pages show the secret address.
    feeds.feed_create(user=User.objects.get(username=SIGN_IN[DOCTOR]), kind="practitioner")
    feeds.feed_create(user=emily.user, kind="patient")
    return {
        "webhook": webhook,
        "filler_done": filler_done,
        "filler_now": filler_now,
        "emily": emily,
        "pre_care": pre_care,
        "consent_form": consent_form,
        "consent_visit": consent_visit,
        "appointment": latest,
        "plan": TreatmentPlan.objects.filter(patient=emily).first(),
        "today": today,
        "upcoming": upcoming,
    }


def _webhook_with_a_log(manager: Any) -> Any:
    """A clinical subscription whose receiving system has been failing for a
    while, with a delivered event before that (the list's warning, the log)."""
    from booking import webhooks
    from booking.models import WebhookAttempt, WebhookDelivery

    subscription = webhooks.subscription_create(
        url="https://93.184.215.14/hooks/clinic",
        events=["appointment.created", "appointment.cancelled", "patient.created"],
        clinical=True,
        description="Accounting",
        by=manager,
    )
    now = timezone.now()
    for number, answers in enumerate([(200,), (500, 503, 0)], start=1):
        delivery = WebhookDelivery.objects.create(
            subscription=subscription,
            event_type="appointment.created",
            event_key=f"appointment.created:appointment:demo-{number}:0",
            message_id=f"msg_demo{number:028d}",
            body='{"type":"appointment.created","data":{}}',
            status="sent" if answers == (200,) else "failed",
            attempts=len(answers),
            next_attempt_at=now,
            sent_at=now - timedelta(days=3) if answers == (200,) else None,
            last_status_code=answers[-1] or None,
            last_error="" if answers == (200,) else "connection",
        )
        for index, code in enumerate(answers):
            WebhookAttempt.objects.create(
                delivery=delivery,
                at=now - timedelta(days=3 - number, hours=len(answers) - index),
                status_code=code or None,
                duration_ms=180,
                error="" if code == 200 else (f"http_{code}" if code else "connection"),
            )
    return subscription


def _ids(demo: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.models import User

    emily = demo["emily"]
    return {
        "emily": emily.pk,
        "consent_form": demo["consent_form"].slug,
        "webhook": demo["webhook"].pk,
        "appointment": demo["appointment"].pk,
        "upcoming": demo["upcoming"].pk,
        "consent_visit": demo["consent_visit"].pk,
        "plan": demo["plan"].pk,
        "today": demo["today"].pk,
        "filler_done": demo["filler_done"].pk,
        "filler_now": demo["filler_now"].pk,
        "today_date": timezone.localtime(demo["today"].start).date().isoformat(),
        "assessment": emily.assessments.first().pk,
        "closure": ClinicClosure.objects.order_by("start").first().pk,  # type: ignore[union-attr]
        "manager": User.objects.get(username=SIGN_IN[MANAGER]).pk,
        "reset_uid": urlsafe_base64_encode(force_bytes(emily.user.pk)),
        "reset_token": default_token_generator.make_token(emily.user),
        "email_token": "a-link-from-an-email",
        "pre_care_token": precare.token_for(demo["pre_care"]),
        "visit_token": attendance.token_for(demo["upcoming"]),
        "offer": WaitlistOffer.objects.get(entry__patient=emily, status="open").pk,
        "waiting": WaitlistEntry.objects.filter(status="waiting").exclude(patient=emily).first().pk,  # type: ignore[union-attr]
    }


def _sign_in(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_load_state()


AXE = Axe()  # reads axe-core's script once


def axe_violations(page: Any, where: str) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is now, one line each.

    Checked scrolled to the top: today's schedule scrolls itself to the current
    time, so where its sticky column heads cross the rows would otherwise
    depend on the clock (a row half under them is a target too thin to tap)."""
    page.evaluate(
        "() => { window.scrollTo(0, 0); document.querySelectorAll('.schedule-scroll').forEach(b => { b.scrollTop = 0; }); }"
    )
    found = []
    for violation in AXE.run(page, options=WCAG_AA).response["violations"]:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:3]
        found.append(f"{where}: axe {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


class Visitor:
    """One role's browser context, watching for errors while it visits pages."""

    def __init__(self, page: Any, base_url: str, role: str) -> None:
        self.page, self.base_url, self.role = page, base_url, role
        self.problems: list[str] = []
        self._where = ""
        page.on("console", self._console)
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{self._where}: {r.status} {r.url}"))
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda e: self.problems.append(f"{self._where}: script error {e}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"{self._where}: console {message.text} at {message.location.get('url')}")

    def _failed(self, request: Any) -> None:
        # Leaving a page aborts what it was still loading (lazy images the
        # full-page screenshot brought into view): our doing, not the page's.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"{self._where}: failed {request.url} {request.failure}")

    def unexpected(self) -> list[str]:
        """The problems not listed in KNOWN_PROBLEMS for this role."""
        known = [re.compile(pattern) for pattern, roles, _why in KNOWN_PROBLEMS if self.role in roles]
        return [p for p in self.problems if not any(pattern.search(p) for pattern in known)]

    def visit(self, item: Page, path: str, language: str) -> None:
        folder = OUTPUT / "pages" / self.role / language
        folder.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            self._where = f"{path} [{language}, {width}px]"
            self.page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            response = self.page.goto(f"{self.base_url}{path}")
            status = response.status if response else None
            if status != 200:
                self.problems.append(f"{self._where}: answered {status}")
                continue
            expect(self.page.locator("h1").first).to_be_visible()
            self._check_width(width)
            if language == "zh-hant" and self.role in (ANONYMOUS, PATIENT):
                names = [p.full_name for p in Patient.objects.all()]
                left = english_words(self.page.content(), allow=names)
                if left:
                    self.problems.append(f"{self._where}: English left: {sorted(left)}")
            self.problems += axe_violations(self.page, self._where)
            # caret="initial": hiding the caret adds style="" to inputs, which htmx would copy (a CSP report).
            self.page.screenshot(path=str(folder / f"{item.name}-{width}.png"), full_page=True, caret="initial")
            if width == WIDTHS[0]:
                self.page.set_viewport_size({"width": NARROWEST, "height": HEIGHT[width]})
                self._where = f"{path} [{language}, {NARROWEST}px]"
                self._check_width(NARROWEST)

    def _check_width(self, width: int) -> None:
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            self.problems.append(f"{self._where}: the document is {wide}px wide in a {width}px window")


def _switch_to_chinese(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_role("button", name="繁體中文").first.click()
    page.wait_for_load_state()


# One test per role and language, so xdist spreads them; the timeout leaves
# room for a loaded machine (a role's pages take minutes at three widths).
@pytest.mark.timeout(900)
@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("role", [ANONYMOUS, PATIENT, RECEPTION, DOCTOR, MANAGER])
def test_every_page_at_three_widths(page: Any, base_url: str, demo: dict, role: str, language: str) -> None:
    ids = _ids(demo)
    visitor = Visitor(page, base_url, role)
    if role in SIGN_IN:
        _sign_in(page, base_url, SIGN_IN[role])
    if language == "zh-hant":
        _switch_to_chinese(page, base_url)
    mine = [item for item in PAGES if role in item.roles]
    assert mine, f"no pages for {role}"
    for item in mine:
        visitor.visit(item, item.path.format(**ids), language)
    unexpected = visitor.unexpected()
    assert not unexpected, "\n".join(unexpected)
