"""Files on S3-compatible object storage (STORAGE_URL=s3+http://...), against a
real S3 server (moto's) on this machine: photos land in the private bucket and
nowhere on the local disk, are served through the app only to the people allowed
to see them, travel in the patient's copy, and the old practitioner portrait goes
when it is replaced. Readiness says when the store is gone."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from botocore.config import Config
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from booking.erasure import erasures_purge, patient_erase
from booking.profiles import photo_url, practitioner_photo_remove, practitioner_photo_set
from clinic.env import storage_from_url
from tests.api.clinical import picture
from tests.api.conftest import client_for
from tests.factories import AssessmentFactory, PatientFactory, PractitionerFactory, UserFactory
from tests.storage.conftest import SECRET, Bucket, S3Server, start_s3_server
from treatments.models import AssessmentPhoto

pytestmark = pytest.mark.django_db


def local_files() -> list[Path]:
    root = Path(django_settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_a_photo_is_stored_in_the_bucket_and_served_only_to_its_patient_and_staff(bucket: Bucket) -> None:
    alice, bob = PatientFactory(full_name="Alice Chan"), PatientFactory(full_name="Bob Wong")
    assessment = AssessmentFactory(patient=alice)
    practitioner = client_for(UserFactory(role="practitioner"))
    on_disk_before = local_files()

    uploaded = practitioner.post(
        f"/api/v1/assessments/{assessment.pk}/photos/",
        {"view": "front", "image": SimpleUploadedFile("alice-face.jpg", picture("JPEG", (640, 480)), "image/jpeg")},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.json()
    photo = AssessmentPhoto.objects.get(pk=uploaded.json()["id"])
    assert bucket.objects() == sorted([photo.image.name, photo.thumbnail.name])
    assert all(key.startswith("photos/") and "alice" not in key for key in bucket.objects())
    assert local_files() == on_disk_before  # nothing written to the local folder
    stored = bucket.read(photo.image.name)
    head = bucket.s3.head_object(Bucket=bucket.name, Key=photo.image.name)
    grants = bucket.s3.get_object_acl(Bucket=bucket.name, Key=photo.image.name)["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]  # never public

    image_url = uploaded.json()["image_url"]
    for reader in (client_for(alice.user), practitioner, client_for(UserFactory(role="manager"))):
        answer = reader.get(image_url)
        assert answer.status_code == 200
        assert answer["Content-Type"] == "image/jpeg"
        assert answer["Cache-Control"] == "private, no-store"
        assert int(answer["Content-Length"]) == head["ContentLength"] == len(stored)
        assert body_of(answer) == stored
        assert Image.open(io.BytesIO(stored)).size == (640, 480)
    thumbnail = client_for(alice.user).get(uploaded.json()["thumbnail_url"])
    assert body_of(thumbnail) == bucket.read(photo.thumbnail.name)

    assert client_for(bob.user).get(image_url).status_code in {403, 404}
    assert client_for(UserFactory(role="receptionist")).get(image_url).status_code in {403, 404}
    assert APIClient().get(image_url).status_code == 401

    # The patient's own page serves it as well, from the bucket.
    page = APIClient()
    page.force_login(alice.user)
    assert body_of(page.get(f"/progress/photos/{photo.pk}/image/")) == stored
    page.force_login(bob.user)
    assert page.get(f"/progress/photos/{photo.pk}/image/").status_code == 404

    # An object gone from the bucket is a 404, not a 500.
    bucket.s3.delete_object(Bucket=bucket.name, Key=photo.image.name)
    assert client_for(alice.user).get(image_url).status_code == 404


def test_the_patients_copy_carries_the_photo_from_the_bucket(bucket: Bucket) -> None:
    alice = PatientFactory()
    assessment = AssessmentFactory(patient=alice)
    uploaded = client_for(UserFactory(role="practitioner")).post(
        f"/api/v1/assessments/{assessment.pk}/photos/",
        {"view": "left_45", "image": SimpleUploadedFile("x.png", picture("PNG", (300, 200)), "image/png")},
        format="multipart",
    )
    photo = AssessmentPhoto.objects.get(pk=uploaded.json()["id"])

    answer = client_for(alice.user).get("/api/v1/me/export/")
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body_of(answer)))
    name = f"photos/assessment-{assessment.pk}/photo-{photo.pk}-left_45.png"
    assert archive.read(name) == bucket.read(photo.image.name)


def test_replacing_or_removing_a_practitioners_photo_deletes_the_old_object(
    bucket: Bucket, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    practitioner = PractitionerFactory(active=True)

    def portrait(colour: tuple[int, int, int]) -> io.BytesIO:
        out = io.BytesIO()
        Image.new("RGB", (300, 400), colour).save(out, format="PNG")
        out.seek(0)
        return out

    first = portrait((200, 120, 90))
    with django_capture_on_commit_callbacks(execute=True):
        practitioner_photo_set(practitioner=practitioner, upload=first, size=len(first.getvalue()))
    old = practitioner.photo.name
    assert bucket.objects("practitioners/") == [old]
    old_url = photo_url(practitioner)

    second = portrait((20, 90, 160))
    with django_capture_on_commit_callbacks(execute=True):
        practitioner_photo_set(practitioner=practitioner, upload=second, size=len(second.getvalue()))
    new = practitioner.photo.name
    assert new != old
    assert bucket.objects("practitioners/") == [new]  # the old portrait is gone from the bucket

    served = client.get(photo_url(practitioner))
    assert served.status_code == 200
    assert body_of(served) == bucket.read(new)
    assert client.get(old_url).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        practitioner_photo_remove(practitioner=practitioner)
    assert bucket.objects("practitioners/") == []


def test_readiness_checks_the_bucket(bucket: Bucket, client: Any, settings: Any, s3_server: S3Server) -> None:
    ready = client.get("/readyz/")
    assert ready.status_code == 200
    assert ready.json()["checks"]["storage"] == "ok"

    missing = s3_server.url("no-such-bucket-here")
    settings.STORAGES = {**settings.STORAGES, "default": storage_from_url("STORAGE_URL", missing, fallback_folder="/")}
    ready = client.get("/readyz/")
    assert ready.status_code == 503
    assert ready.json()["checks"]["storage"] == "unavailable"
    assert ready.json()["detail"] == "Not ready: storage unavailable."


def test_while_the_server_is_stopped_photos_and_readiness_answer_503(client: Any, settings: Any) -> None:
    own = start_s3_server()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_from_url("STORAGE_URL", own.url(own.make_bucket()), fallback_folder="/"),
    }
    alice = PatientFactory()
    uploaded = client_for(UserFactory(role="practitioner")).post(
        f"/api/v1/assessments/{AssessmentFactory(patient=alice).pk}/photos/",
        {"view": "front", "image": SimpleUploadedFile("x.jpg", picture("JPEG", (320, 240)), "image/jpeg")},
        format="multipart",
    )
    assert client.get("/readyz/").status_code == 200

    own.server.stop()
    began = time.monotonic()
    ready = client.get("/readyz/")
    assert time.monotonic() - began < 3  # a short timeout, no retries: the probe does not hang
    assert ready.status_code == 503
    assert ready.json()["code"] == "unavailable"
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "unavailable"}

    # A photo asked for meanwhile is the outage answer the client can retry, not a 500.
    began = time.monotonic()
    photo = client_for(alice.user).get(uploaded.json()["image_url"])
    assert time.monotonic() - began < 10
    assert photo.status_code == 503
    assert photo.json()["code"] == "unavailable"
    assert photo["Retry-After"]
    page = APIClient()
    page.force_login(alice.user)
    assert page.get(f"/progress/photos/{uploaded.json()['id']}/image/").status_code == 503


def test_the_secret_never_shows_in_the_settings(bucket: Bucket, settings: Any) -> None:
    options = settings.STORAGES["default"]["OPTIONS"]
    assert options["secret_key"] == SECRET  # decoded from %2F and %2B, usable as is
    assert SECRET not in repr(settings.STORAGES)
    assert SECRET not in str(settings.STORAGES)


def _upload_for(patient: Any) -> AssessmentPhoto:
    uploaded = client_for(UserFactory(role="practitioner")).post(
        f"/api/v1/assessments/{AssessmentFactory(patient=patient).pk}/photos/",
        {"view": "front", "image": SimpleUploadedFile("x.jpg", picture("JPEG", (320, 240)), "image/jpeg")},
        format="multipart",
    )
    return AssessmentPhoto.objects.get(pk=uploaded.json()["id"])


def test_an_erased_patients_photos_leave_the_bucket_when_their_retention_ends(
    bucket: Bucket, django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = PatientFactory(), PatientFactory()
    _upload_for(alice)
    kept = _upload_for(bob)
    erasure = patient_erase(patient=alice, by=UserFactory(role="manager"))
    assert len(bucket.objects("photos/")) == 4  # kept until the retention ends

    with (
        time_machine.travel(erasure.purge_due + timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert erasures_purge() == 1
    assert bucket.objects("photos/") == sorted([kept.image.name, kept.thumbnail.name])


def test_a_purge_while_the_store_is_unreachable_still_completes(
    client: Any, settings: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    """The records go (the retention rule); the files that could not be deleted are
    logged, without a name, and the periodic job carries on with the next erasure."""
    own = start_s3_server()
    storage = storage_from_url("STORAGE_URL", own.url(own.make_bucket()), fallback_folder="/")
    storage["OPTIONS"]["client_config"] = Config(retries={"total_max_attempts": 1})  # fail fast, not thrice
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    first, second = PatientFactory(), PatientFactory()
    manager = UserFactory(role="manager")
    photos = [_upload_for(first), _upload_for(second)]
    erasures = [patient_erase(patient=patient, by=manager) for patient in (first, second)]
    own.server.stop()

    with (
        time_machine.travel(max(e.purge_due for e in erasures) + timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert erasures_purge() == 2
    assert not AssessmentPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).exists()
    assert "could not be deleted" in caplog.text
    assert all(photo.image.name not in caplog.text for photo in photos)
