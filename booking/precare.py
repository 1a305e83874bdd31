"""Pre-care before a visit (docs/domain.md, Pre-care; issue 17): which
instructions a visit needs, when each is sent, what the patient has
confirmed, and the signed link that lets them confirm without signing in.

The emails themselves are outbox rows of kind ``pre_care``
(booking.notifications plans them with the booking, one per ``days_before``
of the treatment's instructions). This module decides and reads; pages and
the API only check who asks and present the result."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, Notification, PreCareAcknowledgement
from clinic.clock import clinic_local, clinic_zone
from clinic.errors import InvalidState, NotFound
from patients.models import HealthDeclaration
from patients.selectors import declaration_newest
from treatments.models import PRE_CARE_DAYS_MAX, PreCareInstruction, Treatment
from treatments.precare import applies

# A pre-care email that would arrive less than this before the visit helps
# nobody (the patient is on their way); it is skipped and reception asks at
# check-in instead (the schedule shows what is not confirmed).
TOO_NEAR = timedelta(hours=2)
MINUTES_PER_DAY = 24 * 60
_SALT = "booking.precare.confirm"
# A link is used before its visit; the visit is at most PRE_CARE_DAYS_MAX days
# after the email, plus a day of slack for the visit's own day.
_TOKEN_MAX_AGE = timedelta(days=PRE_CARE_DAYS_MAX + 2)
OPEN_STATUSES = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)


def treatment_instructions(treatment: Treatment | int) -> list[PreCareInstruction]:
    treatment_id = treatment.pk if isinstance(treatment, Treatment) else treatment
    return list(PreCareInstruction.objects.filter(treatments=treatment_id, active=True))


def offsets(treatment: Treatment | int) -> list[int]:
    """The distinct ``days_before`` of the treatment's active instructions, largest first."""
    return sorted({instruction.days_before for instruction in treatment_instructions(treatment)}, reverse=True)


def send_time(start: datetime, days_before: int) -> datetime:
    """The clinic's send hour (CLINIC_NOTIFICATION_HOUR, clinic-local), ``days_before``
    calendar days before the visit's date: never at night, the same hour for every offset."""
    day = clinic_local(start).date() - timedelta(days=days_before)
    return datetime.combine(day, time(settings.CLINIC_NOTIFICATION_HOUR), tzinfo=clinic_zone()).astimezone(UTC)


def for_appointment(appointment: Appointment) -> list[PreCareInstruction]:
    """The active instructions of the visit's treatment that apply to its patient now."""
    declaration = declaration_newest(appointment.patient_id)
    return [
        instruction
        for instruction in treatment_instructions(appointment.treatment_id)
        if applies(instruction.condition, declaration)
    ]


@dataclass(frozen=True)
class PreCareItem:
    instruction: PreCareInstruction
    send_on: date  # the clinic-local day it is (or was) due to be sent
    sent_at: datetime | None
    acknowledged_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.acknowledged_at is not None


def status(appointment: Appointment) -> list[PreCareItem]:
    """Each instruction the visit needs, with when its email went (for this
    visit, whatever time it had then) and when the patient confirmed it.
    Four queries, whatever the number of instructions."""
    instructions = for_appointment(appointment)
    sent: dict[int, datetime] = {}
    for minutes, sent_at in Notification.objects.filter(
        appointment=appointment, kind=Notification.Kind.PRE_CARE, status=Notification.Status.SENT
    ).values_list("offset_minutes", "sent_at"):
        if sent_at is not None and (minutes not in sent or sent_at > sent[minutes]):
            sent[minutes] = sent_at
    acknowledged = dict(
        PreCareAcknowledgement.objects.filter(appointment=appointment).values_list("instruction_id", "acknowledged_at")
    )
    return [
        PreCareItem(
            instruction=instruction,
            send_on=clinic_local(send_time(appointment.start, instruction.days_before)).date(),
            sent_at=sent.get(instruction.days_before * MINUTES_PER_DAY),
            acknowledged_at=acknowledged.get(instruction.pk),
        )
        for instruction in instructions
    ]


def unconfirmed(appointment: Appointment) -> list[PreCareItem]:
    """What reception should ask about at check-in."""
    if appointment.status not in OPEN_STATUSES:
        return []
    return [item for item in status(appointment) if not item.confirmed]


def _open(appointment: Appointment, now: datetime) -> None:
    if appointment.status not in OPEN_STATUSES or now > appointment.end:
        raise InvalidState(_("This visit is over or cancelled: there is nothing left to confirm."))


@transaction.atomic(durable=True)
def pre_care_acknowledge(
    *, appointment: Appointment, via: str, now: datetime, by: User | None = None
) -> list[PreCareItem]:
    """The patient confirms every instruction the visit needs now (those
    already confirmed keep their first time). The caller has checked that
    ``by`` is the visit's patient, or holds a valid link. Raises InvalidState
    (409) for a visit that is cancelled, missed, completed or over."""
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    _open(locked, now)
    PreCareAcknowledgement.objects.bulk_create(
        [
            PreCareAcknowledgement(appointment=locked, instruction=instruction, acknowledged_at=now, via=via, by=by)
            for instruction in for_appointment(locked)
        ],
        ignore_conflicts=True,
    )
    return status(locked)


# --- the link in the email ---------------------------------------------------------------


def token_for(appointment: Appointment) -> str:
    """Signed and salted: it names the visit and proves the email was ours.
    It carries no expiry of its own beyond _TOKEN_MAX_AGE: it stops working
    when the visit is over or cancelled (``appointment_for_token``)."""
    return signing.dumps({"a": appointment.pk}, salt=_SALT, compress=False)


def appointment_for_token(token: str, *, now: datetime) -> Appointment:
    """The visit a link names. NotFound for a token that is not ours (tampered,
    truncated, too old); InvalidState for a visit that is over or cancelled."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=_TOKEN_MAX_AGE)
        pk = int(payload["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(_("This link is not valid. Please use the link in our latest email.")) from None
    appointment = Appointment.objects.select_related("treatment", "patient").filter(pk=pk).first()
    if appointment is None:
        raise NotFound(_("This link is not valid. Please use the link in our latest email."))
    _open(appointment, now)
    return appointment


def unconfirmed_counts(appointments: Sequence[Appointment]) -> dict[int, int]:
    """For lists: per open visit, how many of its instructions the patient has
    not confirmed. At most three queries, whatever the number of visits."""
    visits = [a for a in appointments if a.status in OPEN_STATUSES]
    if not visits:
        return {}
    links = PreCareInstruction.treatments.through.objects.filter(
        treatment_id__in={a.treatment_id for a in visits}, precareinstruction__active=True
    ).select_related("precareinstruction")
    by_treatment: dict[int, list[PreCareInstruction]] = defaultdict(list)
    for link in links:
        by_treatment[link.treatment_id].append(link.precareinstruction)
    if not by_treatment:
        return {}  # no pre-care for these treatments: one query
    declarations: dict[int, HealthDeclaration] = {}
    for declaration in HealthDeclaration.objects.filter(patient_id__in={a.patient_id for a in visits}).order_by(
        "patient_id", "-submitted_at", "-id"
    ):
        declarations.setdefault(declaration.patient_id, declaration)
    acknowledged = set(
        PreCareAcknowledgement.objects.filter(appointment__in=visits).values_list("appointment_id", "instruction_id")
    )
    return {
        visit.pk: sum(
            1
            for instruction in by_treatment.get(visit.treatment_id, [])
            if applies(instruction.condition, declarations.get(visit.patient_id))
            and (visit.pk, instruction.pk) not in acknowledged
        )
        for visit in visits
    }
