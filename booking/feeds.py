"""Private calendar feeds: a practitioner's schedule, or a patient's own
appointments, as an iCalendar URL that Google, Apple or Outlook subscribe to.

The address is ``/calendar/<token>.ics`` and the token is the only credential
(the calendar services that poll it cannot sign in), so it is 32 random bytes,
unique, and stored so that its owner can see the address again. Making a feed
when one exists is a reset: the old row is revoked (its address answers 404 at
once) and a new token is made. One live feed per login and kind is a partial
unique constraint; ``feed_create`` locks the login's row first, so two clicks
at once revoke and make in turn rather than collide.

What a feed shows (``feed_rows``, ``feed_calendar``), from 30 days back to 180
ahead in clinic-local days: confirmed, checked-in and completed visits, and
visits cancelled in the last 14 days as STATUS:CANCELLED, so a subscribed
calendar drops them. Held rows (waitlist offers) are never visits
(``Appointment.objects`` leaves them out); no-shows drop out. Each event has
the UID of the appointment's emailed invite (booking.calendar.event_uid) and
its SEQUENCE, so a moved visit moves in the subscribed calendar.

- A practitioner's feed: "<treatment> — <patient initials>", the room, a link
  to the appointment in the workspace. Initials only ("C. W."; a Chinese name
  gives the first character of the family name); no notes, no contact data.
  Its language is the one the page spoke when the feed was made: staff have no
  language setting of their own.
- A patient's feed: "Appointment at <clinic>", the clinic's address and the link
  to manage it, like the single appointment's .ics of the API; nothing clinical,
  since calendars sync to third parties. In the patient's preferred language.

A fetch is cheap and constant: the feed with its owner (one query), then a
version of what the feed would show (``feed_version``: count and latest change
in one aggregate query) that answers a conditional request with 304 before any
appointment is loaded, then the rows with their treatment, room and patient
(one query). ``last_fetched_at`` is written at most every five minutes.

A fetch records nothing in the access log (patients.AccessEvent): no patient
record is opened, only the practitioner's own schedule with initials, which the
workspace's schedule shows every staff member anyway (docs/access-log.md).
Permissions (who may have which kind) are the caller's business, through
``feed_kind_for``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from booking.calendar import event_uid, manage_url
from booking.models import Appointment, CalendarFeed, Practitioner
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import InvalidInput
from patients.models import Patient
from patients.roles import PATIENT, STAFF_ROLES, role_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Kind = CalendarFeed.Kind

DAYS_BACK = 30  # clinic-local days before today that a feed still shows
DAYS_AHEAD = 180  # and after
CANCELLED_KEPT_DAYS = 14  # a cancelled visit stays (as CANCELLED) this long after its cancellation
FETCH_NOTED_EVERY = timedelta(minutes=5)  # last_fetched_at is written at most this often
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-]; anything else is refused before the database.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# Part of every ETag: bump it when the events' content changes for the same rows.
FORMAT = "1"
LANGUAGES = ("en", "zh-hant")

_SHOWN = (
    Appointment.Status.CONFIRMED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
)


# --- who has which feed -------------------------------------------------------------------


def feed_kind_for(user: User) -> str | None:
    """The kind of feed this login may have: a practitioner's schedule for staff
    with a practitioner profile, a patient's appointments for a patient, else
    None (a receptionist, a manager who sees no patients)."""
    if not user.is_authenticated or not user.is_active:
        return None
    role = role_of(user)
    if role in STAFF_ROLES:
        return Kind.PRACTITIONER if Practitioner.objects.filter(user=user).exists() else None
    if role == PATIENT:
        return Kind.PATIENT
    return None


def feed_for(*, user: User, kind: str) -> CalendarFeed | None:
    """The login's live feed of that kind, if any."""
    return CalendarFeed.objects.filter(user=user, kind=kind, revoked_at__isnull=True).first()


def feed_url(feed: CalendarFeed) -> str:
    return f"{settings.CLINIC_BASE_URL}{reverse('calendar_feed', args=[feed.token])}"


def webcal_url(feed: CalendarFeed) -> str:
    """The same address as ``webcal://``: a tap on a phone opens the calendar app's
    subscribe dialog (Apple Calendar, Outlook). The scheme does not say http or
    https: some apps try plain HTTP first and follow the site's redirect to https
    (SECURE_SSL_REDIRECT), so the https address the page copies is the safer one."""
    parts = urlsplit(feed_url(feed))
    return urlunsplit(("webcal", parts.netloc, parts.path, "", ""))


def _language(language: str | None) -> str:
    code = (language or "en").lower()
    return "zh-hant" if code.startswith("zh") else "en"


# --- services -----------------------------------------------------------------------------


@transaction.atomic(durable=True)
def feed_create(*, user: User, kind: str, language: str = "en", now: datetime | None = None) -> CalendarFeed:
    """A new secret address for the login's feed of ``kind``; a live one is
    revoked first (a reset: the old address answers 404 from now on).
    ``language`` is the events' language for a practitioner's feed (a patient's
    follows their preferred language). The caller has checked that the login
    may have this kind (``feed_kind_for``); a kind the login cannot have is
    InvalidInput all the same."""
    now = now or timezone.now()
    if kind not in Kind.values:
        raise InvalidInput(_("Unknown kind of calendar feed."), fields={"kind": [_("Unknown kind of calendar feed.")]})
    # The login's row is the lock: two resets at once run one after the other.
    owner = get_user_model().objects.select_for_update().get(pk=user.pk)
    if kind == Kind.PRACTITIONER and not Practitioner.objects.filter(user=owner).exists():
        raise InvalidInput(_("Only a practitioner has a calendar feed of their schedule."))
    if kind == Kind.PATIENT and not _has_patient(owner):
        raise InvalidInput(_("Only a patient has a calendar feed of their appointments."))
    revoked = CalendarFeed.objects.filter(user=owner, kind=kind, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=owner
    )
    feed = CalendarFeed.objects.create(
        user=owner,
        kind=kind,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        language=_language(language),
        created_at=now,
    )
    logger.info("calendar feed %s made for user %s (%s), %s revoked", feed.pk, owner.pk, kind, revoked)
    return feed


def _has_patient(user: Any) -> bool:
    return Patient.objects.filter(user=user, erased_at__isnull=True).exists()


@transaction.atomic(durable=True)
def feed_revoke(*, feed: CalendarFeed, by: User, now: datetime | None = None) -> bool:
    """Turns the feed off: its address answers 404 from now on. False when it
    was already off. The caller has checked that ``by`` may (its owner, or a
    manager for a practitioner's feed)."""
    now = now or timezone.now()
    changed = CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
    if changed:
        feed.revoked_at, feed.revoked_by = now, by
        logger.info("calendar feed %s turned off by user %s", feed.pk, by.pk)
    return bool(changed)


def feed_change(*, user: User, kind: str, action: str | None, language: str = "en") -> tuple[str, str]:
    """What the buttons of the feed pages do (``create``, ``reset``,
    ``revoke``), for the patient's and the practitioner's page alike. Returns
    what to tell the person: (``"success"`` or ``"info"``, the sentence).
    Raises InvalidInput as ``feed_create`` does."""
    live = feed_for(user=user, kind=kind)
    if action in ("create", "reset"):
        feed_create(user=user, kind=kind, language=language)
        if live is None:
            return "success", _("Your calendar link is ready.")
        return "success", _("Your calendar link is new: the old one has stopped working.")
    if action == "revoke" and live is not None:
        feed_revoke(feed=live, by=user)
        return "success", _("Your calendar feed is off: the link has stopped working.")
    return "info", _("Nothing to do: your calendar feed was already off.")


def feed_fetched(*, feed: CalendarFeed, now: datetime | None = None) -> None:
    """Notes that the feed was fetched, at most every FETCH_NOTED_EVERY: calendar
    services poll often, and a write per poll would be wasted. A conditional
    UPDATE, so concurrent fetches write once."""
    now = now or timezone.now()
    if feed.last_fetched_at is not None and now - feed.last_fetched_at < FETCH_NOTED_EVERY:
        return
    CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).filter(
        Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lt=now - FETCH_NOTED_EVERY)
    ).update(last_fetched_at=now)
    feed.last_fetched_at = now


# --- selectors ----------------------------------------------------------------------------


def feed_by_token(token: str) -> CalendarFeed | None:
    """The live feed behind a token, with its owner, or None: unknown or
    malformed token, turned off, owner deactivated, a practitioner profile or a
    patient record no longer there (erased). One query (none for a token that
    cannot be one). The lookup is by the unique index, never a comparison in
    Python, so its time says nothing about how close a guess was."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    feed = (
        CalendarFeed.objects.select_related("user", "user__practitioner", "user__patient")
        .filter(token=token, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if feed is None:
        return None
    if feed.kind == Kind.PRACTITIONER and _practitioner_of(feed) is None:
        return None
    if feed.kind == Kind.PATIENT:
        patient = getattr(feed.user, "patient", None)
        if patient is None or patient.is_erased:
            return None
    return feed


def _practitioner_of(feed: CalendarFeed) -> Practitioner | None:
    return getattr(feed.user, "practitioner", None)


def feed_language(feed: CalendarFeed) -> str:
    if feed.kind == Kind.PATIENT:
        patient = getattr(feed.user, "patient", None)
        return _language(patient.preferred_language if patient else None)
    return _language(feed.language)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(0)), clinic_zone())


def feed_rows(feed: CalendarFeed, *, now: datetime | None = None) -> QuerySet[Appointment]:
    """The appointments the feed shows (module docstring), unevaluated. Bounds
    are whole clinic-local days, so what the feed shows changes at midnight,
    not every second, and the ETag can say so."""
    today = clinic_today(now)
    shown = Q(status__in=_SHOWN) | Q(
        status=Appointment.Status.CANCELLED, cancelled_at__gte=_midnight(today - timedelta(days=CANCELLED_KEPT_DAYS))
    )
    rows = Appointment.objects.filter(
        shown,
        start__gte=_midnight(today - timedelta(days=DAYS_BACK)),
        start__lt=_midnight(today + timedelta(days=DAYS_AHEAD + 1)),
    )
    if feed.kind == Kind.PRACTITIONER:
        practitioner = _practitioner_of(feed)
        return rows.filter(practitioner_id=practitioner.pk) if practitioner else rows.none()
    patient = getattr(feed.user, "patient", None)
    return rows.filter(patient_id=patient.pk) if patient else rows.none()


@dataclass(frozen=True)
class FeedVersion:
    etag: str  # a weak ETag, quoted
    last_modified: datetime


def feed_version(feed: CalendarFeed, *, now: datetime | None = None) -> FeedVersion:
    """What the feed would show, summed up without loading it (one aggregate
    query): how many rows, their latest change, the latest change to their
    patients (initials, a patient's language), plus the day (the window moves at
    midnight), the language and the clinic's names. Weak: a room or treatment
    renamed shows at the next change or the next day."""
    today = clinic_today(now)
    summary = feed_rows(feed, now=now).aggregate(
        count=Count("id"), changed=Max("updated_at"), people=Max("patient__updated_at")
    )
    language = feed_language(feed)
    practitioner = _practitioner_of(feed) if feed.kind == Kind.PRACTITIONER else None
    parts = [
        FORMAT,
        str(feed.pk),
        feed.kind,
        language,
        today.isoformat(),
        str(summary["count"]),
        _iso(summary["changed"]),
        _iso(summary["people"]),
        settings.CLINIC_NAME,
        settings.CLINIC_NAME_ZH_HANT,
        settings.CLINIC_ADDRESS,
        settings.CLINIC_ADDRESS_ZH_HANT,
        settings.CLINIC_BASE_URL,
        practitioner.name if practitioner else "",
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    moments = [m for m in (summary["changed"], summary["people"], feed.created_at, _midnight(today)) if m is not None]
    # HTTP dates have whole seconds: round down, or a client's If-Modified-Since never matches.
    return FeedVersion(etag=f'W/"{digest}"', last_modified=max(moments).replace(microsecond=0))


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def feed_appointments(feed: CalendarFeed, *, now: datetime | None = None) -> list[Appointment]:
    """The rows to render, with what the events need and no more (no notes,
    no screening), in one query."""
    rows = (
        feed_rows(feed, now=now)
        .select_related("treatment", "room", "patient")
        .only(*_EVENT_FIELDS)
        .order_by("start", "id")
    )
    return list(rows)


_EVENT_FIELDS = (
    "uid",
    "sequence",
    "status",
    "start",
    "end",
    "created_at",
    "updated_at",
    "treatment__name_en",
    "treatment__name_zh_hant",
    "room__name_en",
    "room__name_zh_hant",
    "patient__full_name",
    "patient__erased_at",
)


def practitioner_feeds() -> list[tuple[Practitioner, CalendarFeed | None]]:
    """For the managers' list: every practitioner with their live feed, if any.
    Two queries, however many practitioners."""
    practitioners = list(Practitioner.objects.select_related("user").order_by("-active", "user__last_name", "id"))
    live = {
        feed.user_id: feed
        for feed in CalendarFeed.objects.filter(
            kind=Kind.PRACTITIONER, revoked_at__isnull=True, user_id__in=[p.user_id for p in practitioners]
        )
    }
    return [(practitioner, live.get(practitioner.user_id)) for practitioner in practitioners]


# --- the calendar -------------------------------------------------------------------------


_CJK = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")


def _is_han(character: str) -> bool:
    return unicodedata.name(character, "").startswith(_CJK)


def initials(full_name: str) -> str:
    """Initials for a practitioner's calendar: "Cathy Wong" → "C. W.",
    "Chan Tai Man" → "C. T. M." (three at most). A Chinese name is written
    family name first, so "陳大文" → "陳": the first character of the family
    name, as a letter is for an English one. Nothing usable → "?"."""
    han = next((character for character in full_name if _is_han(character)), None)
    if han is not None:
        return han
    letters = []
    for word in full_name.split():
        letter = next((character for character in word if character.isalpha()), None)
        if letter is not None:
            letters.append(f"{letter.upper()}.")
    return " ".join(letters[:3]) or "?"


def _summary(feed: CalendarFeed, appointment: Appointment, language: str, patients_title: str) -> str:
    if feed.kind == Kind.PRACTITIONER:
        who = "—" if appointment.patient.is_erased else initials(appointment.patient.full_name)
        title = f"{appointment.treatment.localized('name', language)} — {who}"
    else:
        title = patients_title
    if appointment.status == Appointment.Status.CANCELLED:
        # Some calendars show a cancelled event from a subscription as if it were on.
        return _("Cancelled: %(title)s") % {"title": title}
    return title


# --- writing iCalendar (RFC 5545) ---------------------------------------------------------
#
# icalendar (booking/calendar.py's invites, and these tests' parser) spends about
# 1.7 ms an event building and folding its objects: 3.4 s for a busy
# practitioner's 2,000 visits, on every poll. The few properties a feed has are
# written here directly, 3.3.11's escaping and 3.1's folding, in a fraction of
# that (bench/calendar_feeds.py); the tests read every feed back with icalendar.

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped;
    other control characters (never meaningful in a name) dropped."""
    value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> bytes:
    """One content line, folded at 75 octets (a continuation line starts with a
    space), never inside a UTF-8 character or between a backslash and what it
    escapes."""
    data = line.encode()
    if len(data) <= 75:
        return data + b"\r\n"
    parts, start, limit = [], 0, 75
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            end -= 1
        backslashes = end
        while backslashes > start and data[backslashes - 1] == 0x5C:
            backslashes -= 1
        if (end - backslashes) % 2:  # an escape would be cut in two
            end -= 1
        parts.append(data[start:end])
        start, limit = end, 74
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _event(
    feed: CalendarFeed, appointment: Appointment, language: str, *, patients_title: str, staff_url: str
) -> list[str]:
    cancelled = appointment.status == Appointment.Status.CANCELLED
    # DTSTAMP is the row's last change, not the time of the fetch: the same rows give the same bytes.
    changed = _utc(appointment.updated_at)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(event_uid(appointment))}",
        f"SEQUENCE:{appointment.sequence}",
        f"DTSTAMP:{changed}",
        f"CREATED:{_utc(appointment.created_at)}",
        f"LAST-MODIFIED:{changed}",
        f"DTSTART:{_utc(appointment.start)}",
        f"DTEND:{_utc(appointment.end)}",
        f"SUMMARY:{_text(_summary(feed, appointment, language, patients_title))}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"TRANSP:{'TRANSPARENT' if cancelled else 'OPAQUE'}",
    ]
    if feed.kind == Kind.PRACTITIONER:
        lines.append(f"LOCATION:{_text(appointment.room.localized('name', language))}")
        lines.append(f"URL:{staff_url.format(pk=appointment.pk)}")
    else:
        address = settings.CLINIC_ADDRESS_ZH_HANT if language == "zh-hant" else settings.CLINIC_ADDRESS
        link = manage_url(appointment)
        lines.append(f"LOCATION:{_text(address)}")
        lines.append(f"URL:{link}")
        lines.append(f"DESCRIPTION:{_text(_('Manage or cancel: %(url)s') % {'url': link})}")
    lines.append("END:VEVENT")
    return lines


def feed_name(feed: CalendarFeed, language: str) -> str:
    chinese = language == "zh-hant"
    clinic = settings.CLINIC_NAME_ZH_HANT if chinese else settings.CLINIC_NAME
    practitioner = _practitioner_of(feed)
    if feed.kind == Kind.PRACTITIONER and practitioner is not None:
        return _("%(clinic)s: %(name)s's schedule") % {"clinic": clinic, "name": practitioner.name}
    return _("%(clinic)s appointments") % {"clinic": clinic}


def feed_calendar(feed: CalendarFeed, appointments: list[Appointment]) -> bytes:
    """The VCALENDAR of the feed (METHOD:PUBLISH), times in UTC so no VTIMEZONE
    is needed; X-WR-TIMEZONE tells calendars which zone the clinic keeps."""
    language = feed_language(feed)
    with translation.override(language):
        clinic = settings.CLINIC_NAME_ZH_HANT if language == "zh-hant" else settings.CLINIC_NAME
        patients_title = _("Appointment at %(clinic)s") % {"clinic": clinic}
        # One reverse() for all the events (it costs more than the rest of an event).
        staff_url = settings.CLINIC_BASE_URL + reverse("staff:appointment", args=[0]).replace("/0/", "/{pk}/")
        lines = [
            "BEGIN:VCALENDAR",
            f"PRODID:{_text(f'-//{settings.CLINIC_NAME}//clinic feed//EN')}",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            f"X-WR-CALNAME:{_text(feed_name(feed, language))}",
            f"X-WR-TIMEZONE:{_text(settings.CLINIC_TIME_ZONE)}",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
        ]
        for appointment in appointments:
            lines += _event(feed, appointment, language, patients_title=patients_title, staff_url=staff_url)
        lines.append("END:VCALENDAR")
    return b"".join(_fold(line) for line in lines)
