"""The notification outbox: every email to a patient is a row, written in the
same transaction as the change that causes it, and sent by a sweep.

Why an outbox (docs/architecture.md, The notification outbox): a Celery task with an
ETA is lost on a restart and re-run by Redis visibility timeouts, and a
``.delay()`` inside a transaction can run before the row exists; a row in the
database is none of these. Each row exists once, by its identity (database
constraints): (kind, appointment, calendar sequence, reminder offset) for
appointment notices, (kind, plan session, window start) for plan nudges.

A row's life: ``pending`` → ``sending`` (claimed) → ``sent`` or ``skipped``;
after a failed attempt, back to ``pending`` with an exponential backoff, and
``failed`` after the last attempt (CLINIC_NOTIFICATION_MAX_ATTEMPTS).

Who sends:

* ``notifications_sweep`` (Celery beat every CLINIC_NOTIFICATION_SWEEP_SECONDS,
  or ``manage.py send_due_notifications``) returns expired claims to pending,
  schedules plan nudges, claims due rows (SELECT … FOR UPDATE SKIP LOCKED on
  PostgreSQL; a conditional UPDATE under SQLite's single writer) and hands
  them in small batches to ``booking.tasks.deliver_notifications``.
* Immediate kinds (confirmation, reschedule, cancellation, missed visit,
  aftercare) are also published after commit, so they leave within a second
  while Redis is up. If it is down the publish fails fast, the request
  still succeeds, and the sweep sends them once Redis is back.

``notifications_deliver`` takes its rows over with a fresh claim, so a task
delivered twice (or the immediate task racing the sweep) sends once; it
re-reads the appointment or plan session, skips what no longer applies, then
renders and sends.

Exactly once is impossible over SMTP in one window: after the server has
accepted a message and before the row is marked sent, a crash leaves the row
``sending``. When its claim expires (CLINIC_NOTIFICATION_CLAIM_SECONDS) it is
sent again, with the same Message-ID. The window is one SMTP reply plus one
single-row UPDATE in autocommit, so at most one message per worker process
can be repeated, and only after a crash in exactly that moment (or a worker
frozen for longer than the claim timeout). A change committed in the few
milliseconds between a worker's re-read and the SMTP reply (a cancellation,
say) cannot stop a message already on its way; the notice of that change is
in the outbox from the same transaction and follows it.

Logs carry ids only: never names, addresses or clinical details.
"""

from __future__ import annotations

import logging
import re
import smtplib
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from booking import channels, outbox, precare
from booking.models import Appointment, LedgerEntry, Notification, NotificationDelivery, WaitlistOffer
from clinic.clock import clinic_today, clinic_zone
from patients import channels as patient_channels
from patients.models import ChannelChoice

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Status = Notification.Status
Skip = Notification.SkipReason

# What reminders_opt_out turns off; every other kind is transactional.
OPTIONAL_KINDS = frozenset({Kind.REMINDER, Kind.SESSION_DUE, Kind.SESSION_LAST_CALL})
# The topic a patient chooses channels for (patients/channels.py), per kind.
TOPIC_OF_KIND: dict[str, str] = {
    Kind.CONFIRMATION: "confirmations",
    Kind.RESCHEDULE: "confirmations",
    Kind.CANCELLATION: "confirmations",
    Kind.MISSED_VISIT: "confirmations",
    Kind.CHANGE_LINK: "confirmations",
    Kind.DEPOSIT_REFUNDED: "confirmations",
    # Receipts go by email only (the PDF is the message): see route().
    Kind.RECEIPT: "confirmations",
    Kind.REMINDER: "reminders",
    Kind.SESSION_DUE: "plan_nudges",
    Kind.SESSION_LAST_CALL: "plan_nudges",
    Kind.WAITLIST_OFFER: "waitlist_offers",
    Kind.PRE_CARE: "care",
    Kind.AFTERCARE: "care",
}
EMAIL = Notification.Channel.EMAIL.value
APPOINTMENT_NOTICES = (Kind.CONFIRMATION, Kind.RESCHEDULE, Kind.REMINDER, Kind.PRE_CARE)
# Pending until the visit: what check-in, a no-show or completion leaves with nothing to say.
BEFORE_VISIT = (Kind.REMINDER, Kind.PRE_CARE)

SWEEP_ROUND = 500  # rows claimed per query
SWEEP_MAX_ROUNDS = 40  # at most 20,000 rows per sweep; the next sweep takes the rest
BATCH = 20  # rows per delivery task, sent over one SMTP connection
MAX_BACKOFF = timedelta(hours=6)
AFTERCARE_USEFUL_FOR = timedelta(days=7)
# "We missed you" about a visit older than this would puzzle more than help:
# such a visit is marked silently (booking.missed) and a row still waiting is skipped.
MISSED_VISIT_USEFUL_FOR = timedelta(days=7)


# --- enqueueing: called by booking.services inside their transactions -----------------


def _appointment_row(kind: str, appointment: Appointment, *, due: datetime, offset_minutes: int = 0) -> Notification:
    return Notification(
        kind=kind,
        patient_id=appointment.patient_id,
        appointment=appointment,
        sequence=appointment.sequence,
        offset_minutes=offset_minutes,
        due_at=due,
        next_attempt_at=due,
    )


def first_choices(patient_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each patient's first channel per topic among those the clinic offers
    (one query for any number of patients); a topic missing here is email,
    the default. A topic turned off has no first choice either: its rows are
    written on email and skipped as opted out when due."""
    offered = set(channels.available())
    found: dict[int, dict[str, str]] = {}
    rows = (
        ChannelChoice.objects.filter(patient_id__in=set(patient_ids), channel__in=offered)
        .order_by("patient_id", "topic", "rank")
        .values_list("patient_id", "topic", "channel")
    )
    for patient_id, topic, channel in rows:
        found.setdefault(patient_id, {}).setdefault(topic, channel)
    return found


def _choose_channels(rows: Sequence[Notification]) -> None:
    """Sets each new row's channel to the patient's first choice for its
    kind's topic. Chosen when the row is written; the sender checks again when
    it goes (``route``), so a choice changed meanwhile is followed."""
    choices = first_choices(row.patient_id for row in rows)
    for row in rows:
        row.channel = choices.get(row.patient_id, {}).get(TOPIC_OF_KIND[row.kind], EMAIL)


def _reminders(appointment: Appointment, now: datetime) -> list[Notification]:
    """One per CLINIC_REMINDER_OFFSETS; an offset already past is recorded as
    skipped, so staff can see why no such reminder went."""
    rows = []
    for offset in settings.CLINIC_REMINDER_OFFSETS:
        minutes = int(offset.total_seconds() // 60)
        row = _appointment_row(
            Kind.REMINDER, appointment, due=appointment.start - timedelta(minutes=minutes), offset_minutes=minutes
        )
        if row.due_at <= now:
            row.status, row.skip_reason = Status.SKIPPED, Skip.OFFSET_PASSED
        rows.append(row)
    return rows


def _pre_care_sent(appointment: Appointment) -> set[int]:
    """The pre-care offsets (minutes) whose email already went for this visit."""
    return set(
        Notification.objects.filter(
            appointment=appointment, kind=Kind.PRE_CARE, status__in=[Status.SENT, Status.SENDING]
        ).values_list("offset_minutes", flat=True)
    )


def _pre_care(appointment: Appointment, now: datetime) -> list[Notification]:
    """One row per ``days_before`` of the treatment's pre-care instructions
    (docs/domain.md, Pre-care), due at the clinic's send hour that many days
    before the visit. An offset already past is sent at once: stopping a
    retinoid late beats not at all. Unless the visit is less than
    precare.TOO_NEAR away (recorded ``too_late``: reception asks at check-in),
    or, after a move, that offset's email already went for this visit
    (``already_sent``). Whether each instruction applies to the patient is
    decided when it is sent. Never subject to reminders_opt_out: this is
    safety information. What was already sent is read only when an offset
    has passed (the only case it decides), so a booking well ahead asks nothing."""
    sent_before: set[int] | None = None
    rows = []
    for days in precare.offsets(appointment.treatment_id):
        minutes = days * precare.MINUTES_PER_DAY
        due = precare.send_time(appointment.start, days)
        row = _appointment_row(Kind.PRE_CARE, appointment, due=max(due, now), offset_minutes=minutes)
        if due <= now:
            if sent_before is None:
                sent_before = _pre_care_sent(appointment)
            if minutes in sent_before:
                row.status, row.skip_reason = Status.SKIPPED, Skip.ALREADY_SENT
            elif appointment.start - now < precare.TOO_NEAR:
                row.status, row.skip_reason = Status.SKIPPED, Skip.TOO_LATE
        rows.append(row)
    return rows


def _enqueue_with_pre_care(
    appointment: Appointment, notice: Notification, reminders: list[Notification], now: datetime
) -> None:
    """Writes ``notice``, its ``reminders`` and the visit's pre-care rows:
    channels chosen in one query, every row in one INSERT (ids returned, so
    the notice and any pre-care already due are published after commit)."""
    pre_care = _pre_care(appointment, now)
    rows = [notice, *reminders, *pre_care]
    _choose_channels(rows)
    Notification.objects.bulk_create(rows)
    _send_soon(notice)
    for row in pre_care:
        if row.status == Status.PENDING and row.due_at <= now:
            _send_soon(row)


def _drop_pending(appointment: Appointment, kinds: Iterable[str], reason: str) -> int:
    return Notification.objects.filter(appointment=appointment, status=Status.PENDING, kind__in=list(kinds)).update(
        status=Status.SKIPPED, skip_reason=reason
    )


def _send_soon(notification: Notification) -> None:
    # robust=True: the change is committed whatever the broker does.
    transaction.on_commit(partial(publish, [notification.pk]), robust=True)


def notify_appointment_booked(*, appointment: Appointment, now: datetime) -> None:
    """The confirmation (published after commit) and a reminder per offset."""
    confirmation = _appointment_row(Kind.CONFIRMATION, appointment, due=now)
    _enqueue_with_pre_care(appointment, confirmation, _reminders(appointment, now), now)


def notify_appointment_rescheduled(
    *, appointment: Appointment, now: datetime, previous_start: datetime | None = None, reason: str = ""
) -> None:
    """Pending notices of the old time are skipped; a reschedule notice (with
    the same calendar UID and the new SEQUENCE) and new reminders replace them.
    The notice keeps the old time and the reason, so it can say old → new and why."""
    _drop_pending(appointment, APPOINTMENT_NOTICES, Skip.RESCHEDULED)
    notice = _appointment_row(Kind.RESCHEDULE, appointment, due=now)
    notice.previous_start = previous_start
    notice.reason = reason
    _enqueue_with_pre_care(appointment, notice, _reminders(appointment, now), now)


def notify_appointment_cancelled(*, appointment: Appointment, now: datetime) -> None:
    """Pending confirmations, reschedule notices and reminders are skipped;
    the cancellation notice carries METHOD:CANCEL for the same UID."""
    _drop_pending(appointment, APPOINTMENT_NOTICES, Skip.CANCELLED)
    notice = _appointment_row(Kind.CANCELLATION, appointment, due=now)
    _choose_channels([notice])
    notice.save(force_insert=True)
    _send_soon(notice)


def notify_deposit_refunded(*, appointment: Appointment, now: datetime) -> None:
    """A deposit paid after its hold had lapsed and its slot was taken: the
    patient is told the visit is not booked and the money is on its way back
    (booking.deposits), published after commit. Once per appointment."""
    row = _appointment_row(Kind.DEPOSIT_REFUNDED, appointment, due=now)
    if Notification.objects.filter(kind=row.kind, appointment=appointment, sequence=row.sequence).exists():
        return
    _choose_channels([row])
    row.save(force_insert=True)
    _send_soon(row)


def notify_waitlist_offer(*, offer: WaitlistOffer, now: datetime) -> None:
    """A slot held for the patient (booking.waitlist): sent at once, with the
    one link to accept or decline, on the patient's channel for waitlist offers."""
    row = Notification(
        kind=Kind.WAITLIST_OFFER,
        patient_id=offer.entry.patient_id,
        waitlist_offer=offer,
        due_at=now,
        next_attempt_at=now,
    )
    _choose_channels([row])
    row.save(force_insert=True)
    _send_soon(row)


def notify_appointment_closed(*, appointment: Appointment) -> None:
    """Checked in or missed: its pending reminders and pre-care have nothing left to say."""
    _drop_pending(appointment, BEFORE_VISIT, Skip.NOT_CONFIRMED)


def notify_appointment_missed(*, appointment: Appointment, now: datetime, tell: bool) -> None:
    """Marked no-show: its pending reminders and pre-care are dropped, and the
    patient is told kindly, with a way to book again (published after commit).
    ``tell=False`` (a visit too long ago for the message to help) records the
    row as skipped ``too_late``, so staff can see why no email went."""
    _drop_pending(appointment, BEFORE_VISIT, Skip.NOT_CONFIRMED)
    missed = _appointment_row(Kind.MISSED_VISIT, appointment, due=now)
    _choose_channels([missed])
    if not tell:
        missed.status, missed.skip_reason = Status.SKIPPED, Skip.TOO_LATE
    missed.save(force_insert=True)
    if tell:
        _send_soon(missed)


def notify_appointment_completed(*, appointment: Appointment, now: datetime) -> None:
    """The treatment's aftercare, sent as soon as the session is recorded."""
    _drop_pending(appointment, BEFORE_VISIT, Skip.NOT_CONFIRMED)
    aftercare = _appointment_row(Kind.AFTERCARE, appointment, due=now)
    _choose_channels([aftercare])
    aftercare.save(force_insert=True)
    _send_soon(aftercare)


def notify_change_link(*, appointment: Appointment, channel: str, now: datetime) -> Notification | None:
    """The link to choose a new time, sent on ``channel`` because the patient
    asked there ("I need to change" under a WhatsApp reminder, "2" by SMS),
    published after commit. One per appointment sequence (the row's identity):
    a second request for the same time returns None and sends nothing, and so
    does a request about a visit no longer confirmed or already begun. Once
    the visit is inside the cancellation notice the message gives the clinic's
    phone instead of the link (booking/texts.py). If ``channel`` cannot reach
    the patient when it goes, their channels for confirmations are used."""
    if appointment.status != Appointment.Status.CONFIRMED or now >= appointment.start:
        return None
    row = _appointment_row(Kind.CHANGE_LINK, appointment, due=now)
    row.channel = channel if channel in Notification.Channel.values else EMAIL
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return None  # already asked for this time: the first link stands
    _send_soon(row)
    return row


def notify_receipt(*, entry: LedgerEntry, now: datetime) -> Notification | None:
    """The receipt of a payment or refund, emailed with its PDF after commit
    (booking/receipts.py). Called by the ledger's post-save signal inside the
    transaction that writes the row, so a rolled-back payment sends nothing.
    One per row (a unique constraint); always by email, the PDF being the
    message. Rows without a receipt number get none."""
    if entry.kind not in (LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND) or not entry.receipt_number:
        return None
    row = Notification(
        kind=Kind.RECEIPT,
        channel=EMAIL,
        patient_id=entry.patient_id,
        ledger_entry=entry,
        due_at=now,
        next_attempt_at=now,
    )
    row.save(force_insert=True)
    _send_soon(row)
    return row


# --- plan nudges: scheduled by every sweep, idempotently -------------------------------


def _at_send_hour(day: Any, now: datetime) -> datetime:
    """Plan nudges go out at CLINIC_NOTIFICATION_HOUR, clinic-local, never at night."""
    moment = datetime.combine(day, time(settings.CLINIC_NOTIFICATION_HOUR), tzinfo=clinic_zone()).astimezone(UTC)
    return max(moment, now)


def notifications_plan_schedule(*, now: datetime) -> int:
    """Creates the plan nudges that are due by now and do not exist yet:

    * ``session_due`` once a pending session's window has opened and its turn
      has come (session 1, or session k−1 booked or completed);
    * ``session_last_call`` CLINIC_NOTIFICATION_LAST_CALL_DAYS before the
      window closes while the session is still unbooked.

    Rows are keyed by (kind, session, window start): a window recomputed to a
    new start gets new nudges, and the old ones are skipped at send time.
    The unique constraint makes concurrent sweeps harmless."""
    from treatments.models import PlanSession, TreatmentPlan

    today = clinic_today(now)
    last_call = timedelta(days=settings.CLINIC_NOTIFICATION_LAST_CALL_DAYS)
    previous = PlanSession.objects.filter(plan_id=OuterRef("plan_id"), number=OuterRef("number") - 1)
    open_sessions = (
        PlanSession.objects.filter(
            plan__status=TreatmentPlan.Status.ACTIVE,
            status=PlanSession.Status.PENDING,
            window_start__lte=today,
            window_end__gte=today,
        )
        .annotate(previous_status=Subquery(previous.values("status")[:1]))
        .filter(Q(number=1) | Q(previous_status__in=[PlanSession.Status.BOOKED, PlanSession.Status.COMPLETED]))
    )

    def missing(kind: str) -> Any:
        exists = Notification.objects.filter(
            kind=kind, plan_session_id=OuterRef("pk"), window_start=OuterRef("window_start")
        )
        return open_sessions.filter(~Exists(exists)).values_list("pk", "plan__patient_id", "window_start", "window_end")

    rows = [
        Notification(
            kind=Kind.SESSION_DUE,
            patient_id=patient_id,
            plan_session_id=session_id,
            window_start=start,
            due_at=_at_send_hour(start, now),
            next_attempt_at=_at_send_hour(start, now),
        )
        for session_id, patient_id, start, _end in missing(Kind.SESSION_DUE)
    ]
    for session_id, patient_id, start, end in missing(Kind.SESSION_LAST_CALL):
        call_day = end - last_call
        if call_day <= start or call_day > today:
            continue  # a window too short for a separate last call, or not yet time
        due = _at_send_hour(call_day, now)
        rows.append(
            Notification(
                kind=Kind.SESSION_LAST_CALL,
                patient_id=patient_id,
                plan_session_id=session_id,
                window_start=start,
                due_at=due,
                next_attempt_at=due,
            )
        )
    if rows:
        _choose_channels(rows)
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- the sweep -------------------------------------------------------------------------


Dispatch = outbox.Dispatch
BrokerUnavailable = outbox.BrokerUnavailable


@dataclass
class SweepResult:
    released: int = 0
    scheduled: int = 0
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def notifications_release_expired(*, now: datetime) -> int:
    """Claims older than CLINIC_NOTIFICATION_CLAIM_SECONDS belong to a worker
    that died (or a task message that was lost): back to pending, or failed if
    that was the last attempt. The timeout is far above the SMTP timeout, so a
    live worker never loses its claim."""
    return outbox.claims_release(
        Notification,
        now=now,
        cutoff=now - timedelta(seconds=settings.CLINIC_NOTIFICATION_CLAIM_SECONDS),
        max_attempts=settings.CLINIC_NOTIFICATION_MAX_ATTEMPTS,
        stopped_error="The sender stopped during the last attempt.",
        what="notification",
    )


def notifications_claim_due(*, now: datetime, limit: int | None = None) -> tuple[uuid.UUID, list[int]]:
    """Marks up to ``limit`` (SWEEP_ROUND) due rows ``sending`` under a new
    claim token and returns it with their ids (booking.outbox.claim_due)."""
    return outbox.claim_due(Notification, now=now, limit=limit or SWEEP_ROUND)


def publish(ids: Sequence[int], claim: uuid.UUID | None = None) -> bool:
    """Hands rows to a worker. Never raises: with the broker down the rows wait
    for the next sweep (``send_due_notifications`` works without a broker)."""
    from booking.tasks import deliver_notifications

    return outbox.publish(deliver_notifications, ids, claim, what="notification(s)")


def dispatch_to_workers(ids: list[int], claim: uuid.UUID) -> None:
    if not publish(ids, claim):
        raise BrokerUnavailable


def deliver_here(ids: list[int], claim: uuid.UUID) -> Counter[str]:
    return notifications_deliver(ids=ids, claim=claim)


def notifications_sweep(*, now: datetime | None = None, dispatch: Dispatch | None = None) -> SweepResult:
    """One pass of the outbox. ``dispatch`` receives each batch of claimed ids
    with their claim token: by default Celery tasks (``dispatch_to_workers``);
    ``deliver_here`` sends in this process (the management command)."""
    now = now or timezone.now()
    dispatch = dispatch or dispatch_to_workers
    result = SweepResult()
    result.released = notifications_release_expired(now=now)
    result.scheduled = notifications_plan_schedule(now=now)
    result.claimed = outbox.sweep_rounds(
        Notification,
        now=now,
        dispatch=dispatch,
        outcomes=result.outcomes,
        round_size=SWEEP_ROUND,
        batch=BATCH,
        max_rounds=SWEEP_MAX_ROUNDS,
    )
    if result.claimed or result.released or result.scheduled:
        logger.info(
            "notification sweep: %d released, %d scheduled, %d claimed",
            result.released,
            result.scheduled,
            result.claimed,
        )
    return result


# --- delivery --------------------------------------------------------------------------

# Replies about one message; the connection stays usable for the next one.
# (Every other SMTPException is an OSError: the connection failed.)
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+")


def describe_error(error: BaseException) -> str:
    """For ``last_error``: the kind of failure and the SMTP code, with any
    address the server echoed removed; other errors by their type alone (no
    patient data in the log)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _text in error.recipients.values()})
        text = f"SMTPRecipientsRefused: {'/'.join(codes)}"
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        text = f"{type(error).__name__}: {error.smtp_code} {reply}"
    elif isinstance(error, channels.ChannelError):
        # The provider's code, never its detail (which may quote the number).
        text = f"ChannelError: {error.code}{' (permanent)' if error.permanent else ''}"
    elif isinstance(error, channels.ChannelUnavailable):
        text = f"ChannelUnavailable: {error}"
    elif isinstance(error, (TextSendFailed, OSError)):
        text = f"{type(error).__name__}: {error}"
    else:
        # A rendering or encoding error may quote the data it choked on.
        text = type(error).__name__
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:300]


def backoff(attempts: int) -> timedelta:
    """After attempt n: RETRY_SECONDS × 2^(n−1) (1, 2, 4, 8, 16 minutes by default)."""
    delay = timedelta(seconds=settings.CLINIC_NOTIFICATION_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def _dead_channels(notification: Notification) -> set[str]:
    """Channels that failed for good for this notification (since staff last
    sent it again): the sender does not try them again. Reads the deliveries
    ``notifications_deliver`` prefetched, else the database."""
    failures = getattr(notification, "permanent_failures", None)
    if failures is None:
        failures = notification.deliveries.filter(status=NotificationDelivery.Status.FAILED, permanent=True)
    since = notification.retried_at
    return {d.channel for d in failures if since is None or d.created_at > since}


def route(notification: Notification, *, offered: Sequence[str] | None = None) -> str | None:
    """The channel to send ``notification`` on now: its own while the patient
    still lists it for the kind's topic, the clinic still offers it and it has
    an address; else the first such channel of the patient's list (they
    changed their mind, or removed their phone, since it was written). A
    change link keeps the channel the patient asked on while it can reach
    them. Never a channel that already failed for good for this notification.
    For a topic that must reach the patient, email is the last resort when
    none of their channels can be used any more. None: no channel can carry
    it (opted out, or no address anywhere)."""
    patient = notification.patient
    offered = channels.available() if offered is None else offered
    dead = _dead_channels(notification)
    if notification.kind == Kind.RECEIPT:
        return EMAIL if EMAIL not in dead and patient_channels.address(patient, EMAIL) else None
    order = patient_channels.orders(patient)[TOPIC_OF_KIND[notification.kind]]
    candidates = [c for c in patient_channels.usable(patient, order, offered=offered) if c not in dead]
    current = notification.channel
    asked_here = notification.kind == Kind.CHANGE_LINK and current not in dead and current in offered
    if asked_here and patient_channels.address(patient, current):
        return current
    if current in candidates:
        return current
    if candidates:
        return candidates[0]
    if order and TOPIC_OF_KIND[notification.kind] not in patient_channels.OPTIONAL_TOPICS and EMAIL not in dead:
        # Nothing the patient chose can be used any more (the clinic stopped
        # offering it, the number was removed): a confirmation or a waitlist
        # offer is not lost to that; email, if there is an address.
        return EMAIL if patient_channels.address(patient, EMAIL) else None
    return None


def next_channel(notification: Notification, failed: str, *, offered: Sequence[str] | None = None) -> str | None:
    """Where to go after ``failed`` failed for good: the next channel of the
    patient's list for the topic that can still reach them and has not failed
    for good, or None when none is left."""
    if notification.kind == Kind.RECEIPT:
        return None  # email only
    patient = notification.patient
    dead = _dead_channels(notification) | {failed}
    order = patient_channels.orders(patient)[TOPIC_OF_KIND[notification.kind]]
    rest = [c for c in patient_channels.usable(patient, order, offered=offered) if c not in dead]
    return rest[0] if rest else None


def skip_reason(notification: Notification, *, now: datetime) -> str:
    """Why this notification should not go out now, or "" to send it.
    Reads only what ``notifications_deliver`` selected with the row."""
    patient = notification.patient
    if notification.kind in OPTIONAL_KINDS and (
        patient.reminders_opt_out or not patient_channels.orders(patient)[TOPIC_OF_KIND[notification.kind]]
    ):
        return Skip.OPTED_OUT
    if route(notification) is None:
        return Skip.NO_ADDRESS
    appointment = notification.appointment
    if appointment is not None:
        return _appointment_skip_reason(notification, appointment, now)
    if notification.ledger_entry_id is not None:
        return ""  # a receipt is always worth having, however late
    offer = notification.waitlist_offer
    if offer is not None:
        # Decided, withdrawn or expired meanwhile: the link would lead nowhere.
        return "" if offer.status == WaitlistOffer.Status.OPEN and now < offer.expires_at else Skip.TOO_LATE
    return _plan_skip_reason(notification, now)


def _appointment_skip_reason(notification: Notification, appointment: Appointment, now: datetime) -> str:
    kind, status = notification.kind, appointment.status
    if kind == Kind.DEPOSIT_REFUNDED:
        return ""  # about money on its way back: always worth saying
    if kind == Kind.CANCELLATION:
        return Skip.TOO_LATE if now >= appointment.start else ""
    if kind == Kind.AFTERCARE:
        if status != Appointment.Status.COMPLETED:
            return Skip.NOT_CONFIRMED
        done = appointment.completed_at or notification.due_at
        return Skip.TOO_LATE if now > done + AFTERCARE_USEFUL_FOR else ""
    if kind == Kind.MISSED_VISIT:
        if status != Appointment.Status.NO_SHOW:
            return Skip.NOT_CONFIRMED  # the no-show was undone (the admin): nothing was missed
        return Skip.TOO_LATE if now > appointment.end + MISSED_VISIT_USEFUL_FOR else ""
    if status == Appointment.Status.CANCELLED:
        return Skip.CANCELLED
    if status != Appointment.Status.CONFIRMED:
        return Skip.NOT_CONFIRMED
    if kind == Kind.REMINDER:
        lead = timedelta(minutes=notification.offset_minutes)
        if appointment.start != notification.due_at + lead:
            return Skip.RESCHEDULED  # moved while this reminder was on its way
        # Late by more than half its lead time, a reminder does more harm than good.
        return Skip.TOO_LATE if now > appointment.start - lead / 2 else ""
    if kind == Kind.PRE_CARE:
        if notification.sequence != appointment.sequence:
            return Skip.RESCHEDULED  # moved while this one was on its way; the move planned its own
        if now > appointment.start - precare.TOO_NEAR:
            return Skip.TOO_LATE
        # The one kind that reads more than its row: the instructions may have
        # changed, or the patient's declaration, since it was planned.
        return "" if pre_care_due(notification, appointment) else Skip.NOT_APPLICABLE
    return Skip.TOO_LATE if now >= appointment.start else ""


def _plan_skip_reason(notification: Notification, now: datetime) -> str:
    session = notification.plan_session
    today = clinic_today(now)
    if (
        session is None
        or session.status != session.Status.PENDING
        or session.plan.status != session.plan.Status.ACTIVE
        or session.window_start != notification.window_start
    ):
        return Skip.SESSION_CHANGED
    return Skip.TOO_LATE if today > session.window_end else ""


def pre_care_due(notification: Notification, appointment: Appointment) -> list[Any]:
    """The instructions a pre-care row carries: those of its ``days_before``
    that apply to the patient now."""
    days = notification.offset_minutes // precare.MINUTES_PER_DAY
    return [instruction for instruction in precare.for_appointment(appointment) if instruction.days_before == days]


class _Mailer:
    """One connection of the default mailer for a batch, opened on first use."""

    def __init__(self) -> None:
        self.backend: Any = None

    def send(self, message: mail.EmailMessage) -> None:
        if self.backend is None:
            self.backend = mail.mailers.default
            self.backend.open()
        self.backend.send_messages([message])

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:  # closing a broken connection; nothing left to lose
                logger.debug("closing the mail connection failed", exc_info=True)


def _finish(notification: Notification, claim: uuid.UUID, **fields: Any) -> bool:
    done = Notification.objects.filter(pk=notification.pk, claim=claim).update(claim=None, claimed_at=None, **fields)
    if not done:
        logger.warning("notification %s: claim lost before it was recorded", notification.pk)
    return bool(done)


def _record(notification: Notification, channel: str, **fields: Any) -> NotificationDelivery:
    """One line of the notification's delivery log. A provider id seen before
    (the same Message-ID after a repeat from the crash window) updates its
    line rather than adding a second."""
    provider_id = fields.pop("provider_id", "")
    if provider_id:
        with transaction.atomic():
            delivery, _created = NotificationDelivery.objects.update_or_create(
                channel=channel, provider_id=provider_id, defaults={"notification": notification, **fields}
            )
        return delivery
    return NotificationDelivery.objects.create(notification=notification, channel=channel, **fields)


def _sent(notification: Notification, claim: uuid.UUID, channel: str, provider_id: str) -> str:
    # The window (module docstring): the provider has accepted, the row is not
    # yet marked. The mark and the delivery line commit together, and nothing
    # else comes between the send and them.
    with transaction.atomic():
        _finish(notification, claim, status=Status.SENT, sent_at=timezone.now(), channel=channel)
        _record(notification, channel, provider_id=provider_id[:128], status=NotificationDelivery.Status.ACCEPTED)
    return "sent"


def _attempt_failed(
    notification: Notification, claim: uuid.UUID, error: BaseException, now: datetime, *, channel: str = EMAIL
) -> str:
    last = notification.attempts >= settings.CLINIC_NOTIFICATION_MAX_ATTEMPTS
    _finish(
        notification,
        claim,
        status=Status.FAILED if last else Status.PENDING,
        next_attempt_at=now + backoff(notification.attempts),
        last_error=describe_error(error),
        channel=channel,
    )
    logger.warning(
        "notification %s attempt %d on %s %s: %s",
        notification.pk,
        notification.attempts,
        channel,
        "failed for good" if last else "will be retried",
        type(error).__name__,
    )
    return "failed" if last else "retrying"


def _error_code(error: BaseException) -> str:
    if isinstance(error, channels.ChannelError):
        return error.code[:32]
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "/".join(sorted({str(code) for code, _text in error.recipients.values()}))[:32]
    if isinstance(error, smtplib.SMTPResponseException):
        return str(error.smtp_code)
    return type(error).__name__[:32]


def _permanent(error: BaseException) -> bool:
    """A refusal no retry on this channel can mend: what the provider said
    (ChannelError.permanent), a channel no longer configured, or a mail server
    refusing the address with a 5xx reply."""
    if isinstance(error, channels.ChannelError):
        return error.permanent
    if isinstance(error, channels.ChannelUnavailable):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(500 <= code < 600 for code, _text in error.recipients.values())
    return False


class _Fallback(Exception):
    def __init__(self, channel: str) -> None:
        self.channel = channel


def _failed_on(notification: Notification, claim: uuid.UUID, channel: str, error: BaseException, now: datetime) -> str:
    """A send on ``channel`` failed. Permanently: on to the patient's next
    channel (raises ``_Fallback`` to send there at once) or, with none left,
    failed. An email refused for good with no other channel is retried as
    before SMS existed (some servers answer 5xx for a mailbox that recovers).
    Otherwise: retried on the same channel after the backoff."""
    permanent = _permanent(error)
    following = next_channel(notification, channel) if permanent else None
    delivery = _record(
        notification,
        channel,
        status=NotificationDelivery.Status.FAILED,
        permanent=permanent,
        error_code=_error_code(error),
        error=describe_error(error),
        fell_back_to=following or "",
    )
    if following:
        # The prefetched list notifications_deliver reads: the next route() leaves this channel out.
        notification.permanent_failures = [*getattr(notification, "permanent_failures", []), delivery]  # type: ignore[attr-defined]
        logger.warning(
            "notification %s failed for good on %s (%s): falling back to %s",
            notification.pk,
            channel,
            delivery.error_code,
            following,
        )
        raise _Fallback(following)
    if permanent and channel != EMAIL:
        _finish(
            notification,
            claim,
            status=Status.FAILED,
            channel=channel,
            last_error=f"{describe_error(error)}; no other channel"[:300],
        )
        logger.warning("notification %s failed for good on %s: no channel left", notification.pk, channel)
        return "failed"
    return _attempt_failed(notification, claim, error, now, channel=channel)


def _deliver_text(notification: Notification, claim: uuid.UUID, channel: str, now: datetime) -> str:
    from booking.texts import build_text

    to = patient_channels.address(notification.patient, channel)
    try:
        message = build_text(notification, channel=channel, to=to, now=now)
    except Exception as error:  # a data problem: retried, then failed, never lost silently
        logger.error("notification %s could not be rendered for %s: %s", notification.pk, channel, type(error).__name__)
        return _attempt_failed(notification, claim, error, now, channel=channel)
    try:
        provider_id = channels.send(message)
    except (channels.ChannelError, channels.ChannelUnavailable) as error:
        return _failed_on(notification, claim, channel, error, now)
    except Exception as error:  # a backend's own failure (network...): try again later
        logger.error("notification %s could not be sent on %s: %s", notification.pk, channel, type(error).__name__)
        return _attempt_failed(notification, claim, TextSendFailed(type(error).__name__), now, channel=channel)
    return _sent(notification, claim, channel, provider_id)


class TextSendFailed(Exception):
    """A text backend raised something other than ChannelError: only its type is kept."""


class _Batch:
    """What one delivery task shares between its rows: one SMTP connection,
    opened on first use, and whether it broke (the rest of the batch's emails
    then wait for their retry rather than each timing out in turn; texts
    still go)."""

    def __init__(self, consent: dict[int, Any]) -> None:
        self.mailer = _Mailer()
        self.consent = consent
        self.broken: OSError | None = None

    def deliver_email(self, notification: Notification, claim: uuid.UUID, now: datetime) -> str:
        from booking.emails import build_message

        if self.broken is not None:
            return _attempt_failed(notification, claim, self.broken, now)
        try:
            message = build_message(notification, now=now, consent=self.consent.get(notification.pk))
        except Exception as error:  # a template or data problem: retried, then failed, never lost silently
            logger.error("notification %s could not be rendered: %s", notification.pk, type(error).__name__)
            return _attempt_failed(notification, claim, error, now)
        try:
            self.mailer.send(message)
        except _MESSAGE_ERRORS as error:
            return _failed_on(notification, claim, EMAIL, error, now)
        except OSError as error:
            # The connection failed (refused, timed out, dropped).
            self.broken = error
            return _attempt_failed(notification, claim, error, now)
        except Exception as error:  # this message cannot be encoded: it alone fails
            logger.error("notification %s could not be sent: %s", notification.pk, type(error).__name__)
            return _attempt_failed(notification, claim, error, now)
        return _sent(notification, claim, EMAIL, notification.message_id)


def notifications_deliver(*, ids: Sequence[int], claim: uuid.UUID | None = None) -> Counter[str]:
    """Sends the rows ``ids`` that are still this caller's to send: those
    claimed under ``claim`` by a sweep, or (``claim=None``, the after-commit
    path) those still pending and due. Each is taken over with a fresh claim
    and counted as an attempt first, so a second delivery of the same task
    finds nothing. Each goes on the channel ``route`` picks; a channel that
    fails for good hands the row to the patient's next one at once, within
    the same attempt. Returns how many were sent, skipped, retrying, failed."""
    from booking.emails import consent_needs

    outcomes: Counter[str] = Counter()
    mine = uuid.uuid4()
    now = timezone.now()
    rows = Notification.objects.filter(pk__in=list(ids))
    if claim is None:
        rows = rows.filter(status=Status.PENDING, next_attempt_at__lte=now)
    else:
        rows = rows.filter(status=Status.SENDING, claim=claim)
    if not rows.update(status=Status.SENDING, claim=mine, claimed_at=now, attempts=F("attempts") + 1):
        return outcomes  # sent, skipped or taken by another worker meanwhile
    taken = list(
        Notification.objects.filter(pk__in=list(ids), claim=mine)
        .select_related(
            "patient",
            "appointment__treatment",
            "appointment__patient",
            "appointment__plan_session",
            "plan_session__plan__treatment",
            "waitlist_offer__entry__treatment",
            "waitlist_offer__practitioner__user",
            "ledger_entry__patient",
            "ledger_entry__appointment__treatment",
            "ledger_entry__package",
            "ledger_entry__reverses",
        )
        .prefetch_related(
            "patient__channel_choices",
            Prefetch(
                "deliveries",
                queryset=NotificationDelivery.objects.filter(status=NotificationDelivery.Status.FAILED, permanent=True),
                to_attr="permanent_failures",
            ),
        )
        .order_by("pk")
    )
    batch = _Batch(consent_needs(taken))  # one batch for every email that says whether consent is signed
    try:
        for notification in taken:
            now = timezone.now()
            reason = skip_reason(notification, now=now)
            if reason:
                _finish(notification, mine, status=Status.SKIPPED, skip_reason=reason)
                outcomes["skipped"] += 1
                continue
            channel = route(notification) or EMAIL  # not None: skip_reason asked route first
            outcome = ""
            while not outcome:
                try:
                    if channel == EMAIL:
                        outcome = batch.deliver_email(notification, mine, now)
                    else:
                        outcome = _deliver_text(notification, mine, channel, now)
                except _Fallback as fallback:
                    channel = fallback.channel
            outcomes[outcome] += 1
    finally:
        batch.mailer.close()
    return outcomes


def notification_channel_failed(*, delivery: NotificationDelivery, code: str, permanent: bool, now: datetime) -> None:
    """A failure the provider reported after accepting the message (a
    delivery receipt). Marks the delivery failed with ``code``; if
    ``permanent``, the notification falls back to the patient's next channel
    for its topic: back to pending on it, due now, published after commit, the
    delivery's ``fell_back_to`` saying where; with no channel left the
    notification is failed. Safe to call twice (a replayed receipt): a
    delivery already failed, or a notification already moved on, changes
    nothing more. Runs in the caller's transaction if there is one."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("patient")
            .filter(pk=delivery.notification_id)
            .first()
        )
        locked = NotificationDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if notification is None or locked is None or locked.status == NotificationDelivery.Status.FAILED:
            return
        locked.status = NotificationDelivery.Status.FAILED
        locked.permanent = permanent
        locked.error_code = code[:32]
        fields = ["status", "permanent", "error_code", "updated_at"]
        current = (
            permanent
            and notification.status == Status.SENT
            and notification.channel == locked.channel
            and not NotificationDelivery.objects.filter(notification=notification, created_at__gt=locked.created_at)
            .exclude(pk=locked.pk)
            .exists()
        )
        if not current:
            locked.save(update_fields=fields)
            return
        following = next_channel(notification, locked.channel)
        if following:
            locked.fell_back_to = following
            fields.append("fell_back_to")
            Notification.objects.filter(pk=notification.pk).update(
                status=Status.PENDING,
                channel=following,
                attempts=0,
                next_attempt_at=now,
                claim=None,
                claimed_at=None,
                sent_at=None,
                last_error=f"{locked.channel}: {locked.error_code} (permanent)",
            )
            _send_soon(notification)
            logger.warning(
                "notification %s failed for good on %s after sending (%s): falling back to %s",
                notification.pk,
                locked.channel,
                locked.error_code,
                following,
            )
        else:
            Notification.objects.filter(pk=notification.pk).update(
                status=Status.FAILED,
                sent_at=None,
                last_error=f"{locked.channel}: {locked.error_code} (permanent); no other channel",
            )
            logger.warning("notification %s failed for good on %s: no channel left", notification.pk, locked.channel)
        locked.save(update_fields=fields)


# --- staff ------------------------------------------------------------------------------


def notification_retry(*, notification: Notification, now: datetime | None = None) -> bool:
    """Staff send a failed notification again (after fixing an address, say):
    back to pending, due now, with a fresh set of attempts. False if it was
    not failed."""
    now = now or timezone.now()
    # retried_at: channels that failed for good before now may be tried again.
    return bool(
        Notification.objects.filter(pk=notification.pk, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, next_attempt_at=now, last_error="", retried_at=now
        )
    )
