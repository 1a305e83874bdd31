"""How long the patient's export takes, and how much memory it needs, for a
patient with 200 photos.

Creates, in its own database, a patient with 40 assessments of 5 photos each
(JPEGs of noise, 1-2 MB each, as a phone camera's would be after EXIF
stripping) in a temporary private storage, then downloads
``GET /api/v1/me/export/`` in-process as the patient, reading the stream chunk
by chunk and throwing the bytes away, as a client saving to disk would.

Prints the wall time to the last byte, the zip's size against the photos'
total, the growth of the process's peak resident memory during the download
(Linux: VmHWM, reset first), and, in a second download under tracemalloc, the
peak of Python allocations. Both peaks staying far below the photos' total is
the point: the photos are never in memory together.

    .venv/bin/python bench/export.py [--photos 200]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_export
(dropped and created again on every run).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import recreate_database

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_export")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("EMAIL_URL", "locmem://")  # required with DEBUG off; the bench sends no mail
os.environ.setdefault("CLINIC_BASE_URL", "https://bench.clinic.test")
MEDIA = tempfile.mkdtemp(prefix="clinic-bench-export-")
os.environ["CLINIC_MEDIA_ROOT"] = MEDIA

VIEWS = ("front", "left_45", "right_45", "left_90", "right_90")
VARIANTS = 12  # distinct noise pictures; each photo row still has its own file


def noise_jpeg(seed: int) -> bytes:
    """A 1-2 MB JPEG: noise does not compress, like skin texture at full resolution."""
    from PIL import Image

    rng = random.Random(seed)
    width, height = rng.choice([(1400, 1050), (1600, 1200), (1700, 1275)])
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.choice([80, 85, 88]))
    return buffer.getvalue()


def make_patient(photos: int) -> tuple[object, int]:
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from tests.factories import AssessmentFactory, PatientFactory, UserFactory
    from treatments.models import AssessmentPhoto

    pictures = [noise_jpeg(seed) for seed in range(VARIANTS)]
    patient = PatientFactory(full_name="Bench Patient")
    doctor = UserFactory(role="practitioner")
    total = 0
    assessments = (photos + len(VIEWS) - 1) // len(VIEWS)
    made = 0
    for index in range(assessments):
        assessment = AssessmentFactory(
            patient=patient, assessed_on=timezone.localdate() - timedelta(days=30 * (assessments - index))
        )
        for view in VIEWS:
            if made == photos:
                break
            data = pictures[made % VARIANTS]
            photo = AssessmentPhoto(
                assessment=assessment, view=view, content_type="image/jpeg", width=1, height=1, uploaded_by=doctor
            )
            photo.image.save(f"bench-{made}.jpg", ContentFile(data), save=False)
            photo.thumbnail.save(f"bench-{made}-thumb.jpg", ContentFile(data[:2048]), save=False)
            photo.save()
            total += len(data)
            made += 1
    return patient, total


def rss_peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def download(client: object) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get("/api/v1/me/export/", secure=True)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.status_code
    assert response.streaming and not response.has_header("Content-Length")
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    response.close()
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the in-process test client, and fast password hashing below
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)

    from knox.models import AuthToken
    from rest_framework.test import APIClient

    print(f"Creating a patient with {args.photos} photos in {MEDIA} ...", flush=True)
    patient, photo_bytes = make_patient(args.photos)
    client = APIClient()
    _instance, token = AuthToken.objects.create(patient.user)  # type: ignore[attr-defined]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    download(client)  # warm up: imports, the first queries, the page cache for the files
    exact = reset_rss_peak()
    before = rss_peak_kib()
    seconds, size = download(client)
    rss_growth = rss_peak_kib() - before

    tracemalloc.start()
    traced_seconds, _size = download(client)
    _current, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    mib = 1024 * 1024
    print(f"photos: {args.photos}, {photo_bytes / mib:.0f} MiB in storage; zip: {size / mib:.0f} MiB")
    print(f"wall time to the last byte: {seconds:.2f} s ({size / mib / seconds:.0f} MiB/s)")
    label = "peak RSS growth during the download" if exact else "peak RSS growth (VmHWM not resettable: upper bound)"
    print(f"{label}: {rss_growth / 1024:.1f} MiB")
    print(f"peak Python allocations (tracemalloc, second run, {traced_seconds:.2f} s): {python_peak / mib:.1f} MiB")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(MEDIA, ignore_errors=True)
