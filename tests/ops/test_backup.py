"""``manage.py backup`` and ``restore`` (clinic/backup.py, docs/backup.md).

A clinic with patients, appointments and assessment photos (stored through the
real photo service) is backed up, restored in another process into a fresh
database and a fresh media folder, and the restored clinic, served by
``bin/serve``, answers with the same patients, appointments and photo bytes.
"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from tests.factories import AppointmentFactory, AssessmentFactory, PatientFactory, UserFactory
from tests.notifications.conftest import database_url
from treatments import services as clinical

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def manage(*args: str, database: str, media: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``manage.py`` in its own process, on another database and media folder."""
    environment = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database,
        "CLINIC_MEDIA_ROOT": str(media),
        "CLINIC_VAR_DIR": str(tmp_path / "var-manage"),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def fresh_database() -> Iterator[Callable[[], str]]:
    """``make()`` creates an empty PostgreSQL database on the test's server and
    returns its URL; every one is dropped in teardown."""
    import psycopg

    base = database_url()
    server = base.rsplit("/", 1)[0]
    made: list[str] = []

    def make() -> str:
        name = f"clinic_restore_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{server}/{name}"

    yield make
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def small_clinic() -> dict[str, Any]:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    doctor = UserFactory(role="practitioner")
    # The tests hash with MD5 (tests/conftest.py); the served clinic knows only the real hashers.
    doctor.password = PBKDF2PasswordHasher().encode(PASSWORD, "backuptestsalt", iterations=1000)
    doctor.save(update_fields=["password"])
    patients = PatientFactory.create_batch(3)
    appointments = [AppointmentFactory(patient=patient) for patient in patients]
    assessment = AssessmentFactory(patient=patients[0])
    photos = []
    for view, colour in (("front", (200, 120, 110)), ("left_45", (90, 160, 200))):
        data = _png(colour)
        photos.append(
            clinical.photo_add(assessment=assessment, view=view, upload=io.BytesIO(data), size=len(data), by=doctor)
        )
    return {"doctor": doctor, "patients": patients, "appointments": appointments, "photos": photos}


def _backup(tmp_path: Path) -> tuple[Path, str]:
    out = StringIO()
    call_command("backup", output=str(tmp_path / "backups") + "/", stdout=out)
    (archive,) = (tmp_path / "backups").iterdir()
    return archive, out.getvalue()


def test_a_restored_backup_serves_the_same_patients_appointments_and_photos(
    small_clinic: dict[str, Any], tmp_path: Path, fresh_database: Callable[[], str], serve: Any
) -> None:
    patients, appointments, photos = small_clinic["patients"], small_clinic["appointments"], small_clinic["photos"]
    stored = {
        (photo.pk, variant): default_storage.open(getattr(photo, variant).name, "rb").read()
        for photo in photos
        for variant in ("image", "thumbnail")
    }

    archive, said = _backup(tmp_path)

    assert archive.name.startswith("clinic-backup-") and archive.suffix == ".tar"
    assert oct(archive.stat().st_mode & 0o777) == "0o600", "the archive holds every record: its owner's only"
    assert "3 patients, 3 appointments, 2 photos" in said
    assert not any(patient.full_name in said for patient in patients), "no patient data in the output"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "database.pgdump" and names[-1] == "manifest.json"
    assert {f"media/{photo.image.name}" for photo in photos} | {
        f"media/{photo.thumbnail.name}" for photo in photos
    } <= set(names)

    target, media = fresh_database(), tmp_path / "restored-media"
    restored = manage("restore", str(archive), database=target, media=media, tmp_path=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout and "3 patients, 3 appointments, 2 photos" in restored.stdout

    # Over a clinic that is already there (this one): --force replaces it.
    forced = manage("restore", str(archive), "--force", database=target, media=media, tmp_path=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "3 patients, 3 appointments, 2 photos" in forced.stdout

    site = serve(database=target, CLINIC_MEDIA_ROOT=str(media), CLINIC_SECOND_FACTOR_ROLES="", WEB_WORKERS="1")
    signed_in = site.request(
        "POST", "/api/v1/auth/token/", body={"email": small_clinic["doctor"].email, "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in.text
    bearer = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    for patient in patients:
        answer = site.get(f"/api/v1/patients/{patient.pk}/", headers=bearer)
        assert answer.status == 200, answer.text
        assert answer.json()["full_name"] == patient.full_name
    for appointment in appointments:
        answer = site.get(f"/api/v1/appointments/{appointment.pk}/", headers=bearer)
        assert answer.status == 200, answer.text
        assert answer.json()["patient"] == appointment.patient_id
        assert datetime.fromisoformat(answer.json()["start"]) == appointment.start
    for (pk, variant), data in stored.items():
        answer = site.get(f"/api/v1/photos/{pk}/{variant}", headers=bearer)
        assert answer.status == 200, answer.text
        assert answer.body == data, "the restored photo has the same bytes"


def test_restore_refuses_a_database_that_has_tables(small_clinic: dict[str, Any], tmp_path: Path) -> None:
    archive, _said = _backup(tmp_path)

    with pytest.raises(CommandError, match=r"already has tables.*--force"):
        call_command("restore", str(archive), stdout=StringIO())


def test_a_changed_file_in_the_archive_is_refused_and_nothing_is_restored(
    small_clinic: dict[str, Any], tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    archive, _said = _backup(tmp_path)
    photo = small_clinic["photos"][0]
    with tarfile.open(archive) as tar:
        offset = tar.getmember(f"media/{photo.image.name}").offset_data
    with archive.open("r+b") as raw:  # one byte of one photo, in place: the tar itself stays readable
        raw.seek(offset + 100)
        byte = raw.read(1)
        raw.seek(offset + 100)
        raw.write(bytes([byte[0] ^ 0xFF]))

    target, media = fresh_database(), tmp_path / "restored-media"
    refused = manage("restore", str(archive), database=target, media=media, tmp_path=tmp_path)

    assert refused.returncode == 1
    assert "damaged" in refused.stderr and "sha256" in refused.stderr
    assert _tables(target) == [], "nothing restored"
    assert not media.exists() or not any(media.rglob("*.png"))


def test_a_half_written_backup_never_looks_complete(small_clinic: dict[str, Any], tmp_path: Path) -> None:
    archive, _said = _backup(tmp_path)
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(CommandError, match=r"not a complete clinic backup|damaged or incomplete"):
        call_command("restore", str(truncated), "--force", stdout=StringIO())
    assert not list((tmp_path / "backups").glob(".*")), "no temporary file left behind"


def test_a_photo_missing_from_storage_is_reported_and_the_backup_completes(
    small_clinic: dict[str, Any], tmp_path: Path
) -> None:
    lost = small_clinic["photos"][0]
    default_storage.delete(lost.image.name)

    archive, said = _backup(tmp_path)

    assert "warning: 1 file(s) that rows refer to were not in storage" in said
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert f"media/{lost.image.name}" not in names and f"media/{lost.thumbnail.name}" in names


def test_backup_says_what_to_install_when_pg_dump_is_missing(
    small_clinic: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it

    with pytest.raises(CommandError, match=r"pg_dump was not found.*postgresql-client"):
        call_command("backup", output=str(tmp_path / "b.tar"), stdout=StringIO())
    assert not (tmp_path / "b.tar").exists()
    assert not list(tmp_path.glob(".*partial")), "nothing half-written left"


def test_backup_refuses_a_pg_dump_older_than_the_server(
    small_clinic: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(CommandError, match=r"pg_dump is version 9 but the server is PostgreSQL \d+"):
        call_command("backup", output=str(tmp_path / "b.tar"), stdout=StringIO())
    assert not (tmp_path / "b.tar").exists()


@pytest.fixture
def object_storage(settings: Any) -> Iterator[Any]:
    """The default storage on S3 (moto's server on a free port), as another
    helper's STORAGE_URL sets it up; the backup only uses the storage API."""
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.notifications.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(Bucket="clinic-media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "clinic-media",
                "endpoint_url": endpoint,
                "access_key": credentials["aws_access_key_id"],
                "secret_key": credentials["aws_secret_access_key"],
                "region_name": credentials["region_name"],
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    yield default_storage
    server.stop()


def test_photos_in_object_storage_are_backed_up_and_restore_into_a_folder(
    object_storage: Any, tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    assessment = AssessmentFactory()
    data = _png((10, 200, 30))
    photo = clinical.photo_add(
        assessment=assessment,
        view="front",
        upload=io.BytesIO(data),
        size=len(data),
        by=UserFactory(role="practitioner"),
    )
    in_bucket = object_storage.open(photo.image.name, "rb").read()
    assert "S3" in type(object_storage._wrapped).__name__, "the photo went to the bucket"

    archive, said = _backup(tmp_path)
    assert "media: 2 files" in said

    media = tmp_path / "restored-media"
    restored = manage("restore", str(archive), database=fresh_database(), media=media, tmp_path=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert (media / photo.image.name).read_bytes() == in_bucket


def _stub_sqlite(path: Path, media: Path) -> dict[str, bytes]:
    """An SQLite clinic with real migration names, the three counted tables and
    every table with a file column: all the backup reads (counts, file columns,
    django_migrations), without the 13 s of a full migrate."""
    from django.apps import apps
    from django.db import models

    files = {"photos/a.png": _png((1, 2, 3)), "photos/a-thumb.png": _png((4, 5, 6))}
    for name, data in files.items():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(data)
    photo = apps.get_model("treatments", "AssessmentPhoto")
    tables: dict[str, list[str]] = {
        apps.get_model(label)._meta.db_table: ["note"] for label in ("patients.Patient", "booking.Appointment")
    }
    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        if columns:
            tables[model._meta.db_table] = columns
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
        db.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('patients', '0001_initial', '')")
        for table, columns in tables.items():
            db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, {", ".join(columns)})')
        for table in (
            apps.get_model("patients.Patient")._meta.db_table,
            apps.get_model("booking.Appointment")._meta.db_table,
        ):
            db.executemany(f'INSERT INTO "{table}" (note) VALUES (?)', [("x",), ("y",)])  # noqa: S608
        db.execute(
            f'INSERT INTO "{photo._meta.db_table}" (image, thumbnail) VALUES (?, ?)',  # noqa: S608
            ["photos/a.png", "photos/a-thumb.png"],
        )
    return files


def test_an_sqlite_clinic_round_trips_and_its_backup_is_refused_by_postgresql(
    tmp_path: Path, fresh_database: Callable[[], str]
) -> None:
    source, source_media = tmp_path / "clinic.sqlite3", tmp_path / "media"
    files = _stub_sqlite(source, source_media)
    made = manage(
        "backup", "--output", str(tmp_path / "sqlite.tar"), database=f"sqlite:///{source}", media=source_media,
        tmp_path=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "2 patients, 2 appointments, 1 photos" in made.stdout

    restored_db, restored_media = tmp_path / "restored.sqlite3", tmp_path / "restored-media"
    restored = manage(
        "restore", str(tmp_path / "sqlite.tar"), database=f"sqlite:///{restored_db}", media=restored_media,
        tmp_path=tmp_path,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(source) as before, sqlite3.connect(restored_db) as after:
        for (table,) in before.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            query = f'SELECT * FROM "{table}" ORDER BY id'  # noqa: S608
            assert after.execute(query).fetchall() == before.execute(query).fetchall(), table
    for name, data in files.items():
        assert (restored_media / name).read_bytes() == data

    other_engine = manage(
        "restore", str(tmp_path / "sqlite.tar"), database=fresh_database(), media=tmp_path / "pg-media",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert other_engine.returncode == 1
    assert "sqlite database and DATABASE_URL points at postgresql" in other_engine.stderr
