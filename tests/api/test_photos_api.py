"""Photo upload and serving (treatments/photos.py).

Uploads are checked by content with Pillow, at most 10 MB, re-encoded
without EXIF (location included) after applying the orientation, stored under
random names in the private storage, and served only by the authorised
endpoints.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from patients.models import Patient
from tests.api.clinical import metadata_of, picture
from tests.factories import AssessmentFactory
from treatments.models import Assessment, AssessmentPhoto
from treatments.photos import MAX_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(root)}},
    }
    yield root


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def assessment(patient_a: Patient) -> Assessment:
    return AssessmentFactory(patient=patient_a)


def upload(
    client: APIClient,
    assessment: Assessment,
    content: bytes,
    *,
    view: str = "front",
    name: str = "face.jpg",
    content_type: str = "image/jpeg",
) -> Any:
    return client.post(
        f"/api/v1/assessments/{assessment.pk}/photos/",
        {"view": view, "image": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


def test_upload_strips_exif_makes_a_thumbnail_and_serves_both(
    as_practitioner: APIClient, as_a: APIClient, assessment: Assessment, media: Path
) -> None:
    original = picture("JPEG", (1200, 900))
    assert metadata_of(original)["gps"]  # the camera's location is in the upload
    response = upload(as_practitioner, assessment, original)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= {"id", "view", "taken_at", "image_url", "thumbnail_url"}
    assert body["view"] == "front"
    assert body["image_url"].endswith(f"/api/v1/photos/{body['id']}/image")
    assert body["thumbnail_url"].endswith(f"/api/v1/photos/{body['id']}/thumbnail")

    for client in (as_practitioner, as_a):
        image = client.get(body["image_url"])
        assert image.status_code == 200
        assert image["Content-Type"] == "image/jpeg"
        assert image["Cache-Control"] == "private, no-store"
        assert image["X-Content-Type-Options"] == "nosniff"
        content = b"".join(image.streaming_content)
        found = metadata_of(content)
        assert found["format"] == "JPEG" and found["size"] == (1200, 900)
        assert found["exif_tags"] == {} and found["gps"] == {}
        assert b"PhoneMaker" not in content
        thumbnail = client.get(body["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail["Cache-Control"] == "private, no-store"
        small = metadata_of(b"".join(thumbnail.streaming_content))
        assert max(small["size"]) == 400 and small["size"] == (400, 300)
        assert small["exif_tags"] == {}


def test_files_have_random_names_in_private_storage(
    as_practitioner: APIClient, assessment: Assessment, media: Path
) -> None:
    first = upload(as_practitioner, assessment, picture(), name="alice-chan-face.jpg").json()
    upload(as_practitioner, assessment, picture(), name="alice-chan-face.jpg")
    files = stored_files(media)
    assert len(files) == 4
    for path in files:
        assert "alice" not in path.name
        assert re.fullmatch(r"[0-9a-f]{32}(-thumb)?\.jpg", path.name), path.name
    photo = AssessmentPhoto.objects.get(pk=first["id"])
    assert photo.image.name.startswith("photos/")
    assert "media" not in first["image_url"]


def test_orientation_is_applied_before_exif_is_removed(as_practitioner: APIClient, assessment: Assessment) -> None:
    # Orientation 6: the camera held sideways; upright, the picture is portrait.
    body = upload(as_practitioner, assessment, picture("JPEG", (800, 600), orientation=6)).json()
    content = b"".join(as_practitioner.get(body["image_url"]).streaming_content)
    found = metadata_of(content)
    assert found["size"] == (600, 800)
    assert found["exif_tags"] == {}
    upright = Image.open(io.BytesIO(content)).convert("L")
    # The dark corner was top-left; rotated 90° clockwise it is top-right.
    assert upright.getpixel((590, 10)) < 50 and upright.getpixel((10, 10)) > 50


def test_png_is_accepted_and_stays_png_without_metadata(as_practitioner: APIClient, assessment: Assessment) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "22.28N 114.16E")
    content = picture("PNG", (500, 500), pnginfo=info)
    response = upload(as_practitioner, assessment, content, name="scan.png", content_type="image/png", view="left_45")
    assert response.status_code == 201, response.json()
    served = as_practitioner.get(response.json()["image_url"])
    assert served["Content-Type"] == "image/png"
    data = b"".join(served.streaming_content)
    found = metadata_of(data)
    assert found["format"] == "PNG" and found["exif_tags"] == {} and "Location" not in found["info_keys"]
    assert b"114.16E" not in data


def _truncated_jpeg() -> bytes:
    content = picture("JPEG", (1000, 800), exif=False)
    return content[: len(content) // 2]


def _disguised_gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buffer, format="GIF")
    return buffer.getvalue()


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buffer, format="WEBP")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<?php echo 'hi'; ?>", "face.jpg"),  # a script named like a photo
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "face.png"),
        (b"%PDF-1.4\n%...", "face.jpg"),
        (_disguised_gif(), "face.jpg"),  # a real picture, but not JPEG or PNG
        (_webp(), "face.png"),
        (_truncated_jpeg(), "face.jpg"),  # malformed: cut off half-way
        (picture("PNG", (300, 300), exif=False)[:200], "face.png"),  # a PNG header and little else
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "face.jpg"),  # a JPEG signature and garbage
    ],
    ids=["php", "svg", "pdf", "gif", "webp", "truncated-jpeg", "truncated-png", "fake-jpeg-header"],
)
def test_malformed_or_disguised_files_are_refused_and_nothing_is_stored(
    as_practitioner: APIClient, assessment: Assessment, media: Path, content: bytes, name: str
) -> None:
    response = upload(as_practitioner, assessment, content, name=name)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and "image" in response.json()["fields"]
    assert not AssessmentPhoto.objects.exists()
    assert stored_files(media) == []


def test_an_oversized_upload_is_refused_before_it_is_read(
    as_practitioner: APIClient, assessment: Assessment, media: Path
) -> None:
    big = picture("JPEG", (100, 100), exif=False) + b"\x00" * (MAX_BYTES + 1)
    response = upload(as_practitioner, assessment, big)
    assert response.status_code == 400
    assert "image" in response.json()["fields"]
    assert not AssessmentPhoto.objects.exists() and stored_files(media) == []


def test_a_body_well_over_10_mb_is_413_too_large_in_the_error_shape(
    as_practitioner: APIClient, assessment: Assessment, media: Path
) -> None:
    big = picture("JPEG", (100, 100), exif=False) + b"\x00" * (MAX_BYTES + 200 * 1024)
    response = upload(as_practitioner, assessment, big)
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "detail": "The picture is larger than 10 MB."}
    assert not AssessmentPhoto.objects.exists() and stored_files(media) == []


def test_a_file_just_over_10_mb_is_refused_even_inside_the_multipart_allowance(
    as_practitioner: APIClient, assessment: Assessment, media: Path
) -> None:
    content = picture("PNG", (64, 64), exif=False)
    padded = content + b"\x00" * (MAX_BYTES + 1 - len(content))  # data after IEND: still a PNG to Pillow
    response = upload(as_practitioner, assessment, padded, name="face.png", content_type="image/png")
    assert response.status_code == 400 and "10 MB" in response.json()["fields"]["image"][0]
    assert stored_files(media) == []


def test_too_many_pixels_is_refused(as_practitioner: APIClient, assessment: Assessment, media: Path) -> None:
    # A tiny file that decodes to 60 megapixels (a decompression bomb in miniature).
    content = picture("PNG", (10_000, 6_000), exif=False, mode="L")
    assert len(content) < MAX_BYTES
    response = upload(as_practitioner, assessment, content, name="face.png", content_type="image/png")
    assert response.status_code == 400 and "image" in response.json()["fields"]
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"view": "top"}, "view"),
        ({}, "view"),
        ({"view": "front", "image": "not a file"}, "image"),
        ({"view": "front"}, "image"),
    ],
)
def test_bad_fields_are_400(
    as_practitioner: APIClient, assessment: Assessment, media: Path, data: dict, field: str
) -> None:
    body = {"image": SimpleUploadedFile("face.jpg", picture(), content_type="image/jpeg"), **data}
    if data == {"view": "front"}:
        body.pop("image")
    response = as_practitioner.post(f"/api/v1/assessments/{assessment.pk}/photos/", body, format="multipart")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert stored_files(media) == []


def test_json_is_not_an_upload(as_practitioner: APIClient, assessment: Assessment) -> None:
    response = as_practitioner.post(f"/api/v1/assessments/{assessment.pk}/photos/", {"view": "front"}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- who may upload and see photos -----------------------------------------------------


def test_role_table_for_photos(
    as_practitioner: APIClient,
    as_manager: APIClient,
    as_reception: APIClient,
    as_a: APIClient,
    as_b: APIClient,
    anonymous: APIClient,
    assessment: Assessment,
    media: Path,
) -> None:
    photo = upload(as_practitioner, assessment, picture()).json()
    assert upload(as_manager, assessment, picture()).status_code == 201
    assert upload(as_reception, assessment, picture()).status_code == 403
    assert upload(as_a, assessment, picture()).status_code == 403
    assert upload(anonymous, assessment, picture()).status_code == 401
    assert AssessmentPhoto.objects.count() == 2
    for url in (photo["image_url"], photo["thumbnail_url"]):
        assert as_a.get(url).status_code == 200
        assert as_manager.get(url).status_code == 200
        assert as_reception.get(url).status_code == 403
        assert anonymous.get(url).status_code == 401
        other = as_b.get(url)
        missing = as_b.get(url.replace(f"/photos/{photo['id']}/", "/photos/999999999/"))
        assert other.status_code == missing.status_code == 404
        assert other.json() == missing.json()


def test_upload_to_an_unknown_assessment_is_404(as_practitioner: APIClient, media: Path) -> None:
    response = upload(as_practitioner, Assessment(pk=999_999_999), picture())
    assert response.status_code == 404 and stored_files(media) == []


def test_photos_show_in_the_assessment(as_practitioner: APIClient, as_a: APIClient, assessment: Assessment) -> None:
    photo = upload(as_practitioner, assessment, picture(), view="right_90").json()
    body = as_a.get(f"/api/v1/assessments/{assessment.pk}/").json()
    assert [(p["id"], p["view"], p["image_url"]) for p in body["photos"]] == [
        (photo["id"], "right_90", photo["image_url"])
    ]


def test_a_browser_asking_for_an_image_gets_it(
    as_a: APIClient, as_practitioner: APIClient, assessment: Assessment
) -> None:
    photo = upload(as_practitioner, assessment, picture()).json()
    response = as_a.get(photo["image_url"], HTTP_ACCEPT="image/avif,image/webp,image/*")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
