"""Issue 16, the public site's content: featured treatments chosen by the clinic
(admin order) and practitioners with a photo and a short bio, in both languages."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image

from booking.models import Practitioner
from booking.profiles import photo_url, practitioner_photo_set
from clinic.errors import InvalidInput
from demo.clinic import seed_demo
from tests.factories import PractitionerFactory, TreatmentFactory, UserFactory
from tests.pages.site_fixtures import Clinic, make_clinic
from treatments.models import Category, Treatment
from treatments.selectors import featured_treatments

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


@pytest.fixture(autouse=True)
def _monday_morning() -> Any:
    with time_machine.travel("2026-11-30 09:00 +0800", tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Uploads go to a folder of this test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


@pytest.fixture
def clinic() -> Clinic:
    return make_clinic()


def _png(width: int = 300, height: int = 400, colour: tuple[int, int, int] = (200, 120, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def _with_photo(practitioner: Practitioner) -> Practitioner:
    data = _png()
    return practitioner_photo_set(practitioner=practitioner, upload=io.BytesIO(data), size=len(data))


def _feature(treatment: Treatment, order: int) -> None:
    treatment.featured, treatment.featured_order = True, order
    treatment.save(update_fields=["featured", "featured_order"])


def _featured_names(html: str) -> list[str]:
    section = html.split('id="featured-heading"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<h3><a href="/treatments/[^"]+/">([^<]+)</a></h3>', section)


# --- featured treatments ---------------------------------------------------------------------


def test_featured_treatments_are_the_chosen_ones_in_the_clinics_order(clinic: Clinic) -> None:
    laser = TreatmentFactory(slug="laser", name_en="Pico laser", display_order=50)
    TreatmentFactory(slug="steroid", name_en="Steroid injection", category=Category.STEROID, display_order=0)
    retired = TreatmentFactory(slug="retired", active=False)
    _feature(laser, 10)
    _feature(clinic.consultation, 20)
    _feature(clinic.peel, 30)
    _feature(retired, 5)

    assert [t.slug for t in featured_treatments()] == ["laser", "consultation", "peel"]

    _feature(clinic.peel, 1)  # the admin moves the peel to the front
    assert [t.slug for t in featured_treatments()] == ["peel", "laser", "consultation"]


def test_home_shows_the_featured_treatments_in_order(client: Client, clinic: Clinic) -> None:
    TreatmentFactory(slug="steroid", name_en="Steroid injection", category=Category.STEROID, display_order=0)
    _feature(clinic.peel, 1)
    _feature(clinic.consultation, 2)

    html = client.get("/").text
    assert _featured_names(html) == ["Glycolic peel", "Scar consultation"]
    assert "Steroid injection" not in html

    zh = client.get("/", **ZH).text
    assert "推介療程" in zh
    assert _featured_names(zh) == ["果酸換膚", "疤痕諮詢"]


def test_without_featured_treatments_the_home_page_links_to_the_catalogue(client: Client, clinic: Clinic) -> None:
    html = client.get("/").text
    assert 'id="featured-heading"' not in html
    assert "Glycolic peel" not in html
    assert "See all 2 treatments" in html


def test_the_demo_clinic_leads_with_a_consultation_and_scar_treatments_not_steroid(client: Client) -> None:
    seed_demo(today=date(2026, 11, 30))
    names = _featured_names(client.get("/").text)
    assert names[0] == "Scar consultation and assessment"
    assert "Fractional CO2 laser resurfacing" in names and "Subcision" in names and "TCA CROSS" in names
    assert "Intralesional steroid injection" not in names
    # Every demo practitioner has a bio in both languages and a (drawn) photo.
    for practitioner in Practitioner.objects.all():
        assert practitioner.bio_en and practitioner.bio_zh_hant
        assert practitioner.photo and default_storage.exists(practitioner.photo.name)


def test_featured_fields_are_edited_from_the_admins_list(client: Client, clinic: Clinic) -> None:
    client.force_login(UserFactory(role="manager"))
    url = reverse("admin:treatments_treatment_changelist")
    page = client.get(url).text
    rows = [clinic.consultation, clinic.peel]  # the list's order: display_order
    assert 'name="form-0-featured"' in page and 'name="form-0-featured_order"' in page
    data: dict[str, Any] = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, treatment in enumerate(rows):
        data[f"form-{i}-id"] = str(treatment.pk)
        data[f"form-{i}-display_order"] = str(treatment.display_order)
        data[f"form-{i}-featured"] = "on"
        data[f"form-{i}-featured_order"] = "2" if treatment == clinic.consultation else "1"
    response = client.post(url, data)
    assert response.status_code == 302
    assert [t.slug for t in featured_treatments()] == ["peel", "consultation"]


# --- practitioners: photo and bio ------------------------------------------------------------


def _bios(clinic: Clinic) -> None:
    clinic.first.bio_en = "Mei has treated acne scars for ten years."
    clinic.first.bio_zh_hant = "陳醫生治療暗瘡疤痕已有十年。"
    clinic.first.save(update_fields=["bio_en", "bio_zh_hant"])
    _with_photo(clinic.first)


def test_treatment_page_says_who_performs_it_with_photo_or_initials(client: Client, clinic: Clinic) -> None:
    _bios(clinic)
    PractitionerFactory(treatments=[clinic.consultation], user__first_name="Not", user__last_name="Peel")
    html = client.get("/treatments/peel/").text
    assert "Who performs this" in html
    assert "Mei has treated acne scars for ten years." in html
    assert f'src="{photo_url(clinic.first)}"' in html
    assert '<span class="avatar avatar-initials' in html and ">KW</span>" in html  # Ka Wong has no photo
    assert "Not Peel" not in html  # not qualified for the peel

    zh = client.get("/treatments/peel/", **ZH).text
    assert "由誰主理" in zh
    assert "陳醫生治療暗瘡疤痕已有十年。" in zh and "皮膚科醫生" in zh


def test_practitioner_step_shows_photo_title_and_bio(client: Client, clinic: Clinic) -> None:
    _bios(clinic)
    html = client.get("/book/?treatment=peel").text
    assert "Who would you like to see?" in html
    assert "Mei has treated acne scars for ten years." in html
    assert f'src="{photo_url(clinic.first)}"' in html
    assert "Dermatologist" in html
    zh = client.get("/book/?treatment=peel", **ZH).text
    assert "陳醫生治療暗瘡疤痕已有十年。" in zh and "Mei has treated" not in zh


def test_treatment_page_queries_do_not_grow_with_practitioners(
    client: Client, clinic: Clinic, django_assert_max_num_queries: Any
) -> None:
    _bios(clinic)
    with django_assert_max_num_queries(50) as few:
        client.get("/treatments/peel/")
    for _ in range(4):
        _with_photo(PractitionerFactory(treatments=[clinic.peel]))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/treatments/peel/")


def test_the_photo_is_public_small_and_cacheable_and_old_addresses_are_gone(clinic: Clinic) -> None:
    big = io.BytesIO()
    Image.new("RGB", (2000, 1500), (10, 200, 30)).save(big, format="JPEG")
    practitioner_photo_set(practitioner=clinic.first, upload=io.BytesIO(big.getvalue()), size=big.tell())
    old = photo_url(clinic.first)
    response = Client().get(old)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("public")
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as served:  # type: ignore[attr-defined]
        assert served.size == (480, 480) and "exif" not in served.info

    _with_photo(clinic.first)
    assert Client().get(old).status_code == 404  # replaced: the old file and address are gone
    assert Client().get(photo_url(clinic.first)).status_code == 200
    clinic.first.active = False
    clinic.first.save(update_fields=["active"])
    assert Client().get(photo_url(clinic.first)).status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "Upload a JPEG or PNG picture."),
        (b"GIF89a" + b"\0" * 40, "Upload a JPEG or PNG picture."),
        (_png()[:200], "The picture is damaged or incomplete."),
        (b"", "The file is empty."),
    ],
)
def test_a_bad_photo_is_refused_and_nothing_is_stored(clinic: Clinic, media: Path, data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        practitioner_photo_set(practitioner=clinic.first, upload=io.BytesIO(data), size=len(data))
    assert refused.value.fields == {"photo": [message]}
    clinic.first.refresh_from_db()
    assert not clinic.first.photo
    assert not list(media.rglob("*.*"))


def test_a_photo_over_five_megabytes_is_refused(clinic: Clinic) -> None:
    with pytest.raises(InvalidInput, match="larger than 5 MB"):
        practitioner_photo_set(practitioner=clinic.first, upload=io.BytesIO(_png()), size=5 * 1024 * 1024 + 1)


def _admin_form(practitioner: Practitioner, **extra: Any) -> dict[str, Any]:
    return {
        "user": str(practitioner.user_id),
        "title_en": practitioner.title_en,
        "title_zh_hant": practitioner.title_zh_hant,
        "bio_en": "New bio.",
        "bio_zh_hant": "新簡介。",
        "active": "on",
        "treatments": [str(t.pk) for t in practitioner.treatments.all()],
        "working_hours-TOTAL_FORMS": "0",
        "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0",
        "working_hours-MAX_NUM_FORMS": "1000",
        **extra,
    }


@pytest.fixture
def manager(client: Client) -> Callable[[], User]:
    def login() -> User:
        user = UserFactory(role="manager")
        client.force_login(user)
        return user

    return login


def test_admin_uploads_a_photo_and_edits_the_bio(client: Client, clinic: Clinic, manager: Any) -> None:
    manager()
    url = reverse("admin:booking_practitioner_change", args=[clinic.first.pk])
    practitioner = Practitioner.objects.get(pk=clinic.first.pk)
    practitioner.working_hours.all().delete()
    upload = io.BytesIO(_png())
    upload.name = "me.png"
    response = client.post(url, _admin_form(practitioner, new_photo=upload))
    assert response.status_code == 302, response.context["adminform"].form.errors
    practitioner.refresh_from_db()
    assert practitioner.bio_en == "New bio." and practitioner.bio_zh_hant == "新簡介。"
    assert practitioner.photo.name.startswith("practitioners/") and practitioner.photo.name.endswith(".jpg")
    assert f'src="{photo_url(practitioner)}"' in client.get(url).text

    response = client.post(url, _admin_form(practitioner, remove_photo="on"))
    assert response.status_code == 302
    practitioner.refresh_from_db()
    assert not practitioner.photo


def test_admin_refuses_a_file_that_is_not_a_picture(client: Client, clinic: Clinic, manager: Any) -> None:
    manager()
    url = reverse("admin:booking_practitioner_change", args=[clinic.first.pk])
    practitioner = Practitioner.objects.get(pk=clinic.first.pk)
    practitioner.working_hours.all().delete()
    upload = io.BytesIO(b"%PDF-1.4 not a picture")
    upload.name = "cv.png"
    response = client.post(url, _admin_form(practitioner, new_photo=upload))
    assert response.status_code == 200
    assert "Upload a JPEG or PNG picture." in response.text
    practitioner.refresh_from_db()
    assert not practitioner.photo and practitioner.bio_en == ""
