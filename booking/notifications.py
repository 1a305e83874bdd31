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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from booking import precare
from booking.models import Appointment, Notification, WaitlistOffer
from clinic.clock import clinic_today, clinic_zone

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Status = Notification.Status
Skip = Notification.SkipReason

# What reminders_opt_out turns off; every other kind is transactional.
OPTIONAL_KINDS = frozenset({Kind.REMINDER, Kind.SESSION_DUE, Kind.SESSION_LAST_CALL})
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


def _pre_care(appointment: Appointment, now: datetime) -> list[Notification]:
    """One row per ``days_before`` of the treatment's pre-care instructions
    (docs/domain.md, Pre-care), due at the clinic's send hour that many days
    before the visit. An offset already past is sent at once: stopping a
    retinoid late beats not at all. Unless the visit is less than
    precare.TOO_NEAR away (recorded ``too_late``: reception asks at check-in),
    or, after a move, that offset's email already went for this visit
    (``already_sent``). Whether each instruction applies to the patient is
    decided when it is sent. Never subject to reminders_opt_out: this is
    safety information."""
    sent_before = set(
        Notification.objects.filter(
            appointment=appointment, kind=Kind.PRE_CARE, status__in=[Status.SENT, Status.SENDING]
        ).values_list("offset_minutes", flat=True)
    )
    rows = []
    for days in precare.offsets(appointment.treatment_id):
        minutes = days * precare.MINUTES_PER_DAY
        due = precare.send_time(appointment.start, days)
        row = _appointment_row(Kind.PRE_CARE, appointment, due=max(due, now), offset_minutes=minutes)
        if due <= now:
            if minutes in sent_before:
                row.status, row.skip_reason = Status.SKIPPED, Skip.ALREADY_SENT
            elif appointment.start - now < precare.TOO_NEAR:
                row.status, row.skip_reason = Status.SKIPPED, Skip.TOO_LATE
        rows.append(row)
    return rows


def _plan_pre_care(appointment: Appointment, now: datetime) -> None:
    created = Notification.objects.bulk_create(_pre_care(appointment, now))
    late = [row for row in created if row.status == Status.PENDING and row.due_at <= now]
    for row in late:
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
    confirmation.save(force_insert=True)
    Notification.objects.bulk_create(_reminders(appointment, now))
    _send_soon(confirmation)
    _plan_pre_care(appointment, now)


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
    notice.save(force_insert=True)
    Notification.objects.bulk_create(_reminders(appointment, now))
    _send_soon(notice)
    _plan_pre_care(appointment, now)


def notify_appointment_cancelled(*, appointment: Appointment, now: datetime) -> None:
    """Pending confirmations, reschedule notices and reminders are skipped;
    the cancellation notice carries METHOD:CANCEL for the same UID."""
    _drop_pending(appointment, APPOINTMENT_NOTICES, Skip.CANCELLED)
    notice = _appointment_row(Kind.CANCELLATION, appointment, due=now)
    notice.save(force_insert=True)
    _send_soon(notice)


def notify_waitlist_offer(*, offer: WaitlistOffer, now: datetime) -> None:
    """A slot held for the patient (booking.waitlist): sent at once, with the
    one link to accept or decline. Email is the only channel today; another
    channel is another row kind sent by its own deliverer from the same offer."""
    row = Notification(
        kind=Kind.WAITLIST_OFFER,
        patient_id=offer.entry.patient_id,
        waitlist_offer=offer,
        due_at=now,
        next_attempt_at=now,
    )
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
    if not tell:
        missed.status, missed.skip_reason = Status.SKIPPED, Skip.TOO_LATE
    missed.save(force_insert=True)
    if tell:
        _send_soon(missed)


def notify_appointment_completed(*, appointment: Appointment, now: datetime) -> None:
    """The treatment's aftercare, sent as soon as the session is recorded."""
    _drop_pending(appointment, BEFORE_VISIT, Skip.NOT_CONFIRMED)
    aftercare = _appointment_row(Kind.AFTERCARE, appointment, due=now)
    aftercare.save(force_insert=True)
    _send_soon(aftercare)


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
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- the sweep -------------------------------------------------------------------------


Dispatch = Callable[[list[int], uuid.UUID], Counter[str] | None]


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
    cutoff = now - timedelta(seconds=settings.CLINIC_NOTIFICATION_CLAIM_SECONDS)
    stale = Notification.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    failed = stale.filter(attempts__gte=settings.CLINIC_NOTIFICATION_MAX_ATTEMPTS).update(
        status=Status.FAILED, claim=None, claimed_at=None, last_error="The sender stopped during the last attempt."
    )
    released = stale.update(status=Status.PENDING, claim=None, claimed_at=None, next_attempt_at=now)
    if failed or released:
        logger.warning("notification claims expired: %d back to pending, %d failed", released, failed)
    return released + failed


def notifications_claim_due(*, now: datetime, limit: int | None = None) -> tuple[uuid.UUID, list[int]]:
    """Marks up to ``limit`` (SWEEP_ROUND) due rows ``sending`` under a new
    claim token and returns it with their ids. Concurrent sweeps never claim
    the same row: SKIP LOCKED on PostgreSQL, and on every database the UPDATE
    only takes rows still pending."""
    limit = limit or SWEEP_ROUND
    token = uuid.uuid4()
    with transaction.atomic():
        due = Notification.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return token, []
        claimed = Notification.objects.filter(pk__in=ids, status=Status.PENDING).update(
            status=Status.SENDING, claim=token, claimed_at=timezone.now()
        )
        if claimed != len(ids):
            ids = list(Notification.objects.filter(pk__in=ids, claim=token).values_list("pk", flat=True))
    return token, ids


def publish(ids: Sequence[int], claim: uuid.UUID | None = None) -> bool:
    """Hands rows to a worker. Never raises: with the broker down the rows wait
    for the next sweep (``send_due_notifications`` works without a broker)."""
    from booking.tasks import deliver_notifications

    try:
        deliver_notifications.delay(list(ids), str(claim) if claim else None)
    except Exception as error:  # kombu raises OperationalError, OSError, timeouts...
        logger.warning(
            "broker unavailable (%s): %d notification(s) from #%s wait for the sweep",
            type(error).__name__,
            len(ids),
            ids[0] if ids else "-",
        )
        return False
    return True


def dispatch_to_workers(ids: list[int], claim: uuid.UUID) -> None:
    if not publish(ids, claim):
        raise BrokerUnavailable


def deliver_here(ids: list[int], claim: uuid.UUID) -> Counter[str]:
    return notifications_deliver(ids=ids, claim=claim)


class BrokerUnavailable(Exception):
    pass


def notifications_sweep(*, now: datetime | None = None, dispatch: Dispatch | None = None) -> SweepResult:
    """One pass of the outbox. ``dispatch`` receives each batch of claimed ids
    with their claim token: by default Celery tasks (``dispatch_to_workers``);
    ``deliver_here`` sends in this process (the management command)."""
    now = now or timezone.now()
    dispatch = dispatch or dispatch_to_workers
    result = SweepResult()
    result.released = notifications_release_expired(now=now)
    result.scheduled = notifications_plan_schedule(now=now)
    for _round in range(SWEEP_MAX_ROUNDS):
        token, ids = notifications_claim_due(now=now)
        result.claimed += len(ids)
        try:
            for start in range(0, len(ids), BATCH):
                outcome = dispatch(ids[start : start + BATCH], token)
                if outcome:
                    result.outcomes.update(outcome)
        except BrokerUnavailable:
            # Give this round's rows back now rather than at claim expiry; a
            # batch already published finds its claim gone and sends nothing.
            Notification.objects.filter(claim=token, status=Status.SENDING).update(
                status=Status.PENDING, claim=None, claimed_at=None
            )
            break
        if len(ids) < SWEEP_ROUND:
            break
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
    elif isinstance(error, OSError):
        text = f"{type(error).__name__}: {error}"
    else:
        # A rendering or encoding error may quote the data it choked on.
        text = type(error).__name__
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:300]


def backoff(attempts: int) -> timedelta:
    """After attempt n: RETRY_SECONDS × 2^(n−1) (1, 2, 4, 8, 16 minutes by default)."""
    delay = timedelta(seconds=settings.CLINIC_NOTIFICATION_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def skip_reason(notification: Notification, *, now: datetime) -> str:
    """Why this notification should not go out now, or "" to send it.
    Reads only what ``notifications_deliver`` selected with the row."""
    patient = notification.patient
    if not patient.email:
        return Skip.NO_EMAIL
    if notification.kind in OPTIONAL_KINDS and patient.reminders_opt_out:
        return Skip.OPTED_OUT
    appointment = notification.appointment
    if appointment is not None:
        return _appointment_skip_reason(notification, appointment, now)
    offer = notification.waitlist_offer
    if offer is not None:
        # Decided, withdrawn or expired meanwhile: the link would lead nowhere.
        return "" if offer.status == WaitlistOffer.Status.OPEN and now < offer.expires_at else Skip.TOO_LATE
    return _plan_skip_reason(notification, now)


def _appointment_skip_reason(notification: Notification, appointment: Appointment, now: datetime) -> str:
    kind, status = notification.kind, appointment.status
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


def _attempt_failed(notification: Notification, claim: uuid.UUID, error: BaseException, now: datetime) -> str:
    last = notification.attempts >= settings.CLINIC_NOTIFICATION_MAX_ATTEMPTS
    _finish(
        notification,
        claim,
        status=Status.FAILED if last else Status.PENDING,
        next_attempt_at=now + backoff(notification.attempts),
        last_error=describe_error(error),
    )
    logger.warning(
        "notification %s attempt %d %s: %s",
        notification.pk,
        notification.attempts,
        "failed for good" if last else "will be retried",
        type(error).__name__,
    )
    return "failed" if last else "retrying"


def notifications_deliver(*, ids: Sequence[int], claim: uuid.UUID | None = None) -> Counter[str]:
    """Sends the rows ``ids`` that are still this caller's to send: those
    claimed under ``claim`` by a sweep, or (``claim=None``, the after-commit
    path) those still pending and due. Each is taken over with a fresh claim
    and counted as an attempt first, so a second delivery of the same task
    finds nothing. Returns how many were sent, skipped, retrying, failed."""
    from booking.emails import build_message, consent_needs

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
        )
        .order_by("pk")
    )
    consent = consent_needs(taken)  # one batch for every email that says whether consent is signed
    mailer = _Mailer()
    try:
        for index, notification in enumerate(taken):
            now = timezone.now()
            reason = skip_reason(notification, now=now)
            if reason:
                _finish(notification, mine, status=Status.SKIPPED, skip_reason=reason)
                outcomes["skipped"] += 1
                continue
            try:
                message = build_message(notification, now=now, consent=consent.get(notification.pk))
            except Exception as error:  # a template or data problem: retried, then failed, never lost silently
                logger.error("notification %s could not be rendered: %s", notification.pk, type(error).__name__)
                outcomes[_attempt_failed(notification, mine, error, now)] += 1
                continue
            try:
                mailer.send(message)
            except _MESSAGE_ERRORS as error:
                outcomes[_attempt_failed(notification, mine, error, now)] += 1
                continue
            except OSError as error:
                # The connection failed (refused, timed out, dropped): this
                # row and the rest of the batch wait for their retry rather
                # than each timing out in turn.
                for rest in taken[index:]:
                    outcomes[_attempt_failed(rest, mine, error, now)] += 1
                break
            except Exception as error:  # this message cannot be encoded: it alone fails
                logger.error("notification %s could not be sent: %s", notification.pk, type(error).__name__)
                outcomes[_attempt_failed(notification, mine, error, now)] += 1
                continue
            # The window (module docstring): accepted by the server, not yet
            # recorded. Nothing may come between the send and this UPDATE.
            _finish(notification, mine, status=Status.SENT, sent_at=timezone.now())
            outcomes["sent"] += 1
    finally:
        mailer.close()
    return outcomes


# --- staff ------------------------------------------------------------------------------


def notification_retry(*, notification: Notification, now: datetime | None = None) -> bool:
    """Staff send a failed notification again (after fixing an address, say):
    back to pending, due now, with a fresh set of attempts. False if it was
    not failed."""
    return bool(
        Notification.objects.filter(pk=notification.pk, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, next_attempt_at=now or timezone.now(), last_error=""
        )
    )
