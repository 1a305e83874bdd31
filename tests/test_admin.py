"""The admin as a clinic manager, a receptionist and a patient meet it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking import packages
from booking.erasure import patient_erase
from booking.models import (
    Appointment,
    ClinicClosure,
    Erasure,
    Notification,
    Package,
    PackageOffer,
    Practitioner,
    SessionRecord,
    TimeOff,
    WaitlistEntry,
    WaitlistOffer,
)
from patients.models import AccessEvent, HealthDeclaration, Patient
from patients.services import access_record
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    HealthDeclarationFactory,
    NotificationFactory,
    PatientFactory,
    TimeOffFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import consents
from treatments import services as clinical
from treatments.models import (
    Assessment,
    AssessmentPhoto,
    ConsentSignature,
    ConsentVersion,
    PlanSession,
    Treatment,
    TreatmentPlan,
)

pytestmark = pytest.mark.django_db

APPS = ("patients", "treatments", "booking")
REGISTERED = sorted(
    (model for model in admin.site._registry if model._meta.app_label in APPS), key=lambda m: m._meta.label
)
# Booking goes through booking.services (availability, screening, locks):
# the admin lists, shows and annotates appointments but does not add them.
NO_ADD_PAGE = {Appointment, Notification, Erasure}
# Clinical records are written through the API's services (scores, windows,
# session records) and never deleted: the admin shows them and their history.
CLINICAL = {Assessment, TreatmentPlan, PlanSession, SessionRecord}
NO_ADD_PAGE |= CLINICAL
# The access log is written only by patients.services.access_record and never changed.
NO_ADD_PAGE |= {AccessEvent}
# Consent versions are drafted and published in the workspace (treatments.consents);
# signatures are made by patients or at the desk and never changed here.
NO_ADD_PAGE |= {ConsentVersion, ConsentSignature}
# The waitlist is written by booking.waitlist alone (offers hold slots under the booking's locks).
NO_ADD_PAGE |= {WaitlistEntry, WaitlistOffer}
# A package is sold with its payment (booking.packages); the catalogue's offers are edited here.
NO_ADD_PAGE |= {Package}


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def as_role(client: Client) -> Callable[[str], User]:
    def login(role: str) -> User:
        user = UserFactory(role=role)
        client.force_login(user)
        return user

    return login


@pytest.fixture
def clinic() -> None:
    """The demo clinic plus one of each thing the seed does not make."""
    call_command("seed_demo", "--force", stdout=StringIO())
    AppointmentFactory(treatment=Treatment.objects.get(slug="consultation"))
    HealthDeclarationFactory(patient=Patient.objects.get(user__username="patient@example.com"))
    TimeOffFactory(practitioner=Practitioner.objects.first())
    NotificationFactory()
    _clinical_records()
    _waitlist()
    patient_erase(patient=PatientFactory(), by=UserFactory(role="manager"))
    packages.package_sell(
        patient=Patient.objects.get(user__username="patient@example.com"),
        offer=PackageOffer.objects.order_by("pk").first(),
        method="card",
        by=UserFactory(role="receptionist"),
        key="admin-test",
    )


def _waitlist() -> None:
    """An entry with an offer that expired (an open one would need its held slot)."""
    patient = Patient.objects.get(user__username="patient@example.com")
    day = timezone.localdate() + timedelta(days=7)
    entry = WaitlistEntry.objects.create(
        patient=patient, treatment=Treatment.objects.get(slug="peel-superficial"), earliest=day, latest=day
    )
    start = timezone.now() + timedelta(days=7)
    WaitlistOffer.objects.create(
        entry=entry,
        practitioner=Practitioner.objects.first(),
        start=start,
        end=start + timedelta(minutes=30),
        status=WaitlistOffer.Status.EXPIRED,
        expires_at=timezone.now(),
    )


def _clinical_records() -> None:
    patient = Patient.objects.get(user__username="patient@example.com")
    assessment = AssessmentFactory(patient=patient)
    AssessmentPhoto.objects.create(
        assessment=assessment,
        view="front",
        image="photos/x.jpg",
        thumbnail="photos/x-thumb.jpg",
        content_type="image/jpeg",
        width=1,
        height=1,
    )
    practitioner = UserFactory(role="practitioner")
    plan = clinical.plan_create(
        patient=patient, treatment=Treatment.objects.get(slug="peel-superficial"), sessions=4, by=practitioner
    )
    clinical.plan_session_booked(session=plan.sessions.get(number=1), on=plan.start_after, by=practitioner)
    done = AppointmentFactory(patient=patient, status=Appointment.Status.COMPLETED)
    SessionRecord.objects.create(appointment=done, category="peel", parameters={"agent": "glycolic acid"})
    access_record(practitioner, patient, AccessEvent.What.ASSESSMENT, AccessEvent.Door.API, assessment.pk)
    _signature(patient)


def _signature(patient: Patient) -> ConsentSignature:
    version = ConsentVersion.objects.filter(published_at__isnull=False).order_by("pk").first()
    assert version is not None, "the demo seeds published consent forms"
    return consents.consent_sign(
        patient=patient, version=version, full_name=patient.full_name, language="en", channel="online", by=patient.user
    )


def test_every_model_of_the_three_apps_is_registered() -> None:
    assert {m._meta.label for m in REGISTERED} == {
        "patients.Patient",
        "patients.HealthDeclaration",
        "patients.AccessEvent",
        "treatments.Treatment",
        "treatments.ContraindicationRule",
        "treatments.GapRule",
        "treatments.RoomKind",
        "treatments.DeviceKind",
        "treatments.PreCareInstruction",
        "booking.Practitioner",
        "booking.WorkingHours",
        "booking.Room",
        "booking.Device",
        "booking.TimeOff",
        "booking.ClinicClosure",
        "booking.Appointment",
        "booking.Notification",
        "booking.SessionRecord",
        "treatments.Assessment",
        "treatments.TreatmentPlan",
        "treatments.PlanSession",
        "booking.Erasure",
        "booking.WaitlistEntry",
        "booking.WaitlistOffer",
        "booking.PackageOffer",
        "booking.Package",
        "treatments.ConsentForm",
        "treatments.ConsentVersion",
        "treatments.ConsentSignature",
    }


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_manager_opens_changelist_add_change_and_history_pages(
    model: type[Model], clinic: None, as_role: Callable[[str], User], client: Client
) -> None:
    as_role("manager")
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None

    assert client.get(_url(model, "changelist")).status_code == 200
    assert client.get(_url(model, "change", obj.pk)).status_code == 200
    assert client.get(_url(model, "add")).status_code == (403 if model in NO_ADD_PAGE else 200)
    if hasattr(model, "history"):
        assert client.get(_url(model, "history", obj.pk)).status_code == 200


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Appointment, lambda: AppointmentFactory()),
        (Patient, lambda: PatientFactory()),
        (HealthDeclaration, lambda: HealthDeclarationFactory()),
        (Treatment, lambda: TreatmentFactory()),
        (TimeOff, lambda: TimeOffFactory()),
        (Notification, lambda: NotificationFactory()),
    ],
    ids=lambda value: value._meta.label if isinstance(value, type) else "",
)
def test_changelists_make_no_query_per_row(
    model: type[Model], make: Callable[[], Model], as_role: Callable[[str], User], client: Client
) -> None:
    as_role("manager")
    url = _url(model, "changelist")
    make()
    make()
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(5):
        make()
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_patient_search_by_name_email_and_phone(as_role: Callable[[str], User], client: Client) -> None:
    as_role("manager")
    wanted = PatientFactory(full_name="Chan Siu Ming", phone="+85298765432")
    other = PatientFactory(full_name="Lee Mei Ling", phone="+85261112222")
    url = _url(Patient, "changelist")

    for term in ("siu ming", wanted.email, "98765432"):
        found = list(client.get(url, {"q": term}).context["cl"].result_list)
        assert found == [wanted], term
    assert list(client.get(url, {"q": "Lee Mei"}).context["cl"].result_list) == [other]


def test_appointment_search_by_patient_and_filters(as_role: Callable[[str], User], client: Client) -> None:
    as_role("receptionist")
    wanted = AppointmentFactory(patient=PatientFactory(full_name="Wong Tai Sin", phone="+85290001111"))
    other = AppointmentFactory(status=Appointment.Status.CANCELLED)
    url = _url(Appointment, "changelist")

    for term in ("tai sin", wanted.patient.email, "90001111"):
        assert list(client.get(url, {"q": term}).context["cl"].result_list) == [wanted], term
    cancelled = client.get(url, {"status__exact": "cancelled"}).context["cl"].result_list
    assert list(cancelled) == [other]
    by_practitioner = client.get(url, {"practitioner__id__exact": wanted.practitioner_id}).context["cl"]
    assert list(by_practitioner.result_list) == [wanted]


def test_receptionist_sees_contraindication_rules_but_cannot_edit_them(
    as_role: Callable[[str], User], client: Client
) -> None:
    as_role("receptionist")
    treatment = TreatmentFactory()
    treatment.contraindications.create(code="PREG", severity="block")
    url = _url(Treatment, "change", treatment.pk)

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pregnant or breastfeeding" in html
    assert 'name="contraindications-0-severity"' not in html
    assert 'name="name_en"' not in html
    assert client.post(url, {"name_en": "Changed"}).status_code == 403
    assert client.get(_url(Treatment, "add")).status_code == 403
    rule = treatment.contraindications.get()
    assert client.get(_url(rule.__class__, "change", rule.pk)).status_code == 200
    assert client.post(_url(rule.__class__, "change", rule.pk), {"severity": "caution"}).status_code == 403
    assert rule.__class__.objects.get().severity == "block"


def test_a_patient_is_sent_to_the_admin_login(client: Client) -> None:
    client.force_login(PatientFactory().user)
    for url in (reverse("admin:index"), _url(Patient, "changelist"), _url(Appointment, "changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_health_declaration_is_read_only_once_made(as_role: Callable[[str], User], client: Client) -> None:
    as_role("manager")
    declaration = HealthDeclarationFactory(pregnant_or_breastfeeding=True, allergies=["lidocaine"])
    url = _url(HealthDeclaration, "change", declaration.pk)

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for answer in ("pregnant_or_breastfeeding", "allergies", "allergies_other", "isotretinoin_last_dose", "patient"):
        assert f'name="{answer}"' not in html, answer
    assert client.post(url, {"pregnant_or_breastfeeding": ""}).status_code == 403
    assert client.get(_url(HealthDeclaration, "delete", declaration.pk)).status_code == 403
    declaration.refresh_from_db()
    assert declaration.pregnant_or_breastfeeding is True


def test_patient_page_shows_declarations_without_editing_them(as_role: Callable[[str], User], client: Client) -> None:
    as_role("manager")
    declaration = HealthDeclarationFactory(cold_sore_history=True)
    html = client.get(_url(Patient, "change", declaration.patient_id))
    text = html.content.decode()
    assert "history of cold sores" in text
    for field in ("submitted_at", "entered_by", "cold_sore_history", "DELETE"):
        assert f'name="health_declarations-0-{field}"' not in text, field


def test_staff_enter_a_paper_declaration(as_role: Callable[[str], User], client: Client) -> None:
    receptionist = as_role("receptionist")
    patient = PatientFactory()
    response = client.post(
        _url(HealthDeclaration, "add"),
        {"patient": patient.pk, "cold_sore_history": "on", "allergies": ["lidocaine"], "allergies_other": ""},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    declaration = HealthDeclaration.objects.get(patient=patient)
    assert declaration.entered_by == receptionist
    assert declaration.cold_sore_history is True
    assert declaration.pregnant_or_breastfeeding is False
    assert declaration.allergies == ["lidocaine"]


def test_appointments_cannot_be_deleted_and_only_notes_change(as_role: Callable[[str], User], client: Client) -> None:
    as_role("manager")
    appointment = AppointmentFactory()
    url = _url(Appointment, "change", appointment.pk)

    assert client.get(_url(Appointment, "delete", appointment.pk)).status_code == 403
    html = client.get(url).content.decode()
    assert 'name="notes"' in html
    for field in ("start", "status", "practitioner", "room", "patient"):
        assert f'name="{field}"' not in html, field
    response = client.post(url, {"notes": "Prefers the afternoon.", "status": "cancelled"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.notes == "Prefers the afternoon."
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.history.count() == 2


def test_changing_a_patients_email_moves_their_login(as_role: Callable[[str], User], client: Client) -> None:
    as_role("manager")
    patient = PatientFactory(email="old@example.com", user=UserFactory(username="old@example.com"))
    taken = PatientFactory()
    form = {
        "full_name": patient.full_name,
        "date_of_birth": "1995-05-17",
        "phone": "+85291234568",
        "email": "New@Example.com",
        "preferred_language": "en",
        "fitzpatrick_type": "3",
        "user": patient.user_id,
        "health_declarations-TOTAL_FORMS": "0",
        "health_declarations-INITIAL_FORMS": "0",
    }
    url = _url(Patient, "change", patient.pk)

    refused = client.post(url, {**form, "email": taken.email})
    assert refused.status_code == 200
    assert "already uses this email" in refused.content.decode()
    # The date of birth follows patients.validators' one rule, shown on the field.
    refused = client.post(url, {**form, "date_of_birth": "2999-01-01"})
    assert refused.status_code == 200
    assert "The date of birth cannot be in the future." in refused.content.decode()
    patient.refresh_from_db()
    assert patient.date_of_birth.isoformat() == "1995-05-17"

    saved = client.post(url, form)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    patient.refresh_from_db()
    patient.user.refresh_from_db()
    assert patient.email == "new@example.com"
    assert (patient.user.username, patient.user.email) == ("new@example.com", "new@example.com")


def test_closure_added_in_the_admin_records_who_and_warns_of_appointments(
    as_role: Callable[[str], User], client: Client
) -> None:
    manager = as_role("manager")
    appointment = AppointmentFactory()
    day = timezone.localtime(appointment.start).date().isoformat()
    response = client.post(
        _url(ClinicClosure, "add"),
        {
            "start_0": day,
            "start_1": "00:00",
            "end_0": day,
            "end_1": "23:59",
            "kind": "weather",
            "reason": "Typhoon signal No. 8",
        },
        follow=True,
    )
    assert response.status_code == 200
    closure = ClinicClosure.objects.get()
    assert closure.created_by == manager
    assert "1 confirmed or checked-in appointment(s)" in response.content.decode()


@pytest.mark.parametrize("model", sorted(CLINICAL, key=lambda m: m._meta.label), ids=lambda m: m._meta.label)
def test_clinical_records_are_shown_but_never_changed_or_deleted_in_the_admin(
    model: type[Model], as_role: Callable[[str], User], client: Client
) -> None:
    _clinical_records_without_seed()
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None
    for role in ("manager", "practitioner"):
        as_role(role)
        page = client.get(_url(model, "change", obj.pk))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content  # view only
        assert client.get(_url(model, "history", obj.pk)).status_code == 200
        assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()
    as_role("receptionist")
    assert client.get(_url(model, "change", obj.pk)).status_code == 403


def _clinical_records_without_seed() -> None:
    patient = PatientFactory()
    AssessmentFactory(patient=patient)
    plan = clinical.plan_create(patient=patient, treatment=TreatmentFactory(), sessions=3, by=UserFactory())
    assert plan.sessions.count() == 3
    SessionRecord.objects.create(appointment=AppointmentFactory(patient=patient), category="peel")


def test_consent_signatures_are_read_only_and_their_pages_are_logged(
    clinic: None, as_role: Callable[[str], User], client: Client
) -> None:
    manager = as_role("manager")
    signature = ConsentSignature.objects.order_by("pk").first()
    assert signature is not None
    page = client.get(_url(ConsentSignature, "change", signature.pk))

    assert page.status_code == 200
    assert signature.text_sha256 in page.text
    assert f"/api/v1/consents/{signature.pk}.pdf" in page.text
    assert 'name="full_name"' not in page.text  # shown, not editable
    assert client.post(_url(ConsentSignature, "delete", signature.pk), {"post": "yes"}).status_code == 403
    assert list(AccessEvent.objects.filter(what="consent").values_list("actor", "patient", "what", "door")) == [
        (manager.pk, signature.patient_id, "consent", "admin")
    ]


def test_a_published_consent_version_is_read_only_and_a_draft_editable(
    clinic: None, as_role: Callable[[str], User], client: Client
) -> None:
    as_role("manager")
    published = ConsentVersion.objects.filter(published_at__isnull=False).order_by("pk").first()
    assert published is not None
    page = client.get(_url(ConsentVersion, "change", published.pk))
    assert page.status_code == 200
    assert 'name="risks_en"' not in page.text
    draft = consents.consent_version_draft(form=published.form, by=UserFactory(role="manager"))
    page = client.get(_url(ConsentVersion, "change", draft.pk))
    assert 'name="risks_en"' in page.text
