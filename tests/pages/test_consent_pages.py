"""Signing consent on the pages: the patient's own page and the front desk's
tablet page, who still has to sign (badges, lists, emails) and the photo
choices respected by the staff downloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    AppointmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    PatientFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Category, ConsentSignature

pytestmark = pytest.mark.django_db

DRAWING = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 240">'
    '<path d="M10 10 L50 60 L90 20"/><path d="M100 100 L120 130"/></svg>'
)


@pytest.fixture
def version():
    return ConsentVersionFactory(form=ConsentFormFactory(categories=[Category.PEEL.value]))


@pytest.fixture
def visit(version):
    return AppointmentFactory(
        treatment=TreatmentFactory(category=Category.PEEL), patient=PatientFactory(full_name="Chan Tai Man")
    )


def _post(client, visit, version, **values):
    data = {"version": version.pk, "language": "en", "full_name": "Chan Tai Man", "signature_svg": DRAWING}
    data.update(values)
    return client.post(f"/appointments/{visit.pk}/consent/", data)


def test_the_patient_reads_the_exact_text_and_signs_with_a_drawing(client, visit, version) -> None:
    client.force_login(visit.patient.user)
    page = client.get(f"/appointments/{visit.pk}/consent/")
    assert page.status_code == 200
    assert "Redness and swelling." in page.content.decode()

    response = _post(client, visit, version, photo_teaching="on")

    assert response.status_code == 302
    signature = ConsentSignature.objects.get(patient=visit.patient)
    assert signature.channel == "online" and signature.signature_svg.startswith("<svg")
    assert signature.photo_use == ["clinical", "teaching"]
    assert signature.full_name == "Chan Tai Man"
    after = client.get(response.headers["Location"]).content.decode()
    assert "Signed by Chan Tai Man" in after and "All done" in after


def _staff_client(client, role="receptionist"):
    user = UserFactory(role=role)
    client.force_login(user)
    return user


def test_the_desk_signs_on_the_tablet_with_the_staff_member_as_witness(client, visit, version) -> None:
    staff = _staff_client(client)
    page = client.get(f"/staff/appointments/{visit.pk}/consent/")
    assert page.status_code == 200 and "Redness and swelling." in page.content.decode()

    response = client.post(
        f"/staff/appointments/{visit.pk}/consent/",
        {"version": version.pk, "language": "zh-hant", "full_name": "Chan Tai Man", "typed": "on"},
    )

    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/?date=")
    signature = ConsentSignature.objects.get(patient=visit.patient)
    assert signature.channel == "desk" and signature.witnessed_by == staff and signature.signed_by == staff
    assert signature.signature_svg == "" and "泛紅及腫脹" in signature.text
    assert "signed" in client.get(response.headers["Location"]).content.decode()


# --- the emails ---------------------------------------------------------------------------------


def _reminder(visit, offset=24 * 60):
    from booking.models import Notification
    from tests.factories import NotificationFactory

    return NotificationFactory(
        appointment=visit,
        kind=Notification.Kind.REMINDER,
        offset_minutes=offset,
        due_at=visit.start - timedelta(minutes=offset),
        next_attempt_at=timezone.now(),
    )


def _deliver(rows):
    from django.core import mail

    from booking import notifications

    mail.outbox.clear()
    notifications.notifications_deliver(ids=[row.pk for row in rows])
    return list(mail.outbox)


def test_the_reminder_says_consent_is_missing_with_the_link_and_stops_once_signed(visit, version) -> None:
    from treatments import consents

    [message] = _deliver([_reminder(visit)])
    html = message.alternatives[0][0]
    for part in (message.body, html):
        assert "Consent needed before your treatment" in part
        assert f"/appointments/{visit.pk}/consent/" in part

    consents.consent_sign(
        patient=visit.patient,
        version=version,
        full_name="Chan Tai Man",
        language="en",
        channel="online",
        by=visit.patient.user,
    )
    [message] = _deliver([_reminder(visit, offset=23 * 60)])
    assert "Consent needed" not in message.body and "Consent signed" in message.body


def test_the_confirmation_in_chinese_names_the_form_to_sign(visit, version) -> None:
    from booking.models import Notification
    from tests.factories import NotificationFactory

    visit.patient.preferred_language = "zh-hant"
    visit.patient.save(update_fields=["preferred_language"])
    [message] = _deliver([NotificationFactory(appointment=visit, kind=Notification.Kind.CONFIRMATION)])
    assert "療程前須簽署同意書" in message.body and "治療同意書" in message.body


def test_many_reminders_read_consent_in_one_batch(version) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def consent_queries(count: int) -> int:
        rows = [_reminder(AppointmentFactory(treatment=TreatmentFactory(category=Category.PEEL))) for _ in range(count)]
        with CaptureQueriesContext(connection) as queries:
            assert len(_deliver(rows)) == count
        return sum(1 for q in queries if "treatments_consent" in q["sql"])

    assert consent_queries(1) == consent_queries(4)


# --- who still has to sign ----------------------------------------------------------------------


def _sign(visit, version, **values):
    from treatments import consents

    defaults = {
        "patient": visit.patient,
        "version": version,
        "full_name": visit.patient.full_name,
        "language": "en",
        "channel": "online",
        "by": visit.patient.user,
    }
    defaults.update(values)
    return consents.consent_sign(**defaults)


def test_the_schedule_and_the_panel_show_consent_needed_until_it_is_signed(client, visit, version) -> None:
    _staff_client(client)
    day = timezone.localtime(visit.start).date().isoformat()
    assert "Consent needed" in client.get(f"/staff/?date={day}").content.decode()
    assert "Consent needed" in client.get(f"/staff/?date={day}&view=week").content.decode()
    panel = client.get(f"/staff/appointments/{visit.pk}/").content.decode()
    assert "Consent needed" in panel and f"/staff/appointments/{visit.pk}/consent/" in panel

    _sign(visit, version)

    assert "Consent needed" not in client.get(f"/staff/?date={day}").content.decode()
    assert "Consent signed" in client.get(f"/staff/appointments/{visit.pk}/").content.decode()


def test_my_appointments_link_to_signing_and_then_say_signed(client, visit, version) -> None:
    client.force_login(visit.patient.user)
    page = client.get("/appointments/").content.decode()
    assert "Sign your consent form" in page and f"/appointments/{visit.pk}/consent/" in page

    _sign(visit, version)

    page = client.get("/appointments/").content.decode()
    assert "Sign your consent form" not in page and "Consent signed" in page


def test_the_chart_shows_missing_consent_and_the_signatures(client, visit, version) -> None:
    _staff_client(client)
    page = client.get(f"/staff/patients/{visit.patient.pk}/").content.decode()
    assert "Consent needed for 1 upcoming visit" in page

    _sign(visit, version, photo_use=["clinical", "marketing"])

    page = client.get(f"/staff/patients/{visit.patient.pk}/appointments/").content.decode()
    assert "Consent needed for" not in page
    assert version.form.title_en in page and "Marketing" in page and "Withdraw this consent" not in page


def test_a_manager_withdraws_a_consent_with_a_reason(client, visit, version) -> None:
    signature = _sign(visit, version)
    manager = _staff_client(client, "manager")
    url = f"/staff/patients/{visit.patient.pk}/consents/{signature.pk}/withdraw/"

    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400 and "Give the reason" in refused.content.decode()
    signature.refresh_from_db()
    assert signature.withdrawn_at is None

    assert client.post(url, {"reason": "Patient asked by phone"}).status_code == 302
    signature.refresh_from_db()
    assert signature.withdrawn_by == manager and signature.withdrawal_reason == "Patient asked by phone"
    page = client.get(f"/staff/patients/{visit.patient.pk}/").content.decode()
    assert "Consent needed for 1 upcoming visit" in page


def test_a_receptionist_cannot_withdraw(client, visit, version) -> None:
    signature = _sign(visit, version)
    _staff_client(client)
    url = f"/staff/patients/{visit.patient.pk}/consents/{signature.pk}/withdraw/"
    assert client.post(url, {"reason": "x"}).status_code == 403


# --- photo choices ------------------------------------------------------------------------------


@pytest.fixture
def photo(visit):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import AssessmentFactory
    from treatments.models import AssessmentPhoto

    assessment = AssessmentFactory(patient=visit.patient)
    return AssessmentPhoto.objects.create(
        assessment=assessment,
        view="front",
        image=SimpleUploadedFile("a.jpg", b"\\xff\\xd8image", content_type="image/jpeg"),
        thumbnail=SimpleUploadedFile("t.jpg", b"\\xff\\xd8thumb", content_type="image/jpeg"),
        content_type="image/jpeg",
        width=10,
        height=10,
    )


def test_a_teaching_download_is_refused_unless_the_patient_allowed_it(client, visit, version, photo) -> None:
    _staff_client(client, "practitioner")
    url = f"/staff/patients/{visit.patient.pk}/photos/{photo.pk}/image/"
    assert client.get(url).status_code == 200  # clinical use: always
    assert client.get(url + "?use=clinical").status_code == 200
    refused = client.get(url + "?use=teaching")
    assert refused.status_code == 403 and "not allowed their photos to be used for teaching" in refused.content.decode()
    assert client.get(url + "?use=anything").status_code == 400
    page = client.get(f"/staff/patients/{visit.patient.pk}/photos/").content.decode()
    assert "Clinical use only" in page and "Download for teaching" not in page

    _sign(visit, version, photo_use=["clinical", "teaching"])

    allowed = client.get(url + "?use=teaching")
    assert allowed.status_code == 200 and allowed["Content-Disposition"].startswith("attachment")
    assert client.get(url + "?use=marketing").status_code == 403
    assert "Download for teaching" in client.get(f"/staff/patients/{visit.patient.pk}/photos/").content.decode()


def test_the_patient_sees_their_photo_choices_and_withdraws(client, visit, version) -> None:
    signature = _sign(visit, version, photo_use=["clinical", "marketing"])
    client.force_login(visit.patient.user)
    page = client.get("/me/").content.decode()
    assert "Marketing" in page and "Withdraw this consent" in page

    other = PatientFactory()
    theirs = _sign(AppointmentFactory(patient=other, treatment=visit.treatment), version)
    assert client.post(f"/me/consents/{theirs.pk}/withdraw/").status_code == 404

    assert client.post(f"/me/consents/{signature.pk}/withdraw/", {"reason": ""}).status_code == 302
    signature.refresh_from_db()
    assert signature.withdrawn_at is not None
    page = client.get("/me/").content.decode()
    assert "Clinical use only" in page and "Sign your consent form" in page


def test_the_page_sets_out_exactly_the_text_that_is_stored(version) -> None:
    from treatments import consents

    for language in ("en", "zh-hant"):
        parts = consents.consent_parts(version, language)
        joined = "\n\n".join([parts[0][0]] + [f"{heading}\n{body}" for heading, body in parts[1:]])
        assert joined == consents.consent_text(version, language)


# --- refusals keep the form filled ----------------------------------------------------------------


def test_an_empty_name_is_refused_with_the_form_kept(client, visit, version) -> None:
    client.force_login(visit.patient.user)
    response = _post(client, visit, version, full_name="   ", photo_marketing="on")

    assert response.status_code == 400
    page = response.content.decode()
    assert "Type your full name." in page
    assert 'name="photo_marketing" id="consent-' in page and "checked" in page.split('name="photo_marketing"')[1][:120]
    assert "M10 10 L50 60" in page  # the drawing comes back, for the pad to draw again
    assert not ConsentSignature.objects.exists()


def test_a_bad_drawing_or_none_is_refused_and_says_what_to_do(client, visit, version) -> None:
    client.force_login(visit.patient.user)
    bad = _post(client, visit, version, signature_svg='<svg viewBox="0 0 10 10"><script>x</script></svg>')
    assert bad.status_code == 400 and "Draw it again, or type your name instead." in bad.content.decode()
    assert 'value="Chan Tai Man"' in bad.content.decode()

    none = _post(client, visit, version, signature_svg="")
    assert none.status_code == 400 and "Type my name instead of drawing" in none.content.decode()
    assert "Draw your signature in the box" in none.content.decode()
    assert not ConsentSignature.objects.exists()


def test_an_outdated_version_is_refused_and_the_new_text_shown_with_the_form_filled(client, visit, version) -> None:
    client.force_login(visit.patient.user)
    client.get(f"/appointments/{visit.pk}/consent/")
    newer = ConsentVersionFactory(form=version.form, risks_en="Redness, swelling and rare scarring.")

    response = _post(client, visit, version, full_name="Chan Tai Man Tom", photo_teaching="on")

    assert response.status_code == 400
    page = response.content.decode()
    assert "This consent form has been updated. Read the current version and sign that one." in page
    assert "rare scarring" in page and 'value="Chan Tai Man Tom"' in page
    assert f'name="version" value="{newer.pk}"' in page
    assert not ConsentSignature.objects.exists()

    assert _post(client, visit, newer, full_name="Chan Tai Man Tom").status_code == 302
    assert ConsentSignature.objects.get().version == newer


def test_another_patients_appointment_is_404(client, visit, version) -> None:
    client.force_login(PatientFactory().user)
    assert client.get(f"/appointments/{visit.pk}/consent/").status_code == 404
    assert _post(client, visit, version).status_code == 404
    assert not ConsentSignature.objects.exists()


def test_a_past_visit_has_nothing_to_sign(client, version) -> None:
    past = AppointmentFactory(
        treatment=TreatmentFactory(category=Category.PEEL), start=timezone.now() - timedelta(days=3)
    )
    client.force_login(past.patient.user)
    page = client.get(f"/appointments/{past.pk}/consent/").content.decode()
    assert "nothing to sign" in page and "<canvas" not in page
    assert _post(client, past, version).status_code == 200
    assert not ConsentSignature.objects.exists()


def test_a_visit_that_needs_no_consent_says_so(client) -> None:
    visit = AppointmentFactory(treatment=TreatmentFactory(category=Category.LASER))
    client.force_login(visit.patient.user)
    assert "This visit needs no consent form." in client.get(f"/appointments/{visit.pk}/consent/").content.decode()
    assert "Consent" not in client.get("/appointments/").content.decode().split("Upcoming")[1].split("Past")[0]


def test_the_desk_page_in_the_patients_language_and_a_desk_refusal(client, visit, version) -> None:
    visit.patient.preferred_language = "zh-hant"
    visit.patient.save(update_fields=["preferred_language"])
    _staff_client(client)
    page = client.get(f"/staff/appointments/{visit.pk}/consent/").content.decode()
    assert "泛紅及腫脹" in page and 'name="language" value="zh-hant"' in page
    assert (
        "Redness and swelling." in client.get(f"/staff/appointments/{visit.pk}/consent/?language=en").content.decode()
    )

    refused = client.post(
        f"/staff/appointments/{visit.pk}/consent/", {"version": version.pk, "language": "en", "typed": "on"}
    )
    assert refused.status_code == 400 and "Type your full name." in refused.content.decode()
    assert not ConsentSignature.objects.exists()


def test_the_desk_form_speaks_the_language_of_the_text(client, visit, version) -> None:
    _staff_client(client)
    page = client.get(f"/staff/appointments/{visit.pk}/consent/?language=zh-hant").content.decode()
    assert "你的全名" in page and "治療同意書" in page  # the patient's form, in Chinese
    assert "Back to the schedule" in page  # the staff member's own words stay in theirs
