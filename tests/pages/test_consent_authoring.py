"""Managers write and publish consent forms in the workspace (workspace/consents):
a new form, its first draft, edits side by side in both languages, publishing
with the explicit choice about earlier signatures, a published version shown
read-only with its signature count; everyone else is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import ConsentFormFactory, ConsentVersionFactory, PatientFactory, TreatmentFactory, UserFactory
from tests.treatments.test_consents import sign
from treatments import consents
from treatments.models import Category, ConsentForm, ConsentVersion

pytestmark = pytest.mark.django_db

TEXTS = {
    "summary_en": "Pico laser breaks up pigment.",
    "summary_zh_hant": "皮秒激光擊碎色素。",
    "risks_en": "Redness for a few days.",
    "risks_zh_hant": "數日泛紅。",
    "alternatives_en": "Peels, or no treatment.",
    "alternatives_zh_hant": "換膚，或不接受治療。",
    "aftercare_en": "Sunscreen every day.",
    "aftercare_zh_hant": "每日塗防曬。",
    "photos_en": "Photos are part of your record.",
    "photos_zh_hant": "照片屬於您的紀錄。",
}


@pytest.fixture
def manager(client: Client) -> Any:
    user = UserFactory(role="manager", first_name="Mei", last_name="Ho")
    client.force_login(user)
    return user


def test_a_manager_creates_a_form_writes_version_one_and_publishes_it(client: Client, manager: Any) -> None:
    pico = TreatmentFactory(slug="pico", category=Category.FACIAL, name_en="Pico laser")

    response = client.post(
        reverse("consents:new"),
        {
            "slug": "pico-laser",
            "title_en": "Pico laser",
            "title_zh_hant": "皮秒激光",
            "categories": ["laser"],
            "treatments": [pico.pk],
            "active": "on",
        },
    )
    assert response.status_code == 302
    form = ConsentForm.objects.get(slug="pico-laser")
    assert form.categories == ["laser"] and list(form.treatments.all()) == [pico]
    assert form.history.latest().history_user == manager

    response = client.post(reverse("consents:draft_new", args=["pico-laser"]))
    assert response.headers["Location"] == reverse("consents:draft", args=["pico-laser"])
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'name="summary_en"' in page.text and 'name="summary_zh_hant"' in page.text
    assert "Earlier signatures stay valid" not in page.text  # nothing earlier to keep

    response = client.post(reverse("consents:draft", args=["pico-laser"]), {**TEXTS, "save": "1"})
    assert response.status_code == 302
    draft = ConsentVersion.objects.get(form=form)
    assert draft.risks_zh_hant == "數日泛紅。" and not draft.published

    response = client.post(reverse("consents:draft", args=["pico-laser"]), {**TEXTS, "publish": "1"})
    assert response.headers["Location"] == reverse("consents:version", args=["pico-laser", 1])
    draft.refresh_from_db()
    assert draft.published and draft.published_by == manager
    # The facial treatment named by the form now needs it.
    assert [need.version for need in consents.needs_for(patient=PatientFactory(), treatment=pico)] == [draft]


def test_publishing_with_an_empty_section_keeps_the_draft_and_says_what_is_missing(
    client: Client, manager: Any
) -> None:
    form = ConsentFormFactory(slug="peel")
    ConsentVersionFactory(form=form, published_at=None, risks_zh_hant="")
    posted = {**TEXTS, "risks_zh_hant": "", "publish": "1"}

    response = client.post(reverse("consents:draft", args=["peel"]), posted)

    assert response.status_code == 400
    assert "Every section needs its English and Chinese text." in response.text
    assert "Write this section before publishing." in response.text
    assert "Pico laser breaks up pigment." in response.text  # what was typed stays
    version = ConsentVersion.objects.get(form=form)
    assert not version.published
    assert version.summary_en == "Pico laser breaks up pigment."  # the texts were saved as a draft


@pytest.mark.parametrize(("choice", "keeps"), [("keep", True), ("again", False)])
def test_a_new_version_says_whether_earlier_signatures_stay_valid(
    client: Client, manager: Any, choice: str, keeps: bool
) -> None:
    form = ConsentFormFactory(slug="laser", categories=["peel"])
    first = ConsentVersionFactory(form=form)
    patient = PatientFactory()
    sign(patient, first)
    peel = TreatmentFactory(category=Category.PEEL)

    client.post(reverse("consents:draft_new", args=["laser"]))
    page = client.get(reverse("consents:draft", args=["laser"]))
    assert "Earlier signatures stay valid (wording fix)" in page.text
    assert "Patients must sign again" in page.text
    assert "What the treatment does." in page.text  # copied from version 1

    without_choice = client.post(reverse("consents:draft", args=["laser"]), {**TEXTS, "publish": "1"})
    assert without_choice.status_code == 400
    assert not ConsentVersion.objects.get(form=form, number=2).published

    client.post(reverse("consents:draft", args=["laser"]), {**TEXTS, "publish": "1", "signatures": choice})

    second = ConsentVersion.objects.get(form=form, number=2)
    assert second.published and second.keeps_earlier_signatures is keeps
    [need] = consents.needs_for(patient=patient, treatment=peel)
    assert need.version == second
    assert need.signed is keeps


def test_a_published_version_is_shown_read_only_with_its_signature_count(client: Client, manager: Any) -> None:
    form = ConsentFormFactory(slug="needling", title_en="Needling")
    version = ConsentVersionFactory(form=form, risks_en="Pinpoint bleeding.")
    for _ in range(2):
        sign(PatientFactory(), version)

    page = client.get(reverse("consents:version", args=["needling", 1]))

    assert page.status_code == 200
    assert "Pinpoint bleeding." in page.text and "泛紅及腫脹。" in page.text
    assert "2 patients signed this version" in page.text
    assert "<textarea" not in page.text
    # No draft to edit: the draft page is not found, and editing through the service is refused.
    assert client.get(reverse("consents:draft", args=["needling"])).status_code == 404
    listing = client.get(reverse("consents:form", args=["needling"]))
    assert "Write a new version" in listing.text
    assert client.get(reverse("consents:list")).status_code == 200


def test_the_settings_change_titles_and_coverage_and_can_take_a_form_out_of_use(client: Client, manager: Any) -> None:
    form = ConsentFormFactory(slug="toxin", categories=["toxin"])
    ConsentVersionFactory(form=form)

    response = client.post(
        reverse("consents:form", args=["toxin"]),
        {"title_en": "Toxin injections", "title_zh_hant": "肉毒桿菌素注射", "categories": ["toxin", "filler"]},
    )

    assert response.status_code == 302
    form.refresh_from_db()
    assert (form.title_en, form.categories, form.active) == ("Toxin injections", ["filler", "toxin"], False)
    assert consents.forms_for(TreatmentFactory(category=Category.TOXIN)) == []


def test_a_taken_or_malformed_slug_is_refused_in_place(client: Client, manager: Any) -> None:
    ConsentFormFactory(slug="taken")
    for slug, message in (("taken", "Another form has this name"), ("new", "Choose another name.")):
        response = client.post(
            reverse("consents:new"), {"slug": slug, "title_en": "A form", "title_zh_hant": "表格", "active": "on"}
        )
        assert response.status_code == 400
        assert message in response.text
        assert 'value="A form"' in response.text
    assert ConsentForm.objects.count() == 1


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_only_managers_write_consent_forms(client: Client, role: str) -> None:
    form = ConsentFormFactory(slug="peel")
    ConsentVersionFactory(form=form, published_at=None)
    client.force_login(UserFactory(role=role))

    for url in (
        reverse("consents:list"),
        reverse("consents:new"),
        reverse("consents:form", args=["peel"]),
        reverse("consents:draft", args=["peel"]),
        reverse("consents:version", args=["peel", 1]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("consents:draft", args=["peel"]), {**TEXTS, "publish": "1"}).status_code == 403
    assert client.post(reverse("consents:draft_new", args=["peel"])).status_code == 403
    assert not ConsentVersion.objects.get(form=form).published
    assert "Consent forms" not in client.get(reverse("staff:schedule")).text


def test_the_managers_menu_links_to_the_consent_forms(client: Client, manager: Any) -> None:
    page = client.get(reverse("staff:schedule"))
    assert f'href="{reverse("consents:list")}"' in page.text
