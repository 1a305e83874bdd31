"""The patient's own copy of their data (booking/export.py): a streamed zip with
data.json and the original photos, through the patient's page and API and the
manager's chart page and API; nobody else gets it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import Client
from rest_framework.test import APIClient

from patients.models import Patient
from tests.pages.helpers import assert_translated
from treatments.models import AssessmentPhoto

pytestmark = pytest.mark.django_db

KEYS = {
    "format",
    "generated_at",
    "patient_id",
    "profile",
    "health_declarations",
    "important_dates",
    "channels",
    "appointments",
    "assessments",
    "plans",
    "session_records",
    "consent_signatures",
    "notifications",
    "waitlist",
    "access_log",
}


def unzip(response: Any) -> tuple[dict[str, Any], zipfile.ZipFile]:
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert not response.has_header("Content-Length")  # streamed, never buffered to measure it
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    return json.loads(archive.read("data.json")), archive


def check_alice(
    data: dict[str, Any], archive: zipfile.ZipFile, alice: Patient, record: dict[str, Any], log: tuple[str, ...] = ()
) -> None:
    assert set(data) == KEYS
    assert data["profile"]["full_name"] == "Alice Chan"
    assert data["profile"]["phone"] == "+85291234567"
    assert [d["allergies_other"] for d in data["health_declarations"]] == ["Penicillin"]
    assert data["channels"]["reminders"] == ["sms", "email"]
    assert data["channels"]["confirmations"] == ["email"]  # never chosen: email, as before
    assert {a["id"] for a in data["appointments"]} == {record["past"].pk, record["future"].pk}
    assert [r["notes"] for r in data["session_records"]] == ["Went well"]
    assert data["session_records"][0]["consent_signatures"] == [record["signature"].pk]
    [signature] = data["consent_signatures"]
    assert signature["id"] == record["signature"].pk and signature["form"] == "privacy-peel"
    assert signature["version"] == 1 and signature["channel"] == "online" and signature["withdrawn"] is False
    assert signature["photo_use"] == ["clinical", "teaching"] and signature["text"] == record["signature"].text
    assert [p["id"] for p in data["plans"]] == [record["plan"].pk]
    assert len(data["plans"][0]["sessions"]) == 3
    assert [n["status"] for n in data["notifications"]] == ["sent"]  # only what was sent, not the queue
    # Newest first: a staff export logs itself before the copy is built (after any
    # chart the manager opened); the patient's own downloads log nothing.
    reads = [(event["what"], event["door"]) for event in data["access_log"]]
    assert reads[: len(log)] == [tuple(e.split(":")) for e in log] and (log or not reads)
    (assessment,) = data["assessments"]
    assert assessment["lesions"]["macular"] == 10
    # The correction history: the first version and the corrected one.
    assert [entry["type"] for entry in assessment["history"]][:1] == ["created"]
    assert len(assessment["history"]) >= 2
    photos = {p.pk: p for p in AssessmentPhoto.objects.filter(assessment__patient=alice)}
    assert {p["id"] for p in assessment["photos"]} == set(photos)
    names = set(archive.namelist())
    assert names == {"data.json", *(p["file"] for p in assessment["photos"])}
    for entry in assessment["photos"]:
        assert entry["file"].startswith(f"photos/assessment-{assessment['id']}/photo-{entry['id']}-{entry['view']}.")
        stored = photos[entry["id"]].image
        with stored.storage.open(stored.name, "rb") as handle:
            assert archive.read(entry["file"]) == handle.read()  # the original, byte for byte
        assert archive.getinfo(entry["file"]).compress_type == zipfile.ZIP_STORED


def test_patient_downloads_their_own_data_by_api(
    api: Callable[..., APIClient], alice: Patient, record: dict[str, Any]
) -> None:
    response = api(alice.user).get("/api/v1/me/export/")
    assert response.status_code == 200
    data, archive = unzip(response)
    check_alice(data, archive, alice, record)
    # A client that asks for a zip by name gets it too, and its errors stay JSON.
    asked = api(alice.user).get("/api/v1/me/export/", HTTP_ACCEPT="application/zip")
    assert asked.status_code == 200 and asked["Content-Type"] == "application/zip"
    refused = api(None).get("/api/v1/me/export/", HTTP_ACCEPT="application/zip")
    assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"


def test_patient_page_explains_and_downloads(client: Client, alice: Patient, record: dict[str, Any]) -> None:
    client.force_login(alice.user)
    profile = client.get("/me/")
    assert 'href="/me/export/"' in profile.content.decode()
    page = client.get("/me/export/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "data.json" in body and 'href="/me/export/download/"' in body
    data, archive = unzip(client.get("/me/export/download/"))
    check_alice(data, archive, alice, record)


def test_export_page_speaks_chinese(client: Client, alice: Patient, record: dict[str, Any]) -> None:
    client.force_login(alice.user)
    page = client.get("/me/export/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "下載我的資料" in page.content.decode()
    assert_translated(page.content, allow=[alice.full_name])
    assert "下載我的資料副本" in client.get("/me/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()


def test_another_patient_gets_only_their_own(
    api: Callable[..., APIClient], alice: Patient, bob: Patient, record: dict[str, Any]
) -> None:
    data, archive = unzip(api(bob.user).get("/api/v1/me/export/"))
    assert data["patient_id"] == bob.pk
    assert data["assessments"] == [] and data["appointments"] == []
    assert archive.namelist() == ["data.json"]
    assert "Alice" not in archive.read("data.json").decode()


def test_who_may_export_by_api(
    api: Callable[..., APIClient], alice: Patient, bob: Patient, manager: User, doctor: User, record: dict[str, Any]
) -> None:
    url = f"/api/v1/patients/{alice.pk}/export/"
    assert api(None).get("/api/v1/me/export/").status_code == 401
    assert api(None).get(url).status_code == 401
    assert api(bob.user).get(url).status_code == 403  # a patient has no staff door, whoever it names
    assert api(alice.user).get(url).status_code == 403
    assert api(User.objects.create_user("desk@example.com")).get("/api/v1/me/export/").status_code == 403
    from tests.factories import UserFactory

    for role in ("receptionist", "practitioner"):
        response = api(UserFactory(role=role)).get(url)
        assert response.status_code == 403, role
        assert response.json()["code"] == "permission_denied"
        assert api(UserFactory(role=role)).get("/api/v1/me/export/").status_code == 403
    missing = api(manager).get("/api/v1/patients/999999/export/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    data, archive = unzip(api(manager).get(url))
    check_alice(data, archive, alice, record, log=("export:api",))


def test_who_may_export_from_the_chart(
    client: Client, alice: Patient, bob: Patient, manager: User, record: dict[str, Any]
) -> None:
    from tests.factories import UserFactory

    url = f"/staff/patients/{alice.pk}/export/"
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(bob.user)
    assert client.get(url).status_code == 403
    for role in ("receptionist", "practitioner"):
        client.force_login(UserFactory(role=role))
        assert client.get(url).status_code == 403, role
        chart = client.get(f"/staff/patients/{alice.pk}/")
        assert url not in chart.content.decode()
    client.force_login(manager)
    assert url in client.get(f"/staff/patients/{alice.pk}/").content.decode()
    assert client.get("/staff/patients/999999/export/").status_code == 404
    data, archive = unzip(client.get(url))
    check_alice(data, archive, alice, record, log=("export:page",))


def test_a_photo_missing_from_storage_is_named_not_fatal(
    api: Callable[..., APIClient], alice: Patient, record: dict[str, Any]
) -> None:
    photo = AssessmentPhoto.objects.filter(assessment__patient=alice).first()
    assert photo is not None
    photo.image.storage.delete(photo.image.name)
    data, archive = unzip(api(alice.user).get("/api/v1/me/export/"))
    entries = {p["id"]: p for p in data["assessments"][0]["photos"]}
    assert entries[photo.pk]["file"] is None
    assert len(archive.namelist()) == 1 + 2


def test_the_builder_reads_photos_lazily(alice: Patient, record: dict[str, Any], monkeypatch: Any) -> None:
    """Building the response opens no photo: each is opened only when the
    download reaches it, and closed before the next is opened."""
    from booking import export

    opened: list[str] = []
    open_now: list[int] = [0]
    real = export._read

    def spy(photo: export.PhotoFile) -> Any:
        opened.append(photo.arcname)
        open_now[0] += 1
        assert open_now[0] == 1
        yield from real(photo)
        open_now[0] -= 1

    monkeypatch.setattr(export, "_read", spy)
    response = export.export_response(alice)
    assert opened == []
    b"".join(response.streaming_content)
    assert len(opened) == 3


def test_the_copy_lists_who_read_the_record_as_the_patient_sees_it(
    api: Callable[..., APIClient], alice: Patient, doctor: User, record: dict[str, Any]
) -> None:
    doctor.first_name, doctor.last_name = "Grace", "Ho"
    doctor.save()
    assert api(doctor).get(f"/api/v1/patients/{alice.pk}/health-declarations/").status_code == 200
    data, _archive = unzip(api(alice.user).get("/api/v1/me/export/"))
    (read,) = data["access_log"]
    assert read["actor_role"] == "practitioner"
    assert read["actor_name"] == "Grace Ho"
    assert (read["what"], read["door"]) == ("declarations", "api")
    assert read["at"].endswith("+08:00")  # clinic time, like every date-time in the copy
