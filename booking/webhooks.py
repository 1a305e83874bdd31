"""Outgoing webhooks: managers subscribe URLs to events, and the clinic tells them.

The events (clinic.events) are announced by the services of every floor inside
the transaction of the change; ``on_domain_event`` (connected in
``BookingConfig.ready``) writes one ``WebhookDelivery`` per active subscription
to that event, in the same transaction. So a rolled-back change leaves no
delivery, a committed one always has them, and the unique (subscription,
event) constraint makes a second announcement of the same change write
nothing. Sending, signing and the sweep: booking/webhook_delivery.py.

Payloads follow the Standard Webhooks specification: ``{"type", "timestamp",
"data"}``, frozen when the event happened (``body`` is the text sent, byte for
byte, on every attempt). By default ``data`` holds ids, times, statuses and
where (practitioner, room): no names, no contact details, no treatment. A
subscription a manager marks ``clinical`` also gets the treatment and the
device used, the patient's name, email, phone and language, a plan's sessions
and a cancellation's reason (``CLINICAL_KEYS``, ``PERSONAL_KEYS``). Turning
``clinical`` off, and erasing a patient (booking.erasure), strip those from
the bodies not yet sent and, for erasure, from those sent too.
docs/webhooks.md shows both shapes of every event.

Managers act through ``subscription_create`` / ``_update`` / ``_rotate`` /
``_delete`` / ``_ping`` and ``delivery_retry``; the workspace pages
(workspace/webhooks) and the API (booking/webhook_apis.py) call the same.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, WebhookAttempt, WebhookDelivery, WebhookSubscription
from booking.webhook_delivery import check_url, new_message_id, new_secret, publish
from clinic import events
from clinic.clock import clinic_zone
from clinic.errors import InvalidInput, InvalidState, NotFound
from patients.models import Patient
from treatments.models import PlanSession, TreatmentPlan

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

PING = "ping"
EVENT_TYPES = events.EVENT_TYPES
ROTATION_GRACE = timedelta(hours=24)
DESCRIPTION_MAX = 200


def event_labels() -> dict[str, str]:
    """The events as managers read them (the subscription form, the delivery log)."""
    return {
        events.APPOINTMENT_CREATED: _("Appointment booked"),
        events.APPOINTMENT_RESCHEDULED: _("Appointment moved"),
        events.APPOINTMENT_CANCELLED: _("Appointment cancelled"),
        events.APPOINTMENT_CHECKED_IN: _("Patient checked in"),
        events.APPOINTMENT_NO_SHOW: _("Appointment missed (no-show)"),
        events.APPOINTMENT_COMPLETED: _("Appointment completed"),
        events.PATIENT_CREATED: _("New patient"),
        events.PLAN_CREATED: _("Treatment plan created"),
        events.PLAN_COMPLETED: _("Treatment plan completed"),
        PING: _("Test event"),
    }


# --- payloads --------------------------------------------------------------------------

# What a clinical subscription adds, and what erasure and turning "clinical"
# off remove again: the keys of ``data`` and of ``data["patient"]`` (or of
# ``data`` itself for a patient event).
CLINICAL_KEYS = ("treatment", "device", "sessions", "cancellation_reason")
PERSONAL_KEYS = ("full_name", "email", "phone", "preferred_language")


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment, clinic_zone()).isoformat() if moment is not None else None


def _treatment(treatment: Any) -> dict[str, str]:
    return {"slug": treatment.slug, "name": treatment.name_en, "name_zh_hant": treatment.name_zh_hant}


def _person(patient: Patient) -> dict[str, Any]:
    return {
        "full_name": patient.full_name,
        "email": patient.email,
        "phone": patient.phone,
        "preferred_language": patient.preferred_language,
    }


def _appointment_data(appointment: Appointment, event: str, extra: dict[str, Any], clinical: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": appointment.pk,
        "uid": str(appointment.uid),
        "status": appointment.status,
        "start": _iso(appointment.start),
        "end": _iso(appointment.end),
        "practitioner": appointment.practitioner_id,
        "room": appointment.room_id,
        "patient": {"id": appointment.patient_id},
        "plan_session": appointment.plan_session_id,
        "source": appointment.source,
        "sequence": appointment.sequence,
        "booked_at": _iso(appointment.created_at),
        "checked_in_at": _iso(appointment.checked_in_at),
        "completed_at": _iso(appointment.completed_at),
        "cancelled_at": _iso(appointment.cancelled_at),
        "cancelled_by": appointment.cancelled_by or None,
        "no_show_auto": appointment.no_show_auto,
    }
    if event == events.APPOINTMENT_RESCHEDULED:
        data["previous_start"] = _iso(extra.get("previous_start"))
    if clinical:
        data["treatment"] = _treatment(appointment.treatment)
        data["device"] = appointment.device_id  # a laser or a microneedling pen says what was done
        data["patient"].update(_person(appointment.patient))
        if event == events.APPOINTMENT_CANCELLED:
            data["cancellation_reason"] = appointment.cancellation_reason
    return data


def _patient_data(patient: Patient, extra: dict[str, Any], clinical: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": patient.pk,
        "created_at": _iso(patient.created_at),
        "has_login": patient.user_id is not None,
        "source": extra.get("source", "staff"),
    }
    if clinical:
        data.update(_person(patient))
    return data


def _plan_data(plan: TreatmentPlan, clinical: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": plan.pk,
        "status": plan.status,
        "patient": {"id": plan.patient_id},
        "created_at": _iso(plan.created_at),
    }
    if clinical:
        data["treatment"] = _treatment(plan.treatment)
        data["patient"].update(_person(plan.patient))
        data["sessions"] = [
            {
                "number": session.number,
                "status": session.status,
                "window_start": session.window_start.isoformat(),
                "window_end": session.window_end.isoformat(),
                "booked_on": session.booked_on.isoformat() if session.booked_on else None,
                "completed_on": session.completed_on.isoformat() if session.completed_on else None,
            }
            for session in PlanSession.objects.filter(plan_id=plan.pk).order_by("number")
        ]
    return data


def build_payload(
    event: str, instance: Any, *, now: datetime, extra: dict[str, Any] | None = None, clinical: bool = False
) -> dict[str, Any]:
    """The Standard Webhooks body of ``event`` about ``instance`` (an
    Appointment, Patient or TreatmentPlan; a subscription for ``ping``)."""
    extra = extra or {}
    if event == PING:
        data: dict[str, Any] = {
            "subscription": instance.pk,
            "text": f"A test event from {settings.CLINIC_NAME}.",
        }
    elif event.startswith("appointment."):
        data = _appointment_data(instance, event, extra, clinical)
    elif event == events.PATIENT_CREATED:
        data = _patient_data(instance, extra, clinical)
    elif event.startswith("plan."):
        data = _plan_data(instance, clinical)
    else:
        raise ValueError(f"no payload for {event!r}")
    return {"type": event, "timestamp": _iso(now), "data": data}


def strip_clinical(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as a subscription that is not clinical receives it."""
    data = {key: value for key, value in (payload.get("data") or {}).items() if key not in CLINICAL_KEYS}
    if str(payload.get("type", "")).startswith("patient."):
        data = {key: value for key, value in data.items() if key not in PERSONAL_KEYS}
    elif isinstance(data.get("patient"), dict):
        data["patient"] = {key: value for key, value in data["patient"].items() if key not in PERSONAL_KEYS}
    return {**payload, "data": data}


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event_key(event: str, instance: Any) -> str:
    """An event's identity: one delivery per subscription, however often it is announced.
    Every change of an appointment moves its calendar ``sequence`` on."""
    if isinstance(instance, Appointment):
        return f"{event}:appointment:{instance.pk}:{instance.sequence}"
    if isinstance(instance, Patient):
        return f"{event}:patient:{instance.pk}"
    if isinstance(instance, TreatmentPlan):
        return f"{event}:plan:{instance.pk}"
    raise ValueError(f"no event key for {type(instance).__name__}")


def _patient_id(instance: Any) -> int | None:
    if isinstance(instance, Patient):
        return int(instance.pk)
    return getattr(instance, "patient_id", None)


# --- events become deliveries ----------------------------------------------------------


def on_domain_event(
    sender: Any, *, event: str, instance: Any, now: datetime, extra: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """clinic.events' receiver (connected in BookingConfig.ready)."""
    deliveries_for_event(event=event, instance=instance, now=now, extra=extra or {})


def deliveries_for_event(*, event: str, instance: Any, now: datetime, extra: dict[str, Any]) -> list[int]:
    """Writes the deliveries of ``event`` for every active subscription to it,
    in the caller's transaction, and publishes them after commit. One query
    when nobody subscribes. Returns the ids written."""
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(active=True).only("pk", "events", "clinical")
        if event in (subscription.events or [])
    ]
    if not subscriptions:
        return []
    key = event_key(event, instance)
    bodies: dict[bool, str] = {}

    def body(clinical: bool) -> str:
        if clinical not in bodies:
            bodies[clinical] = dumps(build_payload(event, instance, now=now, extra=extra, clinical=clinical))
        return bodies[clinical]

    rows = [
        WebhookDelivery(
            subscription_id=subscription.pk,
            event_type=event,
            event_key=key,
            message_id=new_message_id(),
            patient_id=_patient_id(instance),
            body=body(subscription.clinical),
            next_attempt_at=now,
            created_at=now,
        )
        for subscription in subscriptions
    ]
    # The unique (subscription, event_key) drops a repeat of an event already written.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(message_id__in=[row.message_id for row in rows]).values_list("pk", flat=True)
    )
    _send_soon(ids)
    return ids


def _send_soon(ids: list[int]) -> None:
    if ids:
        # robust=True: the change is committed whatever the broker does; the sweep sends later.
        transaction.on_commit(partial(publish, ids), robust=True)


# --- subscriptions: what managers do (pages and API) ------------------------------------


def _clean_events(values: Iterable[str]) -> list[str]:
    chosen = list(values) if not isinstance(values, str) else [values]
    unknown = [value for value in chosen if value not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(fields={"events": [_("Unknown event: %(event)s.") % {"event": str(unknown[0])[:60]}]})
    if not chosen:
        raise InvalidInput(fields={"events": [_("Choose at least one event.")]})
    return [event for event in EVENT_TYPES if event in chosen]


def _clean_description(description: str) -> str:
    text = " ".join(description.replace("\x00", "").split())
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput(fields={"description": [_("At most %(count)s characters.") % {"count": DESCRIPTION_MAX}]})
    return text


def _locked(subscription: WebhookSubscription) -> WebhookSubscription:
    """The row, locked; NotFound when it was deleted since the caller read it."""
    found = WebhookSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
    if found is None:
        raise NotFound()
    return found


def subscription_create(
    *,
    url: str,
    events: Sequence[str],
    by: Any,
    clinical: bool = False,
    active: bool = True,
    description: str = "",
    now: datetime | None = None,
) -> WebhookSubscription:
    """A new subscription with a fresh secret. InvalidInput: a URL a subscriber
    may not have (``check_url``, which looks the host up), no or unknown
    events, a description over 200 characters. The caller has checked that
    ``by`` is a manager."""
    cleaned_events = _clean_events(events)
    cleaned_description = _clean_description(description)
    check_url(url)
    with transaction.atomic(durable=True):
        subscription = WebhookSubscription(
            url=url,
            events=cleaned_events,
            clinical=clinical,
            active=active,
            description=cleaned_description,
            secret=new_secret(),
            created_by=by,
            created_at=now or timezone.now(),
        )
        subscription.save(force_insert=True)
    logger.info("webhook subscription %s created by user %s", subscription.pk, getattr(by, "pk", None))
    return subscription


def subscription_update(
    *,
    subscription: WebhookSubscription,
    by: Any,
    url: str | None = None,
    events: Sequence[str] | None = None,
    clinical: bool | None = None,
    active: bool | None = None,
    description: str | None = None,
) -> WebhookSubscription:
    """Changes the fields given (None: unchanged). Turning ``clinical`` off
    removes the clinical details from the deliveries not yet sent (pending or
    failed), so nothing clinical leaves after the manager said no; turning the
    subscription off fails its pending deliveries (``subscription_inactive``),
    which can be sent again once it is on. InvalidInput as for ``subscription_create``."""
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = check_url(url)
    if events is not None:
        changes["events"] = _clean_events(events)
    if description is not None:
        changes["description"] = _clean_description(description)
    if clinical is not None:
        changes["clinical"] = bool(clinical)
    if active is not None:
        changes["active"] = bool(active)
    with transaction.atomic(durable=True):
        locked = _locked(subscription)
        was_clinical, was_active = locked.clinical, locked.active
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
        if was_clinical and not locked.clinical:
            _strip_waiting(WebhookDelivery.objects.filter(subscription=locked))
        if was_active and not locked.active:
            WebhookDelivery.objects.filter(subscription=locked, status=Status.PENDING).update(
                status=Status.FAILED, last_error="subscription_inactive", claim=None, claimed_at=None
            )
    logger.info("webhook subscription %s changed by user %s", locked.pk, getattr(by, "pk", None))
    return locked


def _strip_waiting(deliveries: QuerySet[WebhookDelivery]) -> int:
    """Clinical details out of the deliveries that have not gone (yet)."""
    changed = 0
    for pk, body in deliveries.filter(status__in=[Status.PENDING, Status.FAILED]).values_list("pk", "body"):
        stripped = dumps(strip_clinical(json.loads(body)))
        if stripped != body:
            changed += WebhookDelivery.objects.filter(pk=pk).update(body=stripped)
    return changed


def payloads_scrub_for_patient(*, patient_id: int) -> int:
    """Erasure (booking.erasure): every delivery about the patient, sent or not,
    keeps the non-clinical shape only (ids and times, no name or contact
    details). Runs in the caller's transaction. Returns how many changed."""
    changed = 0
    for pk, body in WebhookDelivery.objects.filter(patient_id=patient_id).values_list("pk", "body"):
        stripped = dumps(strip_clinical(json.loads(body)))
        if stripped != body:
            changed += WebhookDelivery.objects.filter(pk=pk).update(body=stripped)
    return changed


def subscription_rotate(
    *, subscription: WebhookSubscription, by: Any, now: datetime | None = None
) -> WebhookSubscription:
    """A new secret; the one it replaces still signs (beside the new one) for
    24 hours, so the receiver can switch over without losing a message. A
    second rotation within the 24 hours drops the oldest secret at once."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = _locked(subscription)
        locked.previous_secret = locked.secret
        locked.previous_expires_at = now + ROTATION_GRACE
        locked.secret = new_secret()
        locked.save(update_fields=["secret", "previous_secret", "previous_expires_at", "updated_at"])
    logger.info("webhook subscription %s: secret rotated by user %s", locked.pk, getattr(by, "pk", None))
    return locked


def subscription_delete(*, subscription: WebhookSubscription, by: Any) -> None:
    """The subscription and its delivery log go; nothing more is sent to it."""
    pk = subscription.pk
    with transaction.atomic(durable=True):
        WebhookSubscription.objects.filter(pk=pk).delete()
    logger.info("webhook subscription %s deleted by user %s", pk, getattr(by, "pk", None))


def subscription_ping(*, subscription: WebhookSubscription, by: Any, now: datetime | None = None) -> WebhookDelivery:
    """A ``ping`` event to this subscription alone, sent at once (after commit)
    and retried like any other. InvalidState when the subscription is off."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = _locked(subscription)
        if not locked.active:
            raise InvalidState(_("This subscription is turned off. Turn it on to send a test event."))
        delivery = WebhookDelivery(
            subscription=locked,
            event_type=PING,
            event_key=f"{PING}:{uuid.uuid4().hex}",
            message_id=new_message_id(),
            body=dumps(build_payload(PING, locked, now=now)),
            next_attempt_at=now,
            created_at=now,
        )
        delivery.save(force_insert=True)
        _send_soon([delivery.pk])
    return delivery


def delivery_retry(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Sends a failed delivery again, as it was (same ``webhook-id`` and body),
    with a fresh set of attempts, at once (after commit). InvalidState when it
    is not failed or its subscription is turned off."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = (
            WebhookDelivery.objects.select_for_update().select_related("subscription").filter(pk=delivery.pk).first()
        )
        if locked is None:
            raise NotFound()  # its subscription was deleted meanwhile
        if locked.status != Status.FAILED:
            raise InvalidState(_("Only a failed delivery can be sent again."))
        if not locked.subscription.active:
            raise InvalidState(_("This subscription is turned off. Turn it on to send again."))
        locked.status, locked.attempts, locked.next_attempt_at, locked.last_error = Status.PENDING, 0, now, ""
        locked.save(update_fields=["status", "attempts", "next_attempt_at", "last_error", "updated_at"])
        _send_soon([locked.pk])
    return locked


# --- reads for the pages and the API --------------------------------------------------


def _count(rows: QuerySet[Any]) -> Subquery:
    return Subquery(
        rows.order_by().values("subscription_id").annotate(total=Count("pk")).values("total")[:1],
    )


def subscriptions_overview() -> QuerySet[WebhookSubscription]:
    """Every subscription with what the list shows, in one query: deliveries
    failed and waiting, the last attempt (when, status code, error) and when
    it last succeeded, and the first failure since then (``failing_since``)."""
    deliveries = WebhookDelivery.objects.filter(subscription_id=OuterRef("pk"))
    attempts = WebhookAttempt.objects.filter(delivery__subscription_id=OuterRef("pk"))
    failures = attempts.exclude(error="")
    latest = attempts.order_by("-at", "-pk")
    return WebhookSubscription.objects.annotate(
        failed_count=_count(deliveries.filter(status=Status.FAILED)),
        waiting_count=_count(deliveries.filter(status__in=[Status.PENDING, Status.SENDING])),
        last_attempt_at=Subquery(latest.values("at")[:1]),
        last_attempt_code=Subquery(latest.values("status_code")[:1]),
        last_attempt_error=Subquery(latest.values("error")[:1]),
        last_ok_at=Subquery(attempts.filter(error="").order_by("-at").values("at")[:1]),
        first_failure_at=Subquery(failures.order_by("at").values("at")[:1]),
        first_failure_after_ok=Subquery(failures.filter(at__gt=OuterRef("last_ok_at")).order_by("at").values("at")[:1]),
    ).order_by("-active", "created_at", "pk")


def failing_since(subscription: WebhookSubscription) -> datetime | None:
    """When the subscription's current run of failures began (None when its
    last attempt succeeded, or nothing was tried). Reads the annotations of
    ``subscriptions_overview``."""
    if not getattr(subscription, "last_attempt_error", ""):
        return None
    if getattr(subscription, "last_ok_at", None) is None:
        return getattr(subscription, "first_failure_at", None)
    return getattr(subscription, "first_failure_after_ok", None)


def deliveries_of(subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """Its delivery log, newest first, each with its attempts (two queries a page)."""
    return (
        WebhookDelivery.objects.filter(subscription=subscription)
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-pk")
    )


# --- the examples shown to managers and in docs/webhooks.md ----------------------------


def example_payloads() -> dict[str, str]:
    """``appointment.created`` as a subscription receives it, plain and clinical,
    built by the same code from made-up rows (nothing is read or saved)."""
    from treatments.models import Treatment

    zone = clinic_zone()
    start = datetime(2030, 3, 14, 15, 30, tzinfo=zone)
    patient = Patient(
        pk=567,
        full_name="Chan Tai Man",
        email="tai.man@example.com",
        phone="+85291234567",
        preferred_language="zh-hant",
    )
    appointment = Appointment(
        pk=1234,
        uid=uuid.UUID("0b6c1a52-6f0e-4a8e-9d5c-2f1e9a7b3c41"),
        status=Appointment.Status.CONFIRMED,
        start=start,
        end=start + timedelta(minutes=45),
        practitioner_id=3,
        room_id=2,
        device_id=5,
        patient=patient,
        treatment=Treatment(slug="pico-laser", name_en="Pico laser", name_zh_hant="皮秒激光"),
        source=Appointment.Source.PATIENT_ONLINE,
        sequence=0,
        created_at=datetime(2030, 3, 1, 10, 2, 11, tzinfo=zone),
    )
    moment = datetime(2030, 3, 1, 10, 2, 11, tzinfo=zone)
    return {
        "plain": json.dumps(
            build_payload(events.APPOINTMENT_CREATED, appointment, now=moment), ensure_ascii=False, indent=2
        ),
        "clinical": json.dumps(
            build_payload(events.APPOINTMENT_CREATED, appointment, now=moment, clinical=True),
            ensure_ascii=False,
            indent=2,
        ),
    }


def error_text(code: str) -> str:
    """A delivery's or attempt's error code (booking/webhook_delivery.py) in words for managers."""
    if code.startswith("http_") and code[5:].isdigit():
        return _("The system answered %(status)s") % {"status": code[5:]}
    texts = {
        "connect_timeout": _("No connection within 3 seconds"),
        "read_timeout": _("No answer within 10 seconds"),
        "connection": _("Could not connect"),
        "dns": _("The host could not be found"),
        "tls": _("The secure connection failed (its certificate?)"),
        "refused_address": _("Not sent: the address is private or this server's own"),
        "refused_url": _("Not sent: the address is no longer allowed (https only?)"),
        "subscription_inactive": _("Not sent: the subscription is turned off"),
        "worker_stopped": _("The sender stopped during the last attempt"),
        "request": _("The request failed"),
    }
    return texts.get(code, code)
