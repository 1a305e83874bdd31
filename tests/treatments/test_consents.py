"""The consent rules of treatments.consents: which forms a visit needs, which
signature counts, what signing stores, and what it refuses."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from clinic.errors import InvalidInput, InvalidState
from tests.factories import (
    ConsentFormFactory,
    ConsentVersionFactory,
    PatientFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import consents
from treatments.models import Category, ConsentSignature, ConsentVersion

pytestmark = pytest.mark.django_db

DRAWING = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 200">'
    '<path d="M10 10 L50 60 L90 20"/><path d="M100 100 L120 130"/></svg>'
)


def sign(patient, version, **overrides):
    values = {
        "patient": patient,
        "version": version,
        "full_name": patient.full_name,
        "signature_svg": DRAWING,
        "photo_use": ["clinical"],
        "language": "en",
        "channel": "online",
        "by": patient.user,
        "client_address": "203.0.113.9",
    }
    values.update(overrides)
    return consents.consent_sign(**values)


@pytest.fixture
def peel():
    return TreatmentFactory(category=Category.PEEL)


@pytest.fixture
def version(peel):
    return ConsentVersionFactory(form=ConsentFormFactory(categories=[Category.PEEL.value]))


def test_a_treatment_needs_the_forms_of_its_category_and_those_naming_it(peel, version):
    named = ConsentFormFactory(categories=[])
    named.treatments.add(peel)
    ConsentVersionFactory(form=named)
    other = ConsentFormFactory(categories=[Category.LASER.value])
    ConsentVersionFactory(form=other)
    inactive = ConsentFormFactory(categories=[Category.PEEL.value], active=False)
    ConsentVersionFactory(form=inactive)

    assert {form.pk for form in consents.forms_for(peel)} == {version.form.pk, named.pk}


def test_a_form_with_only_a_draft_needs_nothing_yet(peel):
    ConsentVersionFactory(form=ConsentFormFactory(), published_at=None)
    assert consents.needs_for(patient=PatientFactory(), treatment=peel) == []


def test_signing_stores_the_exact_text_its_hash_and_a_clean_drawing(peel, version):
    patient = PatientFactory(full_name="Chan Tai Man")
    signature = sign(patient, version, language="zh-hant", photo_use=["clinical", "teaching"])

    assert "泛紅及腫脹" in signature.text and "Redness" not in signature.text
    assert signature.text_sha256 == hashlib.sha256(signature.text.encode()).hexdigest()
    assert signature.signature_svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 200"')
    assert 'd="M10 10 L50 60 L90 20"' in signature.signature_svg
    assert signature.photo_use == ["clinical", "teaching"]
    assert str(signature.client_address) == "203.0.113.9"
    need = consents.needs_for(patient=patient, treatment=peel)
    assert [n.signature for n in need] == [signature]


def test_typing_instead_of_drawing_is_a_signature(peel, version):
    patient = PatientFactory()
    signature = sign(patient, version, signature_svg="")
    assert signature.signature_svg == ""
    assert consents.missing(patient=patient, treatment=peel) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"signature_svg": "<svg viewBox='0 0 10 10'><script>alert(1)</script></svg>"}, "signature_svg"),
        ({"signature_svg": '<svg viewBox="0 0 600 200"><path d="M10 10 L700 10"/></svg>'}, "signature_svg"),
        ({"signature_svg": '<!DOCTYPE x [<!ENTITY a "b">]><svg viewBox="0 0 6 2"></svg>'}, "signature_svg"),
        ({"signature_svg": '<svg viewBox="0 0 600 200">' + '<path d="M1 1 L2 2"/>' * 5000 + "</svg>"}, "signature_svg"),
        ({"photo_use": ["clinical", "billboards"]}, "photo_use"),
        ({"channel": "desk"}, "witness"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(peel, version, overrides, field):
    patient = PatientFactory()
    with pytest.raises(InvalidInput) as refused:
        sign(patient, version, **overrides)
    assert field in (refused.value.fields or {})
    assert not ConsentSignature.objects.exists()


def test_an_outdated_version_cannot_be_signed(peel, version):
    ConsentVersionFactory(form=version.form, number=2)
    with pytest.raises(InvalidInput) as refused:
        sign(PatientFactory(), version)
    assert "version" in refused.value.fields


def test_a_draft_cannot_be_signed(peel):
    draft = ConsentVersionFactory(published_at=None)
    with pytest.raises(InvalidInput):
        sign(PatientFactory(), draft)


def test_a_new_version_invalidates_old_signatures_only_when_it_says_so(peel, version):
    patient = PatientFactory()
    signature = sign(patient, version)
    manager = UserFactory(role="manager")

    keeping = consents.consent_version_draft(form=version.form, by=manager)
    consents.consent_version_publish(version=keeping, by=manager, keeps_earlier_signatures=True)
    assert [n.signature for n in consents.needs_for(patient=patient, treatment=peel)] == [signature]
    assert consents.needs_for(patient=patient, treatment=peel)[0].version == keeping

    strict = consents.consent_version_draft(form=version.form, by=manager)
    consents.consent_version_publish(version=strict, by=manager, keeps_earlier_signatures=False)
    [need] = consents.needs_for(patient=patient, treatment=peel)
    assert need.version == strict and need.signature is None


def test_withdrawn_consent_no_longer_counts_and_is_kept(peel, version):
    patient = PatientFactory()
    signature = sign(patient, version, photo_use=["clinical", "marketing"])
    assert consents.photo_use(patient) == ["clinical", "marketing"]

    consents.consent_withdraw(signature=signature, by=patient.user, reason="Changed my mind")

    assert [n.signature for n in consents.needs_for(patient=patient, treatment=peel)] == [None]
    assert consents.photo_use(patient) == ["clinical"]
    signature.refresh_from_db()
    assert signature.withdrawal_reason == "Changed my mind"
    assert signature.history.count() == 2
    with pytest.raises(InvalidState):
        consents.consent_withdraw(signature=signature, by=patient.user)


def test_a_published_version_cannot_change(version):
    manager = UserFactory(role="manager")
    with pytest.raises(InvalidState):
        consents.consent_version_edit(version=version, by=manager, risks_en="Nothing at all.")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's")
def test_the_database_refuses_to_change_what_was_signed(peel, version):
    signature = sign(PatientFactory(), version)
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentVersion.objects.filter(pk=version.pk).update(risks_en="Nothing at all.")
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentSignature.objects.filter(pk=signature.pk).update(text="Something else")


def test_publishing_needs_every_section_in_both_languages(version):
    manager = UserFactory(role="manager")
    draft = consents.consent_version_draft(form=version.form, by=manager)
    consents.consent_version_edit(version=draft, by=manager, risks_zh_hant="")
    with pytest.raises(InvalidInput) as refused:
        consents.consent_version_publish(version=draft, by=manager)
    assert "risks_zh_hant" in refused.value.fields
    with pytest.raises(InvalidState):
        consents.consent_version_draft(form=version.form, by=manager)


def test_needs_for_many_visits_costs_a_fixed_number_of_queries(django_assert_max_num_queries, peel, version):
    patients = [PatientFactory() for _ in range(6)]
    for patient in patients[:3]:
        sign(patient, version)
    laser = TreatmentFactory(category=Category.LASER)
    with django_assert_max_num_queries(4):
        result = consents.needs([(p, t) for p in patients for t in (peel, laser)])
    assert sum(1 for (pid, tid), needs in result.items() if tid == peel.pk and needs[0].signed) == 3
    assert all(needs == [] for (pid, tid), needs in result.items() if tid == laser.pk)


def test_a_signature_is_dated_now_by_default(peel, version):
    before = timezone.now() - timedelta(seconds=1)
    assert sign(PatientFactory(), version).signed_at >= before
