"""The patient's own copy of their data (PDPO data access request, GDPR Art. 15/20).

One builder for every door: the patient's page and API, and the staff chart and
API, call ``export_response``. It lives on the booking floor because it gathers
from booking, treatments and patients.

The zip holds ``data.json`` (profile, declarations, appointments, assessments
with their correction history, plans with sessions, session records, consent
signatures (form, version, the text signed, when, how, photo use, withdrawal),
the notifications sent, the waitlist entries with any open offer, the access log) and ``photos/``, the original images, one
file per photo named ``photos/assessment-<assessment id>/photo-<photo id>-<view>.<ext>``;
each photo entry in data.json names its file in ``file``.

Streamed: data.json is built first (a few queries, small); the photos are read
from storage in chunks only as the client downloads, one open file at a time,
stored without compression (JPEG and PNG are compressed already). So 200 photos
never sit in memory together, and the response has no Content-Length.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import Storage
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from booking.models import Appointment, Notification, SessionRecord
from booking.selectors import IMPORTANT_DATES
from booking.serializers import (
    AppointmentSerializer,
    NotificationSerializer,
    SessionRecordSerializer,
    WaitlistEntrySerializer,
)
from booking.waitlist import entries_for
from clinic.clock import clinic_today
from patients import channels as patient_channels
from patients.models import Patient
from patients.selectors import access_events_for_patient, important_dates_for
from patients.serializers import (
    HealthDeclarationSerializer,
    ImportantDateSerializer,
    OwnAccessEventSerializer,
    OwnProfileSerializer,
)
from treatments import history, selectors
from treatments.consent_serializers import signature_export
from treatments.models import Assessment, AssessmentPhoto, ConsentSignature
from treatments.serializers import AssessmentSerializer, PlanSerializer

FORMAT = "clinic-export/1"
CHUNK = 64 * 1024


@dataclass(frozen=True)
class PhotoFile:
    arcname: str
    storage: Storage
    name: str


def _access_log(patient: Patient) -> list[dict[str, Any]]:
    """Who read this patient's clinical data: ``{"at", "actor_role", "actor_name",
    "what", "door"}`` per read, newest first, named as the patient sees it on
    /me/access-log/ (practitioners by name, other roles by role only)."""
    events = access_events_for_patient(patient)
    return [dict(row) for row in OwnAccessEventSerializer(events, many=True).data]


def _photo_arcname(photo: AssessmentPhoto) -> str:
    name = photo.image.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else "jpg"
    return f"photos/assessment-{photo.assessment_id}/photo-{photo.pk}-{photo.view}.{extension}"


def _assessments(patient: Patient) -> tuple[list[dict[str, Any]], list[PhotoFile]]:
    assessments = list(selectors.assessments_for(patient_id=patient.pk).order_by("assessed_on", "id"))
    rows = list(Assessment.history.filter(patient_id=patient.pk))
    names = history.user_names(row.history_user_id for row in rows)
    rows_of: dict[int, list[Any]] = {}
    for row in rows:
        rows_of.setdefault(row.id, []).append(row)
    data: list[dict[str, Any]] = list(AssessmentSerializer(assessments, many=True).data)
    files: list[PhotoFile] = []
    for assessment, entry in zip(assessments, data, strict=True):
        entry["history"] = history.entries(
            rows_of.get(assessment.pk, []), model=Assessment, kind="assessment", user_names=names
        )
        by_id = {photo.pk: photo for photo in assessment.photos.all()}
        for photo_entry in entry["photos"]:
            photo = by_id[photo_entry["id"]]
            stored = photo.image
            if stored.name and stored.storage.exists(stored.name):
                arcname = _photo_arcname(photo)
                photo_entry["file"] = arcname
                files.append(PhotoFile(arcname=arcname, storage=stored.storage, name=stored.name))
            else:
                photo_entry["file"] = None  # the file is gone from storage: say so rather than break the zip
    return data, files


def export_data(patient: Patient, *, now: datetime | None = None) -> tuple[dict[str, Any], list[PhotoFile]]:
    """data.json's content for ``patient`` and the photo files to put beside it.
    The caller has checked who may export this patient."""
    now = now or timezone.now()
    assessments, files = _assessments(patient)
    appointments = (
        Appointment.objects.filter(patient=patient)
        .select_related("patient", "treatment", "practitioner__user")
        .prefetch_related(IMPORTANT_DATES)
        .order_by("start", "id")
    )
    records = (
        SessionRecord.objects.filter(appointment__patient=patient)
        .select_related("appointment__treatment")
        .prefetch_related("consent_signatures", "injectables")
        .order_by("recorded_at", "id")
    )
    notifications = Notification.objects.filter(patient=patient, status=Notification.Status.SENT).order_by(
        "sent_at", "id"
    )
    plans = selectors.plans_for(patient_id=patient.pk).order_by("created_at", "id")
    signatures = (
        ConsentSignature.objects.filter(patient=patient).select_related("version__form").order_by("signed_at", "id")
    )
    data = {
        "format": FORMAT,
        "generated_at": now,
        "patient_id": patient.pk,
        "profile": OwnProfileSerializer(patient).data,
        "health_declarations": HealthDeclarationSerializer(
            patient.health_declarations.order_by("submitted_at", "id"), many=True
        ).data,
        "important_dates": ImportantDateSerializer(important_dates_for(patient_id=patient.pk), many=True).data,
        # How the patient chose to be contacted, per topic, first choice first ([] = off).
        "channels": patient_channels.orders(patient),
        "appointments": AppointmentSerializer(appointments, many=True).data,
        "assessments": assessments,
        "plans": PlanSerializer(plans, many=True, context={"today": clinic_today(now)}).data,
        "session_records": SessionRecordSerializer(records, many=True).data,
        "consent_signatures": [signature_export(signature) for signature in signatures],
        "notifications": NotificationSerializer(notifications, many=True).data,
        "waitlist": WaitlistEntrySerializer(entries_for(patient).order_by("created_at", "id"), many=True).data,
        "access_log": _access_log(patient),
    }
    return data, files


def _read(photo: PhotoFile) -> Iterator[bytes]:
    """The file's bytes in chunks, opened only when the zip reaches it."""
    with photo.storage.open(photo.name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def export_zip(patient: Patient, *, now: datetime | None = None) -> ZipStream:
    """The zip as a lazy stream: iterating it yields the archive's bytes."""
    data, files = export_data(patient, now=now)
    archive = ZipStream(sized=False)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()
    archive.add(body, "data.json", compress_type=ZIP_DEFLATED)
    for photo in files:
        archive.add(_read(photo), photo.arcname, compress_type=ZIP_STORED)
    return archive


def export_filename(patient: Patient, *, now: datetime | None = None) -> str:
    return f"clinic-export-{patient.pk}-{clinic_today(now or timezone.now()).isoformat()}.zip"


def export_response(patient: Patient, *, now: datetime | None = None) -> StreamingHttpResponse:
    """The export as a download: streamed, private, never cached."""
    response = StreamingHttpResponse(export_zip(patient, now=now), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(patient, now=now)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
