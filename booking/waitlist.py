"""The waitlist: patients wait for a treatment on some dates; a freed slot is
offered to the first entry it suits and held for it for CLINIC_WAITLIST_HOLD.

How a slot is held (docs/architecture.md, Waitlist: holds and offers): an
offer owns an Appointment row of status ``held`` (booking/holds.py), written
under the same advisory locks as a booking and covered by the practitioner,
room and device exclusion constraints, so nobody can book it meanwhile. The
engine counts it as busy until it expires; whoever next writes there (a
booking, the sweep) deletes it once expired.

Who matches: a freed time (cancellation, move, expired or declined offer,
closure or hours changes) reaches ``waitlist_match`` through the Celery task
``booking.tasks.match_waitlist`` sent after commit (holds.freed); the sweep
(``offers_expire`` every minute, ``waitlist_match_all`` every ten) puts right
anything missed while the broker was down. Offers are first come, first
served over waiting entries without an open offer, in (created_at, id) order.

Every function owns its transaction; permissions (whose entry, staff or not)
are the caller's business. Errors are ``clinic.errors``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking import availability, holds, notifications, selectors, services, spacing
from booking.models import Appointment, Practitioner, WaitlistEntry, WaitlistOffer
from clinic.clock import clinic_local, clinic_today, clinic_zone
from clinic.errors import AlreadyWaiting, InvalidInput, InvalidState, NotBookable, SlotUnavailable
from patients.models import Patient
from treatments.models import Treatment

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Entry = WaitlistEntry.Status
Offer = WaitlistOffer.Status

# Parts of the day by the clinic-local start: [from, to) minutes after midnight.
PARTS: dict[str, tuple[int, int]] = {
    WaitlistEntry.Part.MORNING: (0, 12 * 60),
    WaitlistEntry.Part.AFTERNOON: (12 * 60, 17 * 60),
    WaitlistEntry.Part.EVENING: (17 * 60, 24 * 60),
}
# The parts as the join forms offer them (patient flow and staff booking page),
# their hours those of PARTS.
PART_CHOICES = [
    (WaitlistEntry.Part.MORNING.value, gettext_lazy("Morning (before 12:00)")),
    (WaitlistEntry.Part.AFTERNOON.value, gettext_lazy("Afternoon (12:00–17:00)")),
    (WaitlistEntry.Part.EVENING.value, gettext_lazy("Evening (after 17:00)")),
]
MAX_WAITING = 5  # waiting entries per patient
MAX_DAYS = 62  # days one entry may span
MIN_HOLD = timedelta(minutes=10)  # an offer the patient cannot act on in time is not made
TRIES_PER_ENTRY = 3  # slots tried for one entry when other writers keep winning them
EXPIRY_TASK = "booking.tasks.offer_expire"

# SQLSTATEs that mean "someone else holds it": exclusion violation, deadlock.
_TAKEN_SQLSTATES = {"23P01", "40P01"}


def _now(now: datetime | None) -> datetime:
    return (now or timezone.now()).astimezone(UTC)


def _taken(error: Exception) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in _TAKEN_SQLSTATES


def _day_span(first: date, last: date) -> tuple[datetime, datetime]:
    """[local midnight of ``first``, local midnight after ``last``) in UTC."""
    zone = clinic_zone()
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def part_of(moment: datetime) -> str:
    """morning, afternoon or evening, by the clinic-local wall clock."""
    local = clinic_local(moment)
    minute = local.hour * 60 + local.minute
    return next(part for part, (low, high) in PARTS.items() if low <= minute < high)


def _last_day(*, staff: bool, now: datetime) -> date:
    horizon = settings.CLINIC_STAFF_HORIZON if staff else settings.CLINIC_BOOKING_HORIZON
    return clinic_today(now + horizon)


# --- selectors -------------------------------------------------------------------------


def _open_offers() -> Prefetch:
    return Prefetch(
        "offers",
        queryset=WaitlistOffer.objects.filter(status=Offer.OPEN).select_related("practitioner"),
        to_attr="open_offers",
    )


def entries_for(patient: Patient | int) -> QuerySet[WaitlistEntry]:
    """The patient's entries, newest first, each with ``open_offers`` (a list of at most one)."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    return (
        WaitlistEntry.objects.filter(patient_id=patient_id)
        .select_related("treatment", "practitioner")
        .prefetch_related(_open_offers())
        .order_by("-created_at", "-id")
    )


def waitlist_entries() -> QuerySet[WaitlistEntry]:
    """Every entry in queue order, for staff lists: patient, treatment,
    practitioner and ``open_offers`` loaded, so a page of any size costs the
    same few queries."""
    return (
        WaitlistEntry.objects.select_related("patient", "treatment", "practitioner")
        .prefetch_related(_open_offers())
        .order_by("created_at", "id")
    )


def waitlist_for_treatment(
    treatment: Treatment | int, *, status: str | None = Entry.WAITING
) -> QuerySet[WaitlistEntry]:
    """Staff: the treatment's entries (waiting ones by default) in queue order."""
    treatment_id = treatment if isinstance(treatment, int) else treatment.pk
    entries = waitlist_entries().filter(treatment_id=treatment_id)
    return entries.filter(status=status) if status else entries


def open_offer_for(entry: WaitlistEntry | int) -> WaitlistOffer | None:
    entry_id = entry if isinstance(entry, int) else entry.pk
    return WaitlistOffer.objects.filter(entry_id=entry_id, status=Offer.OPEN).select_related("practitioner").first()


def offers_for(patient: Patient | int) -> QuerySet[WaitlistOffer]:
    """The patient's offers, newest first: anyone else's offer is not found."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    return WaitlistOffer.objects.filter(entry__patient_id=patient_id).select_related(
        "entry__treatment", "entry__patient", "practitioner"
    )


def offers_all() -> QuerySet[WaitlistOffer]:
    return WaitlistOffer.objects.select_related("entry__treatment", "entry__patient", "practitioner")


# --- joining and leaving ---------------------------------------------------------------


def waitlist_join(
    *,
    patient: Patient,
    treatment: Treatment,
    practitioner: Practitioner | None = None,
    earliest: date,
    latest: date,
    parts: Sequence[str] = (),
    by: User | None,
    staff: bool,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Puts ``patient`` on the waitlist for ``treatment`` (optionally with one
    practitioner) on the clinic-local dates [earliest, latest], at the
    ``parts`` of the day (none: any time).

    Raises InvalidInput naming the fields (dates reversed, in the past, beyond
    the booking horizon (staff: the staff horizon) or spanning more than 62
    days, an unknown part, a practitioner who does not offer the treatment, a
    treatment not bookable online for patients), NotBookable for an erased
    patient, AlreadyWaiting (409) when the patient already waits for this
    treatment on overlapping dates or has MAX_WAITING entries waiting. After
    commit, offers a slot at once if one is free (the returned entry then has
    an open offer)."""
    now = _now(now)
    today = clinic_today(now)
    chosen = list(dict.fromkeys(parts))
    errors: dict[str, list[str]] = defaultdict(list)
    if earliest > latest:
        errors["latest"].append(_("The last date must be on or after the first."))
    if earliest < today:
        errors["earliest"].append(_("The first date cannot be in the past."))
    last_day = _last_day(staff=staff, now=now)
    if latest > last_day:
        errors["latest"].append(
            _("Choose a date no later than %(day)s: the clinic's diary is not open further ahead.")
            % {"day": last_day.isoformat()}
        )
    if (latest - earliest).days + 1 > MAX_DAYS:
        errors["latest"].append(_("A waitlist entry may span at most %(days)d days.") % {"days": MAX_DAYS})
    if any(part not in PARTS for part in chosen):
        errors["parts"].append(_("Choose from morning, afternoon and evening."))
    if not treatment.active and not staff:
        errors["treatment"].append(_("This treatment cannot be booked online."))
    if practitioner is not None and not selectors.qualified_practitioner_ids(
        treatment=treatment, practitioner_id=practitioner.pk
    ):
        errors["practitioner"].append(_("That practitioner does not offer this treatment."))
    if errors:
        raise InvalidInput(fields=dict(errors))
    with transaction.atomic(durable=True):
        # The patient's row serialises their joins: the overlap and the cap hold.
        if Patient.objects.select_for_update().filter(pk=patient.pk, erased_at__isnull=False).exists():
            raise NotBookable(_("This patient's record was erased: they cannot be booked."))
        waiting = WaitlistEntry.objects.filter(patient_id=patient.pk, status=Entry.WAITING)
        if waiting.filter(treatment=treatment, earliest__lte=latest, latest__gte=earliest).exists():
            raise AlreadyWaiting()
        if waiting.count() >= MAX_WAITING:
            raise AlreadyWaiting(
                _("You are already waiting for %(count)d times, the most one patient may. Leave one to add another.")
                % {"count": MAX_WAITING}
            )
        entry = WaitlistEntry.objects.create(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            earliest=earliest,
            latest=latest,
            parts=chosen,
            created_at=now,
            created_by=by,
        )
    _match_quietly(partial(waitlist_match_entry, entry=entry, now=now))
    return entry


def waitlist_leave(*, entry: WaitlistEntry, by: User | None, now: datetime | None = None) -> WaitlistEntry:
    """waiting → left (again on a left entry: nothing changes). Its open offer
    is withdrawn and the slot goes to the next entry after commit. Raises
    InvalidState for a booked or ended entry."""
    now = _now(now)
    with transaction.atomic(durable=True):
        # Offer before entry, the order accepting an offer locks them in.
        offers = list(WaitlistOffer.objects.select_for_update().filter(entry_id=entry.pk, status=Offer.OPEN))
        locked = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status == Entry.LEFT:
            return locked
        if locked.status != Entry.WAITING:
            raise InvalidState(_("This waitlist entry is already closed."))
        for offer in offers:
            _end_offer(offer, Offer.WITHDRAWN, now)
        locked.status, locked.closed_at = Entry.LEFT, now
        locked.save(update_fields=["status", "closed_at"])
        return locked


# --- matching ---------------------------------------------------------------------------


def _queue() -> QuerySet[WaitlistEntry]:
    """Waiting entries without an open offer, first come first served."""
    open_offer = WaitlistOffer.objects.filter(entry_id=OuterRef("pk"), status=Offer.OPEN)
    return (
        WaitlistEntry.objects.filter(status=Entry.WAITING)
        .filter(~Exists(open_offer))
        .select_related("treatment")
        .order_by("created_at", "id")
    )


class _Slots:
    """The engine's answer per (treatment, clinic-local day), for every
    qualified practitioner at once (an entry for one practitioner filters it:
    the engine computes each practitioner alone). Dropped after each offer,
    which changes the answer."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.treatments: dict[int, Treatment] = {}
        self.found: dict[tuple[int, date], list[availability.Slot]] = {}

    def on(self, treatment: Treatment, day: date) -> list[availability.Slot]:
        key = (treatment.pk, day)
        if key not in self.found:
            self.found[key] = availability.find_slots(
                treatment=treatment, first_date=day, last_date=day, staff=False, now=self.now
            )
        return self.found[key]

    def drop(self) -> None:
        self.found.clear()


def _offerable(
    entry: WaitlistEntry,
    slot: availability.Slot,
    *,
    offered: dict[int, list[tuple[datetime, datetime]]],
    busy: dict[int, list[tuple[datetime, datetime]]],
    earliest_start: datetime,
) -> bool:
    if entry.practitioner_id is not None and slot.practitioner_id != entry.practitioner_id:
        return False
    if slot.start < earliest_start:
        return False
    if entry.parts and part_of(slot.start) not in entry.parts:
        return False
    if _overlaps(offered.get(entry.pk, ()), slot):
        return False  # declined or let expire: that time is not offered to the same entry again
    return not _overlaps(busy.get(entry.patient_id, ()), slot)


def _overlaps(spans: Iterable[tuple[datetime, datetime]], slot: availability.Slot) -> bool:
    return any(start < slot.end and slot.start < end for start, end in spans)


def _match(entries: Sequence[WaitlistEntry], days: Sequence[date], now: datetime) -> list[WaitlistOffer]:
    """Offers each entry, in order, the first slot it suits on ``days``. A
    constant number of queries besides the engine's (cached) and the offers made."""
    if not entries or not days:
        return []
    span_start, span_end = _day_span(days[0], days[-1])
    ids = [entry.pk for entry in entries]
    offered: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for entry_id, start, end in WaitlistOffer.objects.filter(entry_id__in=ids).values_list("entry_id", "start", "end"):
        offered[entry_id].append((start, end))
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for patient_id, start, end in Appointment.objects.filter(
        patient_id__in={entry.patient_id for entry in entries},
        status__in=Appointment.ACTIVE_STATUSES,
        start__lt=span_end,
        end__gt=span_start,
    ).values_list("patient_id", "start", "end"):
        busy[patient_id].append((start, end))
    # A patient's offer lasts at least MIN_HOLD before the notice runs out.
    earliest_start = now + settings.CLINIC_MIN_NOTICE + MIN_HOLD
    slots = _Slots(now)
    too_close: dict[int, dict[date, str]] = {}
    made: list[WaitlistOffer] = []
    for entry in entries:
        tries = 0
        candidates = (
            slot
            for day in days
            if entry.earliest <= day <= entry.latest
            for slot in slots.on(entry.treatment, day)
            if _offerable(entry, slot, offered=offered, busy=busy, earliest_start=earliest_start)
        )
        for slot in candidates:
            if entry.pk not in too_close:  # only for an entry with a free slot: most have none
                too_close[entry.pk] = spacing.blocked_days(
                    patient_id=entry.patient_id, treatment=entry.treatment, first=days[0], last=days[-1]
                )
            if clinic_local(slot.start).date() in too_close[entry.pk]:
                continue  # a gap rule would refuse the booking: never offer what cannot be accepted
            try:
                offer = _offer_make(
                    entry=entry, start=slot.start, practitioner_id=slot.practitioner_id, staff=False, by=None, now=now
                )
            except InvalidState:
                break  # the entry changed meanwhile (left, booked, offered by hand)
            except (SlotUnavailable, NotBookable):
                slots.drop()
                tries += 1
                if tries >= TRIES_PER_ENTRY:
                    break
                continue
            made.append(offer)
            slots.drop()
            break
    return made


def _days_of(start: datetime, end: datetime, today: date) -> list[date]:
    first = max(clinic_local(start).date(), today)
    last = clinic_local(max(end - timedelta(microseconds=1), start)).date()
    return _dates(first, last) if first <= last else []


def waitlist_match(*, start: datetime, end: datetime, now: datetime | None = None) -> list[WaitlistOffer]:
    """What follows a freed time [start, end): each waiting entry covering its
    clinic-local day(s), first come first served, is offered the first slot
    it suits on those days. Returns the offers made."""
    now = _now(now)
    days = _days_of(start, end, clinic_today(now))
    if not days:
        return []
    entries = list(_queue().filter(earliest__lte=days[-1], latest__gte=days[0]))
    return _match(entries, days, now)


def waitlist_match_entry(*, entry: WaitlistEntry, now: datetime | None = None) -> WaitlistOffer | None:
    """Offers ``entry`` the first free slot it suits (just after joining)."""
    now = _now(now)
    fresh = _queue().filter(pk=entry.pk).first()
    if fresh is None:
        return None
    first = max(fresh.earliest, clinic_today(now))
    last = min(fresh.latest, _last_day(staff=False, now=now))
    made = _match([fresh], _dates(first, last) if first <= last else [], now)
    return made[0] if made else None


def waitlist_match_all(*, now: datetime | None = None) -> list[WaitlistOffer]:
    """The safety net (sweep): every waiting entry against every day it covers."""
    now = _now(now)
    today = clinic_today(now)
    entries = list(_queue().filter(latest__gte=today))
    if not entries:
        return []
    last = min(max(entry.latest for entry in entries), _last_day(staff=False, now=now))
    first = max(min(entry.earliest for entry in entries), today)
    return _match(entries, _dates(first, last) if first <= last else [], now)


def _match_quietly(match: Any) -> None:
    """A failed match must not fail the change that asked for it: the sweep retries."""
    try:
        match()
    except Exception as error:
        logger.warning("waitlist match failed (%s): the sweep will try again", type(error).__name__)


# --- offers -----------------------------------------------------------------------------


def _offer_make(
    *,
    entry: WaitlistEntry,
    start: datetime,
    practitioner_id: int | None,
    staff: bool,
    by: User | None,
    now: datetime,
) -> WaitlistOffer:
    """Holds ``start`` for ``entry`` in one transaction: the booking's locks,
    expired holds out of the way, the engine's word (with the patient's own
    appointments), then the held row, the offer and its notification. Raises
    NotBookable, SlotUnavailable (someone else holds it), InvalidState (the
    entry is not waiting or already has an open offer). After commit the
    expiry is scheduled; a worker killed before commit leaves nothing."""
    treatment = entry.treatment
    start = start.astimezone(UTC)
    check: dict[str, Any] = {
        "treatment": treatment,
        "start": start,
        "practitioner_id": practitioner_id,
        "staff": staff,
        "now": now,
        "window": None,
        "patient_id": entry.patient_id,
    }
    with transaction.atomic(durable=True):
        try:
            allocations = services.lock_and_check(check, treatment=treatment, patient_id=entry.patient_id)
        except OperationalError as error:
            if not _taken(error):
                raise
            raise SlotUnavailable() from None
        locked = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status != Entry.WAITING:
            raise InvalidState(_("This waitlist entry is no longer waiting."))
        if WaitlistOffer.objects.filter(entry_id=locked.pk, status=Offer.OPEN).exists():
            raise InvalidState(_("This waitlist entry already has an open offer."))
        # Accepting must still be possible under the rules it will book by.
        cutoff = start if staff else start - settings.CLINIC_MIN_NOTICE
        expires_at = min(now + settings.CLINIC_WAITLIST_HOLD, cutoff)
        hold = services.insert_first_free(
            allocations,
            treatment=treatment,
            start=start,
            by=by,
            patient_id=entry.patient_id,
            status=Appointment.Status.HELD,
            hold_expires_at=expires_at,
            source=Appointment.Source.STAFF if staff else Appointment.Source.PATIENT_ONLINE,
        )
        if hold is None:
            raise SlotUnavailable()
        offer = WaitlistOffer.objects.create(
            entry=locked,
            hold=hold,
            practitioner_id=hold.practitioner_id,
            start=start,
            end=hold.end,
            expires_at=expires_at,
            created_at=now,
            offered_by=by,
        )
        notifications.notify_waitlist_offer(offer=offer, now=now)
        transaction.on_commit(partial(_schedule_expiry, offer.pk, expires_at), robust=True)
        return offer


def _schedule_expiry(offer_id: int, expires_at: datetime) -> None:
    """Never raises: without the broker, the minute sweep expires the offer."""
    from clinic.celery import app

    try:
        app.send_task(EXPIRY_TASK, kwargs={"offer_id": offer_id}, eta=expires_at, ignore_result=True)
    except Exception as error:  # kombu raises OperationalError, OSError, timeouts...
        logger.warning(
            "broker unavailable (%s): the waitlist sweep will expire offer %s", type(error).__name__, offer_id
        )


def waitlist_offer_by_hand(
    *,
    entry: WaitlistEntry,
    start: datetime,
    practitioner: Practitioner | None = None,
    by: User,
    now: datetime | None = None,
) -> WaitlistOffer:
    """Staff offer ``start`` to ``entry`` (staff rules: no notice, the staff
    horizon). Raises NotBookable and SlotUnavailable as a booking would,
    InvalidState if the entry is not waiting or already has an open offer."""
    now = _now(now)
    current = WaitlistEntry.objects.select_related("treatment").get(pk=entry.pk)
    if current.status != Entry.WAITING:
        raise InvalidState(_("This waitlist entry is no longer waiting."))
    if open_offer_for(current) is not None:
        raise InvalidState(_("This waitlist entry already has an open offer."))
    practitioner_id = practitioner.pk if practitioner else current.practitioner_id
    return _offer_make(entry=current, start=start, practitioner_id=practitioner_id, staff=True, by=by, now=now)


def offer_accept(*, offer: WaitlistOffer, by: User, staff: bool = False, now: datetime | None = None) -> Appointment:
    """Books the offered slot for the offer's patient through
    ``booking.services.appointment_book`` (screening, consent, plan sessions,
    the confirmation: every booking rule), in place of the hold. A slot staff
    offered by hand is booked under staff rules, as they chose it. Raises what
    booking raises, and InvalidState (409) when the offer has expired or was
    used. If booking fails, the offer stays open until it expires."""
    now = _now(now)
    current = WaitlistOffer.objects.select_related("entry__patient", "entry__treatment", "practitioner").get(
        pk=offer.pk
    )
    if current.status != Offer.OPEN or current.expires_at <= now:
        raise InvalidState(_("This offer has expired or was already used."))
    return services.appointment_book(
        patient=current.entry.patient,
        treatment=current.entry.treatment,
        start=current.start,
        practitioner=current.practitioner,
        booked_by=by,
        staff=staff or current.offered_by_id is not None,
        waitlist_offer_id=current.pk,
        now=now,
    )


def offer_decline(*, offer: WaitlistOffer, by: User | None, now: datetime | None = None) -> WaitlistOffer:
    """open → declined (again on a declined offer: nothing changes): the hold
    goes and the slot passes to the next entry after commit; the entry keeps
    waiting, and is never offered that slot again. InvalidState when the offer
    has expired or was used."""
    now = _now(now)
    with transaction.atomic(durable=True):
        locked = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
        if locked.status == Offer.DECLINED:
            return locked
        if locked.status != Offer.OPEN or locked.expires_at <= now:
            raise InvalidState(_("This offer has expired or was already used."))
        _end_offer(locked, Offer.DECLINED, now)
        return locked


def _end_offer(offer: WaitlistOffer, status: str, now: datetime, *, publish: bool = True) -> None:
    """Ends a locked open offer: its hold is deleted and (``publish``) the time
    goes back to the waitlist after commit."""
    hold_id = offer.hold_id
    offer.status, offer.decided_at, offer.hold = status, now, None
    offer.save(update_fields=["status", "decided_at", "hold"])
    if hold_id is not None:
        Appointment.with_holds.filter(pk=hold_id, status=Appointment.Status.HELD).delete()
    if publish:
        holds.freed(start=offer.start, end=offer.end)


def offer_expire(*, offer_id: int, now: datetime | None = None) -> bool:
    """The offer's expiry task: if it is still open and past its expiry,
    expired and its hold deleted; then its time is matched again. False when
    there was nothing to do (decided meanwhile, or not yet due)."""
    now = _now(now)
    expired = _expire(WaitlistOffer.objects.filter(pk=offer_id), now)
    for offer in expired:
        waitlist_match(start=offer.start, end=offer.end, now=now)
    return bool(expired)


def _expire(offers: QuerySet[WaitlistOffer], now: datetime) -> list[WaitlistOffer]:
    """Expires due open offers one short transaction each; rows another
    worker is expiring are skipped, not waited for."""
    done: list[WaitlistOffer] = []
    seen: set[int] = set()
    while True:
        with transaction.atomic(durable=True):
            offer = (
                offers.select_for_update(skip_locked=True)
                .filter(status=Offer.OPEN, expires_at__lte=now)
                .exclude(pk__in=seen)
                .order_by("expires_at", "pk")
                .first()
            )
            if offer is None:
                return done
            seen.add(offer.pk)
            _end_offer(offer, Offer.EXPIRED, now, publish=False)
            done.append(offer)


def offers_expire(*, now: datetime | None = None) -> int:
    """The sweep: every open offer past its expiry is expired and its hold
    deleted, and the freed times are matched at once; waiting entries whose
    last date has passed end. Returns how many offers expired."""
    now = _now(now)
    expired = _expire(WaitlistOffer.objects.all(), now)
    WaitlistEntry.objects.filter(status=Entry.WAITING, latest__lt=clinic_today(now)).update(
        status=Entry.ENDED, closed_at=now
    )
    for start, end in _merged((offer.start, offer.end) for offer in expired):
        waitlist_match(start=start, end=end, now=now)
    return len(expired)


def _merged(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def waitlist_end_for_patient(*, patient_id: int, now: datetime | None = None) -> None:
    """Erasure: the patient's waiting entries end and their open offers are
    withdrawn (holds deleted, the slots passed on). Inside the caller's transaction."""
    now = _now(now)
    for offer in WaitlistOffer.objects.select_for_update().filter(entry__patient_id=patient_id, status=Offer.OPEN):
        _end_offer(offer, Offer.WITHDRAWN, now)
    WaitlistEntry.objects.filter(patient_id=patient_id, status=Entry.WAITING).update(status=Entry.ENDED, closed_at=now)
